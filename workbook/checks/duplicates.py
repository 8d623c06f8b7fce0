"""Duplicate rules in one chain: byte-identical, or identical once comments, counters and option order are ignored."""

from __future__ import annotations

import re
from typing import Iterator

from ._lazy import pd

from ..model import Option, Rule
from ..owners import owner_of
from ..shell_command import shell_note
from ..vocab import protocol_name
from .context import Context, binary_for, delete_commands, ipt_line, rule_evidence
from .finding import Finding
from ..i18n import Msg, msg

__all__ = ["find_duplicates", "normalized_key", "is_redacted", "duplicate_groups"]

# Anonymised dumps replace distinct values by one placeholder (XX:XX:XX:XX:XX:XX for MACs,
# XX.XX.XX.XX for addresses): rules that differ only there look identical but are not.
_REDACTED = re.compile(r"(?<![\w])X+(?:[:.]X+){2,}(?![\w])")
# Options whose comma lists are sets (order does not change what they match).
_SET_OPTIONS = frozenset({"--ctstate", "--state", "--dports", "--sports", "--ports",
                          "--destination-ports", "--source-ports", "--src-type", "--dst-type"})
# Targets after which a packet may come back changed (marks, addresses, conntrack) or that run
# other chains: a rule between two equal rules with such a target can make the second one match.
_HARMLESS_BETWEEN = frozenset({"ACCEPT", "DROP", "REJECT", "RETURN", "LOG", "NFLOG", "ULOG", "AUDIT",
                               "TRACE", "QUEUE", "NFQUEUE", None})


def is_redacted(rule: Rule) -> bool:
    """True when the rule holds an anonymisation placeholder such as ``XX:XX:XX:XX:XX:XX``.

    >>> from workbook.parse import parse_save
    >>> r = next(parse_save('*filter\\n:M - [0:0]\\n-A M -m mac --mac-source XX:XX:XX:XX:XX:XX -j RETURN\\nCOMMIT\\n').iter_rules())
    >>> is_redacted(r)
    True
    """
    for v in (rule.source, rule.destination, rule.in_interface, rule.out_interface):
        if v and "XX" in v and _REDACTED.search(v):
            return True
    for opts in [m.options for m in rule.matches] + [rule.target_options]:
        for o in opts:
            for a in o.args:
                if "XX" in a and _REDACTED.search(a):
                    return True
    return False


def _opt_key(o: Option) -> tuple:
    args = o.args
    if o.flag in _SET_OPTIONS and len(args) == 1:
        args = (",".join(sorted(args[0].split(","))),)
    return (o.flag, args, o.negated)


def normalized_key(rule: Rule) -> tuple:
    """What the rule does, ignoring comments, counters, position and the order of matches/options.

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('''*filter
    ... :F - [0:0]
    ... -A F -m mark --mark 0x8000/0x8000 -m comment --comment "drop marked" -j DROP
    ... -A F -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
    ... COMMIT
    ... ''')
    >>> a, b = rs.iter_rules()
    >>> normalized_key(a) == normalized_key(b), a.spec == b.spec
    (True, False)
    """
    proto = rule.protocol
    if proto is not None:
        proto = protocol_name(proto)
        if proto == "all" and not rule.protocol_negated:
            proto = None
    matches = tuple(sorted(
        (m.module, tuple(sorted(_opt_key(o) for o in m.options)))
        for m in rule.matches if m.module != "comment"))
    return (rule.source, rule.source_negated, rule.destination, rule.destination_negated,
            proto, rule.protocol_negated, rule.in_interface, rule.in_interface_negated,
            rule.out_interface, rule.out_interface_negated, rule.fragment, matches,
            rule.target, rule.goto, tuple(sorted(_opt_key(o) for o in rule.target_options)))


def changers_between(rules: list[Rule], group: list[Rule]) -> list[Rule]:
    """Rules between the first and last member of ``group`` that may change the packet or its
    marks before the later copies are reached (MARK, CONNMARK, NAT, jumps to user chains…)."""
    lo, hi = group[0].position, group[-1].position
    members = {id(r) for r in group}
    return [r for r in rules[lo:hi - 1] if id(r) not in members and not r.goto
            and r.target not in _HARMLESS_BETWEEN]


def duplicate_groups(rules: list[Rule]) -> Iterator[tuple[str, list[Rule]]]:
    """Groups of ≥2 rules of one chain that are the same: ``("exact", rules)`` for byte-identical
    rules, ``("normalized", rules)`` for rules equal only after normalising. Rules holding a
    redacted value are left out. A normalised group (the copies differ in comments or option
    order) is kept only when no rule between the copies can change what they match: Calico, for
    one, repeats ``-m mark --mark 0x10000/0x10000 -j ACCEPT`` on purpose, with a distinct
    ``cali:`` comment, after rules that reset the mark. Linear time (hashing)."""
    # equal rules share their target: bucket on it first, so the full key is computed only where
    # two rules could be equal (kube-proxy's chains jump to a different chain on almost every rule),
    # and a lazily parsed rule is not filled just to be told apart (the parser knows its target)
    buckets: dict[tuple, list[Rule]] = {}
    for r in rules:
        buckets.setdefault((r.target, r.goto), []).append(r)
    by_norm: dict[tuple, list[Rule]] = {}
    for bucket in buckets.values():
        if len(bucket) < 2:
            continue
        for r in bucket:
            if not is_redacted(r):
                by_norm.setdefault(normalized_key(r), []).append(r)
    for group in sorted((g for g in by_norm.values() if len(g) > 1), key=lambda g: g[0].position):
        specs = {r.spec for r in group}
        if len(specs) == 1:
            yield "exact", group
        elif not changers_between(rules, group):
            yield "normalized", group


