"""The tracer against hand reasoning: each expected value is worked out in the comment beside it."""

from __future__ import annotations

import pytest

from workbook.netfilter import TABLES_AT_HOOK, packet_path
from workbook.packet import Packet
from workbook.parse import parse_save
from workbook.trace import INDEX_MIN_RULES, Tracer, trace_packet

# The seed post's (EKS node ip-192-168-3-215) nat rules for kube-dns, transcribed from its
# `iptables -v --numeric --table nat --list ...` outputs into iptables-save form. The
# listing shows the KUBE-SERVICES rules in this order; the SEP DNAT rule prints
# "udp to:192.168.1.77:53", i.e. `-p udp -m udp -j DNAT --to-destination 192.168.1.77:53`.
SEED = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SEP-4JJWD7DPDSPAPXRS - [0:0]
:KUBE-SEP-CMUTYLZJRO6PLWPI - [0:0]
:KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -d 10.100.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -m tcp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4
-A KUBE-SERVICES -d 10.100.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:metrics cluster IP" -m tcp --dport 9153 -j KUBE-SVC-JD5MR3NA4I4DYORP
-A KUBE-SERVICES -d 10.100.254.40/32 -p tcp -m comment --comment "kube-system/metrics-server:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-Z4ANX4WAEWEBLCTM
-A KUBE-SERVICES -d 10.100.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y
-A KUBE-SERVICES -d 10.100.227.12/32 -p tcp -m comment --comment "kube-system/eks-extension-metrics-api:metrics-api cluster IP" -m tcp --dport 443 -j KUBE-SVC-I7SKRZYQ7PWYV5X7
-A KUBE-SERVICES -d 10.100.153.164/32 -p tcp -m comment --comment "kube-system/kube-ops-view:http cluster IP" -m tcp --dport 8080 -j KUBE-SVC-7EJNTS7AENER2WX5
-A KUBE-SERVICES -d 10.100.79.8/32 -p tcp -m comment --comment "kube-system/aws-load-balancer-webhook-service:webhook-server cluster IP" -m tcp --dport 443 -j KUBE-SVC-UAGC4PYEYZJJEW6D
-A KUBE-SERVICES -d 10.100.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 192.168.1.77:53" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-4JJWD7DPDSPAPXRS
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 192.168.2.64:53" -j KUBE-SEP-CMUTYLZJRO6PLWPI
-A KUBE-SEP-4JJWD7DPDSPAPXRS -s 192.168.1.77/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A KUBE-SEP-4JJWD7DPDSPAPXRS -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.1.77:53
-A KUBE-SEP-CMUTYLZJRO6PLWPI -s 192.168.2.64/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A KUBE-SEP-CMUTYLZJRO6PLWPI -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.2.64:53
COMMIT
"""
# The seed uses jump targets (KUBE-SVC-ERIF... etc.) whose chains it never listed; declare them empty.
_MISSING = ["KUBE-SVC-ERIFXISQEP7F7OF4", "KUBE-SVC-JD5MR3NA4I4DYORP", "KUBE-SVC-Z4ANX4WAEWEBLCTM",
            "KUBE-SVC-NPX46M4PTMTKRN6Y", "KUBE-SVC-I7SKRZYQ7PWYV5X7", "KUBE-SVC-7EJNTS7AENER2WX5",
            "KUBE-SVC-UAGC4PYEYZJJEW6D"]
SEED_TEXT = SEED.replace(":KUBE-MARK-MASQ - [0:0]\n", ":KUBE-MARK-MASQ - [0:0]\n" + "".join(f":{c} - [0:0]\n" for c in _MISSING))
NODE = "192.168.3.215"  # the seed node's address (its host name is ip-192-168-3-215)


@pytest.fixture(scope="module")
def seed():
    return parse_save(SEED_TEXT, "seed-kube-dns")


def matched(branch):
    return [(s.hook, s.chain, s.position, s.action) for s in branch.steps if s.matched]


# ----------------------------------------------------------------------------------------
# the seed's kube-dns path


def test_seed_kube_dns_two_endpoints_half_each(seed):
    # A pod (192.168.3.100, on an ENI) asks kube-dns 10.100.0.10:53/udp.
    t = trace_packet(seed, Packet("192.168.3.100", "10.100.0.10", "udp", 40000, 53, "eni1234"), [NODE])
    # KUBE-SVC-TCOU7JCQXEZGVUNU has two endpoint rules: the first with probability 0.5, the
    # second unconditional -> two branches of 0.5 each, DNAT to the endpoints in rule order.
    assert [(b.probability, b.dnat) for b in t.branches] == [(0.5, "192.168.1.77:53"), (0.5, "192.168.2.64:53")]
    # nothing drops the packet (no filter table at all): both ACCEPT
    assert t.verdicts == {"ACCEPT": 1.0}
    # PREROUTING → KUBE-SERVICES (rule 1) → its 8th rule (the udp/53 one) → KUBE-SVC → SEP rule 2 DNAT.
    # After DNAT to 192.168.1.77 (not a node address) the packet is forwarded: nat POSTROUTING
    # → KUBE-POSTROUTING, whose rule 1 (`! --mark 0x4000/0x4000 -j RETURN`) matches (mark 0),
    # so KUBE-POSTROUTING returns and POSTROUTING ends with its policy.
    assert matched(t.branches[0]) == [
        ("PREROUTING", "PREROUTING", 1, "JUMP:KUBE-SERVICES"),
        ("PREROUTING", "KUBE-SERVICES", 8, "JUMP:KUBE-SVC-TCOU7JCQXEZGVUNU"),
        ("PREROUTING", "KUBE-SVC-TCOU7JCQXEZGVUNU", 1, "JUMP:KUBE-SEP-4JJWD7DPDSPAPXRS"),
        ("PREROUTING", "KUBE-SEP-4JJWD7DPDSPAPXRS", 2, "DNAT"),
        ("POSTROUTING", "POSTROUTING", 1, "JUMP:KUBE-POSTROUTING"),
        ("POSTROUTING", "KUBE-POSTROUTING", 1, "RETURN"),
        ("POSTROUTING", "POSTROUTING", None, "policy:ACCEPT"),
    ]
    # second branch: rule 1 of KUBE-SVC not chosen, rule 2 (unconditional) → the other SEP
    assert matched(t.branches[1])[2:4] == [
        ("PREROUTING", "KUBE-SVC-TCOU7JCQXEZGVUNU", 2, "JUMP:KUBE-SEP-CMUTYLZJRO6PLWPI"),
        ("PREROUTING", "KUBE-SEP-CMUTYLZJRO6PLWPI", 2, "DNAT"),
    ]
    # the pod is not an endpoint: the hairpin KUBE-MARK-MASQ rule fails on -s; no masquerade
    assert [b.masquerade for b in t.branches] == [False, False]
    steps = t.branches[0].steps
    # KUBE-SERVICES rule 1 is "-d 10.100.0.10/32 -p tcp ... --dport 53": the address holds, -p tcp fails
    assert steps[1].position == 1 and steps[1].why == "-p tcp does not match udp"
    # rule 3 is metrics-server's 10.100.254.40: fails on -d first
    assert steps[3].why == "-d 10.100.254.40/32 does not match 10.100.0.10"
    # the non-chosen side of the random rule in branch 1 says so
    b1 = [s for s in t.branches[1].steps if s.chain == "KUBE-SVC-TCOU7JCQXEZGVUNU" and not s.matched]
    assert b1[0].position == 1 and "not chosen" in b1[0].why


def test_seed_unknown_service_ip_falls_through(seed):
    # 10.100.0.20 is no service: all 8 service rules fail on -d, the nodeports rule fails on
    # --dst-type LOCAL (10.100.0.20 is not a node address), KUBE-SERVICES returns, PREROUTING's policy.
    t = trace_packet(seed, Packet("192.168.3.100", "10.100.0.20", "udp", 40000, 53, "eni1234"), [NODE])
    assert len(t.branches) == 1 and t.branches[0].dnat is None
    s = t.branches[0].steps
    assert s[8].why == "-d 10.100.0.10/32 does not match 10.100.0.20"
    assert s[9].why == "-m addrtype --dst-type LOCAL does not match 10.100.0.20 (UNICAST)"
    assert (s[10].chain, s[10].action, s[11].action) == ("KUBE-SERVICES", "RETURN", "policy:ACCEPT")


def test_seed_hairpin_sets_mark_and_masquerades(seed):
    # The endpoint 192.168.1.77 itself asks the service. Branch 0 (its own SEP): the SEP's
    # rule 1 `-s 192.168.1.77/32 -j KUBE-MARK-MASQ` matches → KUBE-MARK-MASQ sets 0x4000 →
    # in POSTROUTING, KUBE-POSTROUTING rule 1 (`! --mark 0x4000/0x4000`) does NOT match, rule 2
    # clears the bit (MARK), rule 3 MASQUERADEs. Branch 1 (the other SEP): -s fails, no mark.
    t = trace_packet(seed, Packet("192.168.1.77", "10.100.0.10", "udp", 40000, 53, "eni1"), [NODE])
    assert [b.masquerade for b in t.branches] == [True, False]
    m0 = matched(t.branches[0])
    assert ("PREROUTING", "KUBE-SEP-4JJWD7DPDSPAPXRS", 1, "JUMP:KUBE-MARK-MASQ") in m0
    assert ("PREROUTING", "KUBE-MARK-MASQ", 1, "MARK") in m0
    assert ("PREROUTING", "KUBE-MARK-MASQ", None, "RETURN") in m0  # the implicit end of a user chain
    # MASQUERADE is a NAT verdict: it ends nat POSTROUTING there (no RETURN, no policy step after it)
    assert m0[-3:] == [("POSTROUTING", "POSTROUTING", 1, "JUMP:KUBE-POSTROUTING"),
                       ("POSTROUTING", "KUBE-POSTROUTING", 2, "MARK"),
                       ("POSTROUTING", "KUBE-POSTROUTING", 3, "MASQUERADE")]


def test_seed_node_origin_uses_output(seed):
    # From the node itself (from_node): nat OUTPUT → KUBE-SERVICES, same service rule, same DNAT;
    # then POSTROUTING. The source 192.168.3.215 is not a pod → no hairpin, no mark.
    t = trace_packet(seed, Packet(NODE, "10.100.0.10", "udp", 40000, 53, from_node=True), [NODE])
    assert [b.dnat for b in t.branches] == ["192.168.1.77:53", "192.168.2.64:53"]
    hooks = [s.hook for s in t.branches[0].steps if s.matched]
    assert hooks[0] == "OUTPUT" and "PREROUTING" not in hooks and hooks[-1] == "POSTROUTING"
    assert matched(t.branches[0])[0] == ("OUTPUT", "OUTPUT", 1, "JUMP:KUBE-SERVICES")


# ----------------------------------------------------------------------------------------
# chain walking: goto, RETURN, policies


GOTO = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
:C - [0:0]
-A INPUT -p tcp -j C
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A C -g A
-A C -j DROP
-A A -j B
-A A -j LOG --log-prefix "in A: "
-A B -j RETURN
-A B -j DROP
COMMIT
"""


