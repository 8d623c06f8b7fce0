"""``-m quota`` (``xt_quota``): matches while the rule's byte quota lasts; each matching packet uses its length.

Kernel semantics (``net/netfilter/xt_quota.c`` ``quota_mt``, read beside this code): the packet
matches when ``quota >= skb->len`` (its layer-3 length: the IP total length) and the quota goes
down by that length; a packet bigger than what is left matches nothing and empties the quota
(``! --quota`` matches exactly the other packets). The simulator judges each packet as the first
since the rules were loaded (the lab re-inserts the rule before each packet): the full quota.
Without the packet's length, a quota below the smallest header (20 bytes IPv4, 40 IPv6) never
holds and one of 65535 or more always does; anything between is assumed. ``iptables -L`` does not
show a ``!``: a negated quota read from a listing is not negated.
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import Assume, State
from ._first_packet import FIRST_PACKET, take
from ._header_checks import number
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

#: the largest IP packet: a quota of this many bytes holds any first packet
_MAX_LEN = 65535


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    for o in m.options:
        if o.flag != "--quota":
            comp.unknown_option(m, o, checks)
            continue
        quota, neg, desc = number(o.value, "quota"), o.negated, m.to_save()

        def chk(s: State, quota=quota, neg=neg, desc=desc, key=(rule.table, rule.chain, rule.position, o.flag)):
            s.note(f"-m quota: {FIRST_PACKET}")
            length = s.hdr.length
            left = quota - take(s, "quota", key, 0)
            if length is None:
                least = 40 if s.src_i[0] == 6 else 20
                if left >= _MAX_LEN:
                    fits = True
                elif left < least:
                    fits = False
                else:
                    return Assume(f"{desc}: the packet's length is not given (the quota holds while it is at most "
                                  f"{left} bytes); assumed to match")
            else:
                fits = left >= length
                take(s, "quota", key, length if fits else left)  # a packet too big empties the quota
            if fits != neg:
                return None
            size = f"{length} bytes" if length is not None else "any packet"
            return f"{desc}: {size} {'fits in' if fits else 'is more than'} the {left} bytes left"
        checks.append(chk)


def _text(m: Match) -> str:
    """`` quota: 10 bytes`` (libxt_quota prints no ``!``).

    >>> _text(Match("quota", (Option("--quota", ("100000",), True),)))
    ' quota: 100000 bytes'
    """
    o = m.get("--quota")
    return f" quota: {o.value if o else 0} bytes"


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 2 >= len(t) or t[i + 2] != "bytes" or not t[i + 1].isdecimal():
        raise NotThisReader
    return Match("quota", (Option("--quota", (t[i + 1],), neg),)), i + 3


EXTENSIONS = (
    Extension("quota", "match", "matches while the rule's byte quota lasts (each packet uses its length)",
              options=(OptionSpec("--quota"),), listing_words=("quota:",), read_listing=_read,
              listing_text=_text, compile=_compile, owners=("hardened hosts",)),
)
