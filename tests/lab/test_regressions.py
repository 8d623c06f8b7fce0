"""Every kernel/simulator disagreement the differential suite found, pinned down small.

Each test states the kernel's path worked out by hand (and checked against the real kernel),
then what the simulator says. Where the simulator is still wrong the comparison is a strict
xfail naming the fix, so it turns into a failure ("XPASS") the day the engine fixes it.
"""

from __future__ import annotations

import pytest

from tests.lab.conftest import need_lab
from tests.lab.differential import agrees, comparable_path
from workbook.lab import Lab, lab_trace
from workbook.packet import Packet
from workbook.parse import parse_save

pytestmark = pytest.mark.root

# 1. A built-in chain the dump leaves out (found on conformance 07-TestHealthCheckNodePort and
#    33-...-v2: their nat table declares no INPUT chain). iptables-nft creates only the base
#    chains a ruleset declares, so the kernel has no nat INPUT chain and shows no step for it;
#    the simulator assumed "the kernel always has the built-in chains of a loaded table" (true for
#    iptables-legacy, whose save output always lists them all) and added nat INPUT policy:ACCEPT.
#    The engine fixed it (trace_packet(missing_builtins="absent") by default, "empty" for legacy).
ABSENT_NAT_INPUT = """*nat
:PREROUTING ACCEPT [0:0]
:X - [0:0]
-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j X
-A X -p tcp -j DNAT --to-destination 192.168.0.2:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
COMMIT
"""
ABSENT_PACKET = Packet("10.0.0.2", "10.96.0.10", "tcp", 40000, 80, "eth0")
# By hand: nat PREROUTING 1 jumps to X, X 1 DNATs to the node's own 192.168.0.2:8080, so the
# packet is delivered locally: filter INPUT policy ACCEPT. No nat INPUT (not declared) and no
# POSTROUTING (local delivery).
ABSENT_KERNEL_PATH = [("nat", "PREROUTING", 1, "JUMP:X"), ("nat", "X", 1, "DNAT"),
                      ("filter", "INPUT", None, "policy:ACCEPT")]


def test_absent_builtin_chain_kernel(lab_ok):
    t = lab_trace(parse_save(ABSENT_NAT_INPUT, "absent.rules"), ABSENT_PACKET, ["192.168.0.2"])
    b = t.branches[0]
    assert b.matched_path() == ABSENT_KERNEL_PATH
    assert (b.verdict, b.dnat) == ("ACCEPT", "192.168.0.2:8080")


def test_absent_builtin_chain_simulator():
    # fixed in the engine (missing_builtins="absent", the default): no step for nat INPUT
    from workbook.trace import trace_packet
    sim = trace_packet(parse_save(ABSENT_NAT_INPUT, "absent.rules"), ABSENT_PACKET, ["192.168.0.2"])
    assert [comparable_path(b) for b in sim.branches] == [ABSENT_KERNEL_PATH]


def test_absent_builtin_chain_legacy(lab_ok):
    # iptables-legacy's nat table always has all four built-in chains: there the kernel does walk
    # nat INPUT (empty, policy ACCEPT), as the simulator does with missing_builtins="empty".
    need_lab("legacy")
    rs = parse_save(ABSENT_NAT_INPUT, "absent.rules")
    k = lab_trace(rs, ABSENT_PACKET, ["192.168.0.2"], backend="legacy")
    legacy_path = ABSENT_KERNEL_PATH + [("nat", "INPUT", None, "policy:ACCEPT")]
    assert comparable_path(k.branches[0]) == legacy_path
    from workbook.trace import Tracer
    sim = Tracer(rs, ["192.168.0.2"], missing_builtins="empty").trace(ABSENT_PACKET)
    assert agrees(k, sim) == (True, "")


