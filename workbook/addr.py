"""Addresses, prefixes, ports and marks as the tracer reads them from rule text (fast, cached)."""

from __future__ import annotations

import ipaddress

from .model import InputError

__all__ = ["parse_ip", "parse_net", "format_ip", "split_hostport", "port_range", "parse_port", "parse_int",
           "mark_mask"]

_IP_CACHE: dict[str, tuple[int, int]] = {}


def parse_ip(text: str) -> tuple[int, int]:
    """(version, integer) of an address; IPv4-mapped IPv6 counts as IPv4."""
    hit = _IP_CACHE.get(text)
    if hit is not None:
        return hit
    parts = text.split(".")
    out = None
    if len(parts) == 4 and all(p.isdecimal() and len(p) <= 3 and (p == "0" or p[0] != "0") for p in parts):
        a, b, c, d = map(int, parts)
        if a < 256 and b < 256 and c < 256 and d < 256:
            out = (4, (a << 24) | (b << 16) | (c << 8) | d)
    if out is None:
        addr = ipaddress.ip_address(text.strip("[]"))
        if addr.version == 6 and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        out = (addr.version, int(addr))
    if len(_IP_CACHE) > 100_000:
        _IP_CACHE.clear()
    _IP_CACHE[text] = out
    return out


_NET_CACHE: dict[str, tuple[int, int, int]] = {}


def parse_net(text: str) -> tuple[int, int, int]:
    """(version, network integer, mask integer) of ``10.0.0.0/8``, ``10.0.0.1`` or ``10.0.0.0/255.0.0.0``."""
    hit = _NET_CACHE.get(text)
    if hit is not None:
        return hit
    addr, sep, plen = text.partition("/")
    if (not sep or plen.isdecimal() and int(plen) <= 32) and addr.count(".") == 3:
        try:
            v, x = parse_ip(addr)
        except ValueError:
            v = 0
        if v == 4:
            n = int(plen) if sep else 32
            mask = (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF
            out = (4, x & mask, mask)
            if len(_NET_CACHE) > 100_000:
                _NET_CACHE.clear()
            _NET_CACHE[text] = out
            return out
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InputError(f"bad address {text!r}") from None
    mask = int(net.netmask)
    return net.version, int(net.network_address) & mask, mask


def format_ip(v: int, x: int) -> str:
    return str(ipaddress.IPv4Address(x) if v == 4 else ipaddress.IPv6Address(x))


def split_hostport(text: str) -> tuple[str | None, str | None]:
    """``10.0.0.1:80`` → ("10.0.0.1", "80"); ``[fd00::1]:80`` → ("fd00::1", "80"); ``:80`` → (None, "80")."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if text.count(":") > 1:  # bare IPv6
        return text, None
    host, sep, port = text.partition(":")
    return host or None, port if sep else None


def port_range(text: str) -> tuple[int, int]:
    a, sep, b = text.partition(":")
    lo = parse_port(a) if a else 0
    hi = parse_port(b) if sep and b else (65535 if sep else lo)
    return lo, hi


def parse_port(text: str) -> int:
    """A port number 0-65535 (ValueError for anything else, as iptables refuses it)."""
    n = int(text) if text.isdecimal() and len(text) < 6 else -1
    if not 0 <= n <= 65535:
        raise ValueError(f"port {text[:20]!r} is not a number 0-65535")
    return n


def parse_int(text: str) -> int:
    return int(text, 0)


def mark_mask(text: str) -> tuple[int, int]:
    v, sep, m = text.partition("/")
    return parse_int(v), parse_int(m) if sep else 0xFFFFFFFF
