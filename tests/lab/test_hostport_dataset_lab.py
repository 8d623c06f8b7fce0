"""The hostPort flow of datasets/onprem-dup-hostport through the real kernel, with the dump's routes.

The lab node gets the dump's rules, ipsets, addresses and every route of its ``network/ip-route.txt``
(the Calico veths, ``vxlan.calico`` and ``docker0`` are made as interfaces of the lab node). A
client on eth0 opens a connection to the node's port 80; the simulator is given the same dump
routes (``nfwb trace``'s default) and must agree with the kernel, path, DNAT and verdict.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.realparts import ROOT, need
from workbook.lab import Lab, kernel_agrees
from workbook.packet import Packet
from workbook.trace import ipsets_from_save, parse_routes, trace_packet

pytestmark = [pytest.mark.root]

DATASET = ROOT / "datasets" / "onprem-dup-hostport"
CLIENT = Packet("10.10.20.50", "10.10.20.21", "tcp", 40080, 80, "eth0")


def _dump_routes(lab: Lab, text: str) -> None:
    """Add the dump's routes to the lab node (their devices made first)."""
    devs = sorted({r.dev for r in parse_routes(text) if r.dev and r.dev != "eth0"})
    for dev in devs:
        lab._iface(dev)  # a node interface of that name (a veth to a client namespace)
    subprocess.run(["ip", "-n", lab.node, "route", "del", "default"], check=True)
    lines = text.splitlines()
    for line in sorted(lines, key=lambda l: " via " in l):  # a gateway needs its connected route first
        words = [w for w in line.split() if w != "linkdown"]  # a state `ip route` prints, not an option
        if words:
            subprocess.run(["ip", "-n", lab.node, "route", "replace", *words], check=True)


@pytest.mark.parametrize("which", ["before", "after"])
def test_hostport_flow_with_the_dumps_routes(lab_ok, which):
    from workbook.dump import load_dump
    need((DATASET / which / "MANIFEST.json").exists(), f"{DATASET / which} is missing")
    d = load_dump(DATASET / which)
    routes = d.text("network/ip-route.txt")
    ipsets = ipsets_from_save(d.text("network/ipset.txt") or "")
    lab = Lab(d.ruleset, tuple(d.node_ips), ipsets=ipsets)
    try:
        lab.open("eth0")
        _dump_routes(lab, routes)
        k = lab.trace(CLIENT)
    finally:
        lab.close()
    sim = trace_packet(d.ruleset, CLIENT, d.node_ips, ipsets=ipsets, routes=routes)
    kb = k.branches[0]
    ok, why = kernel_agrees(k, sim)
    assert ok, (why, kb.matched_path(), [b.matched_path() for b in sim.branches], sim.notes)
    (sb,) = sim.branches
    assert kb.verdict == sb.verdict
    # By hand (README of the dataset): both dumps DNAT port 80 to 10.42.134.75, the pod of the first
    # CNI-HOSTPORT-DNAT entry: the live ingress pod before, the deleted one after.
    assert kb.dnat == sb.dnat == "10.42.134.75:80"
    if which == "after":
        # 10.42.134.75 has no /32 route any more: Calico's block route `blackhole 10.42.134.64/26`
        # takes it and the kernel drops the packet right after PREROUTING (no FORWARD step)
        assert kb.verdict == "DROP" and {s.hook for s in kb.steps} == {"PREROUTING"}
        assert any("blackhole 10.42.134.64/26" in n for n in sb.notes)
    else:
        # the route `10.42.134.75 dev cali6968104dfaa` sends it out of the pod's veth: the
        # packet reaches FORWARD and Calico's to-workload chain of that veth
        assert ("filter", "cali-tw-cali6968104dfaa") in {(s.table, s.chain) for s in kb.steps}
        # (its verdict is whatever filter FORWARD says: the dataset's FORWARD has no Calico
        # "Policy explicitly accepted packet" ACCEPT (CHAINS.md 5.2), so kernel and simulator both
        # end in Docker's policy DROP; the comparison above holds either way)
