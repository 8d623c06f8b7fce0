"""Map our kernel-faithful Trace to the (output, masq) pair of kube-proxy's unit-test packet tracer.

The cases in tests/data/kube-proxy/ come with the answers kube-proxy's Go tracer gives
(TRACER.md describes it). Our tracer follows the kernel, not that approximation; everything
needed to compare the two lives HERE, not in workbook.trace:

1. The rule state. For cases 03-46 the .rules files are only kube-proxy's restore data; the
   fake iptables the Go test used also held the base-chain jumps kube-proxy adds with
   EnsureRule (``iptablesJumpChains`` in proxier.go). The meta files name the one the Go
   tracer needs (nat PREROUTING -> KUBE-SERVICES). A kernel walk needs the others too (filter
   INPUT/FORWARD/OUTPUT -> KUBE-*), so :func:`load_case` adds kube-proxy's jump rules, in the
   order a real node has them, to every built-in chain that the file leaves empty, and only
   for target chains the file declares. Cases 01/02 hold the complete fake state: nothing is
   added there.
2. The packet. The Go tracer has no notion of origin: it always walks nat PREROUTING. We send
   every flow in on eth0 (the PREROUTING path), with the case's node IPs as local addresses.
   Flows from a node address or 127.0.0.1 are also traced the way a real node sends them
   (from_node: nat OUTPUT, filter OUTPUT, POSTROUTING, and back in over lo when the
   destination is local); they give the same answers.
3. ``output``: the Go tracer lists every DNAT destination it reached (all probability
   branches, in rule order) and then the ACCEPT/DROP/REJECT words of the filter chains
   KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS and KUBE-PROXY-FIREWALL, walked with
   the first endpoint's address. We take each branch's DNAT (``--to-destination`` verbatim,
   branch order = endpoint order) and the verdict words of matched rules in those four
   filter chains on the first branch.
4. ``masq``: true when some branch matched a rule jumping to KUBE-MARK-MASQ.
5. Routing. The Go tracer has none: a flow from a node address sent in on eth0 goes on to
   the filter chains there, where the kernel (accept_local=0) drops it as a martian source
   right after PREROUTING. The comparison traces with :data:`GO_TRACER_ROUTING`
   (``accept_local=True``) so routing lets such a packet through, as the Go tracer does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from workbook.model import Ruleset
from workbook.packet import Packet, Trace
from workbook.parse import parse_save

#: kube-proxy's base-chain jump rules (proxier.go ``iptablesJumpChains``), in the order a
#: node shows them (kube-proxy prepends each one, so the list reads bottom-up there).
JUMP_RULES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("filter", "INPUT"): [
        ("KUBE-PROXY-FIREWALL", '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'),
        ("KUBE-NODEPORTS", '-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS'),
        ("KUBE-EXTERNAL-SERVICES", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'),
        ("KUBE-FIREWALL", "-j KUBE-FIREWALL"),
    ],
    ("filter", "FORWARD"): [
        ("KUBE-PROXY-FIREWALL", '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'),
        ("KUBE-FORWARD", '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'),
        ("KUBE-SERVICES", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
        ("KUBE-EXTERNAL-SERVICES", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'),
    ],
    ("filter", "OUTPUT"): [
        ("KUBE-PROXY-FIREWALL", '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'),
        ("KUBE-SERVICES", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
        ("KUBE-FIREWALL", "-j KUBE-FIREWALL"),
    ],
    ("nat", "PREROUTING"): [("KUBE-SERVICES", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES')],
    ("nat", "OUTPUT"): [("KUBE-SERVICES", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES')],
    ("nat", "POSTROUTING"): [("KUBE-POSTROUTING", '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING')],
}

#: Tracer options standing for the Go tracer's lack of routing (see 5. above).
GO_TRACER_ROUTING = {"accept_local": True}

FILTER_VERDICT_CHAINS = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL")


@dataclass
class Case:
    name: str
    ruleset: Ruleset
    meta: dict
    flows: list[dict]
    added: list[str]


def load_case(rules_path: Path) -> Case:
    """Parse one case and add the base-chain jumps the Go test's fake iptables held."""
    stem = rules_path.name[: -len(".rules")]
    meta = json.loads(rules_path.with_name(stem + ".meta.json").read_text())
    flows = [json.loads(line) for line in rules_path.with_name(stem + ".flows.jsonl").read_text().splitlines() if line.strip()]
    rs = parse_save(rules_path.read_text(), str(rules_path))
    added: list[str] = []
    if not meta.get("rulesAreFullFakeState"):
        rs, added = with_kube_proxy_jumps(rs, meta)
        # the meta's own list must be a subset of what JUMP_RULES added
        for j in meta.get("implicitBaseJumps", []):
            assert any(a.startswith(f"{j['table']} -A {j['chain']}") and a.endswith("-j KUBE-SERVICES") for a in added), j
    return Case(stem, rs, meta, flows, added)