# 2. -m recent state outliving a flow (found on conformance 13-TestOnlyLocalLoadBalancing: the
#    flow "external to LB IP" ran KUBE-SEP-...'s `-m recent --set`, and the next flow from the
#    same source matched KUBE-SVL's `--rcheck` rule 1 instead of rule 2). Not a simulator bug:
#    the lab now empties /proc/net/xt_recent/* before every packet, as a first packet expects.
AFFINITY = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-A - [0:0]
-A PREROUTING -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-A
-A KUBE-SVC-A -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-A --mask 255.255.255.255 --rsource -j KUBE-SEP-A
-A KUBE-SVC-A -j KUBE-SEP-A
-A KUBE-SEP-A -p tcp -m recent --set --name KUBE-SEP-A --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.5.5:8080
COMMIT
"""


def test_recent_lists_are_emptied_between_flows(lab_ok):
    rs = parse_save(AFFINITY, "affinity.rules")
    p = Packet("203.0.113.2", "10.96.0.20", "tcp", 40000, 80, "eth0")
    with Lab(rs, ("192.168.0.2",)) as lab:
        t1, t2 = lab.trace(p), lab.trace(p)
    # By hand, for a first packet (empty recent list): KUBE-SVC-A 1 (--rcheck) does not match,
    # KUBE-SVC-A 2 jumps to KUBE-SEP-A, whose rule 1 records the source and DNATs; the packet is
    # forwarded to the sink: nat POSTROUTING policy ACCEPT. The second flow must look the same.
    expected = [("nat", "PREROUTING", 1, "JUMP:KUBE-SVC-A"), ("nat", "KUBE-SVC-A", 2, "JUMP:KUBE-SEP-A"),
                ("nat", "KUBE-SEP-A", 1, "DNAT"), ("nat", "POSTROUTING", None, "policy:ACCEPT")]
    assert t1.branches[0].matched_path() == expected
    assert t2.branches[0].matched_path() == expected


# 3. route_localnet (found on conformance 06-TestNodePort / 32-TestNodePort-v2, "localhost to
#    nodePort"): a packet from 127.0.0.1 DNATed to a pod leaves the host only when
#    net.ipv4.conf.*.route_localnet=1; otherwise the re-route after nat OUTPUT fails and the kernel
#    drops it with no further hook. kube-proxy (iptables mode, localhost NodePorts on by default)
#    sets route_localnet=1, so the differential suite runs with it (and tells the simulator:
#    trace_packet(route_localnet=True), which the engine added after this was found).
LOCALNET = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 3001 -j DNAT --to-destination 10.180.0.1:80
-A POSTROUTING -s 127.0.0.0/8 -j MASQUERADE
COMMIT
"""
LOCALNET_PACKET = Packet("127.0.0.1", "127.0.0.1", "tcp", 40000, 3001, None, True)


def test_localhost_dnat_needs_route_localnet(lab_ok):
    rs = parse_save(LOCALNET, "localnet.rules")
    with Lab(rs, ("192.168.0.2",)) as lab:
        off = lab.trace(LOCALNET_PACKET)
    with Lab(rs, ("192.168.0.2",), sysctls={"net.ipv4.conf.all.route_localnet": "1"}) as lab:
        on = lab.trace(LOCALNET_PACKET)
    # route_localnet=0: nat OUTPUT 1 DNATs, then nothing (dropped by routing, no rule did it)
    assert off.branches[0].matched_path() == [("nat", "OUTPUT", 1, "DNAT")]
    assert off.branches[0].verdict == "DROP" and "route_localnet" in " ".join(off.branches[0].notes)
    # route_localnet=1: it goes on to POSTROUTING, where rule 1 (-s 127.0.0.0/8) masquerades it
    assert on.branches[0].matched_path() == [("nat", "OUTPUT", 1, "DNAT"), ("nat", "POSTROUTING", 1, "MASQUERADE")]
    assert (on.branches[0].verdict, on.branches[0].dnat, on.branches[0].masquerade) == ("ACCEPT", "10.180.0.1:80", True)
    # the simulator models the sysctl (engine: route_localnet=False by default, as the kernel)
    from workbook.trace import trace_packet
    assert agrees(on, trace_packet(rs, LOCALNET_PACKET, ["192.168.0.2"], route_localnet=True)) == (True, "")
    assert agrees(off, trace_packet(rs, LOCALNET_PACKET, ["192.168.0.2"])) == (True, "")


