"""NAT ranges (``10.0.0.1-10.0.0.5:80-90``) and the rewrites NAT does to a trace's packet state.

Shared by the NAT targets (``target_nat``) and the nftables tracer's ``dnat``/``snat``/``redirect``/``masquerade``.
"""

from __future__ import annotations

from typing import NamedTuple

from ..addr import parse_port, split_hostport
from ..trace.state import State

__all__ = ["NatRange", "nat_range", "rewrite_dst", "rewrite_src", "masquerade"]


class NatRange(NamedTuple):
    """One ``--to-destination``/``--to-source`` value: first and last address, first and last port."""

    first: str | None
    last: str | None
    port_lo: int | None
    port_hi: int | None


def nat_range(text: str) -> NatRange:
    """Read ``[ADDR[-ADDR]][:PORT[-PORT]]`` (an IPv6 address in brackets when a port follows).

    >>> nat_range("10.0.0.1-10.0.0.5:80-90"), nat_range(":53"), nat_range("[fd00::1]:80")
    (NatRange(first='10.0.0.1', last='10.0.0.5', port_lo=80, port_hi=90), NatRange(first=None, last=None, port_lo=53, port_hi=53), NatRange(first='fd00::1', last='fd00::1', port_lo=80, port_hi=80))
    """
    host, port = split_hostport(text)
    first = last = None
    if host:
        first, _, last = host.partition("-")
        last = last or first
    lo = hi = None
    if port:
        a, _, b = port.partition("-")
        lo = parse_port(a)
        hi = parse_port(b) if b else lo
    return NatRange(first, last, lo, hi)


def _port_of(have: int | None, port: str | int | None) -> int | None:
    """The port a rewrite leaves the packet with (the first of a range; kept when none is given)."""
    if port is None or port == "" or have is None:
        return have
    return port if isinstance(port, int) else parse_port(str(port).split("-")[0])


def _hostport(addr: str, port: int | None) -> str:
    h = addr if ":" not in addr else f"[{addr}]"
    return f"{h}:{port}" if port is not None else addr


def rewrite_dst(s: State, host: str | None, port: str | int | None) -> None:
    """DNAT the packet to ``host`` (None: keep it) and ``port`` (first of a ``A-B`` range; only a
    packet with ports gets one); the conntrack entry remembers it (``--ctstate DNAT``).

    A rewrite to the tuple the packet already has is no NAT (``nf_nat_setup_info`` sets
    ``IPS_DST_NAT`` only when the new tuple differs): no ``dnat``, no ``--ctstate DNAT``.
    """
    before = (s.dst, s.dport)
    if ((host.split("-")[0] if host else s.dst), _port_of(s.dport, port)) == before:
        s.note(f"the NAT rewrite leaves {_hostport(s.dst, s.dport)} as it is: no DNAT in conntrack")
        return
    if host:
        s.set_dst(host.split("-")[0])
    if port is not None and port != "" and s.dport is not None:
        s.dport = port if isinstance(port, int) else parse_port(str(port).split("-")[0])
    # the destination the packet now has: with its port when the protocol has ports
    s.dnat = _hostport(s.dst, s.dport)
    s.ct_dnat = True


def rewrite_src(s: State, host: str | None, port: str | int | None) -> None:
    """SNAT the packet to ``host`` and ``port`` (first of a range), as :func:`rewrite_dst` does the
    destination (an unchanged tuple is no SNAT: no ``--ctstate SNAT``)."""
    if ((host.split("-")[0] if host else s.src), _port_of(s.sport, port)) == (s.src, s.sport):
        s.note(f"the NAT rewrite leaves {_hostport(s.src, s.sport)} as it is: no SNAT in conntrack")
        return
    if host:
        s.set_src(host.split("-")[0])
    if port is not None and port != "" and s.sport is not None:
        s.sport = port if isinstance(port, int) else parse_port(str(port).split("-")[0])
        s.snat = _hostport(s.src, s.sport) if host else f":{s.sport}"
    else:
        s.snat = s.src if host else s.snat
    s.ct_snat = True


