"""The simulator against the real kernel: the same packet through the same rules in a namespace.

The kernel's path (``workbook.lab.lab_trace``: nf_tables TRACE via xtables-monitor) is the
expected value. A random split is one draw in the kernel: its path must equal the matched
path of the simulator branch that DNATs to the same endpoint.
"""

from __future__ import annotations

import pytest

from tests.realparts import need
from workbook.packet import Packet
from workbook.parse import parse_save
from workbook.trace import trace_packet

from .test_trace_unit import CT, GOTO, NEG, SEED_TEXT, _svc3

pytestmark = pytest.mark.root

LO = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -i lo -p udp
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A OUTPUT -d 192.168.0.10/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 192.168.0.10:53
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -m conntrack --ctstate DNAT -p udp -m udp --dport 53 -j ACCEPT
COMMIT
"""

# raw NOTRACK (nat skipped, ctstate UNTRACKED), iprange, --syn, mark xor, CONNMARK --save-mark,
# connmark, icmp type, `! --ctstate DNAT`, SNAT (the nth and `-o` cases are left out: the sim
# can only assume a fresh counter and an unknown output interface)
MISC = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 9999 -j CT --notrack
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m iprange --src-range 10.1.1.0-10.1.1.50 -j MARK --set-xmark 0x1/0xff
-A PREROUTING -p tcp -m tcp --syn -j MARK --xor-mark 0x10
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A FORWARD -p icmp -m icmp --icmp-type echo-request -j MARK --set-xmark 0x100/0x100
-A FORWARD -m connmark --mark 0x11 -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -j DNAT --to-destination 10.77.0.1
-A POSTROUTING -s 10.1.1.0/24 -p udp -j SNAT --to-source 192.168.0.10
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate UNTRACKED -j DROP
-A FORWARD -m mark --mark 0x11/0xff -m conntrack ! --ctstate DNAT -j ACCEPT
-A FORWARD -m mark --mark 0x101 -j ACCEPT
COMMIT
"""

