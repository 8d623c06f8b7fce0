"""Parse + materialise a 10,000-Service kube-proxy nftables-mode listing vs ``nft list ruleset`` printing it.

Usage: ``python benchmarks/nft_parse_bench.py [--services N] [--repeat 3] [--input FILE.nft]``

Loads the ruleset (``workbook.generate.kube_proxy_nft``, or ``--input``: an ``nft -f`` script)
into a throw-away network namespace with ``nft -f`` (deleted afterwards), takes nft's listing, then
times, side by side and alternating, two whole processes: ``nft list ruleset`` printing it, and a
Python process that parses that listing with :func:`workbook.parse` and materialises the rules
frame (``ruleset.rules``). Reports wall and CPU (user+sys) time, best and median, and the ratio.
Needs root and nft.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from parse_bench import _timed  # noqa: E402  (one timer for every benchmark)

_PARSE = ("import sys\nfrom workbook.parse import parse\nrs = parse(sys.argv[1])\ndf = rs.rules\n"
          "assert len(df) == len(rs) > 0\n")


def _run(cmd: list[str], **kw) -> tuple[float, float]:
    return _timed(lambda: subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--input", type=Path, help="an nft -f script to load instead of the generated one")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (a network namespace and nft)", file=sys.stderr)
        return 2
    if args.input:
        script = args.input.read_text()
    else:
        from workbook.generate import generate_services, kube_proxy_nft
        script = kube_proxy_nft(generate_services(args.services, seed=1))
    ns = f"nfwb-nftbench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        t0 = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, text=True, check=True)
        load = time.perf_counter() - t0
        listing = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"], capture_output=True,
                                 text=True, check=True).stdout
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "nft-ruleset.txt"
            path.write_text(listing)
            nft_cmd = ["ip", "netns", "exec", ns, "nft", "list", "ruleset"]
            py_cmd = [sys.executable, "-c", _PARSE, str(path)]
            env = dict(os.environ, PYTHONPATH=str(HERE.parent))
            _run(nft_cmd), _run(py_cmd, env=env)  # warm caches
            nft_t, py_t = [], []
            for _ in range(args.repeat):
                nft_t.append(_run(nft_cmd))
                py_t.append(_run(py_cmd, env=env))
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    from workbook.parse import parse
    rs = parse(listing)
    print(f"listing: {len(listing) / 1e6:.1f} MB, {listing.count(chr(10)):,} lines, {len(rs):,} rules, "
          f"{sum(len(s) for s in rs.iter_sets()):,} set elements; nft -f took {load:.1f} s")
    for name, ts in (("nft list ruleset", nft_t), ("parse + rules frame", py_t)):
        wall, cpu = [t[0] for t in ts], [t[1] for t in ts]
        print(f"{name:>22}: wall best {min(wall):6.2f} s median {statistics.median(wall):6.2f} s | "
              f"cpu best {min(cpu):6.2f} s median {statistics.median(cpu):6.2f} s")
    ratio_wall = statistics.median(t[0] for t in py_t) / statistics.median(t[0] for t in nft_t)
    ratio_cpu = statistics.median(t[1] for t in py_t) / statistics.median(t[1] for t in nft_t)
    print(f"ratio (ours / nft), medians: wall {ratio_wall:.2f}x, cpu {ratio_cpu:.2f}x (target <= 1.0x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
