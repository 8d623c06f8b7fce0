"""Kernel lab speed and kernel/simulator agreement: prints "agreement: N/M" (root only).

    sudo .venv/bin/python benchmarks/lab_bench.py [--seeds 20] [--no-conformance]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lab.differential import (classify, conformance_cases, generated_case, loadable,  # noqa: E402
                                    real_cases, run_all, simulator)
from workbook.lab import Lab, lab_available  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=20, help="generated rulesets (random seeds)")
    ap.add_argument("--seed", type=int, action="append", help="use these seeds instead")
    ap.add_argument("--no-conformance", action="store_true")
    ap.add_argument("--no-real", action="store_true", help="leave out the EKS dataset and the public dumps")
    ap.add_argument("--backend", choices=["nft", "legacy"], default="nft")
    ap.add_argument("--json", help="write the full result here")
    a = ap.parse_args()
    ok, why = lab_available(a.backend)
    if not ok:
        print(f"lab unavailable: {why}", file=sys.stderr)
        return 2
    seeds = a.seed or [random.SystemRandom().randrange(1, 2**31) for _ in range(a.seeds)]
    cases = [generated_case(s) for s in seeds]
    if not a.no_conformance:
        cases += conformance_cases()[0]
    if not a.no_real:
        skipped: list[dict] = []
        cases += loadable(real_cases()[0], skipped, a.backend)
        for sk in skipped:
            print(f"left out {sk['case']}: {sk['why'][:120]}")

    # set-up cost of one Lab (namespaces, veths, iptables-restore, monitor) and cost per flow
    c = cases[0]
    t0 = time.monotonic()
    with Lab(c.ruleset, c.node_ips, backend=a.backend) as lab:
        t1 = time.monotonic()
        for p in c.packets:
            lab.trace(p)
        t2 = time.monotonic()
    t3 = time.monotonic()
    print(f"lab set-up {t1 - t0:.2f} s, {len(c.packets)} flows {1000 * (t2 - t1) / len(c.packets):.0f} ms/flow, "
          f"tear-down {t3 - t2:.2f} s")

    res = run_all(cases, simulator(a.backend), backend=a.backend)
    flows = res["flows"]
    print(f"rulesets {len(cases)} ({len(seeds)} generated), flows {flows}, {res['seconds']} s "
          f"({1000 * res['seconds'] / max(flows, 1):.0f} ms/flow incl. set-up)")
    print(f"backend {a.backend}; agreement: {res['agreement']}")
    for d in res["disagreements"]:
        print(f"  disagree ({d['why']}, {classify(d) or 'new'}): {d['case']} {d['packet']}")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(res, seeds=seeds), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
