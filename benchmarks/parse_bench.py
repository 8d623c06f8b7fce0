"""Whole processes against whole processes: ``nfwb`` on kube-proxy dumps of 1k/10k/40k Services
against ``iptables-nft-save`` / ``iptables-legacy-save`` printing the same ruleset, and GNU diff.

Usage: ``python benchmarks/parse_bench.py [--sizes 1000,10000,40000] [--repeat 3] [--no-kernel]``

For each size the generated ruleset is loaded into a throw-away network namespace (deleted
afterwards) with ``iptables-nft-restore`` and ``iptables-legacy-restore``; the text
``iptables-nft-save -c`` prints is the input file. Each process is run under GNU ``time -v``
(best of ``--repeat``: wall seconds, user+sys CPU seconds, peak RSS):

- ``materialise``: a Python process that parses the file and fills every rule (the parse
  ``nfwb parse --save`` does, without printing);
- ``nfwb parse --save``: the same plus printing the ruleset back (what iptables-save does);
- ``iptables-nft-save -c`` / ``iptables-legacy-save -c`` in the namespace;
- ``nfwb parse`` (the summary and the rules frame), ``nfwb check``;
- ``nfwb diff`` and GNU ``diff`` on the same pair (the second file: 1 % of the rules changed).

The rules frame is also timed in-process (its rules already filled). Ratios are printed per
size, and the growth exponent of each process (least-squares slope of log time over log size).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbook.generate import generate_services, kube_proxy_save  # noqa: E402
from workbook.parse import parse_save  # noqa: E402

_MATERIALISE = ("import sys; from pathlib import Path; from workbook.parse import parse; "
                "rs = parse(Path(sys.argv[1])); n = sum(1 for r in rs.iter_rules() if r.matches is not None)")


def timed(cmd: list[str], repeat: int, stdin: str | None = None) -> dict[str, float]:
    """Best of ``repeat`` runs of ``cmd`` under GNU time -v: wall s, cpu s (user+sys), rss MiB."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            subprocess.run(["time", "-v", "-o", tf.name, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           input=stdin, text=True, cwd=ROOT)
            out = tf.read()
        user = float(re.search(r"User time \(seconds\): ([\d.]+)", out).group(1))
        sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", out).group(1))
        wall = _wall(re.search(r"Elapsed \(wall clock\) time.*: ([\d:.]+)", out).group(1))
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out).group(1)) / 1024
        for k, v in (("wall", wall), ("cpu", user + sys_), ("rss", rss)):
            best[k] = min(best.get(k, v), v)
    return best


def _wall(text: str) -> float:
    secs = 0.0
    for part in text.split(":"):
        secs = secs * 60 + float(part)
    return secs


def changed(text: str, seed: int = 3) -> str:
    """``text`` with about 1 % of its rules deleted, edited or preceded by a new rule."""
    rnd = random.Random(seed)
    out = []
    for line in text.split("\n"):
        if "-A " in line and rnd.random() < 0.01:
            r = rnd.random()
            if r < 0.3:
                continue
            if r < 0.6:
                line = line.replace("--dport ", "--dport 1", 1)
            else:
                out.append(line.replace("-j ", "-m comment --comment added -j ", 1))
        out.append(line)
    return "\n".join(out)


