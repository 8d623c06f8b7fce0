"""kube-proxy and hostport shapes: service chains without endpoints, stale KUBE-SEP chains, KUBE-NODEPORTS not last, stale hostport entries."""

from __future__ import annotations

import re
from typing import Any, Iterator

from ..model import Rule, Ruleset
from ..shell_command import kube_name_problem, refusal, shell_line, shell_note
from .context import Context, binary_for, ipt_line, rule_argv, rule_evidence
from .finding import Finding
from ..i18n import msg, nmsg
from .references import jump_index
from ..parse.save import split_lines

__all__ = ["find_kube_problems", "service_name", "endpointslices_line"]

_SVC_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-")
_SEP_PARENTS = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-XLB-")
_SVC_COMMENT = re.compile(r"^(\S+?)(?: cluster IP| external IP| loadbalancer IP| -> \S+)?$")
_MAX_FIX = 200


def service_name(rules: list[Rule]) -> str | None:
    """``ns/name[:port]`` from kube-proxy's comments on these rules (None if none says).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*nat\\n:X - [0:0]\\n-A X -m comment --comment "kube-system/kube-dns:dns -> 192.168.1.77:53" -j RETURN\\nCOMMIT\\n')
    >>> service_name(list(rs.iter_rules()))
    'kube-system/kube-dns:dns'
    """
    for r in rules:
        c = r.comment
        if c:
            m = _SVC_COMMENT.match(c.split("; ")[0])
            if m and "/" in m.group(1):
                return m.group(1)
    return None


def find_kube_problems(ctx: Context) -> Iterator[Finding]:
    for name, rs in ctx.items():
        nat = rs.tables.get("nat")
        if nat is None:
            continue
        idx = jump_index(rs)
        binary = binary_for(name, rs)
        yield from _no_endpoints(rs, idx, binary)
        yield from _stale_seps(rs, idx, binary)
        yield from _nodeports_not_last(rs, binary)
        yield from _stale_hostports(rs, binary, _checkpoints(ctx))


def _no_endpoints(rs: Ruleset, idx: dict, binary: str) -> Iterator[Finding]:
    nat = rs.tables["nat"]
    empty = []
    for c in nat.chains.values():
        if not c.name.startswith(_SVC_PREFIXES):
            continue
        if any(r.target and r.target.startswith("KUBE-SEP-") for r in c.rules):
            continue
        empty.append(c)
    if not empty:
        return
    rules: list[Rule] = []
    chain_col: list[str] = []
    svc_col: list[str | None] = []
    for c in empty:
        jumps = idx.get(("nat", c.name), [])
        svc = service_name(jumps + c.rules)
        for r in jumps + c.rules:
            rules.append(r)
            chain_col.append(c.name)
            svc_col.append(svc)
    ev = rule_evidence(rules, service_chain=chain_col, service=svc_col)
    referenced = [c for c in empty if idx.get(("nat", c.name))]
    services = sorted({s for s in svc_col if s})
    expl = msg("{n} kube-proxy service chain(s) have no rule jumping to a KUBE-SEP endpoint chain"
            "{services}. "
            "A new connection to such a service is captured by KUBE-SERVICES, may be marked for "
            "masquerade, then falls out of the service chain without any DNAT: it goes on to the "
            "cluster IP itself, which nothing answers, and times out. kube-proxy does not write this "
            "shape: for a service without endpoints it writes no nat chains at all and a REJECT rule "
            "('has no endpoints') in filter KUBE-SERVICES. So the chain is left over from an interrupted "
            "or failed sync, or was edited by hand. "
            "{referenced} of them are still jumped to.", n=len(empty), services=_listed(services),
            referenced=len(referenced))
    fix = ["# See whether the services really have ready endpoints:"]
    fix += [endpointslices_line(s) for s in services[:20]]
    fix += ["# Make kube-proxy rewrite its rules (it replaces these chains on a full sync):",
            "kubectl -n kube-system delete pod -l k8s-app=kube-proxy --field-selector spec.nodeName=$(hostname)",
            shell_note("then compare: " + shell_line([f"{binary}-save", "-t", "nat"]) + " | "
                       + _grep([c.name for c in empty[:5]]))]
    yield Finding("service-without-endpoints", "warning",
                  nmsg("nat: {n} KUBE-SVC/SVL chain without endpoints", "nat: {n} KUBE-SVC/SVL chains without endpoints",
                       len(empty)),
                  expl, ev, fix, "kube-proxy", "nat", empty[0].name if len(empty) == 1 else None)


