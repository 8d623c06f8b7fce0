"""Pausing Python's cyclic garbage collector while parsers build many small acyclic objects."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["paused_gc", "keep_loaded"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run a block without the cyclic collector, then put it back as it was.

    Building a large acyclic structure (a parsed dump, 100k conntrack entries, 90k nft rules, their
    frames) allocates ~100k tracked objects; the collector would walk them again at every threshold
    (superlinear time). Reference counting still frees everything. Nested uses are fine: only the
    outermost re-enables.

    >>> import gc
    >>> with paused_gc():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def keep_loaded() -> None:
    """For a one-shot command (``nfwb check``): move every object made so far (the loaded dump) out of
    the collector's sight, so the collections the checks trigger do not walk a million parsed objects
    again each time. Never call it from a library function: frozen objects are never freed."""
    gc.freeze()