def _cni_hostport_case(rule: Rule) -> bool:
    return (rule.table == "nat" and rule.chain in ("PREROUTING", "OUTPUT")
            and rule.target in ("CNI-HOSTPORT-DNAT", "KUBE-HOSTPORTS") and rule.match("addrtype") is not None)


def _explain(kind: str, group: list[Rule], owner: str | None, between: list[Rule] | None = None) -> Msg:
    first = group[0]
    n = len(group)
    where = f"{first.table} {first.chain}"
    what = (msg("byte-identical") if kind == "exact" else
            msg("identical once comments, counters and option order are ignored"))
    text = msg("{n} rules in {where} are {what} (positions {positions}). A packet that passes the first copy "
               "reaches the next one(s) unchanged, so the extra copies never change a verdict on their own, "
               "but they show that whatever installs the rule could not see that it was already there. ",
               n=n, where=where, what=what, positions=", ".join(str(r.position) for r in group))
    if _cni_hostport_case(first):
        text += msg(
            "This is the known dockershim hostport leak (rancher/rke #2999, the seed's ingress-controller "
            "incident): up to Kubernetes 1.23 dockershim kept each pod sandbox's port mappings as "
            "checkpoint files under /var/lib/dockershim/sandbox. When kubelet runs in a container (RKE) "
            "without that directory bind-mounted, the checkpoints are lost whenever the kubelet "
            "container is re-created, e.g. on the 1.23 → 1.24 upgrade. Pod teardown then hands the CNI "
            "portmap plugin no port mappings, portmap's DEL does nothing (since v0.8.7), and the next "
            "ADD appends the top-level '-m addrtype --dst-type LOCAL -j "
            "{target}' jump (and a new per-pod entry) again. The duplicated jump is the visible "
            "symptom; stale per-pod entries in {target} pointing at dead pod IPs are what break "
            "ingress traffic (see the stale-hostport finding if there is one). Fix the cause by "
            "persisting the checkpoints: in RKE cluster.yml, services: kubelet: extra_binds: "
            "[\"/var/lib/dockershim:/var/lib/dockershim\"] (RKE ≥ v1.3.13 bind-mounts "
            "/var/lib/cri-dockerd itself for 1.24+). Kubernetes ≥ 1.24 does not have the issue; only the "
            "1.23 → 1.24 step needs care. Then remove the extra copy below, or reboot the node to "
            "flush and rebuild the rules.", target=first.target)
    elif kind == "normalized":
        text += msg("The copies differ only in comments or in the order of their options. A common cause is "
                 "iptables-nft 1.8.0–1.8.2, which stored comments natively and printed them after the "
                 "other matches, so 'iptables -C' never found the existing rule and every 'ensure' "
                 "appended another copy (fixed in iptables 1.8.3, commit ccf154d7).")
    else:
        text += msg("Typical causes: an agent's check-then-insert ('iptables -C' then '-A/-I') racing with "
                 "another instance of itself, a broken 'iptables -C' (iptables-nft 1.8.0–1.8.2 comment "
                 "reordering, fixed in 1.8.3), or hand-made rules added twice.")
    if between:
        text += msg(" Careful: {n} rule(s) between the copies can change the packet or its marks "
                    "(e.g. position {position}: -j {target}), so a later copy may still "
                    "match packets the first one did not; check before deleting.",
                    n=len(between), position=between[0].position, target=between[0].target)
    if owner:
        text += msg(" Owner by chain/target/comment: {owner}.", owner=owner)
    return text