def endpointslices_line(service: str) -> str:
    """``kubectl get endpointslices`` for ``ns/name[:port]``, or the ``#`` line saying why not.

    >>> endpointslices_line("kube-system/kube-dns:dns")
    'kubectl get endpointslices -n kube-system -l kubernetes.io/service-name=kube-dns'
    >>> print(endpointslices_line("$(id)/x"))
    # (no command printed: the namespace '$(id)' is not a Kubernetes name (lower-case letters, digits and '-', at most 63))
    """
    ns, _, rest = service.partition("/")
    name = rest.split(":")[0]
    why = kube_name_problem("namespace", ns) or kube_name_problem("Service name", name)
    if why:
        return refusal(why)
    return shell_line(["kubectl", "get", "endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={name}"])


def _grep(names: list[str]) -> str:
    """``grep -E 'a|b'`` for these chain names (regex characters escaped), quoted for a shell."""
    try:
        return shell_line(["grep", "-E", "|".join(re.escape(n) for n in names)])
    except ValueError:
        return "grep …"


def _stale_seps(rs: Ruleset, idx: dict, binary: str) -> Iterator[Finding]:
    nat = rs.tables["nat"]
    stale = []
    for c in nat.chains.values():
        if not c.name.startswith("KUBE-SEP-"):
            continue
        if any(r.chain.startswith(_SEP_PARENTS) for r in idx.get(("nat", c.name), [])):
            continue
        stale.append(c)
    if not stale:
        return
    rules = [r for c in stale for r in c.rules]
    ev = rule_evidence(rules, endpoint=[(dest.value if (dest := r.target_option("--to-destination")) else None)
                                        for r in rules])
    services = sorted({s for c in stale if (s := service_name(c.rules))})
    expl = msg("{n} KUBE-SEP endpoint chain(s) are not jumped to from any KUBE-SVC/KUBE-SVL "
            "service chain{services}. "
            "No traffic reaches them, so they do no harm by themselves, but kube-proxy deletes the "
            "endpoint chains of removed endpoints in the same iptables-restore that drops their jumps. "
            "Stale ones mean that restore did not complete (kube-proxy crashed or was stopped mid-sync, "
            "or a different kube-proxy version with other chain names ran before), or that the dump was "
            "taken from a node whose kube-proxy is not syncing any more: check its logs.",
            n=len(stale), services=_listed(services))
    fix = ["kubectl -n kube-system logs -l k8s-app=kube-proxy --tail=200   # is it syncing?",
           "# After kube-proxy syncs again these should disappear; to remove them by hand:"]
    for c in stale[:_MAX_FIX]:
        fix.append(ipt_line(binary, "nat", ("-F", c.name), ("-X", c.name)))
    if len(stale) > _MAX_FIX:
        fix.append(f"# … {len(stale) - _MAX_FIX} more (see the evidence)")
    yield Finding("stale-endpoint-chain", "warning",
                  nmsg("nat: {n} stale KUBE-SEP chain (no service jumps to them)",
                       "nat: {n} stale KUBE-SEP chains (no service jumps to them)", len(stale)),
                  expl, ev, fix, "kube-proxy", "nat", stale[0].name if len(stale) == 1 else None)


def _listed(services: list[str]) -> str:
    """`` (a, b, …)`` naming up to eight services, or nothing."""
    if not services:
        return ""
    return " (" + ", ".join(services[:8]) + (" …" if len(services) > 8 else "") + ")"


def _is_nodeports(r: Rule) -> bool:
    return r.target == "KUBE-NODEPORTS"


