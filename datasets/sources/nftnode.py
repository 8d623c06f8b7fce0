"""An EKS-like worker with kube-proxy in nftables mode, built and exercised with real packets in namespaces.

The node namespace holds kubelet's and the VPC CNI's iptables-nft chains (``nft-mode-node.rules``)
and kube-proxy's ``table ip kube-proxy`` (:func:`workbook.generate.kube_proxy_nft`); a second
namespace plays the pods behind ``eni…`` veths. A client pod sends DNS queries and a TCP SYN to
Services while kube-dns's endpoints change (``PHASES``), so ``conntrack -L`` holds real entries,
some of them to the deleted coredns pod. ``mode-switch`` loads kube-proxy's iptables-mode rules
first (written when its endpoints were the first phase's, never updated after the switch), then
the nft table, as on a node switched to nftables mode without ``kube-proxy --cleanup``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from datasets.netns import load_rules, run_in, scratch_netns
from workbook.generate import Service, kube_proxy_nft, kube_proxy_save

if TYPE_CHECKING:
    from datasets.build import Dump

HERE = Path(__file__).resolve().parent
HOST = "ip-192-168-7-42"
NODE_IP = "192.168.7.42"
GATEWAY = "192.168.7.1"
CLIENT = "192.168.7.101"                 # a pod on this node sending the traffic
DNS_IP, WEB_IP = "10.100.0.10", "10.100.41.7"
OLD_DNS, KEPT_DNS, NEW_DNS = "192.168.7.160", "192.168.7.183", "192.168.7.205"
WEB = "192.168.7.130"
#: pod IP -> host-side veth (VPC CNI names them eni + 11 hex digits)
PODS = {CLIENT: "eni3f1c0a77b21", WEB: "eni0d6e2a9c4f8", OLD_DNS: "eni81b5e0c3d92",
        KEPT_DNS: "eni5a70c4e1b36", NEW_DNS: "eni9e24f7d0a15"}
SYNTH = "synthesised"
REAL = "real output in the build's node namespace"

#: kube-dns's endpoints in each phase of the traffic, and the UDP source ports the client uses then
PHASES = [([OLD_DNS], range(41001, 41004)), ([KEPT_DNS], range(41004, 41007))]
FINAL_DNS = [KEPT_DNS, NEW_DNS]          # what kube-proxy wrote last (the coredns replacement is ready)
WEB_SPORT = 42001


def services(dns: list[str]) -> list[Service]:
    """The small cluster: kubernetes, kube-dns (udp + tcp), a web app with a NodePort, a Service without endpoints."""
    return [
        Service("default", "kubernetes", "https", "tcp", "10.100.0.1", 443,
                [("192.168.120.15", 443), ("192.168.140.22", 443)]),
        Service("kube-system", "kube-dns", "dns", "udp", DNS_IP, 53, [(ip, 53) for ip in dns]),
        Service("kube-system", "kube-dns", "dns-tcp", "tcp", DNS_IP, 53, [(ip, 53) for ip in dns]),
        Service("default", "web", "http", "tcp", WEB_IP, 80, [(WEB, 8080)], node_port=30080),
        Service("default", "reports", "http", "tcp", "10.100.88.3", 8080, []),
    ]


def _mac(i: int) -> str:
    return f"02:6e:66:77:62:{i:02x}"    # fixed, so the IPv6 link-local addresses are the same each build


def _wire(node: str, pods: str) -> None:
    """eth0 (with a gateway peer) and one eni veth per pod; the pods' side lives in ``pods``."""
    for k, v in (("net.ipv6.conf.default.accept_dad", "0"), ("net.ipv4.ip_forward", "1"),
                 ("net.ipv4.conf.all.rp_filter", "0"), ("net.ipv4.conf.default.rp_filter", "0")):
        run_in(node, "sysctl", "-qw", f"{k}={v}")
    links = [("eth0", "gw0")] + [(veth, f"p{i}") for i, veth in enumerate(PODS.values(), 1)]
    for i, (dev, peer) in enumerate(links):
        subprocess.run(["ip", "link", "add", "name", dev, "netns", node, "address", _mac(2 * i), "type", "veth",
                        "peer", "name", peer, "netns", pods, "address", _mac(2 * i + 1)], check=True)
        run_in(node, "ip", "link", "set", dev, "up")
        run_in(pods, "ip", "link", "set", peer, "up")
    run_in(node, "ip", "link", "set", "lo", "up")
    run_in(node, "ip", "addr", "add", f"{NODE_IP}/24", "brd", "192.168.7.255", "dev", "eth0")
    run_in(node, "ip", "route", "add", "default", "via", GATEWAY, "dev", "eth0")
    for ip, veth in PODS.items():
        run_in(node, "ip", "route", "add", ip, "dev", veth, "scope", "link")
    n = list(PODS).index(CLIENT) + 1
    client_peer = f"p{n}"
    run_in(pods, "ip", "addr", "add", f"{CLIENT}/32", "dev", client_peer)
    run_in(pods, "ip", "route", "add", "169.254.1.1", "dev", client_peer, "scope", "link")
    # the VPC CNI's pod side: a static ARP entry for the gateway 169.254.1.1 (the host veth's MAC)
    run_in(pods, "ip", "neigh", "add", "169.254.1.1", "lladdr", _mac(2 * n), "dev", client_peer, "nud", "permanent")
    run_in(pods, "ip", "route", "add", "default", "via", "169.254.1.1", "dev", client_peer, "onlink")