def test_goto_return_goes_back_to_the_caller_of_the_goto_chain():
    rs = parse_save(GOTO)
    t = trace_packet(rs, Packet("10.1.1.1", "10.0.0.1", "tcp", 40000, 22), ["10.0.0.1"])
    # INPUT 1 jumps to C (return point: INPUT rule 2). C 1 does `-g A`: A replaces C, so when A
    # ends it returns to INPUT rule 2, never to C rule 2 (the DROP there is not evaluated).
    # A 1 jumps to B; B 1 RETURNs at once (B 2's DROP not evaluated); A 2 logs (CONTINUE);
    # A falls off its end → implicit RETURN → INPUT 2 (--dport 22) ACCEPTs.
    assert matched(t.branches[0]) == [
        ("INPUT", "INPUT", 1, "JUMP:C"),
        ("INPUT", "C", 1, "GOTO:A"),
        ("INPUT", "A", 1, "JUMP:B"),
        ("INPUT", "B", 1, "RETURN"),
        ("INPUT", "A", 2, "CONTINUE"),
        ("INPUT", "A", None, "RETURN"),
        ("INPUT", "INPUT", 2, "ACCEPT"),
    ]
    assert not any(s.chain == "C" and s.position == 2 for s in t.branches[0].steps)
    assert not any(s.chain == "B" and s.position == 2 for s in t.branches[0].steps)
    assert t.verdicts == {"ACCEPT": 1.0}


