"""Chain references: jumps to chains that do not exist, user chains nothing jumps to, and loops."""

from __future__ import annotations

from typing import Iterator

from ._lazy import pd

from ..extensions.registry import target_names
from ..chain_loops import chain_loops
from ..model import BUILTIN_CHAINS, Ruleset
from ..owners import chain_owner
from ..shell_command import shell_line
from .context import Context, binary_for, ipt_line, rule_argv, rule_evidence
from .finding import Finding
from ..i18n import msg, nmsg

__all__ = ["find_reference_problems", "EXTENSION_TARGETS", "EXPECTED_UNREFERENCED", "jump_index"]

#: Targets provided by the kernel/extensions rather than by a user chain.
EXTENSION_TARGETS = frozenset("""
ACCEPT DROP RETURN DNAT SNAT MASQUERADE REDIRECT NETMAP MARK CONNMARK
TCPOPTSTRIP SAME MIRROR IPV4OPTSSTRIP
""".split()) | target_names()

#: User chains that are unreferenced by design: kube-proxy/kubelet canaries and kubelet's backend
#: hint for iptables-wrappers (always empty), and the mark chains kubelet/kube-proxy create ahead of
#: use (KUBE-MARK-DROP is jumped to only by load-balancer chains of kube-proxy ≤1.24, KUBE-MARK-MASQ
#: only once a service exists); deleting those would only make kubelet re-create them.
EXPECTED_UNREFERENCED = frozenset({"KUBE-PROXY-CANARY", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT",
                                   "KUBE-MARK-DROP", "KUBE-MARK-MASQ"})


def jump_index(rs: Ruleset) -> dict[tuple[str, str], list]:
    """(table, chain) → the rules that jump or go to that chain (or extension target)."""
    idx: dict[tuple[str, str], list] = {}
    for r in rs.iter_rules():
        if r.target:
            idx.setdefault((r.table, r.target), []).append(r)
    return idx


def find_reference_problems(ctx: Context) -> Iterator[Finding]:
    for name, rs in ctx.items():
        yield from _missing(name, rs, ctx)
        yield from _unreferenced(name, rs, ctx)
        yield from _loops(name, rs)


def _missing(name: str, rs: Ruleset, ctx: Context) -> Iterator[Finding]:
    idx = jump_index(rs)
    partial = rs.format == "listing"
    binary = binary_for(name, rs)
    absent: list[tuple[str, str, list]] = []
    for (table, target), rules in idx.items():
        t = rs.tables.get(table)
        if t is None or target in t.chains or target in EXTENSION_TARGETS:
            continue
        if any(r.target_options for r in rules):
            continue  # a target with options is an extension (e.g. LOG_DROP-like custom xt modules)
        if target in BUILTIN_CHAINS.get(table, ()):
            continue
        absent.append((table, target, rules))
    if not absent:
        return
    if partial:
        # 'iptables -L CHAIN' shows one chain: its jump targets are simply not in the file
        rules = [r for _, _, rs_ in absent for r in rs_]
        names = sorted({f"{t} {c}" for t, c, _ in absent})
        expl = msg("{n} chain(s) that rules jump to are not in this listing: {names}"
                ". An 'iptables -L' listing often shows only some chains "
                "('-L PREROUTING'), so this is most likely a partial listing, not a broken ruleset; collect "
                "'iptables-save -c' (or '-L -n -v -x' without a chain name) for the whole picture.",
                n=len(names), names=", ".join(names[:12]) + (" …" if len(names) > 12 else ""))
        yield Finding("jump-to-missing-chain", "info",
                      msg("listing shows {n} jump target(s) without their chains", n=len(names)),
                      expl, rule_evidence(rules), [shell_line([f"{binary}-save", "-c"]) + " > iptables-save.txt   # the whole ruleset"],
                      None, absent[0][0], None)
        return
    for table, target, rules in absent:
        expl = msg("{n} rule(s) in table {table} jump to '{target}', but the dump has no chain "
                "of that name. The kernel refuses such a rule, so a real dump cannot contain it: the "
                "dump was edited or cut, or it is restore input that will fail with \"Couldn't load "
                "target\". An iptables-restore of this file fails at the first such rule.",
                   n=len(rules), table=table, target=target)
        owner = chain_owner(target)
        fix = [f"# Create the chain (if {owner or 'its owner'} should fill it) …",
               ipt_line(binary, table, ("-N", target)),
               "# … or delete the jumps to it:"]
        fix += [ipt_line(binary, table, ("-D", r.chain, *rule_argv(r))) for r in rules]
        yield Finding("jump-to-missing-chain", "error",
                      msg("{table}: jump to missing chain {target}", table=table, target=target), expl,
                      rule_evidence(rules), fix, owner, table, rules[0].chain)


