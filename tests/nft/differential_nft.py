"""Kernel vs simulator for nftables: kube-proxy nftables-mode rulesets (and mixed nodes) through
the real kernel (:class:`workbook.nft.lab.NftLab`) and :class:`workbook.nft.trace.NftTracer`.

For each packet the kernel's one path (``matched_path()`` without implicit returns) must be
the path of one of the simulator's branches, with the same DNAT destination
(:func:`workbook.lab.kernel_agrees`). ``numgen random`` makes the kernel pick one endpoint;
the simulator lists them all.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field, replace

from workbook.generate import generate_services, kube_proxy_nft
from workbook.lab import kernel_agrees
from workbook.model import Ruleset
from workbook.nft.lab import NftLab
from workbook.nft.parse_text import parse_nft_text
from workbook.nft.trace import NftTracer
from workbook.packet import Packet, Trace
from workbook.parse import parse_save

NODE_IP = "192.168.0.2"
OUT = "nfwb-sink"
POD_CIDR = "10.244.0.0/16"

#: iptables-nft tables a CNI and kubelet keep beside kube-proxy's nft table (written by hand in
#: the shapes of the portmap plugin's CNI-HOSTPORT-DNAT, flannel's pod masquerade and FORWARD
#: accepts, and kubelet's KUBE-FIREWALL): their nat PREROUTING sits at -100 like kube-proxy's
#: nat-prerouting.
MIXED_IPTABLES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:FLANNEL-FWD - [0:0]
:KUBE-FIREWALL - [0:0]
-A INPUT -j KUBE-FIREWALL
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A OUTPUT -j KUBE-FIREWALL
-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-DN-1 - [0:0]
:FLANNEL-POSTRTG - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"cbr0\\" id: \\"1\\"" -m multiport --dports 8443 -j CNI-DN-1
-A CNI-DN-1 -p tcp -m tcp --dport 8443 -j DNAT --to-destination 10.244.7.7:443
-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
COMMIT
"""


@dataclass
class NftCase:
    name: str
    nft_text: str
    iptables: str | None
    node_ips: tuple[str, ...]
    packets: list[Packet]
    kinds: list[str] = field(default_factory=list)
    #: net.ipv4.conf.all.accept_local=1 in the lab and the simulator (node-address sources arriving on eth0)
    accept_local: bool = False