def test_builtin_policy_drop_when_nothing_matches():
    rs = parse_save(GOTO)
    # Port 23: the same detour through C/A/B, then INPUT 2 fails on --dport, INPUT ends: policy DROP.
    t = trace_packet(rs, Packet("10.1.1.1", "10.0.0.1", "tcp", 40000, 23), ["10.0.0.1"])
    b = t.branches[0]
    assert b.verdict == "DROP"
    assert b.steps[-2].why == "--dport 22 does not match 23"
    assert (b.steps[-1].chain, b.steps[-1].position, b.steps[-1].action) == ("INPUT", None, "policy:DROP")
    # a udp packet does not even enter C (-p tcp fails) and meets the policy the same way
    t = trace_packet(rs, Packet("10.1.1.1", "10.0.0.1", "udp", 40000, 53), ["10.0.0.1"])
    assert matched(t.branches[0]) == [("INPUT", "INPUT", None, "policy:DROP")]


def test_return_in_a_builtin_chain_applies_the_policy_and_goto_from_builtin():
    rs = parse_save("""*filter
:INPUT DROP [0:0]
:X - [0:0]
-A INPUT -s 10.9.0.0/16 -j RETURN
-A INPUT -g X
-A X -j LOG
COMMIT
""")
    # 10.9.1.1: INPUT 1 RETURN in a built-in chain → the policy (DROP) decides.
    t = trace_packet(rs, Packet("10.9.1.1", "10.0.0.1", "tcp", 1, 2), ["10.0.0.1"])
    assert matched(t.branches[0]) == [("INPUT", "INPUT", 1, "RETURN"), ("INPUT", "INPUT", None, "policy:DROP")]
    # 10.8.1.1: INPUT 2 goes to X; X ends → the kernel prints "return" for X's end, then,
    # as nothing is left to return to, INPUT's policy.
    t = trace_packet(rs, Packet("10.8.1.1", "10.0.0.1", "tcp", 1, 2), ["10.0.0.1"])
    assert matched(t.branches[0]) == [("INPUT", "INPUT", 2, "GOTO:X"), ("INPUT", "X", 1, "CONTINUE"),
                                      ("INPUT", "X", None, "RETURN"), ("INPUT", "INPUT", None, "policy:DROP")]


# ----------------------------------------------------------------------------------------
# matches: negations, wildcards, ports