def _unreferenced(name: str, rs: Ruleset, ctx: Context) -> Iterator[Finding]:
    idx = jump_index(rs)
    binary = binary_for(name, rs)
    for t in rs.tables.values():
        rows = []
        for c in t.chains.values():
            if c.builtin or c.name in EXPECTED_UNREFERENCED or c.name.startswith("KUBE-SEP-"):
                continue  # stale KUBE-SEP chains have their own finding (kube.py)
            if (t.name, c.name) in idx or (c.references or 0) > 0:
                continue
            rows.append((t.name, c.name, len(c.rules), chain_owner(c.name), c.origin))
        if not rows:
            continue
        ev = pd.DataFrame(rows, columns=["table", "chain", "rules", "owner", "origin"])
        names = [r[1] for r in rows]
        owners = sorted({r[3] for r in rows if r[3]})
        expl = msg("{n} user chain(s) in table {table} are never jumped to (no -j/-g names them): "
                "{names}. Their rules can never match "
                "a packet. Usually they are leftovers of an agent that was removed or upgraded (its "
                "cleanup knew only the new names), or of pods whose teardown did not run. Empty chains "
                "are harmless; non-empty ones suggest the jump to them was deleted by hand or by a "
                "flush. kube-proxy/kubelet canary chains and KUBE-IPTABLES-HINT are empty and "
                "unreferenced on purpose and are not listed.", n=len(rows), table=t.name,
                names=", ".join(names[:10]) + (" …" if len(names) > 10 else ""))
        fix = ["# After making sure no agent still expects them (they may re-create them):"]
        for _, chain_name, n, _, _ in rows:
            if n:
                fix.append(ipt_line(binary, t.name, ("-F", chain_name)))
            fix.append(ipt_line(binary, t.name, ("-X", chain_name)))
        yield Finding("unreferenced-chain", "info",
                      nmsg("{table}: {n} unreferenced user chain", "{table}: {n} unreferenced user chains",
                           len(rows), table=t.name),
                      expl, ev, fix, ", ".join(owners) or None, t.name, None)


def _loops(name: str, rs: Ruleset) -> Iterator[Finding]:
    if rs.format == "listing":
        return   # a listing may show one chain only: its jumps say nothing about loops
    binary = binary_for(name, rs)
    for table in rs.tables:
        for loop in chain_loops(rs, table):
            cycle = " -> ".join([r.chain for r in loop] + [loop[-1].target or ""])  # a loop's rules all jump
            expl = (f"The chains {cycle} in table {table} form a loop that a packet can reach from a built-in "
                    f"chain. The kernel refuses such a ruleset when it is loaded: iptables-restore fails "
                    f"(iptables-legacy: \"line N failed\", iptables-nft: \"RULE_APPEND failed (Too many "
                    f"links)\"), so a live node cannot hold it. This dump is evidence of tampering or "
                    f"corruption: it was edited after it was taken, or it is not what the node's kernel holds. "
                    f"Compare it with a fresh iptables-save of the node.")
            closing = loop[-1]
            fix = [shell_line([f"{binary}-save", "-c", "-t", table]) + "   # what the node really holds",
                   "# If it does hold the loop (it cannot load a new one), break it by deleting the jump "
                   "that closes it:",
                   ipt_line(binary, table, ("-D", closing.chain, *rule_argv(closing)))]
            yield Finding("chain-loop", "error", f"{table}: loop {cycle}", expl, rule_evidence(loop), fix,
                          chain_owner(closing.chain), table, closing.chain)
