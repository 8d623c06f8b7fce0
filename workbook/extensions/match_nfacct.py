"""``-m nfacct`` (``xt_nfacct``): counts the packet in a named accounting object; always matches.

An object with a quota (``nfacct add NAME --quota``) stops matching once over it; the objects
are not in a dump, so the tracer takes them as quota-less (what ``nfacct add NAME`` makes).
"""

from __future__ import annotations

from ..model import Match, Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader, unquote
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]


def _compile(comp, rule: Rule, m: Match, checks: list, stats: list) -> None:
    """Nothing to check: counting always matches."""


def _text(m: Match) -> str:
    """`` nfacct-name  NAME`` (libxt_nfacct prints the name as the save form does, after two spaces)."""
    o = m.get("--nfacct-name")
    return f" nfacct-name {o.to_save().partition(' ')[2] if o else ''}"


def _read(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    if i + 1 >= len(t):
        raise NotThisReader
    return Match("nfacct", (Option("--nfacct-name", (unquote(t[i + 1]),)),)), i + 2


EXTENSIONS = (
    Extension("nfacct", "match", "counts the packet in an nfacct object; always matches",
              options=(OptionSpec("--nfacct-name", negatable=False),), listing_words=("nfacct-name",),
              owners=("Calico",), read_listing=_read, listing_text=_text, compile=_compile),
)
