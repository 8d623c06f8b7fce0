"""Kernel vs simulator: the same rulesets and packets through the real kernel and workbook.trace.

A case is a ruleset, the node's addresses and some packets. For each packet the kernel's
path (``Branch.matched_path()`` of the one branch the kernel took) must be one of the
simulator's branches' paths, with the same DNAT destination. ``statistic --mode random``
makes the kernel pick one endpoint; the simulator lists them all as branches.

Two sources of cases:

* freshly generated kube-proxy rulesets (:mod:`workbook.generate`, random seeds, 5-30 services,
  some without endpoints), with pod-origin flows arriving on an interface and node-origin flows;
* the kube-proxy conformance rulesets (``tests/data/kube-proxy/cases``), put
  through our parser and ``Ruleset.to_save()`` (two files have unquoted multi-word comments),
  with the base-chain jumps kube-proxy installs added (the meta files name nat PREROUTING ->
  KUBE-SERVICES; a kernel walk needs the others too: see kube_proxy_adapter.JUMP_RULES).
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

from tests.engine.kube_proxy_adapter import with_kube_proxy_jumps
from tests.realparts import DATA, SHARED
from workbook.generate import generate_services, kube_proxy_save
from workbook.lab import Lab, kernel_agrees
from workbook.model import Ruleset
from workbook.packet import Branch, Packet, Trace
from workbook.parse import parse_save

#: the kube-proxy conformance cases (copied into the repository with their PROVENANCE.md)
CONFORMANCE = DATA / "kube-proxy" / "cases"
if not CONFORMANCE.is_dir():
    CONFORMANCE = SHARED / "conformance" / "kube-proxy" / "cases"

NODE_IP = "192.168.0.2"
POD_IFACES = ("eth0", "eni1a2b3c4d5e6", "cni0", "cali12ab34cd56e")

@dataclass
class Case:
    """One ruleset, the node's addresses and the packets to send through it."""

    name: str
    ruleset: Ruleset
    node_ips: tuple[str, ...]
    packets: list[Packet]
    origin: dict = field(default_factory=dict)
    #: kube-proxy sets route_localnet=1 (localhost NodePorts, on by default in iptables mode)
    sysctls: dict = field(default_factory=lambda: {"net.ipv4.conf.all.route_localnet": "1"})
    #: the node's interface towards the sink: forwarded and outgoing packets leave on it (the
    #: simulator is told, so that -o rules are judged, not assumed)
    out_iface: str = "nfwb-sink"
    #: ipsets made in the node namespace and given to the simulator
    ipsets: dict | None = None


# -- the comparison -------------------------------------------------------------------------------

Path_ = list[tuple[str, str, int | None, str | None]]


def comparable_path(branch: Branch) -> Path_:
    """``matched_path()`` without implicit returns (falling off a user chain's end).

    The kernel's TRACE has no event for an implicit return (nft_do_chain pops the jump stack
    silently; checked in test_kernel_trace.test_input_interface_name_and_local_delivery); the
    simulator lists it as a matched ``RETURN`` step with no position. An explicit ``-j RETURN``
    rule has a position and stays.
    """
    return [p for p in branch.matched_path() if not (p[2] is None and p[3] == "RETURN")]


def agrees(kernel: Trace, sim: Trace) -> tuple[bool, str]:
    """(True, "") when the kernel's one path is a simulator branch's path with the same DNAT."""
    return kernel_agrees(kernel, sim)


def record(case: Case, packet: Packet, kernel: Trace, sim: Trace | None, ok: bool, why: str) -> dict:
    kb = kernel.branches[0]
    out = {"case": case.name, "origin": case.origin, "node_ips": list(case.node_ips),
           "packet": packet.to_json(), "agree": ok, "why": why,
           "kernel": {"verdict": kb.verdict, "dnat": kb.dnat, "path": comparable_path(kb)}}
    if sim is not None and not ok:
        out["simulator"] = [{"probability": b.probability, "verdict": b.verdict, "dnat": b.dnat,
                             "path": comparable_path(b), "notes": list(b.notes),
                             "assumed": [[s.table, s.chain, s.position, s.why or s.action] for s in b.steps if s.assumed]}
                            for b in sim.branches]
        out["ruleset"] = case.ruleset.to_save()
    return out


# -- generated cases ----------------------------------------------------------------------------

