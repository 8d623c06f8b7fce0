"""Map our kernel-faithful Trace to the (output, masq) answer of kube-proxy's nftables test tracer.

The cases in tests/data/kube-proxy-nft/ are kube-proxy's nftables proxier tests as data (see
PROVENANCE.md there). Their Go tracer (``helpers_test.go``: ``tracePacket``) is not the kernel;
everything needed to compare the two lives HERE, not in workbook.nft.trace:

1. The rules. The Go tests build them with kube-proxy's proxier from Services and
   EndpointSlices; the data holds those Services (one entry per service port), and
   :func:`workbook.generate.kube_proxy_nft` writes the ruleset with the fake proxier's
   settings (pod CIDR 10.0.0.0/8, service CIDR 172.30.0.0/16, NodePorts on 192.168.0.2).
   ``TestOverallNFTablesRules`` holds kube-proxy's own expected ruleset: the suite checks that
   the generator writes the same one (both loaded into the kernel and listed back).
2. The packet. The Go tracer has no notion of origin or routing: it walks filter-prerouting,
   nat-prerouting, filter-forward and filter-input for every packet. We send every flow in on
   eth0 with the fake proxier's node addresses as local; a flow from a node address arriving on
   eth0 is a martian source to the kernel, so routing is told ``accept_local`` (as the Go
   tracer lets it through).
3. ``output``: the Go tracer lists the DNAT destination of every endpoint of a ``numgen``
   vmap, in element order, or the word of a ``drop``/``reject``; ``""`` when the packet is
   accepted without DNAT. We join each branch's DNAT in branch order (= numgen order), or give
   the common DROP/REJECT verdict of the branches.
4. ``masq``: the Go tracer sets it when a rule ``jump mark-for-masquerade`` matched; we say
   whether a branch was masqueraded in nat-postrouting (the mark's effect).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workbook.generate import Service, kube_proxy_nft
from workbook.nft.parse_text import parse_nft_text
from workbook.nft.trace import NftTracer
from workbook.packet import Packet, Trace

DATA = Path(__file__).resolve().parent.parent / "data" / "kube-proxy-nft"


@dataclass
class Case:
    name: str
    services: list[Service]
    nodeport_ips: list[str]
    flows: list[dict]
    expected: str | None
    text: str


def load_cases() -> tuple[dict, list[Case]]:
    spec = json.loads((DATA / "cases.json").read_text())
    fp = spec["fake_proxier"]
    out = []
    for t in spec["tests"]:
        services = [Service(s["ns"], s["name"], s["port_name"], s.get("protocol", "tcp"), s["cluster_ip"], s["port"],
                            [tuple(e) for e in s["endpoints"]], s.get("node_port"), external_ips=s.get("external_ips", []),
                            lb_ips=s.get("lb_ips", []), source_ranges=s.get("source_ranges", []),
                            etp_local=s.get("etp_local", False), affinity=s.get("affinity"),
                            local_endpoints=[tuple(e) for e in s.get("local_endpoints", [])])
                    for s in t["services"]]
        np_ips = t.get("nodeport_ips", fp["nodeport_ips"])
        text = kube_proxy_nft(services, pod_cidr=fp["pod_cidr"], service_cidr=fp["service_cidr"],
                              nodeport_ips=np_ips, node_ip=fp["node_ip"])
        expected = (DATA / t["expected"]).read_text() if t.get("expected") else None
        out.append(Case(t["name"], services, np_ips, t["flows"], expected, text))
    return fp, out


def transaction_for_nft(text: str) -> str:
    """kube-proxy's expected transaction in an order ``nft -f`` accepts (the Go test compares it
    sorted; the kernel needs tables, then sets/maps and chains, before rules and elements)."""
    order = {"table": 0, "set": 1, "map": 1, "chain": 2, "rule": 3, "element": 4}
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    lines.sort(key=lambda l: order[l.split()[1]])
    return "\n".join(lines) + "\n"


def go_trace(case: Case, node_ips: list[str], flow: dict) -> Trace:
    p = Packet(flow["source"], flow["dest"], flow.get("protocol", "tcp"), 40000, flow["port"], "eth0")
    return NftTracer(parse_nft_text(case.text, case.name), None, node_ips, accept_local=True).trace(p)


def go_answer(trace: Trace) -> tuple[str, bool]:
    """(output, masq) as kube-proxy's Go tracer words them (see 3. and 4. above)."""
    verdicts = {b.verdict for b in trace.branches}
    dnats = [b.dnat for b in trace.branches if b.dnat]
    if not dnats and verdicts <= {"DROP", "REJECT"} and len(verdicts) == 1:
        return verdicts.pop(), False
    return ", ".join(dnats), any(b.masquerade for b in trace.branches)
