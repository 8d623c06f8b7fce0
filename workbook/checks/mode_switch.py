"""Mode-switch leftovers: kube-proxy's iptables chains beside its nftables table (or the reverse)
after a node changed proxy mode without ``kube-proxy --cleanup``."""

from __future__ import annotations

from typing import Iterator

from ._lazy import pd

from ..model import BUILTIN_CHAINS, Chain, Rule, Ruleset
from ..shell_command import commands_or_refusal, iptables_chain_problem, refusal, shell_line
from .context import Context, binary_for, rule_argv, rule_evidence
from .finding import Finding
from ..i18n import msg
from .proxy_mode import KUBELET_CHAINS, is_kube_proxy_iptables_chain, proxy_mode

__all__ = ["find_mode_switch_leftovers"]


def find_mode_switch_leftovers(ctx: Context) -> Iterator[Finding]:
    if ctx.nft is None:
        return
    from ..nft.kube_proxy import kube_proxy_nft
    k = kube_proxy_nft(ctx.nft)
    if k is None:
        return
    nft_has_services = bool(k.service_ports or k.cluster_ips)
    mode = proxy_mode(ctx)
    for name, rs in ctx.items():
        leftovers = _kube_proxy_chains(rs)
        service_chains = [c for _, c in leftovers if c.name == "KUBE-SERVICES" and c.rules or
                          c.name.startswith(("KUBE-SVC-", "KUBE-SEP-"))]
        if not service_chains:
            continue
        if mode is not None and mode.mode != "nftables":
            yield from _nft_leftovers(ctx, k, mode.mode, mode.origin)
            return
        if mode is None and not nft_has_services:
            continue   # an empty kube-proxy table beside live iptables rules: nothing to tell apart
        yield _iptables_leftovers(name, rs, leftovers, mode.origin if mode else None)


def _kube_proxy_chains(rs: Ruleset) -> list[tuple[str, Chain]]:
    return [(t.name, c) for t in rs.tables.values() for c in t.chains.values()
            if is_kube_proxy_iptables_chain(c.name) and c.name not in KUBELET_CHAINS]


def _iptables_leftovers(name: str, rs: Ruleset, leftovers: list, mode_origin: str | None) -> Finding:
    binary = binary_for(name, rs)
    gone = {(t, c.name) for t, c in leftovers}
    # the rules that lead into the leftovers from chains that stay (PREROUTING, OUTPUT, FORWARD …)
    entries: list[Rule] = [r for t in rs.tables.values() for c in t.chains.values() if (t.name, c.name) not in gone
                           for r in c.rules if (t.name, r.target) in gone]
    services = sum(1 for _, c in leftovers if c.name.startswith("KUBE-SVC-"))
    hits = sum(r.pkts or 0 for r in entries)
    fix = ["# kube-proxy --cleanup removes every mode's rules (restart kube-proxy afterwards), or by hand:"]
    for r in entries:
        fix.append(commands_or_refusal([[binary, "-t", r.table, "-D", r.chain, *rule_argv(r)]]))
    by_table: dict[str, list[str]] = {}
    for t, c in leftovers:
        by_table.setdefault(t, []).append(c.name)
    for flag in ("-F", "-X"):
        for t, chains in by_table.items():
            for c in chains:
                why = iptables_chain_problem(c)
                fix.append(refusal(why) if why else shell_line([binary, "-t", t, flag, c]))
    ev = rule_evidence(entries, leads_to=[r.target for r in entries]) if entries else pd.DataFrame(
        {"table": [t for t, _ in leftovers[:20]], "chain": [c.name for _, c in leftovers[:20]],
         "rules": [len(c.rules) for _, c in leftovers[:20]]})
    said = msg(" (kube-proxy says nftables: {origin})", origin=mode_origin) if mode_origin else ""
    return Finding(
        "mode-switch-leftovers", "warning",
        msg("{n} kube-proxy iptables chains ({services} Services) left beside kube-proxy's nftables table",
            n=len(leftovers), services=services),
        msg("kube-proxy runs in nftables mode{said}, yet {binary} still holds its iptables-mode chains: "
            "KUBE-SERVICES and {services} KUBE-SVC chains with their endpoints. They were left when the node "
            "switched modes without `kube-proxy --cleanup`. Packets still meet them: the nat table's "
            "PREROUTING/OUTPUT jumps into KUBE-SERVICES run before or beside kube-proxy's nft chains at the "
            "same hook and priority, so a Service whose endpoints changed since the switch can be DNATed to an "
            "old endpoint by the stale chain. The jumps into them counted {hits} packets in this dump. "
            "Delete the jumps first, then flush and delete the chains. kubelet's own chains "
            "(KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT, KUBE-FIREWALL) stay.",
            said=said, binary=binary, services=services, hits=hits),
        ev, fix, "kube-proxy")


def _nft_leftovers(ctx: Context, k, mode: str, origin: str) -> Iterator[Finding]:
    tables = [t for t in k.tables]
    ev = pd.DataFrame({"family": [t.family for t in tables], "table": [t.name for t in tables],
                       "rules": [sum(len(c) for c in t.chains.values()) for t in tables],
                       "kube-proxy mode": [f"{mode} ({origin})"] * len(tables)})
    fix = [shell_line(["nft", "delete", "table", t.family, t.name]) for t in tables]
    yield Finding(
        "mode-switch-leftovers", "warning",
        msg("kube-proxy's nftables table left behind while kube-proxy runs in {mode} mode", mode=mode),
        msg("kube-proxy says it runs in {mode} mode ({origin}), and its Service chains are in iptables; the "
            "nftables table {tables} is what an earlier nftables-mode kube-proxy left. Its base chains still "
            "see every packet (at the same hooks as the iptables chains), so stale Services there can still "
            "reject or DNAT traffic. Delete the table.",
            mode=mode, origin=origin, tables=", ".join(f"{t.family} {t.name}" for t in tables)),
        ev, fix, "kube-proxy")


# the built-in chain names, so a leftover is never one of them (they are never kube-proxy's)
assert not any(is_kube_proxy_iptables_chain(c) for chains in BUILTIN_CHAINS.values() for c in chains)
