"""The simulator on the minimal reproducers of what the kernel showed (no root needed): each expected
path is the one the real kernel took in the lab (tests/differential/FINDINGS.md findings 4 and 5, and
what tests/extensions/test_core.py found), written here beside the reproducer."""

from __future__ import annotations

from workbook.packet import Packet
from workbook.parse import parse_save
from workbook.trace import trace_packet

NODE = "10.0.0.2"

_ISTIO = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -m owner --uid-owner 1337 -j RETURN
-A OUTPUT -p tcp -j REDIRECT --to-ports 15001
COMMIT
"""


def _nat_output(trace):
    return [(p[1], p[2], p[3]) for p in trace.branches[0].matched_path() if p[0] == "nat" and p[1] == "OUTPUT"]


def test_owner_unknown_is_assumed_with_its_reason():
    """Finding 4: the socket's uid is not known: the step is assumed and the note says why."""
    t = trace_packet(parse_save(_ISTIO), Packet(NODE, "198.51.100.7", "tcp", 40000, 443, None, True), [NODE])
    (b,) = t.branches
    step = next(s for s in b.steps if s.position == 1 and s.chain == "OUTPUT")
    assert step.matched and step.assumed
    assert any("uid/gid of the node's socket" in n and "assumed" in n for n in b.notes), b.notes


def test_owner_named_socket_is_decided():
    """Finding 4, the packet naming its socket: the kernel (lab sender as uid 0) took rule 2, REDIRECT to
    127.0.0.1:15001; as uid 1337 it took rule 1, RETURN."""
    rs = parse_save(_ISTIO)
    root = trace_packet(rs, Packet(NODE, "198.51.100.7", "tcp", 40000, 443, None, True, extra={"uid": 0, "gid": 0}), [NODE])
    assert _nat_output(root) == [("OUTPUT", 2, "REDIRECT")] and root.branches[0].dnat == "127.0.0.1:15001"
    assert not root.assumed
    istio = trace_packet(rs, Packet(NODE, "198.51.100.7", "tcp", 40000, 443, None, True, extra={"uid": 1337}), [NODE])
    assert _nat_output(istio)[0] == ("OUTPUT", 1, "RETURN") and not istio.assumed


def test_connmark_without_an_entry():
    """Finding 5: NOTRACK in raw, CONNMARK --save-mark in mangle: the kernel took FORWARD rule 2 (the
    untracked packet has no connection mark)."""
    rs = parse_save("""*raw
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 53 -j NOTRACK
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -j MARK --set-xmark 0x2/0xffffffff
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff
COMMIT
*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -m connmark --mark 0x2 -j ACCEPT
-A FORWARD -m conntrack --ctstate UNTRACKED -j ACCEPT
COMMIT
""")
    t = trace_packet(rs, Packet("203.0.113.5", "8.8.8.8", "udp", 40000, 53, "eth0", out_iface="eth1"), [NODE])
    assert ("filter", "FORWARD", 2, "ACCEPT") in t.branches[0].matched_path()


def test_raw_runs_before_conntrack():
    """In raw the kernel showed -m conntrack --ctstate INVALID and -m state --state INVALID matching
    (rules 1, 3), not NEW, --ctstatus NONE or --ctproto 17 (2, 4, 5); and ! -m connmark not matching (6)."""
    rs = parse_save("""*raw
:PREROUTING ACCEPT [0:0]
:HIT - [0:0]
-A PREROUTING -m conntrack --ctstate INVALID -j HIT
-A PREROUTING -m conntrack --ctstate NEW -j HIT
-A PREROUTING -m state --state INVALID -j HIT
-A PREROUTING -m conntrack --ctstatus NONE -j HIT
-A PREROUTING -m conntrack --ctproto 17 -j HIT
-A PREROUTING -m connmark ! --mark 0x5 -j HIT
COMMIT
""")
    t = trace_packet(rs, Packet("10.1.0.2", "10.77.0.9", "udp", 1000, 53, "eth0", out_iface="eth1"), [NODE])
    assert [p[2] for p in t.branches[0].matched_path() if p[3] == "JUMP:HIT"] == [1, 3]


def test_nat_to_the_same_tuple_is_no_nat():
    """REDIRECT of a packet already for the node's address and port: conntrack kept no DNAT (the lab's
    reply tuple was the original), and --ctstate DNAT did not match in filter INPUT."""
    rs = parse_save("""*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p udp -j REDIRECT
COMMIT
*filter
:INPUT ACCEPT [0:0]
:HIT - [0:0]
-A INPUT -m conntrack --ctstate DNAT -j HIT
COMMIT
""")
    t = trace_packet(rs, Packet("10.1.0.2", NODE, "udp", 40000, 22, "eth0"), [NODE])
    (b,) = t.branches
    assert b.dnat is None and ("filter", "INPUT", 1, "JUMP:HIT") not in b.matched_path()


def test_a_first_packet_conntrack_refuses_is_invalid():
    """The lab's RST and ICMP port-unreachable without a connection: -m conntrack --ctstate INVALID
    matched in filter and the nat table was not walked; an ACK (nf_conntrack_tcp_loose) was NEW."""
    rs = parse_save("""*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -j DNAT --to-destination 10.9.9.9
COMMIT
*filter
:FORWARD ACCEPT [0:0]
:HIT - [0:0]
-A FORWARD -m conntrack --ctstate INVALID -j HIT
COMMIT
""")
    for extra, invalid in (({"tcp_flags": "RST"}, True), ({"tcp_flags": "ACK,PSH"}, False)):
        t = trace_packet(rs, Packet("10.1.0.2", "10.77.0.9", "tcp", 40000, 80, "eth0", out_iface="eth1", extra=extra), [NODE])
        path = t.branches[0].matched_path()
        assert (("filter", "FORWARD", 1, "JUMP:HIT") in path) == invalid and (t.branches[0].dnat is None) == invalid
    t = trace_packet(rs, Packet("10.1.0.2", "10.77.0.9", "icmp", 1, None, "eth0", out_iface="eth1",
                                extra={"icmp_type": "3/3"}), [NODE])
    assert ("filter", "FORWARD", 1, "JUMP:HIT") in t.branches[0].matched_path()
