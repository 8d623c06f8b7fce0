"""The kernel is the oracle: on fresh kube-proxy rulesets and on the conformance rulesets, the
kernel's path must be one of the simulator's branches, with the same DNAT destination.

Writes test-artifacts/differential.json (every flow; ruleset and all simulator paths for each
disagreement). Seeds are random unless NFWB_LAB_SEEDS="1,2,3" fixes them; the artifact names them.
"""

from __future__ import annotations

import json
import os
import random

import pytest

from tests.lab.conftest import need_lab
from tests.lab.differential import classify, conformance_cases, generated_case, loadable, real_cases, run_all, simulator
from tests.realparts import ROOT, need

pytestmark = [pytest.mark.root, pytest.mark.slow]

ARTIFACT = ROOT / "test-artifacts" / "differential.json"


def seeds() -> list[int]:
    env = os.environ.get("NFWB_LAB_SEEDS")
    if env:
        return [int(x) for x in env.split(",") if x.strip()]
    rnd = random.SystemRandom()
    return [rnd.randrange(1, 2**31) for _ in range(20)]


def test_kernel_path_is_a_simulator_branch(lab_ok):
    sim = simulator()
    need(sim is not None, "workbook.trace (the simulator) is not importable")
    picked = seeds()
    cases = [generated_case(s) for s in picked]
    conf, skipped = conformance_cases()
    need(len(conf) >= 40, f"the conformance cases are missing (found {len(conf)})")
    real, skipped_real = real_cases()
    real = loadable(real, skipped_real)
    res = run_all(cases + conf + real, sim)
    skipped += skipped_real
    for d in res["disagreements"]:
        d["known"] = classify(d)
    unknown = [d for d in res["disagreements"] if not d["known"]]
    kinds: dict[str, int] = {}
    for d in res["disagreements"]:
        kinds[d["known"] or "new"] = kinds.get(d["known"] or "new", 0) + 1
    res.update(seeds=picked, skipped=skipped, unknown=len(unknown), by_kind=kinds,
               known=len(res["disagreements"]) - len(unknown))
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(res, indent=1))
    print(f"agreement: {res['agreement']} (disagreements by kind: {kinds or 'none'}) "
          f"in {res['seconds']} s; seeds {picked}")
    # ≥ 20 generated rulesets with node- and pod-origin flows, and every loadable conformance case
    gen = [r for r in res["results"] if r["origin"]["kind"] == "generated"]
    assert len({r["case"] for r in gen}) >= 20
    assert any(r["packet"]["from_node"] for r in gen) and any(not r["packet"]["from_node"] for r in gen)
    assert any(r["kernel"]["verdict"] == "REJECT" for r in gen)  # services without endpoints
    # the EKS node of the seed post and the public dumps that load
    assert any(r["origin"]["kind"] == "dataset" for r in res["results"])
    assert len({r["case"] for r in res["results"] if r["origin"]["kind"] == "public"}) >= 4
    assert res["compared"] >= 300 and res["compared"] >= res["flows"] - 3
    assert not unknown, json.dumps(unknown[0], indent=1)[:4000]


def test_legacy_backend_agrees_too(lab_ok):
    # The same comparison with the rules loaded by iptables-legacy-restore and the kernel's x_tables
    # TRACE read from nfnetlink_log (fewer rulesets: the nf_tables run above is the main one).
    need_lab("legacy")
    sim = simulator("legacy")
    need(sim is not None, "workbook.trace (the simulator) is not importable")
    picked = seeds()[:4]
    res = run_all([generated_case(s) for s in picked], sim, backend="legacy")
    print(f"legacy agreement: {res['agreement']} in {res['seconds']} s; seeds {picked}")
    assert res["compared"] == res["flows"] >= 20
    assert not res["disagreements"], json.dumps(res["disagreements"][0], indent=1)[:4000]