NEG = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
-A FORWARD ! -s 10.0.0.0/8 -j DROP
-A FORWARD ! -i eth+ -p tcp -m tcp ! --dport 22 -j REJECT --reject-with icmp-port-unreachable
-A FORWARD -p tcp -m multiport ! --dports 80,443,8000:8100 -j DROP
-A FORWARD -p tcp -m multiport --dports 80,443,8000:8100 -j ACCEPT
COMMIT
"""


@pytest.mark.parametrize("src,iface,dport,verdict,why_first", [
    # 192.168.1.1 is outside 10/8 → `! -s 10.0.0.0/8` holds → DROP at rule 1
    ("192.168.1.1", "eth0", 80, "DROP", None),
    # 10.1.1.1 on cni0: `! -i eth+` holds (cni0 does not start with eth), port 25 is not 22 → REJECT
    ("10.1.1.1", "cni0", 25, "REJECT", "! -s 10.0.0.0/8 does not match 10.1.1.1"),
    # on cni0 to port 22: `! --dport 22` fails → rule 3: 22 is not in the list → `! --dports` holds → DROP
    ("10.1.1.1", "cni0", 22, "DROP", "! -s 10.0.0.0/8 does not match 10.1.1.1"),
    # on eth1 to 8050: `! -i eth+` fails; 8050 is inside 8000:8100 → rule 3 fails, rule 4 ACCEPTs
    ("10.1.1.1", "eth1", 8050, "ACCEPT", "! -s 10.0.0.0/8 does not match 10.1.1.1"),
])
def test_negations_wildcards_and_port_lists(src, iface, dport, verdict, why_first):
    rs = parse_save(NEG)
    t = trace_packet(rs, Packet(src, "10.200.0.5", "tcp", 40000, dport, iface), ["10.0.0.1"])
    b = t.branches[0]
    assert b.verdict == verdict
    assert b.steps[0].why == why_first


def test_negated_interface_reason_names_the_interface():
    rs = parse_save(NEG)
    t = trace_packet(rs, Packet("10.1.1.1", "10.200.0.5", "tcp", 40000, 8050, "eth1"), ["10.0.0.1"])
    # rule 2 fails on its first test that does not hold: `! -i eth+` with eth1
    assert t.branches[0].steps[1].why == "! -i eth+ does not match eth1"
    # rule 3: 8050 lies in 8000:8100, so the negated list fails
    assert t.branches[0].steps[2].why == "! --dports 80,443,8000:8100 does not match 8050"


# ----------------------------------------------------------------------------------------
# kube-proxy shapes: probabilities, KUBE-MARK-MASQ → KUBE-POSTROUTING, DNAT → FORWARD


def _svc3() -> str:
    # kube-proxy (v1.28 layout) for one service 10.96.0.50:80 with three endpoints;
    # iptables prints 1/3 as 0.33333333349 and 1/2 as 0.50000000000.
    return """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FORWARD - [0:0]
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -s 10.244.0.0/16 -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-EXT-A - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
:KUBE-SEP-2 - [0:0]
:KUBE-SEP-3 - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -p tcp -m comment --comment "ns/a" -m tcp --dport 30080 -j KUBE-EXT-A
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SERVICES -d 10.96.0.50/32 -p tcp -m comment --comment "ns/a cluster IP" -m tcp --dport 80 -j KUBE-SVC-A
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-EXT-A -m comment --comment "masquerade traffic for ns/a external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-A -j KUBE-SVC-A
-A KUBE-SVC-A ! -s 10.244.0.0/16 -d 10.96.0.50/32 -p tcp -m comment --comment "ns/a cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-A -m comment --comment "ns/a -> 10.244.1.2:8080" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-1
-A KUBE-SVC-A -m comment --comment "ns/a -> 10.244.2.3:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-2
-A KUBE-SVC-A -m comment --comment "ns/a -> 10.244.3.4:8080" -j KUBE-SEP-3
-A KUBE-SEP-1 -s 10.244.1.2/32 -m comment --comment ns/a -j KUBE-MARK-MASQ
-A KUBE-SEP-1 -p tcp -m comment --comment ns/a -m tcp -j DNAT --to-destination 10.244.1.2:8080
-A KUBE-SEP-2 -s 10.244.2.3/32 -m comment --comment ns/a -j KUBE-MARK-MASQ
-A KUBE-SEP-2 -p tcp -m comment --comment ns/a -m tcp -j DNAT --to-destination 10.244.2.3:8080
-A KUBE-SEP-3 -s 10.244.3.4/32 -m comment --comment ns/a -j KUBE-MARK-MASQ
-A KUBE-SEP-3 -p tcp -m comment --comment ns/a -m tcp -j DNAT --to-destination 10.244.3.4:8080
COMMIT
"""


def test_three_endpoints_a_third_each():
    rs = parse_save(_svc3())
    t = trace_packet(rs, Packet("10.244.5.5", "10.96.0.50", "tcp", 40000, 80, "cni0"), ["192.168.0.10"])
    # branch 1: 0.33333333349; branch 2: (1-0.33333333349)*0.5; branch 3: the same → each ≈ 1/3
    assert [b.dnat for b in t.branches] == ["10.244.1.2:8080", "10.244.2.3:8080", "10.244.3.4:8080"]
    for b in t.branches:
        assert b.probability == pytest.approx(1 / 3, abs=1e-9)
    assert sum(b.probability for b in t.branches) == pytest.approx(1.0, abs=1e-12)
    # pod source (inside 10.244/16): KUBE-SVC-A rule 1 fails, no mark → FORWARD: KUBE-FORWARD
    # rule 1 (mark) fails, rule 2 (-s 10.244/16) ACCEPTs; POSTROUTING: KUBE-POSTROUTING RETURNs.
    for b in t.branches:
        assert b.masquerade is False and b.verdict == "ACCEPT"
        assert ("FORWARD", "KUBE-FORWARD", 2, "ACCEPT") in matched(b)


def test_mark_flows_from_kube_mark_masq_to_masquerade():
    rs = parse_save(_svc3())
    # An external client 203.0.113.9 on eth0: KUBE-SVC-A rule 1 (`! -s 10.244/16 ... -j
    # KUBE-MARK-MASQ`) matches → mark 0x4000. FORWARD: KUBE-FORWARD rule 1 (--mark
    # 0x4000/0x4000) ACCEPTs. POSTROUTING: KUBE-POSTROUTING rule 1 does not RETURN (the bit is
    # set), rule 2 flips the bit off, rule 3 MASQUERADEs.
    t = trace_packet(rs, Packet("203.0.113.9", "10.96.0.50", "tcp", 40000, 80, "eth0"), ["192.168.0.10"])
    assert len(t.branches) == 3
    for b in t.branches:
        m = matched(b)
        assert m[1:4] == [("PREROUTING", "KUBE-SERVICES", 1, "JUMP:KUBE-SVC-A"),
                          ("PREROUTING", "KUBE-SVC-A", 1, "JUMP:KUBE-MARK-MASQ"),
                          ("PREROUTING", "KUBE-MARK-MASQ", 1, "MARK")]
        assert ("FORWARD", "KUBE-FORWARD", 1, "ACCEPT") in m
        assert m[-3:] == [("POSTROUTING", "POSTROUTING", 1, "JUMP:KUBE-POSTROUTING"),
                          ("POSTROUTING", "KUBE-POSTROUTING", 2, "MARK"),
                          ("POSTROUTING", "KUBE-POSTROUTING", 3, "MASQUERADE")]
        assert b.masquerade is True


def test_nodeport_dnat_makes_the_packet_forwarded_not_input():
    rs = parse_save(_svc3())
    # To the node's own address 192.168.0.10:30080. Before DNAT the destination is local, but
    # KUBE-SERVICES' last rule (--dst-type LOCAL) → KUBE-NODEPORTS → KUBE-EXT-A (mark) →
    # KUBE-SVC-A → a SEP DNATs to a pod: the routing decision sees the pod address → FORWARD.
    t = trace_packet(rs, Packet("203.0.113.9", "192.168.0.10", "tcp", 40000, 30080, "eth0"), ["192.168.0.10"])
    assert len(t.branches) == 3
    for b in t.branches:
        hooks = {s.hook for s in b.steps}
        assert "FORWARD" in hooks and "INPUT" not in hooks
        assert b.masquerade is True  # KUBE-EXT-A marks all external traffic
    assert matched(t.branches[0])[1:5] == [
        ("PREROUTING", "KUBE-SERVICES", 2, "JUMP:KUBE-NODEPORTS"),
        ("PREROUTING", "KUBE-NODEPORTS", 1, "JUMP:KUBE-EXT-A"),
        ("PREROUTING", "KUBE-EXT-A", 1, "JUMP:KUBE-MARK-MASQ"),
        ("PREROUTING", "KUBE-MARK-MASQ", 1, "MARK"),
    ]
    # without DNAT (another port) the packet to the node's address is delivered: INPUT
    t = trace_packet(rs, Packet("203.0.113.9", "192.168.0.10", "tcp", 40000, 22, "eth0"), ["192.168.0.10"])
    assert {s.hook for s in t.branches[0].steps} == {"PREROUTING", "INPUT"}


def test_node_origin_versus_pod_origin_paths():
    rs = parse_save(_svc3())
    # from the node: nat OUTPUT (the first hook), filter OUTPUT, then POSTROUTING.
    # The node address is not in 10.244/16 → KUBE-SVC-A rule 1 marks → masquerade.
    t = trace_packet(rs, Packet("192.168.0.10", "10.96.0.50", "tcp", 40000, 80, from_node=True), ["192.168.0.10"])
    order = []
    for s in t.branches[0].steps:
        if not order or order[-1] != (s.hook, s.table):
            order.append((s.hook, s.table))
    assert order == [("OUTPUT", "nat"), ("OUTPUT", "filter"), ("POSTROUTING", "nat")]
    assert all(b.masquerade for b in t.branches)
    # from a pod on cni0: PREROUTING nat, FORWARD filter, POSTROUTING nat
    t = trace_packet(rs, Packet("10.244.5.5", "10.96.0.50", "tcp", 40000, 80, "cni0"), ["192.168.0.10"])
    order = []
    for s in t.branches[0].steps:
        if not order or order[-1] != (s.hook, s.table):
            order.append((s.hook, s.table))
    assert order == [("PREROUTING", "nat"), ("FORWARD", "filter"), ("POSTROUTING", "nat")]


def test_node_to_itself_goes_out_and_back_in_over_lo():
    # From the node to its own address: OUTPUT → POSTROUTING → (lo) PREROUTING → INPUT, and nat
    # is consulted only on the way out (OUTPUT, POSTROUTING): checked on this machine's kernel
    # with per-chain counters (iptables-legacy: nat OUTPUT/POSTROUTING 1, PREROUTING/INPUT 0;
    # raw/mangle PREROUTING and filter INPUT count the looped-back packet with -i lo).
    rs = parse_save("""*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i lo
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
COMMIT
""")
    t = trace_packet(rs, Packet("127.0.0.1", "127.0.0.1", "udp", 40000, 9999, from_node=True))
    assert matched(t.branches[0]) == [
        ("OUTPUT", "OUTPUT", None, "policy:ACCEPT"),       # raw OUTPUT
        ("OUTPUT", "OUTPUT", None, "policy:ACCEPT"),       # nat OUTPUT
        ("OUTPUT", "OUTPUT", None, "policy:ACCEPT"),       # filter OUTPUT
        ("POSTROUTING", "POSTROUTING", None, "policy:ACCEPT"),  # nat POSTROUTING
        ("PREROUTING", "PREROUTING", 1, "CONTINUE"),       # raw PREROUTING -i lo (no target)
        ("PREROUTING", "PREROUTING", None, "policy:ACCEPT"),
        ("INPUT", "INPUT", 1, "ACCEPT"),                   # filter INPUT -i lo
    ]
    assert [s.table for s in t.branches[0].steps if s.hook in ("PREROUTING", "INPUT")] == ["raw", "raw", "filter"]


def test_accept_in_mangle_does_not_skip_filter():
    rs = parse_save("""*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