def generated_case(seed: int, mixed: bool = False) -> NftCase:
    """A kube-proxy nftables-mode ruleset of 6-30 services and the flows that exercise it."""
    rnd = random.Random(f"nft-{seed}")
    n = rnd.randint(6, 30)
    services = generate_services(n, seed, empty_ratio=0.2, nodeport_ratio=0.25, features=True)
    text = kube_proxy_nft(services, pod_cidr=POD_CIDR, nodeport_ips=[NODE_IP] if seed % 3 else None)
    pods = ipaddress.ip_network(POD_CIDR)
    pkts: list[Packet] = []
    kinds: list[str] = []

    def add(kind: str, p: Packet) -> None:
        pkts.append(p)
        kinds.append(kind)

    def pod_ip() -> str:
        return str(pods.network_address + rnd.randrange(2, pods.num_addresses - 2))

    def sport() -> int:
        return rnd.randrange(32768, 60999)

    with_eps = [s for s in services if s.endpoints]
    without = [s for s in services if not s.endpoints]
    if with_eps:
        s = rnd.choice(with_eps)
        add("pod->clusterip", Packet(pod_ip(), s.cluster_ip, s.protocol, sport(), s.port, "eth0"))
        s = rnd.choice(with_eps)
        add("node->clusterip", Packet(NODE_IP, s.cluster_ip, s.protocol, sport(), s.port, None, True))
        ip, _ = rnd.choice(s.endpoints)
        add("hairpin", Packet(ip, s.cluster_ip, s.protocol, sport(), s.port, "eth0"))
        add("clusterip-wrong-port", Packet(pod_ip(), s.cluster_ip, s.protocol, sport(), 1, "eth0"))
    aff = [s for s in with_eps if s.affinity]
    if aff:
        s = rnd.choice(aff)
        add("affinity", Packet(pod_ip(), s.cluster_ip, s.protocol, sport(), s.port, "eth0"))
    if without:
        s = rnd.choice(without)
        add("no-endpoints", Packet(pod_ip(), s.cluster_ip, s.protocol, sport(), s.port, "eth0"))
        s = rnd.choice(without)
        add("node->no-endpoints", Packet(NODE_IP, s.cluster_ip, s.protocol, sport(), s.port, None, True))
    add("unallocated-clusterip", Packet(pod_ip(), "10.96.0.3", "tcp", sport(), 80, "eth0"))
    nodeports = [s for s in services if s.node_port]
    if nodeports:
        s = rnd.choice(nodeports)
        add("external->nodeport" + ("-etp-local" if s.etp_local else ""),
            Packet(f"203.0.113.{rnd.randrange(2, 120)}", NODE_IP, s.protocol, sport(), s.node_port, "eth0"))
        s = rnd.choice(nodeports)
        add("pod->nodeport", Packet(pod_ip(), NODE_IP, s.protocol, sport(), s.node_port, "eth0"))
    lbs = [s for s in services if s.lb_ips]
    if lbs:
        s = rnd.choice(lbs)
        add("external->lb" + ("-ranges" if s.source_ranges else ""),
            Packet("203.0.113.2", s.lb_ips[0], s.protocol, sport(), s.port, "eth0"))
        ranged = [x for x in lbs if x.source_ranges]
        if ranged:
            s = rnd.choice(ranged)
            add("blocked->lb-ranges", Packet("203.0.113.130", s.lb_ips[0], s.protocol, sport(), s.port, "eth0"))
            add("pod->lb-ranges", Packet(pod_ip(), s.lb_ips[0], s.protocol, sport(), s.port, "eth0"))
    ext = [s for s in services if s.external_ips]
    if ext:
        s = rnd.choice(ext)
        add("external->externalip", Packet("203.0.113.9", s.external_ips[0], s.protocol, sport(), s.port, "eth0"))
    add("pod->pod", Packet(pod_ip(), pod_ip(), "tcp", sport(), 8080, "eth0"))
    ipt = None
    if mixed:
        ipt = MIXED_IPTABLES
        add("external->hostport", Packet("203.0.113.7", NODE_IP, "tcp", sport(), 8443, "eth0"))
        add("pod->outside", Packet(pod_ip(), "198.18.0.9", "tcp", sport(), 443, "eth0"))
    return NftCase(f"{'mixed' if mixed else 'nft'}-seed{seed}", text, ipt, (NODE_IP,), pkts, kinds)


def simulate(case: NftCase, packet: Packet) -> Trace:
    rs = parse_nft_text(case.nft_text, f"{case.name}.nft")
    ipt = parse_save(case.iptables, f"{case.name}.rules") if case.iptables else None
    routes = ([] if packet.from_node else [f"{packet.src} dev {packet.in_iface or 'eth0'} scope link"]) + [f"default dev {OUT}"]
    return NftTracer(rs, ipt, case.node_ips, routes=routes, accept_local=case.accept_local).trace(
        replace(packet, out_iface=OUT))


def run_case(case: NftCase) -> list[dict]:
    """Every packet of ``case`` through one NftLab and the simulator: one result per packet."""
    out = []
    ipt = parse_save(case.iptables, f"{case.name}.rules") if case.iptables else Ruleset(source="<none>")
    sysctls = {"net.ipv4.conf.all.accept_local": "1"} if case.accept_local else {}
    with NftLab(ipt, case.node_ips, nft_text=case.nft_text, out_iface=OUT, sysctls=sysctls) as lab:
        for kind, p in zip(case.kinds, case.packets):
            k = lab.trace(p)
            sim = simulate(case, p)
            ok, why = kernel_agrees(k, sim)
            kb = k.branches[0]
            out.append({"case": case.name, "kind": kind, "packet": p.to_json(), "agree": ok, "why": why,
                        "kernel": {"verdict": kb.verdict, "dnat": kb.dnat, "path": kb.matched_path()},
                        "simulator": [{"p": b.probability, "verdict": b.verdict, "dnat": b.dnat,
                                       "path": b.matched_path()} for b in sim.branches] if not ok else None,
                        "kernel_verdict": kb.verdict})
    return out