def generated_case(seed: int) -> Case:
    """A kube-proxy ruleset of 5-30 services (some without endpoints) and ~7 packets through it."""
    rnd = random.Random(seed)
    n = rnd.randint(5, 30)
    services = generate_services(n, seed, empty_ratio=0.2, nodeport_ratio=0.25)
    text = kube_proxy_save(services)
    rs = parse_save(text, f"generated-seed{seed}.rules")
    with_eps = [s for s in services if s.endpoints]
    without = [s for s in services if not s.endpoints]
    pods = ipaddress.ip_network("10.244.0.0/16")
    pkts: list[Packet] = []

    def pod_ip() -> str:
        return str(pods.network_address + rnd.randrange(2, pods.num_addresses - 2))

    def sport() -> int:
        return rnd.randrange(32768, 60999)

    iface = rnd.choice(POD_IFACES)
    for s in rnd.sample(with_eps, min(2, len(with_eps))):
        pkts.append(Packet(pod_ip(), s.cluster_ip, s.protocol, sport(), s.port, iface))
    if with_eps:
        s = rnd.choice(with_eps)
        pkts.append(Packet(NODE_IP, s.cluster_ip, s.protocol, sport(), s.port, None, True))
        # an endpoint reaching its own service (hairpin: KUBE-SEP's -s <ip> -j KUBE-MARK-MASQ)
        ip, _ = rnd.choice(s.endpoints)
        pkts.append(Packet(ip, s.cluster_ip, s.protocol, sport(), s.port, iface))
        # the right address but a port no service has
        pkts.append(Packet(pod_ip(), s.cluster_ip, s.protocol, sport(), 1, iface))
    if without:
        s = rnd.choice(without)
        pkts.append(Packet(pod_ip(), s.cluster_ip, s.protocol, sport(), s.port, iface))
        s = rnd.choice(without)
        pkts.append(Packet(NODE_IP, s.cluster_ip, s.protocol, sport(), s.port, None, True))
    nodeports = [s for s in services if s.node_port]
    if nodeports:
        s = rnd.choice(nodeports)
        pkts.append(Packet(f"203.0.113.{rnd.randrange(2, 250)}", NODE_IP, s.protocol, sport(), s.node_port, "eth0"))
    # pod to pod, no service involved
    pkts.append(Packet(pod_ip(), pod_ip(), "tcp", sport(), 8080, iface))
    return Case(f"generated-seed{seed}", rs, (NODE_IP,), pkts,
                {"kind": "generated", "seed": seed, "services": n,
                 "without_endpoints": len(without), "nodeports": len(nodeports)})


# -- conformance cases -------------------------------------------------------------------------

def _sctp_available() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132).close()
        return True
    except OSError:
        return False


def conformance_cases(directory: Path = CONFORMANCE) -> tuple[list[Case], list[dict]]:
    """Every case that iptables can hold: its IPv4 flows as packets. Also what was left out, and why."""
    cases: list[Case] = []
    skipped: list[dict] = []
    sctp = _sctp_available()
    for rules in sorted(directory.glob("*.rules")):
        stem = rules.name[:-len(".rules")]
        meta = json.loads(rules.with_name(stem + ".meta.json").read_text())
        flows = [json.loads(l) for l in rules.with_name(stem + ".flows.jsonl").read_text().splitlines() if l.strip()]
        rs = parse_save(rules.read_text(), str(rules))
        if rs.family != "ipv4" or any(":" in f["destIP"] for f in flows):
            skipped.append({"case": stem, "why": "IPv6 (the lab is IPv4 only)"})
            continue
        rs, added = with_kube_proxy_jumps(rs, meta)
        node_ips: set[str] = set()
        pkts: list[Packet] = []
        for i, f in enumerate(flows):
            proto = f["protocol"].lower()
            if proto == "sctp" and not sctp:
                skipped.append({"case": stem, "flow": f["name"], "why": "no SCTP in this kernel"})
                continue
            local = f["sourceIP"] in (f.get("nodeIPs") or []) or f["sourceIP"].startswith("127.")
            node_ips.update(f.get("nodeIPs") or ([f["nodeIP"]] if f.get("nodeIP") else []))
            pkts.append(Packet(f["sourceIP"], f["destIP"], proto, 41000 + i, int(f["destPort"]),
                               None if local else "eth0", local, extra={"flow": f["name"]}))
        if pkts:
            cases.append(Case(stem, rs, tuple(sorted(node_ips)), pkts,
                              {"kind": "conformance", "file": rules.name, "added_jumps": added}))
    return cases, skipped