# 4. Implicit returns: the kernel's TRACE shows no event when a packet falls off the end of a user
#    chain; the simulator lists a matched RETURN step with no position there (a fine step to show
#    a reader). The differential compares paths without those (differential.comparable_path, and
#    the engine is making Branch.matched_path() leave them out); this pins both facts down.
IMPLICIT = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:EMPTYISH - [0:0]
-A INPUT -j EMPTYISH
-A EMPTYISH -p udp -j DROP
COMMIT
"""


def test_implicit_return_has_no_kernel_event(lab_ok):
    rs = parse_save(IMPLICIT, "implicit.rules")
    p = Packet("10.0.0.2", "192.168.0.2", "tcp", 40000, 22, "eth0")
    k = lab_trace(rs, p, ["192.168.0.2"])
    # By hand: INPUT 1 jumps to EMPTYISH; its only rule is for udp, the packet falls off the end
    # (no event) and INPUT ends in its policy ACCEPT.
    assert k.branches[0].matched_path() == [("filter", "INPUT", 1, "JUMP:EMPTYISH"), ("filter", "INPUT", None, "policy:ACCEPT")]
    from workbook.trace import trace_packet
    sim = trace_packet(rs, p, ["192.168.0.2"])
    (b,) = sim.branches
    assert any(s.matched and (s.chain, s.position, s.action) == ("EMPTYISH", None, "RETURN") for s in b.steps)
    assert comparable_path(b) == k.branches[0].matched_path()


# 5. A pod to 127.0.0.1 (conformance 14/15 "pod to localhost doesn't work because localhost is not
#    in nodePortAddresses"): the lab writes such a packet as a raw frame (routing would keep it in
#    the sending namespace). The kernel runs PREROUTING on it; routing comes after nat PREROUTING.
LOCALHOST_RULES = LOCALNET.replace("-A OUTPUT", "-A PREROUTING")
TO_LOCALHOST_DNAT = Packet("10.0.0.2", "127.0.0.1", "tcp", 40000, 3001, "eth0")
TO_LOCALHOST = Packet("10.0.0.2", "127.0.0.1", "tcp", 40000, 3002, "eth0")


def test_pod_to_localhost_kernel(lab_ok):
    rs = parse_save(LOCALHOST_RULES, "localnet-pre.rules")
    with Lab(rs, ("192.168.0.2",)) as lab:
        k1, k2 = lab.trace(TO_LOCALHOST_DNAT), lab.trace(TO_LOCALHOST)
    with Lab(rs, ("192.168.0.2",), sysctls={"net.ipv4.conf.all.route_localnet": "1"}) as lab:
        k3 = lab.trace(TO_LOCALHOST)
    # By hand (my first guess was wrong; the kernel corrected it): nat PREROUTING 1 DNATs to
    # 10.180.0.1:80 BEFORE the routing decision, so routing never sees 127.0.0.1: the packet is
    # forwarded; nat POSTROUTING 1 (-s 127.0.0.0/8) does not match 10.0.0.2 -> policy ACCEPT.
    assert k1.branches[0].matched_path() == [("nat", "PREROUTING", 1, "DNAT"), ("nat", "POSTROUTING", None, "policy:ACCEPT")]
    assert (k1.branches[0].verdict, k1.branches[0].dnat) == ("ACCEPT", "10.180.0.1:80")
    # Port 3002, no DNAT: with route_localnet=0 (the kernel's default) routing drops a packet from
    # outside addressed to 127.0.0.1 (martian destination) right after nat PREROUTING's policy ...
    assert k2.branches[0].matched_path() == [("nat", "PREROUTING", None, "policy:ACCEPT")]
    assert k2.branches[0].verdict == "DROP"
    # ... and with route_localnet=1 delivers it locally (nat INPUT policy).
    assert k3.branches[0].matched_path() == [("nat", "PREROUTING", None, "policy:ACCEPT"), ("nat", "INPUT", None, "policy:ACCEPT")]
    assert k3.branches[0].verdict == "ACCEPT"
    from workbook.trace import trace_packet
    assert agrees(k1, trace_packet(rs, TO_LOCALHOST_DNAT, ["192.168.0.2"])) == (True, "")
    assert agrees(k2, trace_packet(rs, TO_LOCALHOST, ["192.168.0.2"])) == (True, "")
    assert agrees(k3, trace_packet(rs, TO_LOCALHOST, ["192.168.0.2"], route_localnet=True)) == (True, "")


def test_pod_to_localhost_simulator_default_route_localnet():
    # found by the lab; fixed in the engine (route_localnet=False by default, as the kernel)
    from workbook.trace import trace_packet
    sim = trace_packet(parse_save(LOCALHOST_RULES, "localnet-pre.rules"), TO_LOCALHOST, ["192.168.0.2"])
    # the kernel's answer at route_localnet=0, from test_pod_to_localhost_kernel
    assert [(b.verdict, comparable_path(b)) for b in sim.branches] == [("DROP", [("nat", "PREROUTING", None, "policy:ACCEPT")])]


# 6. A packet arriving from outside with the node's own address as its source (found on the public
#    moby-bridge dump, whose -s list holds the node address): routing drops it as a martian source
#    (accept_local=0) right after PREROUTING; the simulator delivered or forwarded it. Fixed in the
#    engine (Tracer._martian_source; accept_local=True for a node that sets the sysctl).
MARTIAN = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""
SPOOFED = Packet("192.168.0.2", "192.168.0.2", "tcp", 40000, 80, "eth0")


def test_martian_source_kernel(lab_ok):
    k = lab_trace(parse_save(MARTIAN, "martian.rules"), SPOOFED, ["192.168.0.2"])
    # By hand: there is no PREROUTING chain in this ruleset; routing refuses the packet (its source
    # is a local address) before INPUT, so no step at all, and the kernel dropped it.
    assert k.branches[0].matched_path() == []
    assert k.branches[0].verdict == "DROP"


def test_martian_source_simulator():
    from workbook.trace import trace_packet
    sim = trace_packet(parse_save(MARTIAN, "martian.rules"), SPOOFED, ["192.168.0.2"])
    # the kernel's answer, from test_martian_source_kernel: no step, dropped
    assert [(b.verdict, comparable_path(b)) for b in sim.branches] == [("DROP", [])]
    assert any("martian source" in n and "accept_local" in n for n in sim.notes)


def test_martian_source_accept_local(lab_ok):
    rs = parse_save(MARTIAN, "martian.rules")
    with Lab(rs, ("192.168.0.2",), sysctls={"net.ipv4.conf.all.accept_local": "1",
                                           "net.ipv4.conf.eth0.accept_local": "1"}) as lab:
        k = lab.trace(SPOOFED)
    # By hand: with accept_local=1 routing takes the node's own source; the destination is local,
    # so the packet is delivered: filter INPUT policy ACCEPT.
    assert k.branches[0].matched_path() == [("filter", "INPUT", None, "policy:ACCEPT")]
    from workbook.trace import trace_packet
    assert agrees(k, trace_packet(rs, SPOOFED, ["192.168.0.2"], accept_local=True)) == (True, "")


# 7. -m rpfilter (found on the public medium-company dump: `-t raw -A PREROUTING -m rpfilter --invert
#    -j DROP`): in the lab the source has a route back through the interface it came in on, so the
#    kernel's rpfilter passes and --invert does not match. The simulator took every rpfilter match
#    as holding (so --invert DROPped everything). Fixed in the engine: with the node's routes it
#    looks the source up; without them it assumes the path back is the arrival interface (valid),
#    marks the step assumed and says so; a local source is never a valid path (no --accept-local).
RPFILTER = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -m rpfilter --invert -j DROP
COMMIT
"""