-A INPUT -j ACCEPT
-A INPUT -j LOG
COMMIT
*filter
:INPUT ACCEPT [0:0]
-A INPUT -p tcp -j DROP
COMMIT
""")
    # mangle INPUT 1 ACCEPTs: that ends mangle's walk (rule 2 is never evaluated) but filter
    # INPUT still runs next and DROPs the tcp packet.
    t = trace_packet(rs, Packet("10.0.0.9", "10.0.0.1", "tcp", 1, 2), ["10.0.0.1"])
    assert matched(t.branches[0]) == [("PREROUTING", "PREROUTING", None, "policy:ACCEPT"),
                                      ("INPUT", "INPUT", 1, "ACCEPT"), ("INPUT", "INPUT", 1, "DROP")]
    assert [s.table for s in t.branches[0].steps] == ["mangle", "mangle", "filter"]
    assert t.verdicts == {"DROP": 1.0}


# ----------------------------------------------------------------------------------------
# state: conntrack, connmark, first packet only for nat


CT = """*mangle
:PREROUTING ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
-A PREROUTING -i eni+ -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80
-A PREROUTING -i eth0 -j CONNMARK --set-xmark 0x80/0x80
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80
-A FORWARD -m mark --mark 0x80/0x80 -j MARK --set-xmark 0x1/0x1
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.0.1.5:6443
COMMIT
*filter
:FORWARD DROP [0:0]
-A FORWARD -m conntrack --ctstate DNAT -m mark --mark 0x1 -j ACCEPT
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"""


def test_connmark_restore_mark_and_ctstate_dnat():
    rs = parse_save(CT)
    t = trace_packet(rs, Packet("203.0.113.9", "10.96.0.1", "tcp", 40000, 443, "eth0"), ["192.168.0.10"])
    b = t.branches[0]
    # mangle PREROUTING: rule 1 needs -i eni+ (eth0: fails); rule 2 sets ctmark 0x80; rule 3
    # restores mark = (0 & ~0x80) ^ (0x80 & 0x80) = 0x80. nat DNATs to 10.0.1.5:6443 (not local →
    # FORWARD). mangle FORWARD: mark 0x80 matches → MARK --set-xmark 0x1/0x1 → mark 0x81.
    # filter FORWARD rule 1: ctstate is NEW+DNAT, `--mark 0x1` means 0x81 & 0xffffffff == 0x1 → fails
    # (the mark is 0x81, not 0x1); rule 2: not RELATED/ESTABLISHED → policy DROP.
    assert b.dnat == "10.0.1.5:6443"
    assert b.steps[0].why == "-i eni+ does not match eth0"
    f1 = next(s for s in b.steps if s.table == "filter" and s.position == 1)
    assert f1.why == "-m mark --mark 0x1 does not match mark 0x81"
    assert b.verdict == "DROP"


def test_established_packet_skips_nat():
    rs = parse_save(CT)
    # a later packet (ctstate ESTABLISHED) never sees the nat table: no DNAT step at all
    t = trace_packet(rs, Packet("203.0.113.9", "10.96.0.1", "tcp", 40000, 443, "eth0", ctstate="ESTABLISHED"),
                     ["192.168.0.10"])
    assert not any(s.table == "nat" for s in t.branches[0].steps)
    # ... and is accepted by filter FORWARD rule 2, the last step: nat POSTROUTING is skipped
    # too, and mangle POSTROUTING is not declared (iptables-nft: not there)
    assert matched(t.branches[0])[-1] == ("FORWARD", "FORWARD", 2, "ACCEPT")
    assert t.branches[0].steps[-1].table == "filter"
    assert any("nat table is not consulted" in n for n in t.notes)


def test_kube_firewall_lets_dnat_to_localhost_through():
    rs = parse_save("""*nat
