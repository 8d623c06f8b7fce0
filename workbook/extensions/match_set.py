"""``-m set``: is the packet's key in an ipset (``libxt_set``, ``xt_set``)? Decided on the
sets the trace is given (``ipsets=``), with the changes ``-j SET`` made earlier in the walk."""

from __future__ import annotations

from ..model import Match, Option
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Assume, AssumeFail, State, set_members
from ._ipset import UNKNOWN_KIND, find_member, key_text, split_flags
from .registry import Extension, OptionSpec

#: the counter conditions (``--packets-gt 5``): only a set created with ``counters`` has them
COUNTERS = ("--packets-eq", "--packets-lt", "--packets-gt", "--bytes-eq", "--bytes-lt", "--bytes-gt")
_SWITCHES = ("--return-nomatch", "--update-counters", "--update-subcounters")
_NEGATABLE_WORDS = ("update-counters", "update-subcounters", "packets-eq", "bytes-eq")


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    """``[!] match-set NAME FLAGS [return-nomatch] [! update-counters] [! update-subcounters]
    [[!] packets-eq N] [packets-lt N] ...`` (the order ``set_printv*`` prints)."""
    if t[i] != "match-set" or i + 2 >= len(t):
        raise NotThisReader
    opts = [Option("--match-set", (t[i + 1], t[i + 2]), neg)]
    j, n = i + 3, len(t)
    while j < n:
        inv = t[j] == "!" and j + 1 < n and t[j + 1] in _NEGATABLE_WORDS
        w = t[j + 1] if inv else t[j]
        flag = "--" + w
        if flag in _SWITCHES:
            opts.append(Option(flag, (), inv))
            j += 2 if inv else 1
        elif flag in COUNTERS and j + (2 if inv else 1) < n:
            opts.append(Option(flag, (t[j + (2 if inv else 1)],), inv))
            j += 3 if inv else 2
        else:
            break
    return Match("set", tuple(opts)), j


def _text(m: Match) -> str:
    """What ``iptables -L`` prints.

    >>> _text(Match("set", (Option("--match-set", ("S", "src,dst"), True), Option("--update-counters", (), True))))
    ' ! match-set S src,dst ! update-counters'
    """
    out = ""
    for o in m.options:
        bang = "! " if o.negated else ""
        word = o.flag[2:]
        out += f" {bang}{word}" + (f" {' '.join(o.args)}" if o.args else "")
    return out


def _compile(comp, rule, m: Match, checks: list, stats: list) -> None:
    """One check per ``--match-set``; the counter conditions are assumed to hold on a member."""
    ctx_ref = comp.ctx_ref
    nomatch = m.get("--return-nomatch") is not None
    counters = [o.to_save() for o in m.options if o.flag in COUNTERS]
    for o in m.options:
        if o.flag in _SWITCHES or o.flag in COUNTERS:
            continue
        if o.flag != "--match-set":
            comp.unknown_option(m, o, checks)
            continue
        name, dirs = split_flags(o.args)
        desc, neg = f"-m set {o.to_save()}", o.negated

        def chk(s: State, name=name, dirs=dirs, desc=desc, neg=neg):
            members, complete = set_members(s, ctx_ref[0], name)
            member = find_member(members, dirs, s)
            key = key_text(dirs, s)
            if member is UNKNOWN_KIND:
                return Assume(f"{desc}: set {name} has members of a kind the tracer cannot compare; assumed to match")
            if member is None and not complete:
                return Assume(f"{desc}: set {name!r} contents not given (ipsets=...); assumed to match")
            flagged = member is not None and member[-1] == ("nomatch",)
            hit = flagged if nomatch else member is not None and not flagged
            if hit != neg:
                if hit and counters:
                    return Assume(f"{desc} {' '.join(counters)}: the member's counters are not known (a set "
                                  f"without counters ignores them); assumed to hold")
                return None
            if flagged:
                why = f"{desc}: {key} is in {name} as a nomatch member"
            else:
                why = f"{desc}: {key} is {'not ' if member is None else ''}in {name}"
            return why if complete or member is not None else AssumeFail(why)
        checks.append(chk)


EXTENSIONS = (
    Extension("set", "match", "is the packet's address (and port) in an ipset", read_listing=_read,
              listing_text=_text, compile=_compile, listing_words=("match-set",),
              options=(OptionSpec("--match-set", nargs=2), OptionSpec("--return-nomatch", 0, False),
                       OptionSpec("--update-counters", 0), OptionSpec("--update-subcounters", 0),
                       *(OptionSpec(f, negatable=f.endswith("-eq")) for f in COUNTERS)),
              owners=("Calico", "kube-proxy (ipvs mode)", "firewalld", "Docker (--ipset)")),
)