# -- running ------------------------------------------------------------------------------------

def run_case(case: Case, simulate=None, backend: str = "nft") -> list[dict]:
    """Send every packet of ``case`` through one Lab; compare with ``simulate`` (trace_packet) if given."""
    results = []
    with Lab(case.ruleset, case.node_ips, sysctls=case.sysctls, backend=backend, out_iface=case.out_iface,
             ipsets=case.ipsets) as lab:
        for p in case.packets:
            try:
                k = lab.trace(p)
            except RuntimeError as e:  # the kernel showed nothing (e.g. the sending side refused it)
                results.append({"case": case.name, "origin": case.origin, "packet": p.to_json(), "agree": None,
                                "why": f"no kernel trace: {e}", "backend": backend})
                continue
            localnet = case.sysctls.get("net.ipv4.conf.all.route_localnet") == "1"
            sim = simulate(case.ruleset, replace(p, out_iface=case.out_iface), case.node_ips, case.ipsets,
                           localnet, lab_routes(case, p)) if simulate else None
            ok, why = agrees(k, sim) if sim is not None else (None, "no simulator")
            results.append(record(case, p, k, sim, ok, why))
            results[-1]["backend"] = backend
    return results


def lab_routes(case: Case, packet: Packet) -> list[str]:
    """The node namespace's routes that matter for ``packet`` (what ``Lab`` sets up): the route
    back to the source through the interface it arrives on, and the default route to the sink."""
    out = [] if packet.from_node else [f"{packet.src} dev {packet.in_iface or 'eth0'} scope link"]
    return out + [f"default dev {case.out_iface}"]


def simulator(backend: str = "nft"):
    """``workbook.trace`` as a function (ruleset, packet, node_ips, ipsets, route_localnet, routes) → Trace.

    None when the simulator is not importable.

    For iptables-legacy a built-in chain the dump leaves out exists in the kernel (empty, policy
    ACCEPT); for iptables-nft it does not (the simulator's default).
    """
    try:
        from workbook.trace import Tracer, trace_packet
    except ImportError:
        return None
    if backend == "legacy":
        return lambda rs, p, ips, ipsets=None, localnet=False, routes=None: Tracer(
            rs, ips, ipsets=ipsets, backend="legacy", route_localnet=localnet, routes=routes).trace(p)
    return lambda rs, p, ips, ipsets=None, localnet=False, routes=None: trace_packet(
        rs, p, ips, ipsets=ipsets, route_localnet=localnet, routes=routes)


def run_all(cases: Iterable[Case], simulate=None, progress=None, backend: str = "nft") -> dict:
    t0 = time.monotonic()
    results: list[dict] = []
    for c in cases:
        results.extend(run_case(c, simulate, backend))
        if progress:
            progress(c, results)
    compared = [r for r in results if r["agree"] is not None]
    agree = sum(1 for r in compared if r["agree"])
    return {"agreement": f"{agree}/{len(compared)}", "agree": agree, "compared": len(compared),
            "flows": len(results), "seconds": round(time.monotonic() - t0, 1),
            "disagreements": [r for r in results if r["agree"] is False], "results": results}


# -- real dumps: the EKS node of the seed post, and public firewalls ---------------------------

#: public dumps: the ones copied into the repository, and the shared folder's when it is there
PUBLIC_DIRS = (DATA / "rulesets", SHARED / "rulesets")


def dataset_case(path: Path) -> Case:
    """A node dump (datasets/<name>): its kube-proxy services from pods, the node and outside."""
    from workbook.dump import load_dump
    from workbook.kube import services
    d = load_dump(path)
    rs = d.ruleset
    ips = [a for a in d.node_ips if ":" not in a and not a.startswith("127.")]
    node = ips[0]
    rnd = random.Random(path.name)
    pod_if = next((r.in_interface.replace("+", "1a2b3c4d5e6") for r in rs.iter_rules()
                   if r.in_interface and r.in_interface.endswith("+") and not r.in_interface_negated), "cni0")
    net = ipaddress.ip_network(f"{node}/24", strict=False)
    pod = str(net.network_address + 100) if str(net.network_address + 100) != node else str(net.network_address + 101)
    pkts: list[Packet] = []
    svc = services(rs)
    for _, row in svc.head(6).iterrows():
        if not row.cluster_ip or ":" in str(row.cluster_ip):
            continue
        pkts.append(Packet(pod, row.cluster_ip, row.protocol, rnd.randrange(32768, 60999), int(row.port), pod_if))
    for _, row in svc.head(2).iterrows():
        pkts.append(Packet(node, row.cluster_ip, row.protocol, rnd.randrange(32768, 60999), int(row.port), None, True))
    pkts += [Packet(pod, "8.8.8.8", "udp", 40000, 53, pod_if),          # pod to the internet (SNAT?)
             Packet("203.0.113.7", node, "tcp", 40001, 22, "eth0"),     # ssh to the node
             Packet("203.0.113.7", node, "udp", 40002, 9999, "eth0"),   # a port with a DROP rule on the seed node
             Packet(node, "8.8.8.8", "tcp", 40003, 443, None, True)]
    return Case(f"dataset-{path.name}", rs, tuple(ips), pkts, {"kind": "dataset", "path": str(path)})


