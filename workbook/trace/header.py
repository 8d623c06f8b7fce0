"""The IP/TCP/Ethernet header fields a trace knows about a packet (TTL, TOS, length, MSS, source MAC).

None means "not given": a match on that field is assumed, with the reason. Forwarding lowers the
TTL by one before the FORWARD hook (``ip_forward`` / ``ip6_forward`` do, as a router must).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..parse.listing_words import tcp_flag_bits

__all__ = ["Header", "header_of", "forwarded", "tcp_flags_of", "socket_owner"]


@dataclass(frozen=True, slots=True)
class Header:
    """Header fields of the packet as it is now (the TTL changes when it is forwarded)."""

    ttl: int | None = None
    tos: int | None = None
    length: int | None = None
    mss: int | None = None
    src_mac: str | None = None


def header_of(packet: object) -> Header:
    """The header fields a :class:`~workbook.packet.Packet` gives (absent attributes: None)."""
    mac = getattr(packet, "src_mac", None)
    return Header(getattr(packet, "ttl", None), getattr(packet, "tos", None), getattr(packet, "length", None),
                  getattr(packet, "mss", None), mac.lower() if mac else None)


def forwarded(h: Header) -> Header:
    """The header after routing forwarded the packet: one hop less.

    >>> forwarded(Header(ttl=64)).ttl, forwarded(Header()).ttl
    (63, None)
    """
    return h if h.ttl is None else replace(h, ttl=h.ttl - 1)


def tcp_flags_of(packet: object) -> int | None:
    """The TCP flags a packet gives in ``extra["tcp_flags"]`` (names like ``"SYN,ACK"`` or a number), or None.

    >>> from workbook.packet import Packet
    >>> tcp_flags_of(Packet("10.0.0.1", "10.0.0.2", "tcp", 1, 2, extra={"tcp_flags": "ACK,PSH"}))
    24
    """
    v = (getattr(packet, "extra", None) or {}).get("tcp_flags")
    if v is None:
        return None
    return v if isinstance(v, int) else tcp_flag_bits(str(v))


def socket_owner(packet: object) -> tuple[int, int, tuple[int, ...] | None] | None:
    """-- core-proof -- (uid, gid, supplementary groups or None) of the node's socket that sends the
    packet, from ``extra["uid"]``/``["gid"]``/``["groups"]`` (None when no uid or gid is given).

    >>> from workbook.packet import Packet
    >>> socket_owner(Packet("10.0.0.1", "10.0.0.2", "tcp", 1, 2, None, True, extra={"uid": 1337})), socket_owner(Packet("10.0.0.1", "10.0.0.2"))
    ((1337, 0, None), None)
    """
    extra = getattr(packet, "extra", None) or {}
    if extra.get("uid") is None and extra.get("gid") is None:
        return None
    groups = extra.get("groups")
    return int(extra.get("uid") or 0), int(extra.get("gid") or 0), None if groups is None else tuple(int(g) for g in groups)
