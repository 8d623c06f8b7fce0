"""The differential again, but the simulator is told no output interface: it must find it itself
from the lab's routes (``differential.lab_routes``: the route back to the source, the default
route to the sink), so every -o rule of the public dumps and the datasets is judged by routing."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from tests.lab.differential import classify, generated_case, loadable, real_cases, run_all
from tests.realparts import need

pytestmark = [pytest.mark.root, pytest.mark.slow]


def routed_simulator():
    """trace_packet with the packet's out_iface taken away: the routes alone say where it leaves."""
    from workbook.trace import trace_packet

    def simulate(rs, p, ips, ipsets=None, localnet=False, routes=None):
        need(routes is not None, "the differential gives the simulator no routes")
        return trace_packet(rs, replace(p, out_iface=None), ips, ipsets=ipsets, route_localnet=localnet,
                            routes=routes)
    return simulate


def test_kernel_path_with_out_interface_from_routing(lab_ok):
    seeds = [random.SystemRandom().randrange(1, 2**31) for _ in range(3)]
    real, skipped = real_cases()
    real = loadable(real, skipped)
    # the public dumps: their most used -o interface is the lab's way out (public_case)
    need(len(real) >= 4, f"too few loadable real dumps ({len(real)})")
    res = run_all([generated_case(s) for s in seeds] + real, routed_simulator())
    for d in res["disagreements"]:
        d["known"] = classify(d)
    unknown = [d for d in res["disagreements"] if not d["known"]]
    print(f"routed agreement: {res['agreement']} in {res['seconds']} s; seeds {seeds}")
    assert res["compared"] >= 60 and res["compared"] >= res["flows"] - 3
    assert not unknown, json.dumps(unknown[0], indent=1)[:4000]
    # with the routes no -o is left to assume: a disagreement may not be blamed on an assumed -o
    assert not [d for d in res["disagreements"]
                if any("output interface is not known" in n for b in d["simulator"] for n in b["notes"])]