def _iface(name: str) -> str:
    return name.replace("+", "0") if name.endswith("+") else name


def public_case(path: Path) -> Case:
    """A public firewall dump: packets to the node's ports its rules name, through it, and out of it."""
    from workbook.parse import parse
    rs = parse(str(path))
    rnd = random.Random(path.name)
    ifaces = [r.in_interface for r in rs.iter_rules() if r.in_interface and not r.in_interface_negated
              and r.in_interface != "lo"]
    iface = _iface(max(set(ifaces), key=ifaces.count)) if ifaces else "eth0"
    other = sorted({_iface(i) for i in ifaces} - {iface, "lo"})
    outs = [_iface(r.out_interface) for r in rs.iter_rules() if r.out_interface and not r.out_interface_negated
            and r.out_interface != "lo" and _iface(r.out_interface) != iface]
    out_iface = max(set(outs), key=outs.count) if outs else "nfwb-sink"
    other = [o for o in other if o != out_iface]
    hosts = lambda chain: [r.destination.split("/")[0] for r in rs.iter_rules()
                           if r.chain == chain and r.destination and r.destination.endswith("/32")
                           and not r.destination_negated]
    local = [a for a in hosts("INPUT") if not a.startswith("127.")]
    node = local[0] if local else "192.168.0.2"
    local = local or [node]
    def usable(a: str) -> bool:  # a source a real packet from outside could have
        ip = ipaddress.ip_address(a)
        return a not in local and not (ip.is_multicast or ip.is_loopback or ip.is_unspecified or ip.is_reserved
                                       or ip.is_link_local or a.endswith(".255") or a.endswith(".0"))
    srcs = [r.source.split("/")[0] for r in rs.iter_rules() if r.source and not r.source_negated]
    srcs = [a for a in srcs if usable(a)] + [str(ipaddress.ip_network(r.source, strict=False).network_address + 5)
                                              for r in rs.iter_rules() if r.source and not r.source_negated
                                              and "/" in r.source and int(r.source.split("/")[1]) <= 29]
    srcs = [a for a in srcs if usable(a)]
    src = rnd.choice(srcs) if srcs else "203.0.113.7"
    ports = []
    for r in rs.iter_rules():
        o = r.option("--dport") or r.option("--dports")
        if o and r.protocol in ("tcp", "udp") and o.args and o.args[0].split(",")[0].isdigit():
            ports.append((r.protocol, int(o.args[0].split(",")[0].split(":")[0])))
    picked = rnd.sample(sorted(set(ports)), min(4, len(set(ports)))) if ports else [("tcp", 22)]
    pkts = [Packet(src, node, proto, 40000 + i, port, iface) for i, (proto, port) in enumerate(picked)]
    pkts.append(Packet("203.0.113.7", node, "tcp", 40010, 31337, iface))
    fwd = hosts("FORWARD")
    pkts.append(Packet(src, fwd[0] if fwd else "198.51.100.20", "tcp", 40011, picked[0][1], iface))
    if other:
        pkts.append(Packet("203.0.113.8", node, "tcp", 40012, picked[0][1], other[0]))
    pkts += [Packet(node, "8.8.8.8", "udp", 40013, 53, None, True), Packet(node, "8.8.8.8", "tcp", 40014, 443, None, True)]
    # the node's own address coming in from outside: a martian source (accept_local=0)
    pkts.append(Packet(node, node, "tcp", 40015, picked[0][1], iface))
    # every set the rules name holds 198.51.100.0/25: one packet from inside it, the others outside
    sets = sorted({o.args[0] for r in rs.iter_rules() for m in r.matches if m.module == "set"
                   for o in m.options if o.flag == "--match-set" and o.args})
    ipsets = {n: ["198.51.100.0/25"] for n in sets} or None
    if ipsets:
        pkts += [Packet("198.51.100.7", node, proto, 40020 + i, port, iface) for i, (proto, port) in enumerate(picked)]
    return Case(f"public-{path.name}", rs, (node,), pkts, {"kind": "public", "path": str(path)},
                out_iface=out_iface, ipsets=ipsets)