:OUTPUT ACCEPT [0:0]
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 30001 -j DNAT --to-destination 127.0.0.1:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
""")
    # node → 192.168.0.10 → 127.0.0.1:8080? No: from 192.168.0.10 to 127.0.0.1:30001, nat OUTPUT
    # DNATs (ctstate gains DNAT); back in over lo, filter INPUT's rule: `! -s 127/8` holds,
    # `-d 127/8` holds, `! --ctstate ...DNAT` fails because the state now has DNAT → not dropped.
    t = trace_packet(rs, Packet("192.168.0.10", "127.0.0.1", "tcp", 40000, 30001, from_node=True), ["192.168.0.10"])
    inp = [s for s in t.branches[0].steps if s.hook == "INPUT" and s.position == 1][0]
    assert inp.matched is False and inp.why.startswith("! --ctstate RELATED,ESTABLISHED,DNAT does not match")
    assert t.verdicts == {"ACCEPT": 1.0}
    # without the DNAT (port 22) the same rule drops it
    t = trace_packet(rs, Packet("192.168.0.10", "127.0.0.1", "tcp", 40000, 22, from_node=True), ["192.168.0.10"])
    assert t.verdicts == {"DROP": 1.0}


def test_redirect_rewrites_to_a_local_address():
    rs = parse_save("""*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -j REDIRECT --to-ports 15006
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
-A INPUT -p tcp -m tcp --dport 15006 -j ACCEPT
COMMIT
""")
    # an istio-style inbound redirect: the destination becomes the node's address, port 15006,
    # so the routing decision delivers locally (INPUT), where --dport 15006 is accepted.
    t = trace_packet(rs, Packet("10.1.1.1", "10.2.2.2", "tcp", 40000, 8080, "eth0"), ["10.0.0.7"])
    b = t.branches[0]
    assert b.dnat == "10.0.0.7:15006" and b.verdict == "ACCEPT"
    # filter INPUT accepts (nat INPUT is not declared: iptables-nft has no such base chain)
    assert matched(b)[-1] == ("INPUT", "INPUT", 1, "ACCEPT")
    assert [s.table for s in b.steps if s.hook == "INPUT"] == ["filter"]


# ----------------------------------------------------------------------------------------
# sets, statistic nth, unknown options, DROP/REJECT


def test_ipset_membership_from_data_and_unknown_set_assumed():
    rs = parse_save("""*filter
:INPUT ACCEPT [0:0]
-A INPUT -m set --match-set blocked src -j DROP
-A INPUT -m set ! --match-set allowed src,dst -j REJECT
COMMIT
""")
    p = Packet("198.51.100.7", "10.0.0.1", "tcp", 40000, 22)
    # 198.51.100.7 is inside 198.51.100.0/24 → DROP at rule 1
    t = trace_packet(rs, p, ["10.0.0.1"], ipsets={"blocked": ["198.51.100.0/24"], "allowed": []})
    assert t.verdicts == {"DROP": 1.0}
    # not in "blocked"; "allowed" (hash:ip,ip: src 198.51.100.7, dst 10.0.0.1) has it → rule 2's
    # negation fails → policy ACCEPT
    t = trace_packet(rs, p, ["10.0.0.1"], ipsets={"blocked": ["192.0.2.0/24"], "allowed": ["198.51.100.7,10.0.0.1"]})
    assert t.verdicts == {"ACCEPT": 1.0}
    assert t.branches[0].steps[0].why == "-m set --match-set blocked src: 198.51.100.7 is not in blocked"
    # no contents given: the set match is assumed to hold, the step and the trace say so
    t = trace_packet(rs, p, ["10.0.0.1"])
    assert t.branches[0].steps[0].assumed and t.assumed and t.verdicts == {"DROP": 1.0}
    assert any("blocked" in n and "assumed" in n for n in t.notes)


def test_statistic_nth_assumes_the_first_packet():
    rs = parse_save("""*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m statistic --mode nth --every 2 --packet 1 -j DNAT --to-destination 10.0.0.2
-A PREROUTING -p tcp -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination 10.0.0.3
COMMIT
""")
    # The counter starts at every-1-packet and a packet matches when it wraps to 0: the first
    # packet matches the --packet 0 rule, not the --packet 1 rule. Both steps are assumed.
    t = trace_packet(rs, Packet("10.9.9.9", "10.0.0.1", "tcp", 40000, 80), [])
    b = t.branches[0]
    # (no port in --to-destination: the packet keeps its port 80)
    assert b.dnat == "10.0.0.3:80" and b.steps[0].matched is False and b.steps[1].matched is True
    assert b.steps[0].assumed is False and b.steps[1].assumed is True and t.assumed


def test_unknown_match_is_assumed_never_silent():
    rs = parse_save("""*filter
:INPUT ACCEPT [0:0]
-A INPUT -m owner --uid-owner 1000 -j DROP
COMMIT
*mangle
:OUTPUT ACCEPT [0:0]
-A OUTPUT -m frobnicate --frob 1 -j ACCEPT
COMMIT
""")
    t = trace_packet(rs, Packet("10.0.0.1", "10.0.0.1", "tcp", 1, 2, from_node=True), ["10.0.0.1"])
    steps = [s for s in t.branches[0].steps if s.position == 1]
    # mangle OUTPUT: -m frobnicate is unknown → assumed to hold, step and trace marked
    assert steps[0].table == "mangle" and steps[0].matched and steps[0].assumed
    # filter INPUT (over lo): the owner match cannot be judged → assumed → DROP
    assert steps[-1].table == "filter" and steps[-1].assumed and t.verdicts == {"DROP": 1.0}
    assert t.to_json()["assumed"] is True


def test_reject_ends_the_trace():
    rs = parse_save("""*filter