def kernel_dump(text: str, repeat: int) -> tuple[str, dict[str, dict[str, float]]]:
    """Load ``text`` in a throw-away namespace; time both save tools; return the nft-save text."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        return text, {}
    ns = f"nfwb-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    got: dict[str, dict[str, float]] = {}
    try:
        for backend in ("nft", "legacy"):
            r = subprocess.run(["ip", "netns", "exec", ns, f"iptables-{backend}-restore"], input=text, text=True,
                               capture_output=True)
            if r.returncode:
                print(f"iptables-{backend}-restore failed: {r.stderr.strip()[:200]}", file=sys.stderr)
                continue
            cmd = ["ip", "netns", "exec", ns, f"iptables-{backend}-save", "-c"]
            if backend == "nft":
                text = subprocess.run(cmd, capture_output=True, text=True).stdout
            got[f"iptables-{backend}-save"] = timed(cmd, repeat)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    return text, got


def frame_seconds(path: Path) -> float:
    from workbook.frames import rules_frame
    from workbook.parse import parse
    rs = parse(path)
    for r in rs.iter_rules():
        r.matches
    t0 = time.perf_counter()
    rules_frame(rs)
    return time.perf_counter() - t0


def exponent(sizes: list[int], values: list[float]) -> float:
    """Least-squares slope of log(value) over log(size): 1.0 is linear."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(v, 1e-6)) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,40000", help="Service counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-kernel", action="store_true", help="do not load the ruleset into the kernel")
    args = ap.parse_args()
    if not shutil.which("time"):
        print("needs GNU time (Debian package 'time', installed by scripts/setup)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    nfwb = [sys.executable, "-m", "workbook"]
    table: dict[str, list[dict[str, float]]] = {}
    frames: list[float] = []
    with tempfile.TemporaryDirectory(prefix="nfwb-bench-") as tmp:
        for n in sizes:
            text = parse_save(kube_proxy_save(generate_services(n, seed=1)), "generated").to_save()
            kernel: dict[str, dict[str, float]] = {}
            if not args.no_kernel:
                text, kernel = kernel_dump(text, args.repeat)
            a, b = Path(tmp) / f"a{n}.save", Path(tmp) / f"b{n}.save"
            a.write_text(text)
            b.write_text(changed(text))
            rules = text.count("-A ")
            print(f"\n{n} Services: {rules} rules, {text.count(chr(10))} lines, {len(text) / 1e6:.1f} MB")
            rows = dict(kernel)
            rows["materialise"] = timed([sys.executable, "-c", _MATERIALISE, str(a)], args.repeat)
            rows["nfwb parse --save"] = timed([*nfwb, "parse", "--save", str(a)], args.repeat)
            rows["nfwb parse"] = timed([*nfwb, "parse", str(a)], 1)
            rows["nfwb check"] = timed([*nfwb, "check", str(a)], 1)
            rows["nfwb diff"] = timed([*nfwb, "diff", str(a), str(b)], 1)
            rows["GNU diff"] = timed(["diff", str(a), str(b)], args.repeat)
            for name, m in rows.items():
                print(f"  {name:24s} {m['wall']:7.2f} s wall {m['cpu']:7.2f} s CPU {m['rss']:7.0f} MiB")
                table.setdefault(name, []).append(m)
            frames.append(frame_seconds(a))
            print(f"  {'rules frame (in-process)':24s} {frames[-1]:7.2f} s")
            ref = rows.get("iptables-nft-save")
            for name in ("materialise", "nfwb parse --save"):
                if ref:
                    print(f"  {name} / iptables-nft-save: wall {rows[name]['wall'] / ref['wall']:.2f}, "
                          f"CPU {rows[name]['cpu'] / ref['cpu']:.2f}")
                if "iptables-legacy-save" in rows:
                    leg = rows["iptables-legacy-save"]
                    print(f"  {name} / iptables-legacy-save: wall {rows[name]['wall'] / leg['wall']:.2f}, "
                          f"CPU {rows[name]['cpu'] / leg['cpu']:.2f}")
            base = rows["materialise"]
            print(f"  nfwb check / materialise: CPU {rows['nfwb check']['cpu'] / base['cpu']:.2f}")
            print(f"  nfwb diff / GNU diff: CPU {rows['nfwb diff']['cpu'] / max(rows['GNU diff']['cpu'], 0.01):.1f}, "
                  f"wall {rows['nfwb diff']['wall'] / max(rows['GNU diff']['wall'], 0.01):.1f}")
    if len(sizes) > 1:
        print(f"\ngrowth exponents over {args.sizes} (CPU time; 1.0 = linear):")
        for name, ms in table.items():
            print(f"  {name:24s} {exponent(sizes, [m['cpu'] for m in ms]):.2f}   peak RSS "
                  f"{exponent(sizes, [m['rss'] for m in ms]):.2f}")
        print(f"  {'rules frame':24s} {exponent(sizes, frames):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