def _fix(kind: str, group: list[Rule], binary: str, chain_rules: list[Rule]) -> list[str]:
    first = group[0]
    extra = group[1:]
    fix: list[str] = []
    if kind == "exact":
        fix.append(f"# Remove {'ONE copy' if len(extra) == 1 else f'the {len(extra)} extra copies'} by rule "
                   f"spec{'' if len(extra) == 1 else ' (run it ' + str(len(extra)) + ' times)'}. iptables -D "
                   f"deletes the FIRST rule that matches, i.e. the copy at position {first.position}; the "
                   f"last copy (now at position {group[-1].position}) stays and moves up.")
        fix.append(delete_commands(binary, first)[0])
        adjacent = group[-1].position - first.position == len(group) - 1
        if not adjacent:
            fix.append("# The copies are not next to each other, so deleting the first one moves the rule "
                       "further down the chain: prefer the position form below, which keeps the first copy.")
    else:
        unique = [r for r in extra
                  if not any(o.spec == r.spec for o in chain_rules if o.position < r.position)]
        if unique:
            fix.append("# Remove the later copies by their own rule spec (each spec matches only that copy):")
            fix.extend(delete_commands(binary, r)[0] for r in unique)
    positions = sorted((r.position for r in extra), reverse=True)
    listing = ipt_line(binary, first.table, ("-L", first.chain, "-n", "--line-numbers"))
    fix.append(shell_note(f"…or by position: delete the LAST copy first ({', '.join(map(str, positions))}). Deleting "
                          f"a rule renumbers only the rules below it, so going from the bottom up keeps the other "
                          f"numbers valid and keeps the first copy (position {first.position}) where it is. Check the "
                          f"numbers first: {listing.lstrip('# ')}"))
    fix.extend(ipt_line(binary, first.table, ("-D", first.chain, str(p))) for p in positions)
    return fix


def find_duplicates(ctx: Context) -> Iterator[Finding]:
    """One ``duplicate-rule`` finding per group of equal rules in a chain."""
    for name, rs in ctx.items():
        binary = binary_for(name, rs)
        for chain in rs.iter_chains():
            if len(chain.rules) < 2:
                continue
            for kind, group in duplicate_groups(chain.rules):
                first = group[0]
                owner = owner_of(first)
                n = len(group)
                spec = first.spec if len(first.spec) <= 90 else first.spec[:87] + '...'
                title = (msg("{table} {chain}: {n} copies of '{spec}'", table=first.table, chain=first.chain,
                             n=n, spec=spec) if kind == "exact" else
                         msg("{table} {chain}: {n} equivalent rules of '{spec}'", table=first.table,
                             chain=first.chain, n=n, spec=spec))
                if len(ctx.rulesets) > 1:
                    title += f" [{name}]"
                ev = rule_evidence(group, copy=list(range(1, n + 1)),
                                   action=["keep"] + ["remove"] * (n - 1))
                between = changers_between(chain.rules, group)
                yield Finding("duplicate-rule", "warning", title, _explain(kind, group, owner, between), ev,
                              _fix(kind, group, binary, chain.rules), owner, first.table, first.chain)


def find_nft_duplicates(ctx: Context) -> Iterator[Finding]:
    """One ``nft-duplicate-rule`` finding per group of identical rules in a chain of the nft view.

    Counter values and handles do not count (``nft -s``'s text). iptables-nft's own tables are left
    to :func:`find_duplicates` when the dump has their iptables-save view (which keeps comments)."""
    nft = ctx.nft
    if nft is None:
        return
    from ..nft.rule_text import stateless
    from ..owners import nft_owner_of
    from ..shell_command import commands_or_refusal
    have_save = any(len(rs) for _, rs in ctx.items())
    src = getattr(nft, "source", "nft")
    for t in nft.tables.values():
        if t.iptables_nft and have_save:
            continue
        for chain in t.chains.values():
            if len(chain.rules) < 2:
                continue
            groups: dict[str, list] = {}
            for r in chain.rules:
                groups.setdefault(stateless(r.text), []).append(r)
            for spec, group in groups.items():
                if len(group) < 2:
                    continue
                n = len(group)
                owner = nft_owner_of(t.name, chain.name, iptables_nft=t.iptables_nft)
                ev = pd.DataFrame({"family": t.family, "table": t.name, "chain": chain.name,
                                   "position": [r.position for r in group],
                                   "handle": pd.array([r.handle for r in group], dtype="Int64"),
                                   "spec": spec, "copy": list(range(1, n + 1)),
                                   "action": ["keep"] + ["remove"] * (n - 1),
                                   "origin": [f"{src}:{r.line}" for r in group]})
                fix = []
                for r in group[1:]:
                    if r.handle is None:
                        fix.append("# no handle in this listing: collect `nft -a list ruleset` to delete by handle")
                        break
                    fix.append(commands_or_refusal([["nft", "delete", "rule", t.family, t.name, chain.name,
                                                     "handle", str(r.handle)]]))
                shown = spec if len(spec) <= 90 else spec[:87] + "..."
                yield Finding(
                    "nft-duplicate-rule", "warning",
                    msg("{family} {table} {chain}: {n} copies of '{spec}'", family=t.family, table=t.name,
                        chain=chain.name, n=n, spec=shown),
                    msg("The same rule appears {n} times in nft chain {chain} of table {family} {table}. The first "
                        "copy decides every packet the rule matches (a terminal verdict) or applies its statements "
                        "again on each copy; the later copies are leftovers of an agent that appended instead of "
                        "checking (portmap's nft backend, a CNI restarting, or iptables-nft 1.8.0-1.8.2's "
                        "comment bug for iptables-nft tables). Delete the later copies by handle.",
                        n=n, chain=chain.name, family=t.family, table=t.name),
                    ev, fix, owner, t.name, chain.name)