:FORWARD ACCEPT [0:0]
-A FORWARD -p udp -j REJECT --reject-with icmp-port-unreachable
COMMIT
*nat
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -j MASQUERADE
COMMIT
""")
    t = trace_packet(rs, Packet("10.1.0.1", "10.2.0.1", "udp", 1, 53, "eth0"), [])
    # (nat PREROUTING is not declared: not traversed) REJECT in FORWARD: the packet never
    # reaches POSTROUTING (no MASQUERADE step)
    assert t.verdicts == {"REJECT": 1.0}
    assert [(s.hook, s.action) for s in t.branches[0].steps] == [("FORWARD", "REJECT")]
    assert t.branches[0].masquerade is False


# ----------------------------------------------------------------------------------------
# the index of big chains


def test_big_chain_index_summarises_skipped_rules():
    n = INDEX_MIN_RULES * 4
    rules = "".join(f"-A KUBE-SERVICES -d 10.96.{i // 250}.{i % 250 + 1}/32 -p tcp -m tcp --dport 80 -j ACCEPT\n"
                    for i in range(n))
    rs = parse_save("*filter\n:OUTPUT DROP [0:0]\n:KUBE-SERVICES - [0:0]\n-A OUTPUT -j KUBE-SERVICES\n"
                    + rules + "-A KUBE-SERVICES -p tcp -j LOG\nCOMMIT\n")
    # rule k (1-based) has address 10.96.(k-1)//250.((k-1)%250+1); rule 100 → 10.96.0.100
    t = trace_packet(rs, Packet("10.0.0.1", "10.96.0.100", "tcp", 1, 80, from_node=True), ["10.0.0.1"])
    steps = t.branches[0].steps
    # OUTPUT 1 jump; one summary for rules 1..99; rule 100 ACCEPTs
    assert [(s.chain, s.position, s.matched) for s in steps] == [
        ("OUTPUT", 1, True), ("KUBE-SERVICES", 1, False), ("KUBE-SERVICES", 100, True)]
    assert steps[1].why == "99 rules skipped (positions 1-99): their -d does not match 10.96.0.100"
    # an address no rule has: every -d rule is skipped, the last (no -d) rule is evaluated, the
    # chain returns and OUTPUT's policy DROPs
    t = trace_packet(rs, Packet("10.0.0.1", "10.97.0.1", "tcp", 1, 80, from_node=True), ["10.0.0.1"])
    s = t.branches[0].steps
    assert [(x.position, x.matched, x.action) for x in s] == [
        (1, True, "JUMP:KUBE-SERVICES"), (1, False, None), (n + 1, True, "CONTINUE"), (None, True, "RETURN"),
        (None, True, "policy:DROP")]
    assert s[1].why == f"{n} rules skipped (positions 1-{n}): their -d does not match 10.97.0.1"


def test_big_chain_compiles_only_the_rules_a_packet_reaches():
    n = INDEX_MIN_RULES * 4
    rules = "".join(f"-A KUBE-SERVICES -d 10.96.0.{i + 1}/32 -p tcp -m tcp --dport 80 -j ACCEPT\n" for i in range(n))
    # rule n+1 parses but cannot be compiled: its --probability is no number
    rs = parse_save("*filter\n:OUTPUT DROP [0:0]\n:KUBE-SERVICES - [0:0]\n-A OUTPUT -j KUBE-SERVICES\n" + rules
                    + "-A KUBE-SERVICES -d 10.97.0.1/32 -m statistic --mode random --probability x -j ACCEPT\nCOMMIT\n")
    tr = Tracer(rs, ["10.0.0.1"])
    # rule 5 has 10.96.0.5: the only rule the index names for it, the only one compiled
    t = tr.trace(Packet("10.0.0.1", "10.96.0.5", "tcp", 1, 80, from_node=True))
    assert t.branches[0].matched_path()[-1] == ("filter", "KUBE-SERVICES", 5, "ACCEPT")
    done = tr.compiled.tables["filter"]["KUBE-SERVICES"].rules.done
    assert [i + 1 for i, r in enumerate(done) if r is not None] == [5]
    # compile_all reaches the broken last rule
    with pytest.raises(ValueError):
        tr.compiled.compile_all()


def test_index_gives_the_same_matched_path_as_a_full_walk():
    from workbook.trace import walk as tr
    n = INDEX_MIN_RULES * 2
    rules = "".join(f"-A C -d 10.96.0.{i + 1}/32 -j MARK --set-xmark {i + 1:#x}/0xffffffff\n" for i in range(n))
    text = "*mangle\n:OUTPUT ACCEPT [0:0]\n:C - [0:0]\n-A OUTPUT -j C\n" + rules + "-A C -d 10.96.0.7/32 -j ACCEPT\nCOMMIT\n"
    rs = parse_save(text)
    p = Packet("10.0.0.1", "10.96.0.7", "tcp", 1, 80, from_node=True)
    fast = Tracer(rs).trace(p, ["10.0.0.1"])
    old = tr.INDEX_MIN_RULES
    try:
        tr.INDEX_MIN_RULES = 10 ** 9
        slow = Tracer(rs).trace(p, ["10.0.0.1"])
    finally:
        tr.INDEX_MIN_RULES = old
    # hand: rule 7 (MARK) and the final ACCEPT (rule n+1) match, nothing else (mangle
    # POSTROUTING is not declared)
    assert fast.branches[0].matched_path() == slow.branches[0].matched_path() == [
        ("mangle", "OUTPUT", 1, "JUMP:C"), ("mangle", "C", 7, "MARK"), ("mangle", "C", n + 1, "ACCEPT")]
    # full walk: OUTPUT 1 + n + 1 rules of C; indexed: the same with rules 1-6 and 8-n as two summary steps
    assert len(slow.branches[0].steps) == n + 2 and len(fast.branches[0].steps) == 5


def test_netfilter_model_tables_and_paths():
    # CHAINS.md §8: priorities raw -300, mangle -150, nat(DNAT) -100, filter 0, security 50, nat(SNAT) 100
    assert [(t.table, t.priority) for t in TABLES_AT_HOOK["OUTPUT"]] == [
        ("raw", -300), ("mangle", -150), ("nat", -100), ("filter", 0), ("security", 50)]
    assert [(t.table, t.priority) for t in TABLES_AT_HOOK["INPUT"]] == [
        ("mangle", -150), ("filter", 0), ("security", 50), ("nat", 100)]
    assert packet_path(False, False) == ["PREROUTING", "FORWARD", "POSTROUTING"]


def test_missing_builtin_chain_legacy_mode():
    rs = parse_save("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n")
    p = Packet("10.1.0.1", "10.2.0.1", "udp", 1, 53, "eth0")
    # default (iptables-nft): nat POSTROUTING is not declared → not traversed
    t = Tracer(rs).trace(p)
    assert [(s.hook, s.table) for s in t.branches[0].steps] == [("PREROUTING", "nat"), ("FORWARD", "filter")]
    # iptables-legacy: every built-in chain of a loaded table exists: nat POSTROUTING gives its policy
    t = Tracer(rs, missing_builtins="empty").trace(p)
    assert matched(t.branches[0])[-1] == ("POSTROUTING", "POSTROUTING", None, "policy:ACCEPT")


def test_jump_loop_is_a_clear_error_and_branch_limit_holds():
    from workbook.model import InputError
    rs = parse_save("*filter\n:INPUT ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j A\nCOMMIT\n")
    # A → B → A → ... the kernel refuses such a ruleset at load time; the tracer stops with a clear error
    with pytest.raises(InputError, match=r"loop in table filter: A -> B -> A \(rule 1 of B \(<text>:7\)\)"):
        trace_packet(rs, Packet("10.0.0.9", "10.0.0.1", "tcp", 1, 2), ["10.0.0.1"])
    # 20 random rules of probability 0.5 in a row could make 21 branches; with max_branches=4
    # the fifth branch is refused: the trace stops with one line saying so
    rules = "".join("-A C -m statistic --mode random --probability 0.50000000000 -j RETURN\n" for _ in range(20))
    rs = parse_save("*filter\n:INPUT ACCEPT [0:0]\n:C - [0:0]\n-A INPUT -j C\n" + rules + "COMMIT\n")
    with pytest.raises(InputError, match=r"too many branches \(4\); narrow the flow"):
        Tracer(rs, ["10.0.0.1"], max_branches=4).trace(Packet("10.0.0.9", "10.0.0.1", "tcp", 1, 2))
    t = Tracer(rs, ["10.0.0.1"], max_branches=21).trace(Packet("10.0.0.9", "10.0.0.1", "tcp", 1, 2))
    assert len(t.branches) == 21
    assert sum(b.probability for b in t.branches) == pytest.approx(1.0)


LOCALNET = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 127.0.0.1/32 -p tcp -m tcp --dport 3001 -j DNAT --to-destination 10.180.0.1:80
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 3001 -j DNAT --to-destination 10.180.0.1:80
-A POSTROUTING -s 127.0.0.0/8 -j MASQUERADE
COMMIT
"""