def real_cases() -> tuple[list[Case], list[dict]]:
    """The datasets' node dumps and every public IPv4 save file that iptables-restore takes."""
    from workbook.lab import Lab, kernel_agrees
    from workbook.model import InputError
    cases, skipped = [], []
    root = DATA.parent.parent / "datasets"
    for m in sorted(root.glob("*/MANIFEST.json")):
        try:
            cases.append(dataset_case(m.parent))
        except Exception as e:  # a dataset without an IPv4 ruleset or node address
            skipped.append({"case": m.parent.name, "why": f"{type(e).__name__}: {e}"})
    files: dict[str, Path] = {}
    for d in PUBLIC_DIRS:
        for f in sorted(d.glob("*.iptables-save*")) if d.is_dir() else []:
            files.setdefault(f.name, f)
    for f in files.values():
        try:
            c = public_case(f)
        except Exception as e:
            skipped.append({"case": f.name, "why": f"{type(e).__name__}: {e}"})
            continue
        if c.ruleset.family != "ipv4":
            skipped.append({"case": f.name, "why": "IPv6"})
            continue
        cases.append(c)
    return cases, skipped


def loadable(cases: list[Case], skipped: list[dict], backend: str = "nft") -> list[Case]:
    """The cases iptables-restore takes (a public dump may use a set, MAC or option this host lacks)."""
    out = []
    for c in cases:
        try:
            from workbook.model import InputError
            Lab(c.ruleset, c.node_ips, ipsets=c.ipsets, out_iface=c.out_iface, backend=backend).open().close()
        except InputError as e:
            skipped.append({"case": c.name, "why": str(e)[:300]})
            continue
        out.append(c)
    return out


def classify(d: dict) -> str | None:
    """Name a disagreement that is a known limit of the simulator (see test_regressions), else None.

    builtin-chain-not-in-dump: the simulator walks a built-in chain the dump does not declare
    ("the kernel always has the built-in chains of a loaded table"); iptables-nft creates only
    the base chains a ruleset declares, so the kernel has no such chain and shows no step. The
    kernel path is then the simulator's with those policy steps taken out.

    simulator-assumed: the simulator could not judge a match (it says so: the step is marked
    ``assumed`` and a branch note names it) and the paths part at that very step.
    """
    rs_chains = set()
    table = None
    for line in d["ruleset"].splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            rs_chains.add((table, line[1:].split()[0]))
    kp = d["kernel"]["path"]
    for b in d["simulator"]:
        extra = [p for p in b["path"] if p[2] is None and str(p[3]).startswith("policy:")
                 and (p[0], p[1]) not in rs_chains]
        if extra and [p for p in b["path"] if p not in extra] == kp and b["dnat"] == d["kernel"]["dnat"]:
            return "builtin-chain-not-in-dump"
    assumed = {(a[0], a[1], a[2]) for b in d["simulator"] for a in b["assumed"]}
    for b in d["simulator"]:
        sp = b["path"]
        i = next((i for i, (x, y) in enumerate(zip(kp, sp)) if list(x) != list(y)), min(len(kp), len(sp)))
        if i < len(sp) and tuple(sp[i][:3]) in assumed:
            return "simulator-assumed"
    return None


def judged_case(case: Case, simulate, backend: str, hit: str = "JUMP:HIT") -> tuple[list[dict], list[dict], int, str]:
    """Run ``case`` through the kernel and ``simulate``: (all results, the judged ones, how many kernel
    steps are ``hit`` — the rules under test that matched —, the line "agreed/judged (N rule hits)")."""
    results = run_case(case, simulate, backend)
    judged = [r for r in results if r["agree"] is not None]
    hits = sum(1 for r in judged for step in r["kernel"]["path"] if step[3] == hit)
    return results, judged, hits, f"{sum(1 for r in judged if r['agree'])}/{len(judged)} ({hits} rule hits)"
