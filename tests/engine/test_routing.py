"""The routing lookup: with the node's routes the tracer knows where a packet leaves (-o), and
drops what the kernel cannot route. Expected values are reasoned by hand from the kernel's
routing (fib_lookup, ip_error, ip_route_me_harder); tests/lab/test_routing_lab.py checks the
same rulesets against the real kernel."""

from __future__ import annotations

from workbook.packet import Packet
from workbook.parse import parse_save
from workbook.trace import trace_packet

RULES = """*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 192.168.0.2/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.99.0.7:80
-A PREROUTING -d 192.168.0.2/32 -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.98.0.9:80
-A OUTPUT -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.99.0.7:6443
-A OUTPUT -d 10.96.0.2/32 -p tcp -m tcp --dport 443 -j DNAT --to-destination 203.0.113.9:6443
-A POSTROUTING -o eth0 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -o eth1 -j DROP
-A FORWARD -o eth0 -j ACCEPT
-A OUTPUT -o eth1 -j ACCEPT
-A OUTPUT -o eth0 -j ACCEPT
COMMIT
"""
NODE = ["192.168.0.2"]
ROUTES = """172.16.0.0/12 dev eth0 scope link
10.96.0.0/12 dev eth0 scope link
10.99.0.0/16 dev eth1 scope link
blackhole 10.98.0.0/16
unreachable 10.97.0.0/16
198.51.100.7 dev ens3 scope link
"""


def _trace(p: Packet, routes=ROUTES):
    return trace_packet(parse_save(RULES, "routing.rules"), p, NODE, routes=routes)


def _path(t):
    (b,) = t.branches
    return [(s.hook, s.table, s.chain, s.position, s.action) for s in b.steps if s.matched], b


def test_forward_out_interface_from_the_routes():
    # 172.16.0.9 -> route 172.16.0.0/12 dev eth0: FORWARD 1 (-o eth1) fails, 2 (-o eth0) accepts,
    # POSTROUTING 1 (-o eth0) masquerades; nothing assumed
    path, b = _path(_trace(Packet("198.51.100.7", "172.16.0.9", "tcp", 40000, 80, "ens3")))
    assert path == [("PREROUTING", "nat", "PREROUTING", None, "policy:ACCEPT"), ("FORWARD", "filter", "FORWARD", 2, "ACCEPT"),
                    ("POSTROUTING", "nat", "POSTROUTING", 1, "MASQUERADE")]
    assert b.verdict == "ACCEPT" and not any(s.assumed for s in b.steps)
    # after a DNAT to 10.99.0.7 the route is 10.99.0.0/16 dev eth1: FORWARD 1 drops
    path, b = _path(_trace(Packet("198.51.100.7", "192.168.0.2", "tcp", 40000, 8080, "ens3")))
    assert path[-1] == ("FORWARD", "filter", "FORWARD", 1, "DROP") and b.dnat == "10.99.0.7:80"


def test_user_out_iface_wins_over_the_routes():
    # the same packet told to leave on eth0: FORWARD 2 accepts although the route says eth1
    from dataclasses import replace
    p = replace(Packet("198.51.100.7", "192.168.0.2", "tcp", 40000, 8080, "ens3"), out_iface="eth0")
    path, b = _path(_trace(p))
    assert ("FORWARD", "filter", "FORWARD", 2, "ACCEPT") in path and b.verdict == "ACCEPT"


def test_without_routes_the_out_interface_is_assumed():
    # no routes: -o eth1 cannot be judged: assumed to match (and said), FORWARD 1 drops
    t = _trace(Packet("198.51.100.7", "172.16.0.9", "tcp", 40000, 80, "ens3"), routes=None)
    path, b = _path(t)
    assert path[-1] == ("FORWARD", "filter", "FORWARD", 1, "DROP") and b.steps[-1].assumed
    assert any("output interface is not known" in n for n in t.notes)