def with_kube_proxy_jumps(rs: Ruleset, meta: dict) -> tuple[Ruleset, list[str]]:
    """The ruleset (as iptables-restore text re-parsed) plus the base jumps kube-proxy installs."""
    text = rs.to_save()
    added: list[str] = []
    wanted: dict[tuple[str, str], list[str]] = {}
    for (table, chain), jumps in JUMP_RULES.items():
        if table not in rs.tables:
            continue
        t = rs.table(table)
        if chain in t and len(t.chain(chain)):
            continue  # the case has this built-in chain with rules: it is the complete state
        for target, body in jumps:
            if target in t:
                wanted.setdefault((table, chain), []).append(f"-A {chain} {body}")
    for j in meta.get("implicitBaseJumps", []):
        # the meta files name nat PREROUTING -> KUBE-SERVICES, which the list above already has
        key, target = (j["table"], j["chain"]), j["rule"].split()[-1]
        t = rs.tables.get(j["table"])
        complete = t is not None and j["chain"] in t and len(t.chain(j["chain"]))
        if not complete and not any(r.endswith(f"-j {target}") for r in wanted.get(key, [])):
            wanted.setdefault(key, []).append(j["rule"])
    out: list[str] = []
    table = None
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
            declared = set()
            out.append(line)
            continue
        if line.startswith(":"):
            declared.add(line[1:].split()[0])
        if line == "COMMIT" and table:
            for (t, chain), rules in wanted.items():
                if t != table:
                    continue
                if chain not in declared:
                    # a built-in chain the file left out: declare it after the table line
                    idx = max(i for i, l in enumerate(out) if l == f"*{table}")
                    out.insert(idx + 1, f":{chain} ACCEPT [0:0]")
                    declared.add(chain)
                for r in rules:
                    # keep existing rules in front only for complete states; here the chain is empty
                    out.append(r)
                    added.append(f"{t} {r}")
        out.append(line)
    return parse_save("\n".join(out) + "\n", rs.source), added


def flow_packet(flow: dict, from_node: bool = False) -> Packet:
    """The flow's packet: in on eth0 (as the Go tracer walks it), or sent by the node itself."""
    return Packet(flow["sourceIP"], flow["destIP"], flow["protocol"].lower(), sport=40000,
                  dport=int(flow["destPort"]), in_iface=None if from_node else "eth0", from_node=from_node)


def is_local_source(flow: dict) -> bool:
    """A flow from a node address or 127.0.0.1: in a real node such a packet comes from OUTPUT."""
    return flow["sourceIP"] in set(flow["nodeIPs"]) | {"127.0.0.1", "::1"}


def _to_destination(spec: str) -> str:
    toks = spec.split()
    return toks[toks.index("--to-destination") + 1]


def go_output(trace: Trace) -> tuple[str, bool]:
    """The Go tracer's (output, masq) read off our Trace (see the module docstring)."""
    outputs: list[str] = []
    masq = False
    for b in trace.branches:
        for s in b.steps:
            if s.matched and s.action == "DNAT" and s.table == "nat":
                d = _to_destination(s.spec)
                if d not in outputs:
                    outputs.append(d)
            if s.matched and s.action == "JUMP:KUBE-MARK-MASQ":
                masq = True
    if trace.branches:
        for s in trace.branches[0].steps:
            if (s.matched and s.table == "filter" and s.chain in FILTER_VERDICT_CHAINS
                    and s.action in ("ACCEPT", "DROP", "REJECT")):
                outputs.append(s.action)
    return ", ".join(outputs), masq
