"""The nftables tracer on small hand-written rulesets (expected values reasoned beside each test;
the kernel differentials in test_differential_*.py check the same behaviour against the kernel)."""

from __future__ import annotations

from workbook.nft.parse_text import parse_nft_text
from workbook.nft.trace import NftTracer, trace_nft
from workbook.packet import Packet
from workbook.parse import parse_save

NODE = "192.168.0.2"


def _trace(text: str, packet: Packet, iptables: str | None = None, **kw):
    ipt = parse_save(iptables) if iptables else None
    return NftTracer(parse_nft_text(text), ipt, [NODE], **kw).trace(packet)


def _path(branch):
    return [(s.hook, s.table, s.chain, s.position, s.action) for s in branch.steps if s.matched]


def test_goto_returns_to_the_callers_caller_and_a_base_goto_ends_in_the_policy():
    text = """table ip t {
	chain base {
		type filter hook forward priority filter; policy drop;
		jump a
		accept
	}
	chain a {
		goto b
		drop
	}
	chain b {
		ip saddr 10.0.0.1 return
	}
}
"""
    # base jumps to a; a goes to b (a's frame is replaced); b returns (to base, a's caller), so
    # a's `drop` is never reached and base's `accept` decides
    t = _trace(text, Packet("10.0.0.1", "10.9.9.9", "tcp", 1234, 80))
    (b,) = t.branches
    assert b.verdict == "ACCEPT"
    assert _path(b) == [("FORWARD", "t", "base", 1, "JUMP:a"), ("FORWARD", "t", "a", 1, "GOTO:b"),
                        ("FORWARD", "t", "b", 1, "RETURN"), ("FORWARD", "t", "base", 2, "ACCEPT")]
    text2 = text.replace("jump a", "goto b").replace("ip saddr 10.0.0.1 return", "ip saddr 10.0.0.9 return")
    # a goto from the base chain: the end of b ends the base chain, whose policy (drop) is named after it
    (b,) = _trace(text2, Packet("10.0.0.1", "10.9.9.9", "tcp", 1234, 80)).branches
    assert b.verdict == "DROP" and _path(b)[-1] == ("FORWARD", "t", "base", None, "policy:DROP")


def test_nft_steps_carry_family_and_handle_and_print_the_rule():
    text = """table inet f { # handle 3
	chain input { # handle 1
		type filter hook input priority filter; policy accept;
		tcp dport 22 counter packets 5 bytes 300 accept # handle 4
	}
}
"""
    (b,) = _trace(text, Packet("10.0.0.1", NODE, "tcp", 1234, 22)).branches
    step = b.steps[0].to_json()
    assert step == {"hook": "INPUT", "table": "f", "chain": "input", "position": 1,
                    "spec": "tcp dport 22 counter accept", "matched": True, "action": "ACCEPT",
                    "family": "inet", "handle": 4}


def test_unknown_expressions_are_assumed_never_silently_matched():
    text = """table ip t {
	chain input {
		type filter hook input priority filter; policy accept;
		meta skuid 1000 drop
	}
}
"""
    t = _trace(text, Packet("10.0.0.1", NODE, "tcp", 1234, 22))
    (b,) = t.branches
    assert b.steps[0].assumed and t.assumed and b.verdict == "DROP"
    assert any("skuid" in n for n in t.notes)


def test_numgen_random_splits_into_equal_branches_in_number_order():
    text = """table ip t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		numgen random mod 3 vmap { 0 : goto e0, 1 : goto e1, 2 : goto e2 }
	}
	chain e0 {
		meta l4proto tcp dnat to 10.1.0.1:80
	}
	chain e1 {
		meta l4proto tcp dnat to 10.1.0.2:80
	}
	chain e2 {
		meta l4proto tcp dnat to 10.1.0.3:80
	}
}
"""
    t = _trace(text, Packet("10.0.0.1", "10.96.0.1", "tcp", 1234, 80))
    assert [b.dnat for b in t.branches] == ["10.1.0.1:80", "10.1.0.2:80", "10.1.0.3:80"]
    assert [round(b.probability, 6) for b in t.branches] == [round(1 / 3, 6)] * 3


