"""Real client traffic through the onprem-dup-hostport node's rules, for its ``conntrack -L`` tables.

The build namespace already holds the dump's ruleset (``onprem.ruleset(state)``) and ipsets. Around it:
a LAN namespace with the clients (``CLIENTS``) behind the node's ``eth0``, and a pods namespace with
the peers of Calico's host-side veths (``cali…``), each workload routed by its own ``/32`` as felix does.

``before``: the ingress pod 10.42.134.75 answers on 80 and 443; every client keeps its 443
connection open (ESTABLISHED) and closes its 80 one (TIME_WAIT); kubelet's probes reach the pod.

``after``: the modelled case (README "Clients stuck on the deleted pod"). Right after the restart the
old workload's host side was still there — its veth, its ``/32`` route (more specific than Calico's
``blackhole 10.42.134.64/26``) and felix's chains for it — while the pod behind it no longer
answered (its side of the veth down). Every client's SYN is DNATed by the leaked first
``CNI-HOSTPORT-DNAT`` entry to the old address, forwarded and confirmed: SYN_SENT, UNREPLIED. Then the
old veth (and its route) goes and felix drops its chains (the ``after`` ruleset is loaded again):
the entries stay, as the dump shows them with the dump's routes. kubelet's probes reach the live pod.
"""

from __future__ import annotations

import subprocess
import sys
import time

from datasets.netns import load_rules, run_in, scratch_netns
from datasets.sources import onprem
from datasets.sources.nftnode import _normalise_conntrack

__all__ = ["CLIENTS", "HOSTPORTS", "PROBE_PORT", "conntrack_files"]

#: the ingress's clients on the node's LAN (a load balancer's and users' addresses), fixed source ports
CLIENTS = ["10.10.20.51", "10.10.20.52", "10.10.20.53", "10.10.20.54", "10.10.20.55", "10.10.20.56"]
HOSTPORTS = (80, 443)
SPORT = {80: 43080, 443: 43443}        # each client's source port towards each hostPort
PROBE_PORT = 10254                    # ingress-nginx's /healthz, kubelet's liveness and readiness probes
PROBE_SPORTS = (45001, 45002)
REAL = "real output in the build's node namespace"

_SERVER = r"""
import socket, sys, threading
ip, *ports = sys.argv[1:]
held = []
def close_after_client(c):
    held.append(c)                      # the server never closes first: the client decides
    if c.recv(1) == b"":
        c.close()
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, int(port))); s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=close_after_client, args=(c,), daemon=True).start()
for p in ports:
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

_CLIENT = r"""
import socket, sys
dst, mode, *pairs = sys.argv[1:]     # mode: "wait" (complete, keep/close) or "syn" (send the SYN only)
held = []
for pair in pairs:
    src, sport, dport, keep = pair.split(",")
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, int(sport)))
    if mode == "syn":
        s.setblocking(False); s.connect_ex((dst, int(dport))); held.append(s); continue
    s.settimeout(3); s.connect((dst, int(dport)))
    if keep == "1":
        held.append(s)
    else:
        s.close()
print("ready", flush=True)
sys.stdin.read()
"""


def _start(ns: str, script: str, *args: str) -> subprocess.Popen:
    p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", script, *args], text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline() if p.stdout else ""
    if line.strip() != "ready":
        p.kill()
        raise RuntimeError(f"{script.split(chr(10))[1]}: {p.stderr.read() if p.stderr else ''}")
    return p


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.stdin:
            p.stdin.close()
        p.wait(timeout=10)


def _wire(node: str, lan: str) -> None:
    """eth0 to the LAN (the clients) and calico-ipam's blackhole route for the node's block."""
    for k, v in (("net.ipv4.ip_forward", "1"), ("net.ipv4.conf.all.rp_filter", "0"),
                 ("net.ipv4.conf.default.rp_filter", "0"), ("net.ipv6.conf.default.disable_ipv6", "1")):
        run_in(node, "sysctl", "-qw", f"{k}={v}")
    subprocess.run(["ip", "link", "add", "eth0", "netns", node, "type", "veth", "peer", "name", "lan0", "netns", lan],
                   check=True)
    run_in(node, "ip", "addr", "add", f"{onprem.NODE_IP}/24", "dev", "eth0")
    for ns, dev in ((node, "eth0"), (node, "lo"), (lan, "lan0"), (lan, "lo")):
        run_in(ns, "ip", "link", "set", dev, "up")
    for ip in CLIENTS:
        run_in(lan, "ip", "addr", "add", f"{ip}/24", "dev", "lan0")
    run_in(node, "ip", "route", "add", "default", "via", "10.10.20.1", "dev", "eth0")   # proxy ARP needs it
    run_in(node, "ip", "route", "add", "blackhole", "10.42.134.64/26")       # calico-ipam's block route


def add_workload(node: str, pods: str, pod: onprem.Pod, peer: str = "eth0") -> None:
    """A Calico workload in its namespace ``pods``: host veth ``cali…``, the pod's address on the peer, the
    pod's default route via 169.254.1.1 (answered by proxy ARP on the host side) and the host's ``/32``."""
    subprocess.run(["ip", "link", "add", pod.veth, "netns", node, "type", "veth", "peer", "name", peer, "netns", pods],
                   check=True)
    run_in(node, "sysctl", "-qw", f"net.ipv4.conf.{pod.veth}.proxy_arp=1")
    run_in(node, "ip", "link", "set", pod.veth, "up")
    run_in(pods, "ip", "link", "set", peer, "up")
    run_in(pods, "ip", "link", "set", "lo", "up")
    run_in(pods, "ip", "addr", "add", f"{pod.ip}/32", "dev", peer)
    run_in(pods, "ip", "route", "add", "169.254.1.1", "dev", peer, "scope", "link")
    run_in(pods, "ip", "route", "add", "default", "via", "169.254.1.1", "dev", peer, "onlink", check=False)
    run_in(node, "ip", "route", "add", f"{pod.ip}/32", "dev", pod.veth, "scope", "link")


def _probe(node: str, pod: onprem.Pod) -> None:
    """kubelet's liveness and readiness probes (host network, to the pod address), each a closed connection."""
    pairs = [f"0.0.0.0,{sp},{PROBE_PORT},0" for sp in PROBE_SPORTS]
    _stop(_start(node, _CLIENT, pod.ip, "wait", *pairs))


