"""``-m comment``: a comment kept with the rule (``libxt_comment``); never changes a verdict."""

from __future__ import annotations

from ..model import Match, Option
from .registry import Extension, OptionSpec


def _read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
    """``/* text */`` (one token, as the listing tokenizer keeps it)."""
    return Match("comment", (Option("--comment", (t[i][2:-2].strip(),)),)), i + 1


def _text(m: Match) -> str:
    """`` /* text */`` for each ``--comment``.

    >>> _text(Match("comment", (Option("--comment", ("kubernetes service portals",)),)))
    ' /* kubernetes service portals */'
    """
    return "".join(f" /* {o.value} */" for o in m.options if o.flag == "--comment")


def _compile(comp: object, rule: object, m: Match, checks: list, stats: list) -> None:
    """Nothing to check: a comment always matches."""


EXTENSIONS = (
    Extension("comment", "match", "a comment kept with the rule; never changes a verdict",
              options=(OptionSpec("--comment", negatable=False),), read_listing=_read, listing_text=_text,
              compile=_compile, owners=("kube-proxy", "Calico", "CNI portmap", "Docker")),
)