def test_route_localnet():
    # Kernel facts (pinned by the lab's regression tests against the real kernel):
    # route_localnet=0 (default): a packet from outside to 127.0.0.1 without DNAT is dropped by
    # routing right after nat PREROUTING; a node packet 127.0.0.1 → 127.0.0.1:3001 DNATed to a pod
    # is dropped by the re-route after nat OUTPUT. With route_localnet=1 both go on.
    rs = parse_save(LOCALNET)
    pod_to_lo = Packet("10.0.0.2", "127.0.0.1", "tcp", 40000, 3002, "eth0")
    t = trace_packet(rs, pod_to_lo, ["192.168.0.2"])
    assert (t.branches[0].verdict, matched(t.branches[0])) == ("DROP", [("PREROUTING", "PREROUTING", None, "policy:ACCEPT")])
    assert any("route_localnet" in n for n in t.notes)
    t = trace_packet(rs, pod_to_lo, ["192.168.0.2"], route_localnet=True)
    assert (t.branches[0].verdict, matched(t.branches[0])[-1]) == ("ACCEPT", ("INPUT", "INPUT", None, "policy:ACCEPT"))
    # DNAT in PREROUTING happens before routing: the pod address is routed, nothing is dropped
    t = trace_packet(rs, Packet("10.0.0.2", "127.0.0.1", "tcp", 40000, 3001, "eth0"), ["192.168.0.2"])
    assert (t.branches[0].verdict, t.branches[0].dnat) == ("ACCEPT", "10.180.0.1:80")
    node = Packet("127.0.0.1", "127.0.0.1", "tcp", 40000, 3001, None, True)
    t = trace_packet(rs, node, ["192.168.0.2"])
    assert (t.branches[0].verdict, matched(t.branches[0])) == ("DROP", [("OUTPUT", "OUTPUT", 1, "DNAT")])
    t = trace_packet(rs, node, ["192.168.0.2"], route_localnet=True)
    b = t.branches[0]
    assert (b.verdict, b.masquerade, matched(b)[-1]) == ("ACCEPT", True, ("POSTROUTING", "POSTROUTING", 1, "MASQUERADE"))


MARTIANS = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\nCOMMIT\n"


def test_martian_sources():
    # ip_route_input_slow: a multicast, limited-broadcast or 0.0.0.0/8 source arriving on an
    # interface is a martian, and so is one of the node's own addresses unless accept_local=1
    # (fib_validate_source). Dropped by routing after PREROUTING: no filter step at all.
    rs = parse_save(MARTIANS)
    for src in ("224.0.0.5", "255.255.255.255", "0.0.0.7", "192.168.0.2"):
        t = trace_packet(rs, Packet(src, "10.0.0.9", "tcp", 40000, 80, "eth0"), ["192.168.0.2"])
        assert [(b.verdict, matched(b)) for b in t.branches] == [("DROP", [])], src
        assert any("martian source" in n for n in t.notes)
    # accept_local=1 lets the node's own address in: forwarded, FORWARD policy ACCEPT
    t = trace_packet(rs, Packet("192.168.0.2", "10.0.0.9", "tcp", 40000, 80, "eth0"), ["192.168.0.2"], accept_local=True)
    assert [(b.verdict, matched(b)) for b in t.branches] == [("ACCEPT", [("FORWARD", "FORWARD", None, "policy:ACCEPT")])]
    # the same address sent by the node itself and delivered back over lo is no martian
    t = trace_packet(rs, Packet("192.168.0.2", "192.168.0.2", "tcp", 40000, 80, None, True), ["192.168.0.2"])
    assert [(b.verdict, matched(b)) for b in t.branches] == [("ACCEPT", [("INPUT", "INPUT", None, "policy:ACCEPT")])]