def test_routing_drops():
    # DNATed into a blackhole route: dropped by routing right after PREROUTING, no FORWARD step
    path, b = _path(_trace(Packet("198.51.100.7", "192.168.0.2", "tcp", 40000, 8081, "ens3")))
    assert b.verdict == "DROP" and {s.hook for s in b.steps} == {"PREROUTING"}
    assert any("blackhole 10.98.0.0/16" in n and "dropped silently" in n for n in b.notes)
    # an unreachable route: dropped, the sender gets ICMP host unreachable
    (b,) = _trace(Packet("198.51.100.7", "10.97.1.1", "tcp", 40000, 80, "ens3")).branches
    assert b.verdict == "DROP" and {s.hook for s in b.steps} == {"PREROUTING"}
    assert any("host unreachable" in n for n in b.notes)
    # no route at all (no default route): ICMP net unreachable
    (b,) = _trace(Packet("198.51.100.7", "8.8.8.8", "udp", 40000, 53, "ens3")).branches
    assert b.verdict == "DROP" and any("no route to 8.8.8.8" in n and "net unreachable" in n for n in b.notes)
    # the node's own address is local without any local route: INPUT
    (b,) = _trace(Packet("198.51.100.7", "192.168.0.2", "tcp", 40000, 22, "ens3")).branches
    assert b.verdict == "ACCEPT" and b.steps[-1].hook == "INPUT"


def test_local_routes_and_table_local():
    # `local 10.5.0.0/16` (AnyIP) makes its addresses the node's own: INPUT, and --dst-type LOCAL
    rs = parse_save("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j ACCEPT\nCOMMIT\n"
                    "*filter\n:INPUT DROP [0:0]\nCOMMIT\n", "local.rules")
    t = trace_packet(rs, Packet("198.51.100.7", "10.5.3.3", "tcp", 40000, 80, "ens3"), NODE,
                     routes=["local 10.5.0.0/16 dev lo table local", "default dev eth0"])
    (b,) = t.branches
    assert [(s.hook, s.action) for s in b.steps if s.matched] == [("PREROUTING", "ACCEPT"), ("INPUT", "policy:DROP")]


def test_node_packets_output_route_and_reroute():
    # 10.96.0.1 routes via eth0 before OUTPUT: filter OUTPUT 2 (-o eth0) accepts although nat OUTPUT
    # DNATs it to 10.99.0.7 (eth1): the hook's output device stays the first route's; POSTROUTING
    # sees the re-route (eth1): POSTROUTING 1 (-o eth0) does not masquerade
    path, b = _path(_trace(Packet("192.168.0.2", "10.96.0.1", "tcp", 40000, 443, None, True)))
    assert path == [("OUTPUT", "nat", "OUTPUT", 1, "DNAT"), ("OUTPUT", "filter", "OUTPUT", 2, "ACCEPT"),
                    ("POSTROUTING", "nat", "POSTROUTING", None, "policy:ACCEPT")]
    assert b.verdict == "ACCEPT" and not b.masquerade
    # no route for the destination: the socket gets ENETUNREACH, no hook sees the packet
    (b,) = _trace(Packet("192.168.0.2", "8.8.8.8", "tcp", 40000, 443, None, True)).branches
    assert b.verdict == "DROP" and b.steps == [] and any("ENETUNREACH" in n for n in b.notes)
    # DNATed in nat OUTPUT to an address without a route: the re-route fails, filter OUTPUT not reached
    path, b = _path(_trace(Packet("192.168.0.2", "10.96.0.2", "tcp", 40000, 443, None, True)))
    assert path == [("OUTPUT", "nat", "OUTPUT", 2, "DNAT")] and b.verdict == "DROP"
    assert any("re-route after nat OUTPUT" in n for n in b.notes)


def test_ipv6_packet_with_only_ipv4_routes_is_not_dropped():
    # the dump's `ip route` is IPv4 only: an IPv6 packet's route is not known (assumed, as without routes)
    rs = parse_save("*filter\n:FORWARD DROP [0:0]\n-A FORWARD -o eth0 -j ACCEPT\nCOMMIT\n", "v6.rules")
    t = trace_packet(rs, Packet("2001:db8::7", "2001:db8:1::9", "tcp", 40000, 80, "eth1"), ["2001:db8::1"],
                     routes="default via 10.0.0.1 dev eth0\n")
    (b,) = t.branches
    assert b.verdict == "ACCEPT" and b.steps[-1].assumed