LOCALNET_PRE = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 127.0.0.1/32 -p tcp -m tcp --dport 3001 -j DNAT --to-destination 10.180.0.1:80
COMMIT
"""

SCENARIOS = [
    # route_localnet=0 (the lab's and the kernel's default): routing drops it after nat PREROUTING
    ("pod-to-localhost", LOCALNET_PRE, Packet("10.0.0.2", "127.0.0.1", "tcp", 40000, 3002, "eth0"), ["192.168.0.2"]),
    ("pod-to-localhost-dnat", LOCALNET_PRE, Packet("10.0.0.2", "127.0.0.1", "tcp", 40000, 3001, "eth0"), ["192.168.0.2"]),
    ("misc-tcp-syn", MISC, Packet("10.1.1.7", "10.50.0.1", "tcp", 40000, 80, "eth0"), ["192.168.0.10"]),
    ("misc-notrack", MISC, Packet("10.1.1.7", "10.50.0.1", "udp", 40000, 9999, "eth0"), ["192.168.0.10"]),
    ("misc-dnat-snat", MISC, Packet("10.1.1.7", "10.50.0.1", "udp", 40000, 53, "eth0"), ["192.168.0.10"]),
    ("misc-icmp", MISC, Packet("10.1.1.7", "10.50.0.1", "icmp", None, None, "eth0"), ["192.168.0.10"]),
    ("misc-outside-range", MISC, Packet("10.1.1.70", "10.50.0.1", "tcp", 40000, 80, "eth0"), ["192.168.0.10"]),
    ("goto-return", GOTO, Packet("10.1.1.1", "10.0.0.1", "tcp", 40000, 22, "eth0"), ["10.0.0.1"]),
    ("goto-policy-drop", GOTO, Packet("10.1.1.1", "10.0.0.1", "tcp", 40000, 23, "eth0"), ["10.0.0.1"]),
    ("negations-reject", NEG, Packet("10.1.1.1", "10.200.0.5", "tcp", 40000, 25, "cni0"), ["10.0.0.1"]),
    ("negations-multiport", NEG, Packet("10.1.1.1", "10.200.0.5", "tcp", 40000, 8050, "eth1"), ["10.0.0.1"]),
    ("kube-masq-external", _svc3(), Packet("203.0.113.9", "10.96.0.50", "tcp", 40000, 80, "eth0"), ["192.168.0.10"]),
    ("kube-pod", _svc3(), Packet("10.244.5.5", "10.96.0.50", "tcp", 40000, 80, "cni0"), ["192.168.0.10"]),
    ("kube-node", _svc3(), Packet("192.168.0.10", "10.96.0.50", "tcp", 40000, 80, from_node=True), ["192.168.0.10"]),
    ("kube-nodeport", _svc3(), Packet("203.0.113.9", "192.168.0.10", "tcp", 40000, 30080, "eth0"), ["192.168.0.10"]),
    ("seed-kube-dns", SEED_TEXT, Packet("192.168.3.100", "10.100.0.10", "udp", 40000, 53, "eni1"), ["192.168.3.215"]),
    ("connmark-ctstate", CT, Packet("203.0.113.9", "10.96.0.1", "tcp", 40000, 443, "eth0"), ["192.168.0.10"]),
    ("lo-dnat", LO, Packet("192.168.0.10", "192.168.0.10", "udp", 40000, 5353, from_node=True), ["192.168.0.10"]),
]


def _same_as_the_kernel(rs, packet, node_ips):
    """The kernel's one branch and the simulator's trace, after checking that the simulator's
    branch with the kernel's DNAT destination has the kernel's path, verdict and masquerade."""
    from workbook.lab import lab_available, lab_trace
    ok, why = lab_available()
    need(ok, why)
    kernel = lab_trace(rs, packet, node_ips)
    sim = trace_packet(rs, packet, node_ips)
    assert len(kernel.branches) == 1
    k = kernel.branches[0]
    same = [b for b in sim.branches if b.dnat == k.dnat]
    assert same, f"kernel DNAT {k.dnat} is none of the simulator's {[b.dnat for b in sim.branches]}"
    b = same[0]
    assert b.matched_path() == k.matched_path(), "\n".join(map(str, b.matched_path())) + "\n--- kernel:\n" + \
        "\n".join(map(str, k.matched_path()))
    assert (b.verdict, b.masquerade) == (k.verdict, k.masquerade)
    return k, sim


@pytest.mark.parametrize("name,text,packet,node_ips", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_simulator_matches_the_kernel(name, text, packet, node_ips):
    k, sim = _same_as_the_kernel(parse_save(text, name), packet, node_ips)
    assert not sim.assumed
    if name == "pod-to-localhost":  # the case the kernel decides without a rule
        assert k.verdict == "DROP"


# kube-proxy's own test dumps through the kernel too. Extracted cases 05 (LoadBalancer: source
# ranges, FW chains) and 34 (v2 externalTrafficPolicy Local: SVL chains, KUBE-FIREWALL) with every
# flow arriving on eth0: those from a node address are martian sources there, which the kernel
# drops after PREROUTING (nat PREROUTING has DNATed them by then); reconstructed R1
# (internal/external masquerade) with every flow, those from node addresses sent by the node
# itself (OUTPUT, and back in over lo for its own addresses).
_KUBE_CASES = [("cases", "05-TestLoadBalancer", False), ("cases", "34-TestExternalTrafficPolicyLocal-v2", False),
               ("cases-reconstructed", "R1-TestInternalExternalMasquerade-base", True)]


def _kube_flows():
    from tests.realparts import DATA

    from .kube_proxy_adapter import is_local_source, load_case
    out = []
    for sub, stem, node_origin in _KUBE_CASES:
        case = load_case(DATA / "kube-proxy" / sub / f"{stem}.rules")
        for i, f in enumerate(case.flows):
            if f["sourceIP"] == f["destIP"] or (is_local_source(f) and not node_origin
                                                and f["sourceIP"].startswith("127.")):
                continue
            out.append(pytest.param(sub, stem, i, id=f"{stem[:24]}#{i}:{f['name'][:30]}"))
    return out


@pytest.mark.parametrize("sub,stem,i", _kube_flows())
def test_kube_proxy_flows_match_the_kernel(sub, stem, i):
    from tests.realparts import DATA

    from .kube_proxy_adapter import flow_packet, is_local_source, load_case
    case = load_case(DATA / "kube-proxy" / sub / f"{stem}.rules")
    flow = case.flows[i]
    node_origin = dict((s, n) for _, s, n in _KUBE_CASES)[stem]
    k, _ = _same_as_the_kernel(case.ruleset, flow_packet(flow, from_node=node_origin and is_local_source(flow)),
                               flow["nodeIPs"])
    if is_local_source(flow) and not node_origin:
        assert k.verdict == "DROP"  # the martian source, by hand (accept_local=0)
