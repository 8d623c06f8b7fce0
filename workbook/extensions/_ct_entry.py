"""Whether the packet has a conntrack entry at the point of the walk (``nf_ct_get`` gives one or NULL).

The raw table's hooks (priority -300) run before conntrack's (-200): a packet there has no entry
yet (``xt_conntrack`` sees INVALID), unless NOTRACK already made it UNTRACKED, or it is the node's
own packet looping back through ``lo`` (its entry from OUTPUT goes with it: ``nf_conntrack_in``
leaves a packet that has one alone). INVALID and UNTRACKED packets have none at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the tracer imports this module: no import of it at run time
    from ..trace.state import State

__all__ = ["entry_state", "no_entry", "refused_first"]

#: the flags (FIN, SYN, RST, ACK, URG: ``tcp_valid_flags``' mask) with which a TCP segment without a
#: connection gets a NEW one: a SYN, or an ACK (``tcp_new`` with ``nf_conntrack_tcp_loose`` = 1,
#: the default); PSH, ECE and CWR do not count. Any other segment is INVALID.
_TCP_NEW = frozenset({0x02, 0x22, 0x10, 0x30})
#: ICMP types that open a connection (``icmp_new``'s ``valid_new``: echo, timestamp, info and
#: address-mask requests); any other ICMP message without one is INVALID (an error message too: it
#: is RELATED only to the connection of the packet it quotes, which a first packet has not)
_ICMP_NEW = frozenset({8, 13, 15, 17})


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


def refused_first(proto_num: int, tcp_flags: int | None, icmp: tuple[int, int] | None) -> str | None:
    """Why conntrack gives a packet without a connection no entry (it is INVALID), or None (NEW).

    >>> refused_first(6, 0x04, None), refused_first(6, 0x18, None), refused_first(1, None, (3, 3)) is None
    ('a TCP segment with flags 0x04 opens no connection (only a SYN or an ACK does)', None, False)
    """
    if proto_num == 6 and tcp_flags is not None and (tcp_flags & 0x37) not in _TCP_NEW:
        return f"a TCP segment with flags 0x{tcp_flags:02x} opens no connection (only a SYN or an ACK does)"
    if proto_num == 1 and icmp is not None and icmp[0] not in _ICMP_NEW:
        return f"ICMP type {icmp[0]} opens no connection (only echo, timestamp, info and address-mask requests do)"
    return None
