"""``-m iprange`` (``xt_iprange``): the source or destination address within an inclusive range."""

from __future__ import annotations

from ..addr import format_ip, parse_ip
from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import State
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    for o in m.options:
        if o.flag not in ("--src-range", "--dst-range"):
            comp.unknown_option(m, o, checks)
            continue
        a, _, b = o.value.partition("-")
        lo, hi = parse_ip(a), parse_ip(b or a)
        field = "src_i" if o.flag == "--src-range" else "dst_i"
        desc, neg = o.to_save(), o.negated

        def chk(s: State, lo=lo, hi=hi, field=field, desc=desc, neg=neg):
            v, x = getattr(s, field)
            ok = v == lo[0] and lo[1] <= x <= hi[1]
            return None if ok != neg else f"{desc} does not match {format_ip(v, x)}"
        checks.append(chk)


def _text(m: Match) -> str:
    """`` source IP range A-B destination IP range ! C-D``.

    >>> _text(Match("iprange", (Option("--src-range", ("10.0.0.1-10.0.0.9",), True),)))
    ' source IP range ! 10.0.0.1-10.0.0.9'
    """
    out = ""
    for o in m.options:
        word = "source" if o.flag == "--src-range" else "destination"
        out += f" {word} IP range{' !' if o.negated else ''} {o.value}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    opts: list[Option] = []
    n = len(t)
    while i + 3 < n and t[i] in ("source", "destination") and t[i + 1] == "IP" and t[i + 2] == "range":
        j = i + 3
        inv = False
        if t[j] == "!":
            inv, j = True, j + 1
        if j >= n:
            break
        opts.append(Option("--src-range" if t[i] == "source" else "--dst-range", (t[j],), inv))
        i = j + 1
    if not opts:
        raise NotThisReader
    return Match("iprange", tuple(opts)), i


EXTENSIONS = (
    Extension("iprange", "match", "the source or destination address within an inclusive range",
              options=(OptionSpec("--src-range"), OptionSpec("--dst-range")),
              listing_words=("source", "destination"), owners=("firewalld", "Calico"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
