"""``-m connlimit`` (``xt_connlimit`` over ``nf_conncount``): the number of connections of the packet's
source (or destination) network, compared with a limit.

Kernel semantics (``net/netfilter/xt_connlimit.c`` ``connlimit_mt``, read beside this code): the count
includes the packet's own connection (``nf_conncount_count`` adds it), and the match is
``(count > limit) XOR invert``, where ``--connlimit-upto N`` is the inverted ``--connlimit-above N``.
The simulator knows of no other connection (the lab flushes conntrack before each packet): the
count is 1, so ``--connlimit-above N`` matches iff N is 0 and ``--connlimit-upto N`` iff N >= 1.
The same packet meeting the same rule again (a chain entered twice) counts its connection once
more: the entry is not confirmed before the packet leaves the last hook, so the rule's list does
not find it and adds it again (seen in the kernel on both backends, Linux 6.18: count 2).
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import State
from ._first_packet import take
from ._header_checks import number
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

_ASSUMPTION = ("-m connlimit: the packet's connection is taken as the only one of its source (count 1); "
               "other connections are not known")


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    limit = None
    for o in m.options:
        if o.flag in ("--connlimit-above", "--connlimit-upto"):
            # "! --connlimit-above N" is "--connlimit-upto N" and back
            limit = (number(o.value, "connlimit"), (o.flag == "--connlimit-upto") != o.negated)
        elif o.flag not in ("--connlimit-mask", "--connlimit-saddr", "--connlimit-daddr"):
            comp.unknown_option(m, o, checks)
    if limit is None:
        comp.assumed_module(rule, m, checks, stats)
        return
    n, upto = limit
    desc = m.to_save()

    def chk(s: State, n=n, upto=upto, desc=desc, key=(rule.table, rule.chain, rule.position)):
        s.note(_ASSUMPTION)
        count = 1 + take(s, "connlimit", key)  # the rule met again: its own unconfirmed entry is counted again
        if (count > n) != upto:
            return None
        return f"{desc}: {count} connection(s) (this one) is {'more than' if upto else 'not more than'} {n}"
    checks.append(chk)


def _text(m: Match) -> str:
    """`` #conn src/32 > 3`` (libxt_connlimit).

    >>> _text(Match("connlimit", (Option("--connlimit-upto", ("2",)), Option("--connlimit-mask", ("24",)),
    ...                           Option("--connlimit-daddr"))))
    ' #conn dst/24 <= 2'
    """
    above, upto = m.get("--connlimit-above"), m.get("--connlimit-upto")
    o = above or upto
    is_upto = (o is upto) != bool(o and o.negated)
    mask = m.get("--connlimit-mask")
    side = "dst" if m.get("--connlimit-daddr") is not None else "src"
    return f" #conn {side}/{mask.value if mask else 32} {'<=' if is_upto else '>'} {o.value if o else 0}"


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 3 >= len(t) or t[i + 2] not in (">", "<="):
        raise NotThisReader
    side, _, mask = t[i + 1].partition("/")
    if side not in ("src", "dst") or not mask.isdecimal() or not t[i + 3].isdecimal():
        raise NotThisReader
    flag = "--connlimit-above" if t[i + 2] == ">" else "--connlimit-upto"
    return Match("connlimit", (Option(flag, (t[i + 3],)), Option("--connlimit-mask", (mask,)),
                               Option("--connlimit-saddr" if side == "src" else "--connlimit-daddr"))), i + 4


EXTENSIONS = (
    Extension("connlimit", "match", "the number of connections of the source (or destination) network against a limit",
              options=(OptionSpec("--connlimit-above"), OptionSpec("--connlimit-upto"),
                       OptionSpec("--connlimit-mask", negatable=False), OptionSpec("--connlimit-saddr", 0, negatable=False),
                       OptionSpec("--connlimit-daddr", 0, negatable=False)),
              listing_words=("#conn",), read_listing=_read, listing_text=_text, compile=_compile,
              owners=("hardened hosts",)),
)
