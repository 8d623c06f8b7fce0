"""Flows for a generated ruleset: the ones its rules single out (hints), variations that just
miss them (another port, protocol, interface or source), and unrelated traffic."""

from __future__ import annotations

import ipaddress
import random

from workbook.packet import Packet

from .shapes import Hint, Shaped
from .shapes._base import host_in, outside_ip


def _sendable(s: Shaped, h: Hint) -> bool:
    """Can the lab send this flow? (not in on the interface forwarded packets leave by, no
    packet from outside carrying a node address or loopback, no loopback destination from outside)"""
    if h.proto not in ("tcp", "udp", "icmp") or (h.proto != "icmp" and not h.dport):
        return False
    src, dst = ipaddress.ip_address(h.src), ipaddress.ip_address(h.dst)
    if dst.is_multicast or h.dst.endswith(".255"):  # the lab's client has no multicast or broadcast route
        return False
    if h.in_iface is None:
        return h.src in s.node_ips or src.is_loopback
    return h.in_iface != s.out_iface and len(h.in_iface) <= 15 and h.src not in s.node_ips \
        and not src.is_loopback and not dst.is_loopback


def _packet(rnd: random.Random, h: Hint, label: str) -> Packet:
    """The flow as a Packet. One arriving from outside names its header fields (the lab then writes
    it as a raw frame with exactly those), so ttl/length/tcpmss guards are decided, not assumed: a
    usual packet most of the time, sometimes one a hardened host's guard is written for (TTL 1, a
    1450-byte packet, an MSS of 100). A node's own packet names its socket's owner (root, or for tcp/udp
    sometimes Istio's proxy uid 1337), so -m owner is decided too."""
    sport = rnd.randrange(32768, 60999)
    dport = h.dport if h.proto != "icmp" else None
    if h.in_iface is None:
        extra: dict = {"label": label}
        # (the lab pings from a raw socket, which only root may open: its owner is root)
        extra["uid"] = extra["gid"] = rnd.choice([0, 0, 1337]) if h.proto in ("tcp", "udp") else 0
        return Packet(h.src, h.dst, h.proto, sport, dport, None, True, extra=extra)
    return Packet(h.src, h.dst, h.proto, sport, dport, h.in_iface, False, extra={"label": label},
                  ttl=rnd.choice([64, 64, 64, 1]), tos=0, length=rnd.choice([60, 60, 1450]),
                  mss=rnd.choice([1460, 1460, 100]) if h.proto == "tcp" else None)


def _vary(rnd: random.Random, s: Shaped, h: Hint) -> Hint:
    """A flow next to ``h``: one field changed."""
    k = rnd.randrange(5)
    if k == 0 and h.dport:
        return Hint(h.src, h.dst, h.proto, rnd.choice([h.dport + 1, h.dport - 1, 1024, 65000]), h.in_iface, "other port")
    if k == 1 and h.proto in ("tcp", "udp"):
        return Hint(h.src, h.dst, "udp" if h.proto == "tcp" else "tcp", h.dport, h.in_iface, "other protocol")
    if k == 2 and h.in_iface is not None:
        others = [i for i in s.in_ifaces if i != h.in_iface]
        if others:
            return Hint(h.src, h.dst, h.proto, h.dport, rnd.choice(others), "other interface")
    if k == 3 and h.in_iface is not None:
        return Hint(outside_ip(rnd), h.dst, h.proto, h.dport, h.in_iface, "other source")
    return Hint(h.src, h.dst, "icmp", None, h.in_iface, "ping instead")


def _noise(rnd: random.Random, s: Shaped) -> Hint:
    """Traffic no rule was written for."""
    proto = rnd.choice(["tcp", "tcp", "udp", "icmp"])
    port = None if proto == "icmp" else rnd.choice([22, 80, 443, 53, 8080, 12345, 30000 + rnd.randrange(2767)])
    k = rnd.randrange(4)
    iface = rnd.choice(s.in_ifaces)
    if k == 0:
        return Hint(outside_ip(rnd), s.node_ips[0], proto, port, iface, "noise: to the node")
    if k == 1:
        dst = host_in(rnd, s.pools["inside"]) if s.pools.get("inside") else "10.99.0.7"
        return Hint(outside_ip(rnd), dst, proto, port, iface, "noise: through the node")
    if k == 2:
        return Hint(s.node_ips[0], outside_ip(rnd), proto, port, None, "noise: from the node")
    return Hint(outside_ip(rnd), outside_ip(rnd), proto, port, iface, "noise: passing through")


def flows(s: Shaped, n: int, rnd: random.Random) -> list[Packet]:
    """About ``n`` flows: half the shape's hints, a third variations of them, the rest noise."""
    hints = [h for h in s.hints if _sendable(s, h)]
    rnd.shuffle(hints)
    picked: list[tuple[Hint, str]] = [(h, h.label) for h in hints[: max(1, n // 2)]]
    while len(picked) < n * 5 // 6 and hints:
        v = _vary(rnd, s, rnd.choice(hints))
        if _sendable(s, v):
            picked.append((v, v.label))
    tries = 0
    while len(picked) < n and tries < 10 * n:
        tries += 1
        v = _noise(rnd, s)
        if _sendable(s, v):
            picked.append((v, v.label))
    return [_packet(rnd, h, label) for h, label in picked]
