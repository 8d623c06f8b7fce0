"""The kernel is the oracle, beyond kube-proxy: random rulesets in the shapes Docker, CNI portmap,
Calico, AWS VPC CNI, Istio, ufw, firewalld and raw/mangle users write, with flows aimed at their
branches (and beside them), through the real kernel and the simulator; every kernel path must be
one of the simulator's branches (tests/lab/differential.py's rule), or the paths part at a step
the simulator marked ``assumed`` (it said it could not judge that match: honest, counted and
printed, never silently matched). Any other disagreement fails.

Seeds are random unless NFWB_SHAPE_SEEDS="1,2,3" fixes them; the artifact
(test-artifacts/shapes-<backend>.json) names them, with every disagreement's ruleset.
"""

from __future__ import annotations

import json
import os
import random

import pytest

from tests.differential.harness import run_shapes, table
from tests.differential.shapes import GENERATORS
from tests.lab.conftest import need_lab
from tests.lab.differential import classify
from tests.realparts import ROOT

pytestmark = [pytest.mark.root, pytest.mark.slow]


def seeds(n: int) -> list[int]:
    env = os.environ.get("NFWB_SHAPE_SEEDS")
    if env:
        return [int(x) for x in env.split(",") if x.strip()][:n]
    rnd = random.SystemRandom()
    return [rnd.randrange(1, 2**31) for _ in range(n)]


def _run(backend: str, n_seeds: int, n_flows: int) -> dict:
    need_lab(backend)
    picked = seeds(n_seeds)
    res = run_shapes(picked, n_flows, backend)
    res["seeds"] = picked
    res["assumed"] = [d for d in res["disagreements"] if classify(d) == "simulator-assumed"]
    res["wrong"] = [d for d in res["disagreements"] if classify(d) != "simulator-assumed"]
    out = ROOT / "test-artifacts" / f"shapes-{backend}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"\n{backend}: agreement {res['agreement']} over {res['rulesets']} rulesets in {res['seconds']} s; seeds {picked}")
    print(table(res["per_shape"], "per shape:"))
    print(f"parted at a step the simulator marked assumed: {len(res['assumed'])}; wrong: {len(res['wrong'])}")
    return res


def _check(res: dict, rulesets: int, flows: int) -> None:
    assert not res["refused"], f"iptables-restore refused a generated ruleset: {res['refused'][0]['why']}"
    assert res["rulesets"] >= rulesets and res["compared"] >= flows, (res["rulesets"], res["compared"])
    assert set(res["per_shape"]) == set(GENERATORS)
    assert res["compared"] >= res["flows"] - len(GENERATORS), res["no_trace"][:3]  # a lost trace is rare
    assert not res["wrong"], json.dumps(res["wrong"][0], indent=1)[:6000]


def test_shapes_nft():
    # 12 seeds x 9 shapes = 108 rulesets, 10 flows each (about 4 min)
    _check(_run("nft", 12, 10), 100, 1000)


def test_shapes_legacy():
    # 2 seeds x 9 shapes = 18 rulesets, 8 flows each (legacy's nfnetlink_log trace is slower: about 80 s)
    _check(_run("legacy", 2, 8), 18, 130)