RPFILTER_PACKET = Packet("172.16.2.223", "192.168.0.2", "tcp", 40000, 80, "eth0")
# By hand: the reverse path of 172.16.2.223 is eth0, where it came in: rpfilter holds, the
# inverted match fails, raw PREROUTING ends in its policy ACCEPT; then INPUT (no filter table).
RPFILTER_PATH = [("raw", "PREROUTING", None, "policy:ACCEPT")]


def test_rpfilter_kernel(lab_ok):
    k = lab_trace(parse_save(RPFILTER, "rpfilter.rules"), RPFILTER_PACKET, ["192.168.0.2"])
    assert k.branches[0].matched_path() == RPFILTER_PATH


def test_rpfilter_simulator_without_routes_assumes_valid():
    from workbook.trace import trace_packet
    (b,) = trace_packet(parse_save(RPFILTER, "rpfilter.rules"), RPFILTER_PACKET, ["192.168.0.2"]).branches
    assert comparable_path(b) == RPFILTER_PATH and b.verdict == "ACCEPT"
    first = next(s for s in b.steps if s.position == 1)
    # not matched, but only because the reverse path was assumed: the step and a note say so
    assert not first.matched and first.assumed and any("rpfilter" in n and "assumed" in n for n in b.notes)


def test_rpfilter_simulator_with_routes():
    from workbook.trace import trace_packet
    rs = parse_save(RPFILTER, "rpfilter.rules")
    # the lab's routes: 172.16.2.223/32 dev eth0 (the client behind eth0), default dev nfwb-sink
    lab_routes = ["172.16.2.223 dev eth0 scope link", "default dev nfwb-sink"]
    (b,) = trace_packet(rs, RPFILTER_PACKET, ["192.168.0.2"], routes=lab_routes).branches
    assert comparable_path(b) == RPFILTER_PATH and not any(s.assumed for s in b.steps)
    # By hand: only the default route leads back to 172.16.2.223 and it leaves on nfwb-sink, not
    # eth0: the reverse path is not valid, --invert matches, raw PREROUTING 1 drops.
    (b,) = trace_packet(rs, RPFILTER_PACKET, ["192.168.0.2"], routes=["default dev nfwb-sink"]).branches
    assert (comparable_path(b), b.verdict) == ([("raw", "PREROUTING", 1, "DROP")], "DROP")
    # By hand: --loose accepts any interface with a route back: the default route is enough.
    loose = parse_save(RPFILTER.replace("--invert", "--loose --invert"), "rpfilter-loose.rules")
    (b,) = trace_packet(loose, RPFILTER_PACKET, ["192.168.0.2"], routes=["default dev nfwb-sink"]).branches
    assert comparable_path(b) == RPFILTER_PATH
    # By hand: a blackhole route back is no valid path (rpfilter_lookup_reverse wants RTN_UNICAST)
    (b,) = trace_packet(rs, RPFILTER_PACKET, ["192.168.0.2"], routes=["blackhole 172.16.0.0/12"]).branches
    assert b.verdict == "DROP"