def _nodeports_not_last(rs: Ruleset, binary: str) -> Iterator[Finding]:
    ch = rs.tables["nat"].chains.get("KUBE-SERVICES")
    if ch is None:
        return
    first = next((r for r in ch.rules if _is_nodeports(r)), None)
    if first is None:
        return
    after = [r for r in ch.rules[first.position:] if not _is_nodeports(r)]
    if not after:
        return   # several KUBE-NODEPORTS rules at the end (--nodeport-addresses) are fine
    ev = rule_evidence([first] + after, role=["KUBE-NODEPORTS jump"] + ["after it"] * len(after))
    expl = msg("kube-proxy always writes '-j KUBE-NODEPORTS' as the last rule of nat KUBE-SERVICES (its "
            "comment says: 'NOTE: this must be the last rule in this chain'), here it is at position "
            "{position} with {below} rule(s) below it. KUBE-NODEPORTS matches any local "
            "destination by port only, so a packet to a node address on a NodePort port is DNATed "
            "there before the rules below it (external IPs or load-balancer IPs that are node "
            "addresses, rules appended by another agent) are looked at. kube-proxy rewrites this chain "
            "on every sync, so rules below it were added after the last sync by something else, or "
            "kube-proxy is not syncing.", position=first.position, below=len(after))
    owners = sorted({o for o in ev["owner"][1:] if o})
    fix = ["# Let kube-proxy rewrite the chain (rules added by other agents are dropped by its next sync):",
           "kubectl -n kube-system delete pod -l k8s-app=kube-proxy --field-selector spec.nodeName=$(hostname)",
           "# or move the jump to the end by hand:",
           ipt_line(binary, "nat", ("-D", "KUBE-SERVICES", *rule_argv(first))),
           ipt_line(binary, "nat", ("-A", "KUBE-SERVICES", *rule_argv(first)))]
    yield Finding("nodeports-not-last", "warning",
                  msg("nat KUBE-SERVICES: KUBE-NODEPORTS jump at position {position} is not the last rule",
                      position=first.position),
                  expl + (msg(" Rules below it come from: {owners}.", owners=", ".join(owners)) if owners else ""),
                  ev, fix, "kube-proxy", "nat", "KUBE-SERVICES")


def _ports(r: Rule) -> frozenset[str]:
    o = r.option("--dports") or r.option("--destination-ports") or r.option("--dport")
    if o is None or o.negated:
        return frozenset()
    return frozenset(o.value.split(","))


_SANDBOX_ID = re.compile(r"^[0-9a-f]{64}$")
_CONTAINER_ID = re.compile(r'id: "([0-9a-f]{12,64})"')
SANDBOX_LISTING = "kubelet/dockershim-sandbox.txt"


def _checkpoints(ctx: Context) -> dict[str, str] | None:
    """Sandbox IDs with a dockershim checkpoint (``ls -la /var/lib/dockershim/sandbox`` in the dump)
    → file:line; None when the dump has no such listing."""
    text = ctx.text(SANDBOX_LISTING)
    if text is None:
        return None
    origin = ctx.origin_of(SANDBOX_LISTING)
    out: dict[str, str] = {}
    for i, line in enumerate(split_lines(text), 1):
        parts = line.split()
        if parts and _SANDBOX_ID.match(parts[-1]):
            out[parts[-1]] = f"{origin}:{i}"
    return out


def _container_id(r: Rule) -> str | None:
    m = _CONTAINER_ID.search(r.comment or "")
    return m.group(1) if m else None