_SEND = r"""
import socket, sys
kind, dst, dport, *sports = sys.argv[1:]
for sport in map(int, sports):
    if kind == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", sport))
        s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
                 (dst, int(dport)))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        s.settimeout(0.3)
        try:
            s.connect((dst, int(dport)))
        except OSError:
            pass
    s.close()
"""


def _send(pods: str, kind: str, dst: str, dport: int, sports) -> None:
    import sys
    run_in(pods, sys.executable, "-c", _SEND, kind, dst, str(dport), *map(str, sports))


def _load_nft(node: str, dns: list[str]) -> None:
    """kube-proxy (nftables mode) replaces its whole table, as its full sync does."""
    run_in(node, "nft", "delete", "table", "ip", "kube-proxy", check=False)
    run_in(node, "nft", "-f", "-", input=kube_proxy_nft(services(dns), pod_cidr="192.168.0.0/16",
                                                         service_cidr="10.100.0.0/16"))


def leftover_rules() -> str:
    """kube-proxy's iptables-mode rules as it wrote them last before the switch (first phase's endpoints),
    without the kubelet rules the generator also writes (kubelet's own copies are already there)."""
    own = (HERE / "nft-mode-node.rules").read_text().splitlines()
    kubelet = {line.split("] ", 1)[-1] for line in own}
    # restore --noflush empties a user chain it declares: kubelet's chains must not be declared again
    declared = {line.split()[0] for line in own if line.startswith(":") and line.split()[1] == "-"}
    text = kube_proxy_save(services(PHASES[0][0]), pod_cidr="192.168.0.0/16", header=False)
    return "\n".join(line for line in text.splitlines()
                     if not (line.startswith("-A ") and line in kubelet)
                     and not (line.startswith(":") and line.split()[0] in declared)) + "\n"


def _normalise_conntrack(node: str, text: str) -> str:
    """Sort the entries (the kernel lists them in hash order, seeded per boot) and set each timeout
    to the full timeout of its state, read from the namespace's sysctls (the remaining seconds
    depend on how long the build took)."""
    def full(proto: str, state: str | None) -> str:
        key = f"net.netfilter.nf_conntrack_{proto}_timeout" + (f"_{state.lower()}" if state else "")
        return run_in(node, "sysctl", "-n", key).stdout.strip()

    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) > 5 and f[2] in ("tcp", "udp"):
            state = f[5] if f[2] == "tcp" else None
            f[4] = full(f[2], state)
            line = re.sub(r"^(\S+\s+\d+\s+\S+\s+\d+\s+)\d+", lambda m: m.group(1) + f[4], line)
        out.append(line)
    return "\n".join(sorted(out)) + ("\n" if out else "")


