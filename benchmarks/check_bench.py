"""Time and peak memory of workbook.checks.check on a 10,000-Service kube-proxy dump (workbook.generate).

Run: .venv/bin/python benchmarks/check_bench.py [--services N] [--seed S]
Prints one JSON line with the figures (parse and check measured separately; tracemalloc peaks).
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

from workbook.checks import FAMILIES, check
from workbook.diff import diff_rulesets
from workbook.generate import generate_services, kube_proxy_save
from workbook.parse import parse_save


def measure(fn):
    """(result, seconds without tracing, peak bytes allocated while running under tracemalloc)."""
    t0 = time.perf_counter()
    result = fn()
    dt = time.perf_counter() - t0
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, dt, peak


def _damage(text: str) -> str:
    out: list[str] = []
    svc = sep = 0
    for line in text.splitlines():
        if line.startswith("-A KUBE-SERVICES -d "):
            svc += 1
            if svc % 100 == 0:
                out.append(line)          # an extra copy
        elif line.startswith("-A KUBE-SVC-") and "-j KUBE-SEP-" in line:
            sep += 1
            if sep % 100 == 0:
                continue                  # its KUBE-SEP chain becomes stale
        out.append(line)
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--damage", action="store_true",
                    help="also break 1%% of it: duplicate every 100th KUBE-SERVICES rule and drop every "
                         "100th SVC→SEP jump (so findings are built at scale too)")
    args = ap.parse_args()
    clean = kube_proxy_save(generate_services(args.services, seed=args.seed))
    text = _damage(clean) if args.damage else clean
    rs, t_parse, m_parse = measure(lambda: parse_save(text, "generated"))
    findings, t_check, m_check = measure(lambda: check(rs))
    per_family = {}
    for fam in FAMILIES:
        t0 = time.perf_counter()
        check(rs, families=[fam])
        per_family[fam] = round(time.perf_counter() - t0, 3)
    d, t_diff, m_diff = measure(lambda: diff_rulesets(rs, rs))
    a = parse_save(clean, "clean")
    b = parse_save(_damage(clean), "damaged")
    d2, t_diff2, m_diff2 = measure(lambda: diff_rulesets(a, b))
    print(json.dumps({
        "services": args.services, "damaged": args.damage, "rules": len(rs), "chains": sum(1 for _ in rs.iter_chains()),
        "parse_s": round(t_parse, 3), "parse_peak_MiB": round(m_parse / 2**20, 1),
        "check_s": round(t_check, 3), "check_peak_MiB": round(m_check / 2**20, 1),
        "check_per_family_s": per_family, "findings": findings.counts(),
        "diff_self_s": round(t_diff, 3), "diff_peak_MiB": round(m_diff / 2**20, 1),
        "diff_vs_damaged_s": round(t_diff2, 3), "diff_vs_damaged_peak_MiB": round(m_diff2 / 2**20, 1),
        "diff_vs_damaged": d2.counts(),
        "finding_ids": sorted({f.id for f in findings}),
    }))


if __name__ == "__main__":
    main()
