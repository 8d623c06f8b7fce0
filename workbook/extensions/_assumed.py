"""Shared pieces of the header/link match modules: an assumed check with its reason, and ``-L`` readers."""

from __future__ import annotations

from typing import Callable

from ..model import Match, Option
from ..parse.listing_words import NotThisReader, unquote, value_after
from ..trace.state import Assume


def assume_with(reason: str) -> Callable[..., None]:
    """A ``compile`` that appends one check assuming the match holds, saying ``reason``."""
    def compile_(comp: object, rule: object, m: Match, checks: list, stats: list) -> None:
        desc = m.to_save()
        checks.append(lambda s, d=desc: Assume(f"{d}: {reason}; assumed to match"))
    return compile_


def read_value(module: str, flag: str, *, skip: tuple[str, ...] = (), glued: bool = True,
               quoted: bool = False) -> Callable[..., tuple[Match, int]]:
    """The reader of ``WORD [skip words] [!]VALUE`` as ``-m module [!] flag VALUE``."""
    def read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
        j = i + 1
        for word in skip:
            if j >= len(t) or t[j] != word:
                raise NotThisReader
            j += 1
        inv, v, j = value_after(t, j, neg, glued=glued)
        return Match(module, (Option(flag, (unquote(v) if quoted else v,), inv),)), j
    return read


def bang(o: Option) -> str:
    """``!`` glued before a listed value when the option is negated."""
    return "!" if o.negated else ""
