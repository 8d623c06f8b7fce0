"""Time ``workbook.parse`` on a 10,000-Service kube-proxy dump against the real iptables-save tools.

Usage: ``python benchmarks/parse_bench.py [--services N] [--repeat 5] [--no-kernel]``

Prints the dump size, the best-of-N parse time and peak memory (tracemalloc), and — when run as
root with ``ip`` and iptables available — the best-of-N time of ``iptables-nft-save`` and
``iptables-legacy-save`` for the same ruleset loaded into a throw-away network namespace
(deleted afterwards), with the ratios.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbook.generate import generate_services, kube_proxy_save  # noqa: E402
from workbook.parse import parse, parse_save  # noqa: E402


def best_of(n: int, fn) -> float:
    """Best wall-clock time of ``n`` runs."""
    return min(_timed(fn)[0] for _ in range(n))


def best_cpu_of(n: int, fn) -> float:
    """Best CPU time (user+sys of this process and its children) of ``n`` runs: stable on a busy machine."""
    return min(_timed(fn)[1] for _ in range(n))


def _timed(fn) -> tuple[float, float]:
    gc.collect()
    c0, t0 = os.times(), time.perf_counter()
    fn()
    c1, t1 = os.times(), time.perf_counter()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) + \
          (c1.children_system - c0.children_system)
    return t1 - t0, cpu


def kernel_times(text: str, repeat: int) -> dict[str, float]:
    if os.geteuid() != 0 or not shutil.which("ip"):
        return {}
    ns = f"nfwb-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    out: dict[str, float] = {}
    try:
        for backend in ("nft", "legacy"):
            r = subprocess.run(["ip", "netns", "exec", ns, f"iptables-{backend}-restore"], input=text, text=True,
                               capture_output=True)
            if r.returncode:
                print(f"iptables-{backend}-restore failed: {r.stderr.strip()}", file=sys.stderr)
                continue
            cmd = ["ip", "netns", "exec", ns, f"iptables-{backend}-save"]
            subprocess.run(cmd, capture_output=True)  # warm up
            run = lambda: subprocess.run(cmd, capture_output=True)  # noqa: E731
            out[f"iptables-{backend}-save"] = best_of(repeat, run)
            out[f"cpu:iptables-{backend}-save"] = best_cpu_of(repeat, run)
            out[f"_{backend}_text"] = subprocess.run(cmd, capture_output=True, text=True).stdout  # type: ignore
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-kernel", action="store_true", help="do not time the real iptables-save tools")
    args = ap.parse_args()

    raw = kube_proxy_save(generate_services(args.services, seed=1))
    text = parse_save(raw, "generated").to_save()  # canonical order: chains grouped as iptables-save prints
    kt = {} if args.no_kernel else kernel_times(text, args.repeat)
    if "_nft_text" in kt:
        text = kt["_nft_text"]  # the real iptables-nft-save output is what users parse
    lines = text.count("\n")
    rules = text.count("\n-A ")
    print(f"dump: {args.services} services, {lines} lines, {rules} rules, {len(text) / 1e6:.1f} MB")

    rs = parse(text)
    assert len(rs) == rules, (len(rs), rules)
    t = best_of(args.repeat, lambda: parse(text))
    tc = best_cpu_of(args.repeat, lambda: parse(text))
    print(f"workbook.parse:        {t:.3f} s wall, {tc:.3f} s CPU  ({rules / t / 1e3:.0f}k rules/s, best of {args.repeat})")
    gc.collect()
    tracemalloc.start()
    rs = parse(text)
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory (parse):   {peak / 1e6:.1f} MB  (ruleset retained: {cur / 1e6:.1f} MB)")
    def parse_and_touch():  # parse, then look at every rule's matches once (fills lazily parsed rules;
        for r in parse(text).iter_rules():  # target, counters and position are known without a fill)
            r.matches
    full = best_of(max(1, args.repeat // 2), parse_and_touch)
    fullc = best_cpu_of(max(1, args.repeat // 2), parse_and_touch)
    print(f"parse + touch all:     {full:.3f} s wall, {fullc:.3f} s CPU  (every rule's fields filled)")
    eager = best_cpu_of(max(1, args.repeat // 2), lambda: parse_save(text, lazy=False))
    print(f"parse_save(lazy=False): {eager:.3f} s CPU  (the pre-optimisation path, all rules built at once)")
    spec_t = best_of(args.repeat, lambda: [r.spec for r in rs.iter_rules()])
    print(f"all .spec strings:     {spec_t:.3f} s  (rules already filled)")
    for name in ("iptables-nft-save", "iptables-legacy-save"):
        if name in kt:
            k, kc = kt[name], kt["cpu:" + name]
            print(f"{name + ':':22s} {k:.3f} s wall, {kc:.3f} s CPU   parse/{name}: wall {t / k:.2f}, CPU {tc / kc:.2f}")
    if not kt and not args.no_kernel:
        print("(not root or no iproute2: real iptables-save timings skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