def conntrack_files(node: str, state: str, rules_note: str) -> dict[str, tuple[str, str | None, str | None]]:
    """Send the ``state``'s traffic through namespace ``node`` (rules loaded) and take its conntrack table."""
    after = state == "after"
    live = onprem.INGRESS_AFTER if after else onprem.INGRESS_BEFORE
    with scratch_netns("l") as lan, scratch_netns("w") as dns, scratch_netns("w") as pods, \
            scratch_netns("w") as gone:
        _wire(node, lan)
        add_workload(node, dns, onprem.COREDNS)
        add_workload(node, pods, live)
        server = _start(pods, _SERVER, live.ip, *map(str, HOSTPORTS), str(PROBE_PORT))
        try:
            if not after:
                pairs = [f"{ip},{SPORT[p]},{p},{int(p == 443)}" for ip in CLIENTS for p in HOSTPORTS]
                clients = _start(lan, _CLIENT, onprem.NODE_IP, "wait", *pairs)
                _probe(node, live)
                time.sleep(0.3)                                          # the closes' last ACKs
                table = run_in(node, "conntrack", "-L", "-o", "extended").stdout
                count = run_in(node, "conntrack", "-C").stdout
                _stop(clients)
            else:
                old = onprem.INGRESS_BEFORE
                # felix still has the old workload: its chains (the after ruleset plus them) and its veth
                load_rules(node, onprem.ruleset("after", felix_lag=True), "nft")
                add_workload(node, gone, old)
                run_in(gone, "ip", "link", "set", "eth0", "down")       # nothing behind it answers any more
                pairs = [f"{ip},{SPORT[p]},{p},1" for ip in CLIENTS for p in HOSTPORTS]
                _stop(_start(lan, _CLIENT, onprem.NODE_IP, "syn", *pairs))
                time.sleep(0.2)
                run_in(node, "ip", "link", "del", old.veth)               # the CNI removes it, and its route
                load_rules(node, onprem.ruleset("after"), "nft")          # felix drops its chains
                _probe(node, live)
                time.sleep(0.3)
                table = run_in(node, "conntrack", "-L", "-o", "extended").stdout
                count = run_in(node, "conntrack", "-C").stdout
        finally:
            _stop(server)
    text = _normalise_conntrack(node, table)
    if int(count) != len(text.splitlines()):
        raise RuntimeError(f"conntrack -C says {count.strip()}, the listing has {len(text.splitlines())} entries")
    story = ("the clients' connections to hostPorts 80/443, the 443 ones kept open, and kubelet's probes of "
             "the ingress pod" if not after else
             "the clients' SYNs to hostPorts 80/443 while the old workload's veth and /32 route were still there "
             "(then removed), and kubelet's probes of the new pod (see the dataset README)")
    note = (f"{REAL}: {rules_note}; entries made by real packets: {story}; normalised by datasets/build.py: "
            "lines sorted (the kernel lists them in hash order) and each timeout set to its state's full "
            "timeout (the remaining seconds depend on the build's timing)")
    return {
        "kernel/conntrack.txt": (text, "conntrack -L -o extended", note),
        "kernel/conntrack-count.txt": (count, "conntrack -C", f"{REAL} (taken with the listing above)"),
        "kernel/sysctl.txt": ("net.netfilter.nf_conntrack_max = 131072\nnet.bridge.bridge-nf-call-iptables = 1\n",
                              "sysctl -e net.netfilter.nf_conntrack_max net.bridge.bridge-nf-call-iptables",
                              "synthesised from the seed post: kube-proxy's 32768 per core on a 4-core worker; "
                              "Docker loads br_netfilter and sets bridge-nf-call-iptables"),
    }
