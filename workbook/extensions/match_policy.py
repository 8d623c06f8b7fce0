"""``-m policy`` (``xt_policy``): the IPsec policy that did (``--dir in``) or will (``--dir out``) apply.

The tracer's packets are never IPsec-protected (a dump holds no xfrm state): ``--pol none``
matches and ``--pol ipsec`` does not, whatever its other options (``policy_mt`` returns the
``none`` flag when no policy applied). The step notes that assumption.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import State
from ..vocab import protocol_name, protocol_number
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

#: listing word -> save flag, per policy element (libxt_policy print_entry / save order)
_ELEMENT = ("reqid", "spi", "proto", "mode", "tunnel-dst", "tunnel-src")


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    pol = m.get("--pol")
    desc = m.to_save()
    if pol is None:
        comp.unknown_option(m, Option("--pol"), checks)
        return
    want_none = pol.value == "none"

    def chk(s: State):
        s.note("-m policy: the packet is assumed not to be IPsec-protected (a dump has no xfrm state)")
        return None if want_none else f"{desc}: the packet is not IPsec-protected"
    checks.append(chk)


def _text(m: Match) -> str:
    """`` policy match dir in pol ipsec strict [0] reqid 5 proto 50 [1] proto 51``."""
    out = " policy match"
    elements: list[list[Option]] = [[]]
    for o in m.options:
        if o.flag in ("--dir", "--pol"):
            out += f" {o.flag[2:]} {o.value}"
        elif o.flag == "--strict":
            out += " strict"
        elif o.flag == "--next":
            elements.append([])
        else:
            elements[-1].append(o)
    many = len(elements) > 1
    for k, el in enumerate(elements):
        if many:
            out += f" [{k}]"
        for o in sorted(el, key=lambda o: _ELEMENT.index(o.flag[2:]) if o.flag[2:] in _ELEMENT else 9):  # print_entry's order
            v = o.value
            if o.flag == "--proto":
                num = protocol_number(v)
                v = v if num is None else str(num)
            out += f"{' !' if o.negated else ''} {o.flag[2:]} {v}"
    return out


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise NotThisReader
    j = i + 2
    n = len(t)
    opts: list[Option] = []
    while j + 1 < n and t[j] in ("dir", "pol"):
        opts.append(Option("--" + t[j], (t[j + 1],)))
        j += 2
    if j < n and t[j] == "strict":
        opts.append(Option("--strict"))
        j += 1
    inv = False
    while j < n:
        w = t[j]
        if w.startswith("[") and w.endswith("]") and w[1:-1].isdecimal():
            if w != "[0]":
                opts.append(Option("--next"))
            j += 1
        elif w == "!":
            inv, j = True, j + 1
        elif w in _ELEMENT and j + 1 < n:
            v = protocol_name(t[j + 1]) if w == "proto" else t[j + 1]
            opts.append(Option("--" + w, (v,), inv))
            inv, j = False, j + 2
        else:
            break
    return Match("policy", tuple(opts)), j


EXTENSIONS = (
    Extension("policy", "match", "the IPsec policy of the packet (none, or ipsec with its elements)",
              options=(OptionSpec("--dir", negatable=False), OptionSpec("--pol", negatable=False),
                       OptionSpec("--strict", nargs=0, negatable=False), OptionSpec("--next", nargs=0, negatable=False),
                       *(OptionSpec("--" + w) for w in _ELEMENT)),
              listing_words=("policy",), owners=("Calico", "firewalld"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
