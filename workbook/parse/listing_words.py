"""Primitives for reading the words of an ``iptables -L -n -v`` rule: shared by every extension's reader."""

from __future__ import annotations

import re
import socket

__all__ = ["NotThisReader", "ListingContext", "value_after", "port_words", "TCP_FLAGS", "tcp_flag_names", "tcp_flag_bits",
           "hex_text", "unquote"]


class NotThisReader(Exception):
    """Raised by a reader when the words at its position are not its rendering (try the next reader)."""


class ListingContext:
    """Per-rule parsing state shared by the printers."""

    def __init__(self, protocol: str | None, family: str, names: list[str]):
        self.protocol = protocol
        self.family = family
        self.names = names  # service/level names resolved (for notes)


def value_after(t: list[str], j: int, inv: bool, *, glued: bool = True) -> tuple[bool, str, int]:
    """``(negated, value, next index)`` for the value at ``t[j]``, after an optional ``!`` word
    (and, with ``glued``, a ``!`` stuck to the value, as ``!0x4000``); :class:`NotThisReader` when there is none."""
    if j < len(t) and t[j] == "!":
        inv, j = True, j + 1
    if j >= len(t):
        raise NotThisReader
    v = t[j]
    if glued and v.startswith("!"):
        inv, v = True, v[1:]
    return inv, v, j + 1


def port_words(value: str, proto: str, ctx: ListingContext) -> str:
    """Ports as iptables-save prints them (numbers); names from a listing without -n are resolved."""
    out = []
    for part in re.split(r"([:,-])", value):
        if part and not part.isdecimal() and part not in ":,-":
            try:
                num = socket.getservbyname(part, proto if proto in ("tcp", "udp") else "tcp")
                ctx.names.append(f"{part}={num}")
                part = str(num)
            except OSError:
                pass
        out.append(part)
    return "".join(out)


TCP_FLAGS = (("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10), ("URG", 0x20))


_TCP_FLAG_BITS = dict(TCP_FLAGS)
_TCP_ALL = 0x3F  # libxt_tcp's ALL: FIN..URG (ECE and CWR have no name there)


def tcp_flag_bits(names: str) -> int:
    """``FIN,SYN,RST,ACK`` -> 0x17 (``ALL`` is 0x3F, ``NONE`` 0); ValueError for an unknown name.

    >>> hex(tcp_flag_bits("SYN,ACK,FIN,RST")), hex(tcp_flag_bits("ALL")), tcp_flag_bits("NONE")
    ('0x17', '0x3f', 0)
    """
    bits = 0
    for n in names.upper().split(","):
        if n == "ALL":
            bits |= _TCP_ALL
        elif n != "NONE":
            if n not in _TCP_FLAG_BITS:
                raise ValueError(f"unknown TCP flag {n[:20]!r}")
            bits |= _TCP_FLAG_BITS[n]
    return bits


def tcp_flag_names(v: str) -> str:
    if not v.lower().startswith("0x"):
        return v
    n = int(v, 16)
    names = [name for name, bit in TCP_FLAGS if n & bit]
    return ",".join(names) if names else "NONE"


def hex_text(v: int) -> str:
    return "0x%x" % v


def unquote(t: str) -> str:
    return t[1:-1] if len(t) >= 2 and t[0] == '"' and t[-1] == '"' else t