def masquerade(s: State, port: str | int | None) -> None:
    """MASQUERADE: the source becomes the output interface's address (not known to the trace: ``masq``)."""
    s.masq = True
    s.ct_snat = True
    if port is not None and port != "" and s.sport is not None:
        s.sport = port if isinstance(port, int) else parse_port(str(port).split("-")[0])


# -- the address the kernel picks from a range (nf_nat_core.c find_best_ips_proto) ---------------

_M32 = 0xFFFFFFFF


def _rol(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def jhash2(words: list[int], initval: int) -> int:
    """The kernel's ``jhash2`` (Bob Jenkins' lookup3 over 32-bit words), as ``include/linux/jhash.h``.

    >>> hex(jhash2([1, 2, 3, 4], 0))
    '0x66491246'
    """
    a = b = c = (0xDEADBEEF + (len(words) << 2) + initval) & _M32
    k = list(words)
    while len(k) > 3:
        a, b, c = (a + k[0]) & _M32, (b + k[1]) & _M32, (c + k[2]) & _M32
        a = (a - c) & _M32; a ^= _rol(c, 4); c = (c + b) & _M32
        b = (b - a) & _M32; b ^= _rol(a, 6); a = (a + c) & _M32
        c = (c - b) & _M32; c ^= _rol(b, 8); b = (b + a) & _M32
        a = (a - c) & _M32; a ^= _rol(c, 16); c = (c + b) & _M32
        b = (b - a) & _M32; b ^= _rol(a, 19); a = (a + c) & _M32
        c = (c - b) & _M32; c ^= _rol(b, 4); b = (b + a) & _M32
        k = k[3:]
    if not k:
        return c
    if len(k) == 3:
        c = (c + k[2]) & _M32
    if len(k) >= 2:
        b = (b + k[1]) & _M32
    a = (a + k[0]) & _M32
    c ^= b; c = (c - _rol(b, 14)) & _M32
    a ^= c; a = (a - _rol(c, 11)) & _M32
    b ^= a; b = (b - _rol(a, 25)) & _M32
    c ^= b; c = (c - _rol(b, 16)) & _M32
    a ^= c; a = (a - _rol(c, 4)) & _M32
    b ^= a; b = (b - _rol(a, 14)) & _M32
    c ^= b; c = (c - _rol(b, 24)) & _M32
    return c


def _words(v: int, x: int) -> list[bytes]:
    """An address as the kernel's ``union nf_inet_addr``: four 32-bit words (IPv4 in the first)."""
    raw = x.to_bytes(4, "big") + bytes(12) if v == 4 else x.to_bytes(16, "big")
    return [raw[i:i + 4] for i in range(0, 16, 4)]


def pick_address(first: tuple[int, int], last: tuple[int, int], src: tuple[int, int], dst: tuple[int, int],
                 persistent: bool) -> int:
    """The address ``find_best_ips_proto`` picks in [first, last] for a flow from ``src`` to ``dst``
    (its original addresses; conntrack zone 0): a hash of the source (and, unless
    ``--persistent``, the destination) scaled into the range.

    >>> from workbook.addr import parse_ip, format_ip
    >>> format_ip(4, pick_address(parse_ip("10.0.0.1"), parse_ip("10.0.0.1"), parse_ip("1.2.3.4"), parse_ip("5.6.7.8"), False))
    '10.0.0.1'
    """
    v = first[0]
    if first == last:
        return first[1]
    lo, hi = _words(v, first[1]), _words(v, last[1])
    s, d = _words(v, src[1]), _words(v, dst[1])
    top = 0 if v == 4 else 3
    le = [int.from_bytes(w, "little") for w in s]
    j = jhash2(le, 0 if persistent else int.from_bytes(d[top], "little"))
    out = b""
    full = False
    for i in range(top + 1):
        if not full:
            mn, mx = int.from_bytes(lo[i], "big"), int.from_bytes(hi[i], "big")
            dist = (mx - mn + 1) & _M32
        else:
            mn, dist = 0, _M32
        word = ((mn + ((j * dist) >> 32)) & _M32).to_bytes(4, "big")
        out += word
        if word != hi[i]:
            full = True
        if not persistent:
            j ^= int.from_bytes(d[i], "little")
    return int.from_bytes(out[:4] if v == 4 else out, "big")
