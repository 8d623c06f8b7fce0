"""One home for pausing Python's cyclic garbage collector while a parser builds many small objects."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["gc_paused", "keep_loaded"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect no cycles inside the block (the objects parsers make hold none); restore the previous state.

    Parsing 100k conntrack entries or 90k nft rules makes the collector walk the young objects again and
    again for nothing; pausing it saves that time. Nested uses are fine: only the outermost re-enables.

    >>> with gc_paused():
    ...     gc.isenabled()
    False
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def keep_loaded() -> None:
    """For a one-shot command (``nfwb check``): move every object made so far (the loaded dump) out of
    the collector's sight, so the collections the checks trigger do not walk a million parsed objects
    again each time. Never call it from a library function: frozen objects are never freed."""
    gc.freeze()
