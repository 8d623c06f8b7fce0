"""``-m mark`` (the packet's mark, ``xt_mark``) and ``-m connmark`` (its connection's mark, ``xt_connmark``).

Both test ``(mark & mask) == value``, negated by ``!``. A packet without a conntrack entry
(INVALID, UNTRACKED, or any packet in the raw table, which runs before conntrack) never matches
``-m connmark``, negated or not (``connmark_mt`` returns false when ``nf_ct_get`` finds none).
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader, value_after
from ..trace.state import State
from ._ct_entry import no_entry
from ._marks import mark_mask
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]


def _mark_text(value: str) -> str:
    """libxt_mark's ``print_mark``: ``0xV`` or ``0xV/0xM`` (no mask when it is all ones)."""
    v, m = mark_mask(value)
    return f"0x{v:x}" if m == 0xFFFFFFFF else f"0x{v:x}/0x{m:x}"


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    ct = m.module == "connmark"
    for o in m.options:
        if o.flag != "--mark":
            comp.unknown_option(m, o, checks)
            continue
        v, mask = mark_mask(o.value)
        desc, neg = f"-m {m.module} {o.to_save()}", o.negated

        def chk(s: State, v=v, mask=mask, desc=desc, neg=neg):
            if ct and no_entry(s):
                return f"{desc}: {no_entry(s)}, so no connection mark"
            have = s.ctmark if ct else s.mark
            if ((have & mask) == v) != neg:
                return None
            return f"{desc} does not match {'ctmark' if ct else 'mark'} {have:#x}"
        checks.append(chk)


def _text(m: Match) -> str:
    """`` mark match ! 0x1``, `` connmark match  0x4000/0xff00`` (libxt_connmark's two spaces).

    >>> _text(Match("connmark", (Option("--mark", ("0x4000/0xff00",)),))), _text(Match("mark", (Option("--mark", ("1",), True),)))
    (' connmark match  0x4000/0xff00', ' mark match ! 0x1')
    """
    o = m.get("--mark")
    if o is None:
        return f" {m.module} match"
    if m.module == "connmark":
        return f" connmark match {'!' if o.negated else ''} {_mark_text(o.value)}"
    return f" mark match{' !' if o.negated else ''} {_mark_text(o.value)}"


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    mod = t[i]
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise NotThisReader
    inv, v, j = value_after(t, i + 2, neg)
    mark_mask(v)  # a value that is not a mark is not this rendering
    return Match(mod, (Option("--mark", (v,), inv),)), j


EXTENSIONS = (
    Extension("mark", "match", "the packet's mark (skb->mark) under a mask", options=(OptionSpec("--mark"),),
              listing_words=("mark",), owners=("kube-proxy", "Calico", "Istio", "Docker", "AWS VPC CNI"),
              read_listing=_read, listing_text=_text, compile=_compile),
    Extension("connmark", "match", "the connection's mark (ct->mark) under a mask", options=(OptionSpec("--mark"),),
              listing_words=("connmark",), owners=("Calico", "Istio", "AWS VPC CNI"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
