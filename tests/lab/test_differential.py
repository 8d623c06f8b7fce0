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
from tests.lab.differential import Case, conformance_cases, generated_case, real_cases, run_all, simulator
from workbook.lab import Lab
from workbook.model import InputError
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
    """Name a disagreement that is a known limit of the simulator (see test_regressions), else None.

    builtin-chain-not-in-dump: the simulator walks a built-in chain the dump does not declare
    ("the kernel always has the built-in chains of a loaded table"); iptables-nft creates only
    the base chains a ruleset declares, so the kernel has no such chain and shows no step. The
    kernel path is then the simulator's with those policy steps taken out.

    simulator-assumed: the simulator could not judge a match (it says so: the step is marked
    ``assumed`` and a branch note names it) and the paths part at that very step.
    """
    rs_chains = set()
    table = None
    for line in d["ruleset"].splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith(":"):
            rs_chains.add((table, line[1:].split()[0]))
    kp = d["kernel"]["path"]
    for b in d["simulator"]:
        extra = [p for p in b["path"] if p[2] is None and str(p[3]).startswith("policy:")
                 and (p[0], p[1]) not in rs_chains]
        if extra and [p for p in b["path"] if p not in extra] == kp and b["dnat"] == d["kernel"]["dnat"]:
            return KNOWN
    assumed = {(a[0], a[1], a[2]) for b in d["simulator"] for a in b["assumed"]}
    for b in d["simulator"]:
        sp = b["path"]
        i = next((i for i, (x, y) in enumerate(zip(kp, sp)) if list(x) != list(y)), min(len(kp), len(sp)))
        if i < len(sp) and tuple(sp[i][:3]) in assumed:
            return "simulator-assumed"
    return None


def loadable(cases: list[Case], skipped: list[dict]) -> list[Case]:
    """The cases iptables-restore takes (a public dump may use a set, MAC or option this host lacks)."""
    out = []
    for c in cases:
        try:
            Lab(c.ruleset, c.node_ips, ipsets=c.ipsets, out_iface=c.out_iface).open().close()
        except InputError as e:
            skipped.append({"case": c.name, "why": str(e)[:300]})
            continue
        out.append(c)
    return out


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