def test_numgen_inc_is_taken_at_its_first_value_with_a_note():
    text = """table ip t {
	chain pre {
		type filter hook prerouting priority filter; policy accept;
		numgen inc mod 2 vmap { 0 : drop, 1 : accept }
	}
}
"""
    t = _trace(text, Packet("10.0.0.1", NODE, "tcp", 1234, 80))
    assert t.verdicts == {"DROP": 1.0} and any("numgen inc" in n for n in t.notes)


def test_affinity_set_is_empty_for_the_first_packet():
    text = """table ip t {
	set aff {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 3h
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip saddr @aff goto ep
		update @aff { ip saddr }
		ip saddr @aff accept
	}
	chain ep {
		meta l4proto tcp dnat to 10.1.0.1:80
	}
}
"""
    # first rule: not in the set yet; the update adds the source; the third rule then finds it
    (b,) = _trace(text, Packet("10.0.0.1", "10.96.0.1", "tcp", 1234, 80)).branches
    assert not b.steps[0].matched and "dynamic set" in b.steps[0].why
    assert b.steps[2].matched and b.steps[2].action == "ACCEPT" and b.dnat is None


def test_equal_priority_order_is_assumed_and_the_first_nat_binding_wins():
    # iptables-nft's nat PREROUTING (-100) and a native nat chain at dstnat (-100): the native chain
    # is taken as created later, so it runs first; its DNAT sets up the binding, and the other nat
    # chain at this hook is not consulted (the kernel's NAT hook stops at the first binding)
    nft = """table ip kp {
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.96.0.1 tcp dport 80 dnat to 10.1.0.1:80
	}
}
"""
    ipt = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.2.0.2:80\nCOMMIT\n"
    t = _trace(nft, Packet("10.0.0.1", "10.96.0.1", "tcp", 1234, 80), ipt)
    (b,) = t.branches
    assert b.dnat == "10.1.0.1:80"
    assert [(s.table, s.chain) for s in b.steps if s.hook == "PREROUTING"] == [("kp", "nat-prerouting")]
    assert b.steps[0].assumed and any("registered last" in n for n in t.notes)
    # a packet the native chain does not NAT goes on to iptables' nat PREROUTING
    (b,) = _trace(nft, Packet("10.0.0.1", "10.96.0.7", "tcp", 1234, 80), ipt).branches
    assert b.dnat == "10.2.0.2:80" and [s.table for s in b.steps if s.hook == "PREROUTING"] == ["kp", "kp", "nat"]


def test_iptables_nft_tables_come_from_iptables_save_when_given():
    # the nft view of an iptables-nft table (comments lost, xt compat) is replaced by iptables-save
    nft = """table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy accept;
		xt match "comment" counter packets 0 bytes 0 drop
	}
}
# Warning: table ip filter is managed by iptables-nft, do not touch!
"""
    ipt = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 23 -m comment --comment x -j DROP\nCOMMIT\n"
    (b,) = _trace(nft, Packet("10.0.0.1", NODE, "tcp", 1234, 22), ipt).branches
    assert b.verdict == "ACCEPT" and [(s.table, s.chain, s.family) for s in b.steps] == [
        ("filter", "INPUT", None), ("filter", "INPUT", None)]
    assert trace_nft(parse_nft_text(nft), Packet("10.0.0.1", NODE, "tcp", 1234, 22), [NODE]).assumed


def test_concatenated_vmap_and_interval_sets():
    text = """table ip t {
	set nets {
		type ipv4_addr
		flags interval
		elements = { 10.1.0.0/16, 192.0.2.10-192.0.2.20 }
	}
	map svc {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.10 . udp . 53 : accept, 10.96.0.10 . tcp . 53 : drop }
	}
	chain fwd {
		type filter hook forward priority filter; policy drop;
		ip saddr != @nets drop
		ip daddr . meta l4proto . th dport vmap @svc
	}
}
"""
    assert _trace(text, Packet("192.0.2.15", "10.96.0.10", "udp", 1, 53)).verdicts == {"ACCEPT": 1.0}
    assert _trace(text, Packet("10.1.3.4", "10.96.0.10", "tcp", 1, 53)).verdicts == {"DROP": 1.0}
    (b,) = _trace(text, Packet("192.0.2.21", "10.96.0.10", "udp", 1, 53)).branches
    assert b.steps[0].matched and b.steps[0].action == "DROP"
    (b,) = _trace(text, Packet("10.1.3.4", "10.96.0.10", "udp", 1, 54)).branches
    assert "is not in the map" in b.steps[1].why and b.steps[-1].action == "policy:DROP"
