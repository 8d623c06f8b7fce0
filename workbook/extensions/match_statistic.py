"""``-m statistic`` (``xt_statistic``): a random share of packets (``--mode random``) or every n-th one (``--mode nth``).

``--mode random --probability p`` splits the trace into two branches (chosen with probability p,
or 1-p with ``!``). ``--mode nth --every n --packet k``: the kernel advances the rule's counter by
one per packet (wrapping after n-1) and matches when it equals k; the first packet since the rule
was loaded is the chosen one iff k is 0 (see :func:`nth_first_hit`). The simulator judges each
packet as the first since the rules were loaded (the lab re-inserts the rule before each packet).
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Assume, State
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]


def nth_first_hit(every: int, packet: int) -> bool:
    """Whether the first packet since the rule was loaded is the chosen one: iff ``packet`` is 0
    (the rule's counter starts at ``every - 1``, so the first packet wraps it to 0; checked in the
    kernel on both backends: ``--every 2 --packet 1``, ``--every 4 --packet 2`` miss the first packet).

    >>> [nth_first_hit(2, 0), nth_first_hit(2, 1), nth_first_hit(4, 2), nth_first_hit(5, 0)]
    [True, False, False, True]
    """
    return packet == 0


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    mode = m.get("--mode")
    if mode is None:
        comp.assumed_module(rule, m, checks, stats)
        return
    if mode.value == "random":
        p = m.get("--probability")
        prob = float(p.value) if p else 0.5
        if p is not None and p.negated:
            prob = 1.0 - prob
        stats.append(prob)
    elif mode.value == "nth":
        every, packet = m.get("--every"), m.get("--packet")
        n = int(every.value) if every else 1
        k = int(packet.value) if packet else 0
        neg = bool(every and every.negated)
        hit = nth_first_hit(n, k)
        desc = m.to_save()

        def chk(s: State, desc=desc, hit=hit, neg=neg):
            if hit != neg:
                return Assume(f"{desc}: assumed to be the first packet since the rule was loaded (counter 0): it matches")
            return f"{desc}: not the chosen packet when the counter is 0 (the first packet since the rule was loaded; assumed)"
        checks.append(chk)
    else:
        comp.unknown_option(m, mode, checks)


def _bang(o: Option) -> str:
    return "! " if o.negated else ""


def _text(m: Match) -> str:
    """`` statistic mode nth ! every 3`` (libxt_statistic; ``packet 0`` is not shown).

    >>> _text(Match("statistic", (Option("--mode", ("nth",)), Option("--every", ("4",)), Option("--packet", ("2",)))))
    ' statistic mode nth every 4 packet 2'
    """
    out = " statistic"
    mode = m.get("--mode")
    if mode is not None:
        out += f" mode {mode.value}"
    for o in m.options:
        if o.flag == "--probability":
            out += f" {_bang(o)}probability {o.value}"
        elif o.flag == "--every":
            out += f" {_bang(o)}every {o.value}"
        elif o.flag == "--packet" and o.value != "0":
            out += f" packet {o.value}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 2 >= len(t) or t[i + 1] != "mode":
        raise NotThisReader
    mode = t[i + 2]
    opts = [Option("--mode", (mode,))]
    j, inv, n = i + 3, neg, len(t)
    while j < n:
        w = t[j]
        if w == "!":
            inv, j = True, j + 1
            continue
        if mode == "random" and w == "probability" and j + 1 < n:
            opts.append(Option("--probability", (t[j + 1],), inv))
        elif mode == "nth" and w == "every" and j + 1 < n:
            opts.append(Option("--every", (t[j + 1],), inv))
        elif mode == "nth" and w == "packet" and j + 1 < n:
            opts.append(Option("--packet", (t[j + 1],)))
        else:
            break
        inv = False
        j += 2
    if mode == "nth" and not any(o.flag == "--packet" for o in opts):
        opts.append(Option("--packet", ("0",)))  # iptables-save prints --packet 0; -L leaves it out
    return Match("statistic", tuple(opts)), j


EXTENSIONS = (
    Extension("statistic", "match", "a random share of packets, or every n-th packet",
              options=(OptionSpec("--mode", negatable=False), OptionSpec("--probability"), OptionSpec("--every"),
                       OptionSpec("--packet", negatable=False)),
              listing_words=("statistic",), read_listing=_read, listing_text=_text, compile=_compile,
              owners=("kube-proxy", "Calico", "Docker")),
)