RPFILTER_SPOOFED = Packet("192.168.0.2", "192.168.0.2", "tcp", 40000, 80, "eth0")


def test_rpfilter_local_source(lab_ok):
    rs = parse_save(RPFILTER, "rpfilter.rules")
    accept_local = parse_save(RPFILTER.replace("--invert", "--accept-local --invert"), "rpfilter-al.rules")
    with Lab(rs, ("192.168.0.2",)) as lab:
        k1 = lab.trace(RPFILTER_SPOOFED)
    with Lab(accept_local, ("192.168.0.2",)) as lab:
        k2 = lab.trace(RPFILTER_SPOOFED)
    # By hand: the reverse lookup of the node's own 192.168.0.2 finds a local route, which is no
    # valid path without --accept-local: --invert matches and raw PREROUTING 1 drops ...
    assert (k1.branches[0].matched_path(), k1.branches[0].verdict) == ([("raw", "PREROUTING", 1, "DROP")], "DROP")
    # ... with --accept-local the local route counts (the address sits on eth0, where the packet
    # came in): no match, policy ACCEPT, and then routing drops the martian source (accept_local=0).
    assert (k2.branches[0].matched_path(), k2.branches[0].verdict) == (RPFILTER_PATH, "DROP")
    from workbook.trace import trace_packet
    # the simulator needs no routes to know the node's own address is local
    assert agrees(k1, trace_packet(rs, RPFILTER_SPOOFED, ["192.168.0.2"])) == (True, "")
    assert agrees(k2, trace_packet(accept_local, RPFILTER_SPOOFED, ["192.168.0.2"])) == (True, "")


# 8. The security table at INPUT (found on the public medium-company dump, which has all five
#    tables): iptables-nft registers the security base chains at priority 150 (iptables nft.c),
#    iptables-legacy at the kernel's NF_IP_PRI_SECURITY 50, so with nft security INPUT comes
#    AFTER nat INPUT (100) and with legacy before it. The simulator used the legacy order for
#    both; fixed (Tracer(backend="nft") by default, netfilter.TABLES_AT_HOOK_NFT).
SECURITY = """*security
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
*filter
:INPUT ACCEPT [0:0]
COMMIT
"""
TO_NODE = Packet("10.0.0.2", "192.168.0.2", "tcp", 40000, 80, "eth0")
# By hand, for a packet delivered to the node: nat PREROUTING, filter INPUT, then security and
# nat INPUT in the backend's priority order (nft: nat 100 < security 150; legacy: security 50 < nat 100).
SECURITY_NFT = [("nat", "PREROUTING", None, "policy:ACCEPT"), ("filter", "INPUT", None, "policy:ACCEPT"),
                ("nat", "INPUT", None, "policy:ACCEPT"), ("security", "INPUT", None, "policy:ACCEPT")]
SECURITY_LEGACY = [("nat", "PREROUTING", None, "policy:ACCEPT"), ("filter", "INPUT", None, "policy:ACCEPT"),
                   ("security", "INPUT", None, "policy:ACCEPT"), ("nat", "INPUT", None, "policy:ACCEPT")]


def test_security_table_order_kernel(lab_ok):
    rs = parse_save(SECURITY, "security.rules")
    assert lab_trace(rs, TO_NODE, ["192.168.0.2"]).branches[0].matched_path() == SECURITY_NFT
    need_lab("legacy")
    assert lab_trace(rs, TO_NODE, ["192.168.0.2"], backend="legacy").branches[0].matched_path() == SECURITY_LEGACY


def test_security_table_order_simulator():
    from workbook.trace import Tracer, trace_packet
    rs = parse_save(SECURITY, "security.rules")
    (b,) = trace_packet(rs, TO_NODE, ["192.168.0.2"]).branches
    assert comparable_path(b) == SECURITY_NFT
    (b,) = Tracer(rs, ["192.168.0.2"], backend="legacy").trace(TO_NODE).branches
    assert comparable_path(b) == SECURITY_LEGACY