def _stale_hostports(rs: Ruleset, binary: str, checkpoints: dict[str, str] | None = None) -> Iterator[Finding]:
    nat = rs.tables["nat"]
    for chain_name, winner_is_stale in (("CNI-HOSTPORT-DNAT", True), ("KUBE-HOSTPORTS", False)):
        ch = nat.chains.get(chain_name)
        if ch is None or len(ch.rules) < 2:
            continue
        seen: dict[tuple[str | None, str], Rule] = {}
        clashes: list[tuple[Rule, Rule, str]] = []
        for r in ch.rules:
            if not r.target or r.target in ("RETURN", "ACCEPT"):
                continue
            for p in sorted(_ports(r)):
                key = (r.protocol, p)
                prev = seen.get(key)
                if prev is None:
                    seen[key] = r
                elif prev.target != r.target and prev.destination == r.destination:
                    clashes.append((prev, r, p))
        if not clashes:
            continue
        rules: list[Rule] = []
        roles: list[str] = []
        dnat: list[str | None] = []
        for a, b, port in clashes:
            for r, role in ((a, "first: wins"), (b, "later: never reached for this port")):
                if r in rules:
                    continue
                rules.append(r)
                roles.append(role)
                sub = nat.chains.get(r.target) if r.target else None
                to = [dest.value for x in (sub.rules if sub else [])
                      if x.target == "DNAT" and (dest := x.target_option("--to-destination"))]
                dnat.append(", ".join(to) or None)
        extra: dict[str, list[Any]] = {}
        lost: list[Rule] = []
        if checkpoints is not None and chain_name == "CNI-HOSTPORT-DNAT":
            col: list[str | None] = []
            for r in rules:
                cid = _container_id(r)
                if cid is None:
                    col.append(None)
                elif cid in checkpoints:
                    col.append(f"present ({checkpoints[cid]})")
                else:
                    col.append("MISSING")
                    lost.append(r)
            extra["checkpoint"] = col
        if lost:
            stale_rules = lost
        else:
            stale_rules = [a for a, _, _ in clashes] if winner_is_stale else [b for _, b, _ in clashes]
        extra["stale"] = [r in stale_rules for r in rules]
        ev = rule_evidence(rules, role=roles, dnat_to=dnat, **extra)
        ports = sorted({f"{a.protocol}/{p}" for a, _, p in clashes})
        if winner_is_stale:
            expl = msg("{chain} has more than one entry for host port(s) {ports}, each "
                    "pointing at a different per-pod CNI-DN chain. portmap appends new pods' entries, so "
                    "the FIRST entry (the older pod) still takes the traffic and DNATs it to an address "
                    "that may no longer exist, while the new pod's entry is never reached: hostPort "
                    "traffic (e.g. an ingress controller) fails. The old entry leaked because the pod's "
                    "teardown handed portmap no port mappings (dockershim checkpoint under "
                    "/var/lib/dockershim/sandbox lost, rancher/rke #2999; portmap ≥ v0.8.7 then does "
                    "nothing on DEL). Delete the stale entry and its chain; persist the checkpoints "
                    "(kubelet extra_binds /var/lib/dockershim) so it does not come back.",
                    chain=chain_name, ports=", ".join(ports))
            if lost:
                expl += msg(" The dump's listing of /var/lib/dockershim/sandbox ({listing}) has no "
                            "checkpoint for the sandbox of {n} of these entries (id "
                            "{ids}…): that is the lost "
                            "checkpoint, and those are the entries to delete.", listing=SANDBOX_LISTING,
                            n=len(lost), ids=", ".join((_container_id(r) or "")[:12] for r in lost))
            sev = "error"
            owner = "CNI portmap"
        else:
            expl = msg("{chain} has more than one entry for host port(s) {ports}. dockershim's "
                    "hostport manager inserts new entries on top, so the first one is normally the live "
                    "pod and the later ones are leaked by teardowns that had no port mappings (lost "
                    "/var/lib/dockershim/sandbox checkpoint). Compare the DNAT addresses with the pods "
                    "running on the node before deleting anything.", chain=chain_name, ports=", ".join(ports))
            sev = "warning"
            owner = "kubelet"
        fix = ["# Check which pod IPs are alive on this node first:",
               "crictl pods -o json | grep -E '\"(id|ip)\"'   # or: kubectl get pods -A -o wide --field-selector spec.nodeName=$(hostname)"]
        done: set[str] = set()
        for r in stale_rules:
            if r.spec in done:
                continue
            done.add(r.spec)
            target = r.target
            assert target  # rules without a target never clash (skipped above)
            fix.append(ipt_line(binary, "nat", ("-D", chain_name, *rule_argv(r))))
            fix.append(ipt_line(binary, "nat", ("-F", target), ("-X", target)))
        yield Finding("stale-hostport-entry", sev,
                      msg("nat {chain}: {n} host port(s) with more than one entry ({ports})", chain=chain_name,
                          n=len(clashes), ports=", ".join(ports[:5])),
                      expl, ev, fix, owner, "nat", chain_name)
