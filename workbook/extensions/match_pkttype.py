"""``-m pkttype`` (``xt_pkttype``): the link-layer class of the packet (unicast, broadcast, multicast).

The kernel reads ``skb->pkt_type``, set from the destination MAC of an arriving frame; a dump has
no frames, so the class is the destination address's (a broadcast or multicast IP address goes
in a broadcast or multicast frame; the node's and the lab's packets are unicast frames).
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ..trace.state import State, addr_types
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    ctx_ref = comp.ctx_ref
    for o in m.options:
        if o.flag != "--pkt-type":
            comp.unknown_option(m, o, checks)
            continue
        want = o.value.lower()
        desc, neg = o.to_save(), o.negated

        def chk(s: State, want=want, desc=desc, neg=neg):
            types = addr_types(ctx_ref[0], *s.dst_i)
            have = "multicast" if "MULTICAST" in types else "broadcast" if "BROADCAST" in types else "unicast"
            return None if (have == want) != neg else f"{desc} does not match a {have} packet"
        checks.append(chk)


def _text(m: Match) -> str:
    """`` PKTTYPE = unicast``, `` PKTTYPE != broadcast``."""
    o = m.get("--pkt-type")
    return f" PKTTYPE {'!=' if o is not None and o.negated else '='} {o.value if o else ''}"


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 2 >= len(t) or t[i + 1] not in ("=", "!="):
        raise NotThisReader
    return Match("pkttype", (Option("--pkt-type", (t[i + 2],), t[i + 1] == "!="),)), i + 3


EXTENSIONS = (
    Extension("pkttype", "match", "the link-layer class of the packet: unicast, broadcast or multicast",
              options=(OptionSpec("--pkt-type"),), listing_words=("PKTTYPE",), owners=("firewalld", "Calico"),
              read_listing=_read, listing_text=_text, compile=_compile),
)
