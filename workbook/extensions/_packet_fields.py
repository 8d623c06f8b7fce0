"""The header fields a target rewrites (TOS byte, TTL/hop limit, TCP MSS), read and written in
one place: on ext-header's ``State.hdr`` when the trace has it, else on the State's own
``tos``/``ttl`` slots. None means not known (a match on it is then assumed, never decided)."""

from __future__ import annotations

from dataclasses import replace

from ..trace.state import State

__all__ = ["field", "set_field"]


def field(s: State, name: str) -> int | None:
    """The packet's ``name`` ("tos", "ttl", "mss") now; None when not known."""
    hdr = getattr(s, "hdr", None)
    if hdr is not None:
        return getattr(hdr, name, None)
    return getattr(s, name, None)


def set_field(s: State, name: str, value: int | None) -> None:
    """Rewrite the packet's ``name`` (None: the new value is not known)."""
    hdr = getattr(s, "hdr", None)
    if hdr is not None:
        if hasattr(hdr, name):
            s.hdr = replace(hdr, **{name: value})  # type: ignore[attr-defined]
    elif name in State.__slots__:
        setattr(s, name, value)