def node_files(dump: "Dump", mode_switch: bool = False) -> dict[str, tuple[str, str | None, str | None]]:
    """Build the node in namespaces, send the traffic, and take what the collector takes."""
    from datasets.build import iptables_files

    out: dict[str, tuple[str, str | None, str | None]] = {}
    story = ("kube-proxy's iptables-mode rules (left from before the switch, endpoints as at the switch) "
             "loaded first, then its nftables table" if mode_switch else "kube-proxy's nftables table")
    with scratch_netns("n") as node, scratch_netns("p") as pods:
        _wire(node, pods)
        load_rules(node, (HERE / "nft-mode-node.rules").read_text(), "nft")
        if mode_switch:
            p = run_in(node, "iptables-restore", "--noflush", input=leftover_rules(), check=False)
            if p.returncode:
                raise RuntimeError(f"iptables-restore --noflush failed: {p.stderr.strip()}")
        for dns, sports in PHASES:
            _load_nft(node, dns)
            _send(pods, "udp", DNS_IP, 53, sports)
            if dns == PHASES[0][0]:
                _send(pods, "tcp", WEB_IP, 80, [WEB_SPORT])
        _load_nft(node, FINAL_DNS)
        made = (f"{SYNTH} node, {REAL}: datasets/sources/nft-mode-node.rules (kubelet, VPC CNI) and {story} "
                "(workbook.generate, datasets/sources/nftnode.py) loaded by datasets/build.py")
        out.update(iptables_files(node, dump))
        out["kernel/nft-ruleset.txt"] = (run_in(node, "nft", "-a", "list", "ruleset").stdout, "nft -a list ruleset",
                                         made + "; nft's 'managed by iptables-nft' warnings go to stderr, not kept")
        out["kernel/nft-ruleset.json"] = (run_in(node, "nft", "-j", "list", "ruleset").stdout, "nft -j list ruleset", made)
        out["kernel/nft-version.txt"] = (run_in(node, "nft", "--version").stdout, "nft --version", "real output")
        ct = run_in(node, "conntrack", "-L", "-o", "extended").stdout
        out["kernel/conntrack.txt"] = (
            _normalise_conntrack(node, ct), "conntrack -L -o extended",
            f"{REAL}: entries made by real packets a client pod ({CLIENT}) sent while kube-dns's endpoints were "
            f"{PHASES[0][0]} then {PHASES[1][0]} (fixed source ports); normalised by datasets/build.py: lines "
            "sorted (the kernel lists them in hash order) and each timeout set to its state's full timeout "
            "(the remaining seconds depend on the build's timing)")
        count = len(out["kernel/conntrack.txt"][0].splitlines())
        out["kernel/conntrack-count.txt"] = (f"{count}\n", "conntrack -C", f"{REAL} (the number of entries above)")
        out["kernel/sysctl.txt"] = (
            "net.netfilter.nf_conntrack_max = 131072\nnet.bridge.bridge-nf-call-iptables = 0\n",
            "sysctl -e net.netfilter.nf_conntrack_max net.bridge.bridge-nf-call-iptables",
            SYNTH + ": an EKS m5.large's value; br_netfilter is not loaded on a VPC CNI node")
        out["network/ip-addr.txt"] = (run_in(node, "ip", "-o", "addr").stdout, "ip -o addr",
                                      f"{REAL} (veths with fixed MAC addresses)")
        out["network/ip-route.txt"] = (run_in(node, "ip", "route").stdout, "ip route", REAL)
    out["kubelet/kube-proxy-mode.txt"] = ("nftables", "curl -s --max-time 2 http://127.0.0.1:10249/proxyMode",
                                          SYNTH + ": what kube-proxy answers in nftables mode")
    eks_lsmod = (HERE.parent / "eks-node" / "kernel" / "lsmod.txt").read_text()
    extra = ["nft_reject_ipv4        16384  1 nft_reject_inet", "nft_reject_inet        16384  2",
             "nft_numgen             16384  4", "nft_fib_ipv4           16384  1 nft_fib_inet",
             "nft_fib_inet           16384  2", "nft_ct                 24576  9"]
    head, *rest = eks_lsmod.splitlines()
    out["kernel/lsmod.txt"] = ("\n".join([head, *extra, *rest]) + "\n", "lsmod",
                               SYNTH + ": datasets/eks-node/kernel/lsmod.txt with the nft modules kube-proxy's "
                               "nftables mode needs added on top")
    return out
