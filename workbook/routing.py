"""The node's routes as the tracer consults them: ``ip route`` text read into longest-prefix order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .addr import parse_net
from .model import InputError
from .parse.save import split_lines

__all__ = ["Route", "parse_routes", "no_route", "ROUTE_ERRORS"]

#: what the kernel does with a packet whose route is an error route (fib_props / ip_error):
#: (errno a local sender gets, what happens to a forwarded packet)
ROUTE_ERRORS = {"blackhole": ("EINVAL", "dropped silently"),
                 "unreachable": ("EHOSTUNREACH", "dropped; the sender gets ICMP host unreachable"),
                 "prohibit": ("EACCES", "dropped; the sender gets ICMP communication administratively prohibited")}


def no_route(kind: str, r: "Route | None", dst: str, forwarded: bool) -> str:
    """Why routing drops a packet to ``dst`` (kind "none" or "error" of :meth:`workbook.trace.state.Context.lookup`)."""
    if kind == "none":
        what = f"no route to {dst}" + (f" (the {r.prefix} route is a throw route)" if r is not None else "")
        return what + (": dropped; the sender gets ICMP net unreachable" if forwarded
                       else ": the kernel refuses it with ENETUNREACH (Network is unreachable)")
    assert r is not None
    errno, fate = ROUTE_ERRORS[r.type]
    return (f"the route to {dst} is `{r.type} {r.prefix}`: " +
            (fate if forwarded else f"the kernel refuses it with {errno}"))


@dataclass(frozen=True)
class Route:
    """One route of the node: ``type`` (unicast, local, blackhole, unreachable, ...), destination
    prefix and output device (None for a route without ``dev``)."""

    type: str
    prefix: str
    dev: str | None
    version: int
    base: int
    mask: int
    plen: int


_ROUTE_TYPES = frozenset({"unicast", "local", "broadcast", "multicast", "throw", "unreachable", "prohibit",
                          "blackhole", "nat", "anycast"})


def parse_routes(routes: Iterable | str) -> list[Route]:
    """Routes from ``ip route`` / ``ip route show table all`` text, its lines, or (prefix, dev) pairs.

    Only the main and local tables count (a line naming another table is left out); a bare
    address is a /32 (/128) prefix; ``default`` is 0.0.0.0/0. Longest prefix first, the local
    table first at equal length (it is consulted first).

    >>> text = '''default via 192.168.3.1 dev eth0 proto dhcp
    ... 192.168.3.0/24 dev eth0 proto kernel scope link src 192.168.3.215
    ... 192.168.3.98 dev eni5d1d36193a1 scope link
    ... blackhole 10.9.0.0/16
    ... 10.1.0.0/16 via 10.0.0.1 dev tun0 table 100
    ... local 192.168.3.215 dev eth0 table local proto kernel scope host src 192.168.3.215'''
    >>> for r in parse_routes(text): print(r.type, r.prefix, r.dev)
    local 192.168.3.215/32 eth0
    unicast 192.168.3.98/32 eni5d1d36193a1
    unicast 192.168.3.0/24 eth0
    blackhole 10.9.0.0/16 None
    unicast 0.0.0.0/0 eth0
    >>> [r.prefix for r in parse_routes([("10.0.0.0/8", "eth1")])]
    ['10.0.0.0/8']
    """
    if isinstance(routes, str):
        items: list = split_lines(routes)
    else:
        items = list(routes)
    out: list[Route] = []
    for item in items:
        if isinstance(item, Route):
            out.append(item)
            continue
        if isinstance(item, (tuple, list)):
            words = [str(item[0])] + (["dev", str(item[1])] if len(item) > 1 and item[1] else [])
        else:
            words = str(item).split()
        kind = "unicast"
        if words and words[0] in _ROUTE_TYPES:
            kind, words = words[0], words[1:]
        if not words:
            continue
        if "table" in words[:-1] and words[words.index("table") + 1] not in ("main", "local", "254", "255"):
            continue
        dest = words[0]
        dev = words[words.index("dev") + 1] if "dev" in words[:-1] else None
        if dest == "default":
            dest = "::/0" if any(":" in w for w in words[1:3]) else "0.0.0.0/0"
        try:
            v, base, mask = parse_net(dest)
        except (InputError, ValueError):
            continue
        plen = bin(mask).count("1")
        out.append(Route(kind, dest if "/" in dest else f"{dest}/{32 if v == 4 else 128}", dev, v, base, mask, plen))
    out.sort(key=lambda r: (-r.plen, r.type != "local"))
    return out
