"""Generated rulesets of each shape through the real kernel (one Lab per ruleset, many flows per
Lab) and the simulator, judged by tests/lab/differential.py's agreement rule."""

from __future__ import annotations

import random
import time
from collections import defaultdict

from tests.lab.differential import Case, run_case, simulator
from workbook.model import InputError, Ruleset
from workbook.parse import parse_save

from .flows import flows
from .shapes import GENERATORS, Shaped, shaped


def case_of(s: Shaped, n_flows: int) -> Case:
    """The lab case of a generated ruleset: its flows drawn from the same seed."""
    rs = parse_save(s.save, f"{s.shape}-seed{s.seed}.rules")
    pkts = flows(s, n_flows, random.Random(f"flows:{s.shape}:{s.seed}"))
    return Case(f"{s.shape}-seed{s.seed}", rs, s.node_ips, pkts, {"kind": "shape", "shape": s.shape, "seed": s.seed},
                out_iface=s.out_iface, ipsets=s.ipsets)


def extensions_walked(rs: Ruleset, path: list) -> set[str]:
    """The matches and targets of the rules in the chains a path went through (what it was judged by)."""
    chains = {(t, c) for t, c, *_ in path}
    out: set[str] = set()
    for r in rs.iter_rules():
        if (r.table, r.chain) in chains:
            out.update(m.module for m in r.matches)
            if r.target and r.target not in rs.tables[r.table].chains:
                out.add(r.target)
    return out


def run_shapes(seeds: list[int], n_flows: int, backend: str = "nft", shapes=None, progress=None) -> dict:
    """Every shape × seed: a ruleset, ``n_flows`` flows through the kernel and the simulator."""
    sim = simulator(backend)
    t0 = time.monotonic()
    results: list[dict] = []
    refused: list[dict] = []
    for seed in seeds:
        for shape in shapes or GENERATORS:
            case = case_of(shaped(shape, seed), n_flows)
            try:
                rows = run_case(case, sim, backend)
            except InputError as e:  # iptables-restore refused what the generator wrote
                refused.append({"case": case.name, "why": str(e)[:300], "ruleset": case.ruleset.to_save()})
                continue
            for r in rows:
                r["shape"] = shape
                r["extensions"] = sorted(extensions_walked(case.ruleset, r.get("kernel", {}).get("path", [])))
            results += rows
            if progress:
                progress(case, rows)
    return summarise(results, refused, time.monotonic() - t0)


def summarise(results: list[dict], refused: list[dict], seconds: float) -> dict:
    per_shape: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_ext: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        if r["agree"] is None:
            continue
        per_shape[r["shape"]][1] += 1
        per_shape[r["shape"]][0] += bool(r["agree"])
        for e in r["extensions"]:
            per_ext[e][1] += 1
            per_ext[e][0] += bool(r["agree"])
    compared = sum(v[1] for v in per_shape.values())
    agree = sum(v[0] for v in per_shape.values())
    return {"agreement": f"{agree}/{compared}", "agree": agree, "compared": compared, "flows": len(results),
            "rulesets": len({r["case"] for r in results}), "seconds": round(seconds, 1),
            "per_shape": {k: f"{a}/{n}" for k, (a, n) in sorted(per_shape.items())},
            "per_extension": {k: f"{a}/{n}" for k, (a, n) in sorted(per_ext.items())},
            "refused": refused, "no_trace": [r for r in results if r["agree"] is None],
            "disagreements": [r for r in results if r["agree"] is False]}


def table(counts: dict[str, str], title: str) -> str:
    """``name  agree/compared  pct`` lines under a title."""
    lines = [title]
    for k, v in counts.items():
        a, n = (int(x) for x in v.split("/"))
        lines.append(f"  {k:<28} {v:>9}  {100 * a / n if n else 0:6.1f}%")
    return "\n".join(lines)
