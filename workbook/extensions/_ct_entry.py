"""Whether the packet has a conntrack entry at the point of the walk (``nf_ct_get`` gives one or NULL).

The raw table's hooks (priority -300) run before conntrack's (-200): a packet there has no entry
yet (``xt_conntrack`` sees INVALID), unless NOTRACK already made it UNTRACKED, or it is the node's
own packet looping back through ``lo`` (its entry from OUTPUT goes with it: ``nf_conntrack_in``
leaves a packet that has one alone). INVALID and UNTRACKED packets have none at all.
"""

from __future__ import annotations

from ..trace.state import State

__all__ = ["entry_state", "no_entry"]


def entry_state(s: State) -> str:
    """The conntrack state the packet has here: INVALID in the raw table before conntrack saw it."""
    if s.table == "raw" and (s.hook == "OUTPUT" or not s.from_node) and s.ctstate != "UNTRACKED":
        return "INVALID"
    return s.ctstate


def no_entry(s: State) -> str | None:
    """Why the packet has no conntrack entry here, or None when it has one."""
    st = entry_state(s)
    if st not in ("INVALID", "UNTRACKED"):
        return None
    if st != s.ctstate:
        return "the raw table runs before conntrack: the packet has no conntrack entry yet"
    return f"the packet has no conntrack entry ({st})"
