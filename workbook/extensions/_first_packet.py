"""What a stateful match has used up within one packet's walk: the simulator judges every packet as the
first since the rules were loaded, but one packet may meet the same limit, quota or hashlimit bucket twice."""

from __future__ import annotations

from typing import Hashable

from ..trace.state import State

__all__ = ["FIRST_PACKET", "take"]

#: why the simulator may decide a stateful match at all (said in the branch notes)
FIRST_PACKET = ("the packet is taken as the first since the rules were loaded (the lab resets these rules "
                "before each packet); earlier traffic is not known")


def take(s: State, kind: str, key: Hashable, amount: int = 1) -> int:
    """Add ``amount`` to what ``kind`` (limit, hashlimit, quota...) has used of ``key`` in this branch;
    return what was used before. Kept beside the ``-m recent`` lists (copied when a branch splits).

    >>> from workbook.trace.state import State
    >>> s = State.__new__(State); s.recent = None
    >>> take(s, "limit", 1), take(s, "limit", 1), take(s, "quota", 1, 60)
    (0, 1, 0)
    """
    if s.recent is None:
        s.recent = {}
    used = s.recent.setdefault(("#" + kind,), {})  # a tuple: never the name of a recent list
    before = used.get(key, 0)
    used[key] = before + amount
    return before
