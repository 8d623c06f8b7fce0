"""The routing lookup against the kernel: -o rules decided by the lab node's real routes.

The node has three interfaces: ``ens3`` (the clients), ``eth0`` (towards the sink) and ``eth1``
(another client namespace), and routes we add to it (no default route; a blackhole and an
unreachable route). The simulator is given the node namespace's own routes, read back with
``ip -4 route show table all`` after each packet (the lab adds the route back to the source),
and no ``out_iface``: the kernel's path must be one of its branches, with the same DNAT and the
same verdict.
"""

from __future__ import annotations

import errno
import subprocess

import pytest

from tests.engine.test_routing import NODE, RULES
from workbook.lab import Lab, kernel_agrees
from workbook.model import InputError
from workbook.packet import Packet
from workbook.parse import parse_save
from workbook.trace import trace_packet

pytestmark = [pytest.mark.root]

#: the routes added to the lab node (the lab's own default route to the sink is deleted first)
LAB_ROUTES = ["172.16.0.0/12 dev eth0", "10.96.0.0/12 dev eth0", "10.99.0.0/16 dev eth1",
              "blackhole 10.98.0.0/16", "unreachable 10.97.0.0/16"]


def _node_routes(lab: Lab) -> str:
    return subprocess.run(["ip", "-4", "-n", lab.node, "route", "show", "table", "all"],
                          capture_output=True, text=True, check=True).stdout


def test_kernel_routing_decides_out_interface(lab_ok):
    rs = parse_save(RULES, "routing.rules")
    forwarded = [
        # -> 172.16.0.0/12 dev eth0: FORWARD 2 (-o eth0) accepts, POSTROUTING 1 masquerades
        (Packet("198.51.100.7", "172.16.0.9", "tcp", 40000, 80, "ens3"), "ACCEPT"),
        # DNAT to 10.99.0.7 -> dev eth1: FORWARD 1 (-o eth1) drops
        (Packet("198.51.100.7", "192.168.0.2", "tcp", 40001, 8080, "ens3"), "DROP"),
        # DNAT into the blackhole 10.98.0.0/16: dropped by routing after PREROUTING
        (Packet("198.51.100.7", "192.168.0.2", "tcp", 40002, 8081, "ens3"), "DROP"),
        # unreachable 10.97.0.0/16, and no route at all (no default route): dropped by routing
        (Packet("198.51.100.7", "10.97.1.1", "tcp", 40003, 80, "ens3"), "DROP"),
        (Packet("198.51.100.7", "8.8.8.8", "udp", 40004, 53, "ens3"), "DROP"),
        # node-origin: route via eth0 before OUTPUT, DNAT in nat OUTPUT to 10.99.0.7 (eth1)
        (Packet("192.168.0.2", "10.96.0.1", "tcp", 40005, 443, None, True), "ACCEPT"),
        # node-origin to eth1 directly: filter OUTPUT 1 (-o eth1) accepts, no MASQUERADE
        (Packet("192.168.0.2", "10.99.3.3", "udp", 40006, 53, None, True), "ACCEPT"),
    ]
    lab = Lab(rs, tuple(NODE), out_iface="eth0")
    try:
        lab.open("ens3")
        lab._iface("eth1")  # a second way out: a client namespace behind node interface eth1
        subprocess.run(["ip", "-n", lab.node, "route", "del", "default"], check=True)
        for r in LAB_ROUTES:
            subprocess.run(["ip", "-n", lab.node, "route", "add", *r.split()], check=True)
        for p, verdict in forwarded:
            k = lab.trace(p)
            routes = _node_routes(lab)
            sim = trace_packet(rs, p, NODE, routes=routes)
            ok, why = kernel_agrees(k, sim)
            kb = k.branches[0]
            assert ok, (p, why, kb.matched_path(), [b.matched_path() for b in sim.branches], sim.notes)
            # the verdict too, and the hand-reasoned one above
            assert kb.verdict == verdict == sim.branches[0].verdict, (p, kb.verdict, sim.notes, kb.notes)
            # with the routes, no -o was assumed
            assert not any(s.assumed for b in sim.branches for s in b.steps), (p, sim.notes)
        # node-origin without a route: the socket refuses it (ENETUNREACH), the kernel never sees it
        p = Packet("192.168.0.2", "8.8.8.8", "tcp", 40007, 443, None, True)
        with pytest.raises(InputError, match=rf"OSError\({errno.ENETUNREACH}, 'connect'\)"):
            lab.trace(p)
        (b,) = trace_packet(rs, p, NODE, routes=_node_routes(lab)).branches
        assert b.verdict == "DROP" and b.steps == [] and any("ENETUNREACH" in n for n in b.notes)
    finally:
        lab.close()
