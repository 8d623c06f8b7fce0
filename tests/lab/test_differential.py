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
from tests.lab.differential import conformance_cases, generated_case, run_all, simulator
from tests.realparts import ROOT, need

pytestmark = [pytest.mark.root, pytest.mark.slow]

ARTIFACT = ROOT / "test-artifacts" / "differential.json"
KNOWN = "builtin-chain-not-in-dump"


def seeds() -> list[int]:
    env = os.environ.get("NFWB_LAB_SEEDS")
    if env:
        return [int(x) for x in env.split(",") if x.strip()]
    rnd = random.SystemRandom()
    return [rnd.randrange(1, 2**31) for _ in range(20)]


def classify(d: dict) -> str | None:
    """Name a disagreement the simulator is known to have (see test_regressions), else None.

    builtin-chain-not-in-dump: the simulator walks a built-in chain the dump does not declare
    ("the kernel always has the built-in chains of a loaded table"); iptables-nft creates only
    the base chains a ruleset declares, so the kernel has no such chain and shows no step. The
    kernel path is then the simulator's with those policy steps taken out.
    """
    rs_chains = set()
    for line in d["ruleset"].splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            rs_chains.add((table, line[1:].split()[0]))
    for b in d["simulator"]:
        extra = [p for p in b["path"] if p[2] is None and str(p[3]).startswith("policy:")
                 and (p[0], p[1]) not in rs_chains]
        if extra and [p for p in b["path"] if p not in extra] == d["kernel"]["path"] and b["dnat"] == d["kernel"]["dnat"]:
            return KNOWN
    return None


def test_kernel_path_is_a_simulator_branch(lab_ok):
    sim = simulator()
    need(sim is not None, "workbook.trace (the simulator) is not importable")
    picked = seeds()
    cases = [generated_case(s) for s in picked]
    conf, skipped = conformance_cases()
    need(len(conf) >= 40, f"the conformance cases are missing (found {len(conf)})")
    res = run_all(cases + conf, sim)
    for d in res["disagreements"]:
        d["known"] = classify(d)
    unknown = [d for d in res["disagreements"] if not d["known"]]
    res.update(seeds=picked, skipped=skipped, unknown=len(unknown),
               known=len(res["disagreements"]) - len(unknown))
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(json.dumps(res, indent=1))
    print(f"agreement: {res['agreement']} ({res['known']} known simulator issue(s), {len(unknown)} new) "
          f"in {res['seconds']} s; seeds {picked}")
    # ≥ 20 generated rulesets with node- and pod-origin flows, and every loadable conformance case
    gen = [r for r in res["results"] if r["origin"]["kind"] == "generated"]
    assert len({r["case"] for r in gen}) >= 20
    assert any(r["packet"]["from_node"] for r in gen) and any(not r["packet"]["from_node"] for r in gen)
    assert any(r["kernel"]["verdict"] == "REJECT" for r in gen)  # services without endpoints
    assert res["compared"] == res["flows"] >= 250
    assert not unknown, json.dumps(unknown[0], indent=1)[:4000]


def test_legacy_backend_agrees_too(lab_ok):
    # The same comparison with the rules loaded by iptables-legacy-restore and the kernel's x_tables
    # TRACE read from nfnetlink_log (fewer rulesets: the nf_tables run above is the main one).
    need_lab("legacy")
    sim = simulator()
    need(sim is not None, "workbook.trace (the simulator) is not importable")
    picked = seeds()[:4]
    res = run_all([generated_case(s) for s in picked], sim, backend="legacy")
    print(f"legacy agreement: {res['agreement']} in {res['seconds']} s; seeds {picked}")
    assert res["compared"] == res["flows"] >= 20
    assert not res["disagreements"], json.dumps(res["disagreements"][0], indent=1)[:4000]
