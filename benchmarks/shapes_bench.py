"""Kernel vs simulator on random rulesets of real-world shapes (tests/differential): prints the
agreement per shape and per extension (the matches and targets of the chains the packets walked).
Root only.

    sudo .venv/bin/python benchmarks/shapes_bench.py [--seeds 30] [--flows 15] [--backend nft|legacy]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.differential.harness import run_shapes, table  # noqa: E402
from tests.differential.shapes import GENERATORS  # noqa: E402
from workbook.lab import lab_available  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=30, help="rulesets per shape (random seeds)")
    ap.add_argument("--seed", type=int, action="append", help="use these seeds instead")
    ap.add_argument("--flows", type=int, default=15, help="flows per ruleset")
    ap.add_argument("--shape", action="append", choices=sorted(GENERATORS), help="only these shapes")
    ap.add_argument("--backend", choices=["nft", "legacy"], default="nft")
    ap.add_argument("--json", help="write the full result (every disagreement with its ruleset) here")
    a = ap.parse_args()
    ok, why = lab_available(a.backend)
    if not ok:
        print(f"lab unavailable: {why}", file=sys.stderr)
        return 2
    seeds = a.seed or [random.SystemRandom().randrange(1, 2**31) for _ in range(a.seeds)]

    def progress(case, rows) -> None:
        bad = sum(1 for r in rows if r["agree"] is False)
        print(f"  {case.name}: {len(rows)} flows" + (f", {bad} disagree" if bad else ""), file=sys.stderr, flush=True)

    res = run_shapes(seeds, a.flows, a.backend, a.shape, progress)
    print(f"{a.backend}: agreement {res['agreement']} over {res['rulesets']} rulesets, {res['flows']} flows, "
          f"in {res['seconds']} s; seeds {seeds}")
    print(table(res["per_shape"], "per shape:"))
    print(table(res["per_extension"], "per extension:"))
    for r in res["refused"]:
        print(f"refused: {r['case']}: {r['why']}")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(res, seeds=seeds), indent=1))
    return 0 if not res["disagreements"] and not res["refused"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
