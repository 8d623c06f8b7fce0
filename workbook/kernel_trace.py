"""The kernel's trace events (``xtables-monitor --trace``, ``nft monitor trace``) turned into a Trace: one home for the kernel labs and for captures read from a file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .model import BUILTIN_CHAINS, Ruleset
from .packet import Branch, Packet, Step, Trace

__all__ = ["xtables_events_to_trace", "nft_events_to_trace", "NftPlaces"]

#: where a rule event lands: (chain, position) in the iptables view, or None (not a rule we know)
Locate = Callable[[Any], "tuple[str, int] | None"]  # an event of either monitor (xtables or nft)


def _verdict(steps: list[Step], hook: str, notes: list[str], complete: bool, kernel_drop: bool = False) -> str:
    verdict = "ACCEPT"
    for s in steps:
        if s.action in ("DROP", "REJECT", "policy:DROP"):
            verdict = "REJECT" if s.action == "REJECT" else "DROP"
    if kernel_drop and verdict == "ACCEPT":
        verdict = "DROP"
    if verdict == "ACCEPT" and hook not in ("INPUT", "POSTROUTING"):
        if complete:
            # Every hook has a (maybe hidden) chain, so an accepted packet ends in INPUT or POSTROUTING.
            verdict = "DROP"
            notes.append(f"the kernel dropped the packet after {hook} without a rule doing it (routing: "
                         "e.g. a 127.0.0.0/8 source leaving the host needs route_localnet=1, or a martian address)")
        else:
            notes.append(f"the capture shows nothing after {hook}: no traced chain at a later hook, or the "
                         "packet was lost to routing there; the verdict is the last one seen")
    return verdict


def xtables_events_to_trace(packet: Packet, events: Iterable, ruleset: Ruleset, locate: Locate,
                            visible: Callable[[str, str], bool], *, trace_chain: str = "",
                            ct_dnat: tuple[str, int | None] | None = None, complete: bool = True,
                            notes: list[str] | None = None) -> Trace:
    """A Trace from :class:`~workbook.lab.MonitorEvent` s (``xtables-monitor --trace``, or the legacy
    nflog listener's events, which name rules by number).

    ``locate(event)`` says which rule of ``ruleset`` a rule event is (by handle, or by text);
    ``visible(table, chain)`` whether a chain belongs to the ruleset (not to whoever switched
    tracing on); ``trace_chain`` the raw chain holding a legacy TRACE rule (it shifts numbers);
    ``ct_dnat`` the reply source conntrack saw; ``complete``: the events reach the packet's last
    hook when it was not dropped (a lab's witnesses), so ending elsewhere means routing dropped it.
    """
    rs = ruleset
    steps: list[Step] = []
    hook = "OUTPUT" if packet.from_node else "PREROUTING"
    notes = list(notes or [])
    kernel_drop = False
    for ev in events:
        if ev.chain in BUILTIN_CHAINS.get(ev.table, ()):
            hook = ev.chain
        if not visible(ev.table, ev.chain):
            continue  # raw holding the TRACE rule, or a chain added to watch the packet
        kind = ev.kind
        if ev.number is not None and kind in ("policy", "return"):
            # legacy labels every unconditional -j ACCEPT/DROP/RETURN rule a chain "tail" (policy or
            # return): it is a real rule when its number is within the chain
            c = rs.tables[ev.table].chains.get(ev.chain)
            n = ev.number - (1 if ev.table == "raw" and ev.chain == trace_chain else 0)
            if c is not None and 1 <= n <= len(c.rules):
                kind = "rule"
        if kind == "policy":
            verdict = ev.verdict
            if ev.number is not None:  # legacy prints no verdict: the chain's policy it is
                c = rs.tables[ev.table].chains.get(ev.chain)
                verdict = (c.policy if c is not None else None) or "ACCEPT"
            steps.append(Step(hook, ev.table, ev.chain, None, None, True, f"policy:{verdict}"))
            continue
        if kind == "return":
            steps.append(Step(hook, ev.table, ev.chain, None, None, True, "RETURN"))
            continue
        loc = locate(ev) if ev.number is None else None
        if loc is None and ev.table == "raw" and (ev.text or "").endswith("-j TRACE"):
            continue  # the TRACE rule that switched tracing on
        rule = None
        pos = None
        if ev.number is not None:
            # legacy: the rule number, counting the TRACE rule at the top of raw's chain
            loc = (ev.chain, ev.number - (1 if ev.table == "raw" and ev.chain == trace_chain else 0))
        if loc is not None:
            chain, pos = loc
            try:
                rule = rs.chain(ev.table, chain).rules[pos - 1]
            except (KeyError, IndexError):
                rule = None
        action = _rule_action(rule, rs) if rule is not None else ev.verdict
        steps.append(Step(hook, ev.table, ev.chain, pos if rule is not None else None,
                          rule.spec if rule else ev.text, True, action))
        if ev.verdict == "DROP" and action not in ("DROP", "REJECT"):
            kernel_drop = True
            notes.append(f"{ev.table} {ev.chain} rule {pos}: the kernel dropped the packet here "
                         f"({action} failed: e.g. MASQUERADE with no address on the way out)")
    verdict = _verdict(steps, hook, notes, complete, kernel_drop)
    dnat = snat = None
    masq = False
    for s in steps:
        if s.position is None:
            continue
        r = rs.chain(s.table, s.chain).rules[s.position - 1]
        if s.action == "DNAT":
            o = r.target_option("--to-destination")
            dnat = o.value if o else None
        elif s.action == "SNAT":
            o = r.target_option("--to-source")
            snat = o.value if o else None
        elif s.action == "MASQUERADE":
            masq = True
    if ct_dnat is not None:
        ip, port = ct_dnat
        dnat = f"{ip}:{port}" if port is not None else ip
    elif dnat is not None and ":" not in dnat and packet.dport:
        dnat = f"{dnat}:{packet.dport}"
    return Trace(packet, [Branch(1.0, verdict, steps, dnat, snat, masq, notes)], source="kernel")


def _rule_action(rule, rs: Ruleset) -> str:
    from .lab import rule_action
    return rule_action(rule, rs)


@dataclass
class NftPlaces:
    """Where the events of ``nft monitor trace`` land in a dump or a lab.

    ``hooks``: (family, table, chain) → HOOK of each native base chain; ``native``: the native
    tables (family, table) that belong to the trace; ``locate_native(event)`` → the rule's
    position in its chain (or None); ``locate_iptables(event)`` → (chain, position) in the iptables
    view of an iptables-nft table; ``visible(table, chain)``: an iptables-nft chain of the ruleset;
    ``witness``: tables whose events only say where the packet is (a lab's witness chains),
    chain name → hook.
    """

    hooks: dict[tuple[str, str, str], str] = field(default_factory=dict)
    native: set[tuple[str, str]] = field(default_factory=set)
    locate_native: Callable[[Any], "int | None"] = lambda ev: None
    locate_iptables: Locate = lambda ev: None
    visible: Callable[[str, str], bool] = lambda table, chain: True
    witness: dict[str, dict[str, str]] = field(default_factory=dict)
    #: show rule events of iptables-nft tables that ``locate_iptables`` does not find, with the
    #: kernel's text (a capture read from a file); a lab leaves them out (its own switches)
    keep_unknown: bool = False


def nft_events_to_trace(packet: Packet, events: Iterable, ruleset: Ruleset, places: NftPlaces, *,
                        ct_dnat: tuple[str, int | None] | None = None, complete: bool = True,
                        notes: list[str] | None = None) -> Trace:
    """A Trace from :class:`~workbook.nft.lab.NftEvent` s: native steps carry ``family`` and
    ``handle`` and the rule text as ``nft list ruleset`` prints it; steps of iptables-nft tables
    (``ruleset``'s tables) are named as in iptables-save."""
    from .lab import rule_action
    from .nft.actions import nft_action

    rs = ruleset
    steps: list[Step] = []
    notes = list(notes or [])
    hook = "OUTPUT" if packet.from_node else "PREROUTING"
    for ev in events:
        key = (ev.family, ev.table, ev.chain)
        if ev.table in places.witness:
            hook = places.witness[ev.table].get(ev.chain, hook)
            continue
        iptables = ev.family == "ip" and ev.table in rs.tables and (ev.family, ev.table) not in places.native
        if key in places.hooks:
            hook = places.hooks[key]
        elif iptables and ev.chain in BUILTIN_CHAINS.get(ev.table, ()):
            hook = ev.chain
        if ev.kind == "packet":
            continue
        if iptables:
            if not places.visible(ev.table, ev.chain):
                continue
            if ev.kind == "policy":
                steps.append(Step(hook, ev.table, ev.chain, None, None, True, f"policy:{ev.verdict.upper()}"))
                continue
            loc = places.locate_iptables(ev)
            if loc is None:
                if places.keep_unknown and ev.kind == "rule":
                    steps.append(Step(hook, ev.table, ev.chain, None, ev.text, True,
                                      nft_action(ev.text or "", ev.verdict)))
                continue  # else a rule added to watch the packet (a lab's conntrack switch)
            chain, pos = loc
            rule = rs.chain(ev.table, chain).rules[pos - 1]
            steps.append(Step(hook, ev.table, ev.chain, pos, rule.spec, True, rule_action(rule, rs)))
            continue
        if (ev.family, ev.table) not in places.native:
            continue
        if ev.kind == "policy":
            steps.append(Step(hook, ev.table, ev.chain, None, None, True, f"policy:{ev.verdict.upper()}",
                              family=ev.family))
            continue
        if ev.kind != "rule":
            continue
        native_pos = places.locate_native(ev)
        steps.append(Step(hook, ev.table, ev.chain, native_pos, ev.text, True, nft_action(ev.text or "", ev.verdict),
                          family=ev.family, handle=ev.handle))
    verdict = _verdict(steps, hook, notes, complete)
    dnat = snat = None
    masq = False
    for s in steps:
        if s.action == "DNAT" and s.family is not None and s.spec:
            m = re.search(r"\bdnat(?: ip)? to (\S+)", s.spec)
            dnat = m.group(1) if m else None
        elif s.action == "SNAT" and s.family is not None and s.spec:
            m = re.search(r"\bsnat(?: ip)? to (\S+)", s.spec)
            snat = m.group(1) if m else None
        elif s.action == "MASQUERADE":
            masq = True
        elif s.action == "DNAT" and s.family is None and s.position is not None:
            o = rs.chain(s.table, s.chain).rules[s.position - 1].target_option("--to-destination")
            dnat = o.value if o else None
    if ct_dnat is not None:
        ip, port = ct_dnat
        dnat = f"{ip}:{port}" if port is not None else ip
    return Trace(packet, [Branch(1.0, verdict, steps, dnat, snat, masq, notes)], source="kernel")
