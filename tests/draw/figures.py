"""The figures the notebooks and widgets draw, built from the repo's datasets (legibility is measured on these)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from workbook.view.draw import draw_chains, draw_hooks, draw_trace
from workbook.packet import Packet, Trace
from workbook.parse import parse_save

from .kube_dns_trace import KUBE_DNS_SAVE, PACKET, SVC, kube_dns_branches

ROOT = Path(__file__).resolve().parent.parent.parent
EKS = ROOT / "datasets" / "eks-node"
#: notebook 03's query: the kube-ops-view pod asks kube-dns, in on its ENI
EKS_QUERY = Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")


def eks_dump():
    from workbook.dump import load_dump
    return load_dump(EKS)


def eks_trace():
    from workbook.trace import trace_packet
    dump = eks_dump()
    return trace_packet(dump.ruleset, EKS_QUERY, node_ips=dump.node_ips), dump.ruleset


def hostport_after():
    from workbook.dump import load_dump
    return load_dump(ROOT / "datasets" / "onprem-dup-hostport" / "after")


def recorded_kernel_trace():
    """Notebook 07's first recorded kernel run of the kube-dns query (notebooks/recorded)."""
    import json
    from workbook.packet import Trace
    recorded = json.loads((ROOT / "notebooks" / "recorded" / "lab-kube-dns.json").read_text())
    return Trace.from_json(recorded["runs"][0], source="kernel")


def hostport_graphs():
    """Every step's graph of HostportLab (notebook 04), as the widget draws it."""
    from workbook.view.widgets import HostportLab
    lab = HostportLab()
    return [lab.graph(n) for n in range(1, len(lab.steps) + 1)]


def figures() -> dict[str, Callable[[], object]]:
    """name → a function drawing it (a graphviz graph)."""
    def kube_dns():
        rs = parse_save(KUBE_DNS_SAVE, "kube-dns.rules")
        return draw_trace(Trace(PACKET, kube_dns_branches()), rs)

    def eks():
        t, rs = eks_trace()
        return draw_trace(t, rs)

    out: dict[str, Callable[[], object]] = {
        "draw_trace kube-dns (hand-built)": kube_dns,
        "draw_trace kube-dns (EKS node)": eks,
        "draw_trace kube-dns (recorded kernel run, notebook 07)":
            lambda: draw_trace(recorded_kernel_trace(), eks_dump().ruleset),
        "draw_hooks()": draw_hooks,
        "draw_hooks(EKS ruleset)": lambda: draw_hooks(eks_dump().ruleset),
        "draw_hooks(EKS, trace)": lambda: draw_hooks(*reversed(eks_trace())),
        "draw_chains KUBE-SVC (EKS)": lambda: draw_chains(eks_dump().ruleset, "nat", SVC),
        "hostPort graph (notebook 04)": lambda: draw_chains(hostport_after().ruleset, "nat", "PREROUTING", depth=1),
    }
    for i, _ in enumerate(hostport_graphs()):
        out[f"hostPort step {i + 1}"] = (lambda i=i: hostport_graphs()[i])
    return out
