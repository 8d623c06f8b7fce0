"""The header fields a target rewrites (TOS byte, TTL/hop limit, TCP MSS), read and written in
one place: the trace state's :class:`~workbook.trace.header.Header`. None means not known (a
match on it is then assumed, never decided)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..trace.state import State

__all__ = ["field", "set_field"]


def field(s: State, name: str) -> int | None:
    """The packet's ``name`` ("tos", "ttl", "mss") now; None when not known."""
    return getattr(s.hdr, name, None)


def set_field(s: State, name: str, value: int | None) -> None:
    """Rewrite the packet's ``name`` (None: the new value is not known)."""
    if hasattr(s.hdr, name):
        changes: dict[str, Any] = {name: value}  # the field is named at run time
        s.hdr = replace(s.hdr, **changes)
