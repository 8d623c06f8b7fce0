"""Matches on what conntrack keeps beside the state: ``-m helper`` (the helper of the connection's master),
``-m connbytes`` (its byte/packet counters) and ``-m connlabel`` (its label bits).

Kernel semantics (``net/netfilter/xt_helper.c``, ``xt_connlabel.c``, read beside this code): a packet
without a conntrack entry (INVALID, UNTRACKED, or in the raw table, before conntrack runs) matches
neither ``--helper`` nor ``--label``: only their negation. ``--helper`` looks at the helper of the
connection's master, which only a RELATED connection has: any other packet matches only
``! --helper``; a RELATED one is assumed. A NEW connection has no label yet: ``--label N`` does not
match it (unless this packet's walk set it), ``--label N --set`` sets the bit and matches; an older connection's labels are assumed.
``connbytes`` counts what the connection carried so far (accounting switched on by the rule): assumed.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader, unquote, value_after
from ..trace.state import Assume, State
from ._assumed import assume_with
from ._first_packet import take
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]


def has_entry(s: State) -> bool:
    """Whether the packet has a conntrack entry where it is now (not in raw, except a node's packet
    looped back with the entry it got in OUTPUT; not INVALID or UNTRACKED)."""
    if s.ctstate in ("INVALID", "UNTRACKED"):
        return False
    return s.table != "raw" or (s.from_node and s.hook == "PREROUTING")


def _compile_helper(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    for o in m.options:
        if o.flag != "--helper":
            comp.unknown_option(m, o, checks)
            continue
        desc, neg = m.to_save(), o.negated

        def chk(s: State, desc=desc, neg=neg):
            if has_entry(s) and s.ctstate == "RELATED":
                return Assume(f"{desc}: the helper of a RELATED connection's master is not known; assumed to match")
            if neg:
                return None
            return f"{desc}: a {s.ctstate} packet {'here ' if has_entry(s) else ''}has no master connection's helper"
        checks.append(chk)


def _compile_connlabel(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    label = m.get("--label")
    if label is None:
        comp.assumed_module(rule, m, checks, stats)
        return
    neg, setting, desc = label.negated, m.get("--set") is not None, m.to_save()

    def chk(s: State, desc=desc, neg=neg, setting=setting, bit=label.value):
        if not has_entry(s):
            have = False
        elif s.ctstate == "NEW":  # no label but those this packet's walk set: --set sets it and matches
            have = setting or take(s, "connlabel", bit, 0) > 0
            if setting:
                take(s, "connlabel", bit)
        else:
            return Assume(f"{desc}: the labels of a {s.ctstate} connection are not known; assumed to match")
        if have != neg:
            return None
        return f"{desc}: the connection {'has' if have else 'does not have'} this label"
    checks.append(chk)


# ---- the -L renderings ---------------------------------------------------------------------------
def _text_helper(m: Match) -> str:
    """`` helper match ! "irc"``.

    >>> _text_helper(Match("helper", (Option("--helper", ("irc",), True),)))
    ' helper match ! "irc"'
    """
    o = m.get("--helper")
    return f' helper match {"! " if o and o.negated else ""}"{o.value if o else ""}"'


def _read_helper(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 2 >= len(t) or t[i + 1] != "match":
        raise NotThisReader
    inv, v, j = value_after(t, i + 2, neg, glued=False)
    return Match("helper", (Option("--helper", (unquote(v),), inv),)), j


def _text_connbytes(m: Match) -> str:
    """`` ! connbytes 1000 connbytes mode bytes connbytes direction original``.

    >>> _text_connbytes(Match("connbytes", (Option("--connbytes", ("10:100",)), Option("--connbytes-mode", ("packets",)),
    ...                                    Option("--connbytes-dir", ("both",)))))
    ' connbytes 10:100 connbytes mode packets connbytes direction both'
    """
    o, mode, d = m.get("--connbytes"), m.get("--connbytes-mode"), m.get("--connbytes-dir")
    return (f" {'! ' if o and o.negated else ''}connbytes {o.value if o else ''} connbytes mode "
            f"{mode.value if mode else ''} connbytes direction {d.value if d else ''}")


def _read_connbytes(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 7 >= len(t) or (t[i + 2], t[i + 3], t[i + 5], t[i + 6]) != (
            "connbytes", "mode", "connbytes", "direction"):
        raise NotThisReader
    v = t[i + 1]
    inv = neg or v.startswith("!")
    return Match("connbytes", (Option("--connbytes", (v.lstrip("!"),), inv), Option("--connbytes-mode", (t[i + 4],)),
                               Option("--connbytes-dir", (t[i + 7],)))), i + 8


def _text_connlabel(m: Match) -> str:
    """`` connlabel ! 5 set``.

    >>> _text_connlabel(Match("connlabel", (Option("--label", ("5",), True), Option("--set"))))
    ' connlabel ! 5 set'
    """
    o = m.get("--label")
    out = f" connlabel {'! ' if o and o.negated else ''}{o.value if o else ''}"
    return out + (" set" if m.get("--set") is not None else "")


def _read_connlabel(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    inv, v, j = value_after(t, i + 1, neg, glued=False)
    opts = [Option("--label", (unquote(v),), inv)]
    if j < len(t) and t[j] == "set":
        opts.append(Option("--set"))
        j += 1
    return Match("connlabel", tuple(opts)), j


EXTENSIONS = (
    Extension("helper", "match", "the conntrack helper (ftp, sip...) of the connection's master",
              options=(OptionSpec("--helper"),), listing_words=("helper",), read_listing=_read_helper,
              listing_text=_text_helper, compile=_compile_helper, owners=("hardened hosts",)),
    Extension("connbytes", "match", "the bytes or packets the connection carried so far (or their average)",
              status="assumed", reason="the connection's counters are not known to the tracer",
              options=(OptionSpec("--connbytes"), OptionSpec("--connbytes-mode", negatable=False),
                       OptionSpec("--connbytes-dir", negatable=False)),
              listing_words=("connbytes",), read_listing=_read_connbytes, listing_text=_text_connbytes,
              compile=assume_with("the connection's byte and packet counters are not known")),
    Extension("connlabel", "match", "a label bit of the connection (and --set to set it)",
              options=(OptionSpec("--label"), OptionSpec("--set", 0, negatable=False)),
              listing_words=("connlabel",), read_listing=_read_connlabel, listing_text=_text_connlabel,
              compile=_compile_connlabel),
)
