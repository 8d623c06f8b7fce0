"""`nfwb check` (a whole process) on a kube-proxy nftables-mode dump of N Services with M conntrack entries.

Run: .venv/bin/python benchmarks/nft_check_bench.py [--services 10000] [--entries 100000]
Writes the dump into a temporary folder (our layout: kernel/nft-ruleset.txt, kernel/conntrack.txt,
a small iptables-save of the CNI), runs `nfwb check --json` on it three times, prints one JSON line:
the median wall time and the median CPU time (user + system) of the process, peak RSS, findings by id. One entry in 50 points at an endpoint the
rules no longer have (so the stale-conntrack finding has work to do).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workbook.dump import save_dump
from workbook.generate import generate_services, kube_proxy_nft

CNI = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
       ":AWS-SNAT-CHAIN-0 - [0:0]\n-A POSTROUTING -m comment --comment \"AWS SNAT CHAIN\" -j AWS-SNAT-CHAIN-0\n"
       "-A AWS-SNAT-CHAIN-0 -d 192.168.0.0/16 -m comment --comment \"AWS SNAT CHAIN\" -j RETURN\nCOMMIT\n")


def conntrack_lines(services, n: int, seed: int = 1) -> str:
    """``conntrack -L -o extended`` lines: flows from pods to Service frontends, DNATed to an endpoint
    (one in 50 to an address that is no endpoint any more)."""
    rng = random.Random(seed)
    live = [s for s in services if s.endpoints]
    out = []
    for i in range(n):
        s = live[i % len(live)]
        ip, port = rng.choice(s.endpoints)
        if i % 50 == 0:
            ip = f"10.250.{(i >> 8) & 255}.{i & 255}"
        src, sport = f"10.244.{(i >> 8) & 255}.{i & 255}", 20000 + i % 40000
        if s.protocol == "tcp":
            out.append(f"ipv4     2 tcp      6 431999 ESTABLISHED src={src} dst={s.cluster_ip} sport={sport} "
                       f"dport={s.port} src={ip} dst={src} sport={port} dport={sport} [ASSURED] mark=0 use=1")
        else:
            out.append(f"ipv4     2 {s.protocol}      {17 if s.protocol == 'udp' else 132} 29 src={src} "
                       f"dst={s.cluster_ip} sport={sport} dport={s.port} src={ip} dst={src} sport={port} "
                       f"dport={sport} mark=0 use=1")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--entries", type=int, default=100000)
    args = ap.parse_args()
    services = generate_services(args.services, seed=3)
    tmp = Path(tempfile.mkdtemp(prefix="nfwb-nft-check-"))
    dump = save_dump({"iptables/iptables-save.txt": CNI, "kernel/nft-ruleset.txt": kube_proxy_nft(services),
                      "kernel/conntrack.txt": conntrack_lines(services, args.entries)}, tmp / "node")
    nfwb = Path(sys.executable).with_name("nfwb")
    walls, cpus, out = [], [], ""
    for _ in range(3):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([str(nfwb), "check", str(dump), "--json"], capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            return 2
        out = proc.stdout
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ids: dict[str, int] = {}
    for f in json.loads(out)["findings"]:
        ids[f["id"]] = ids.get(f["id"], 0) + 1
    print(json.dumps({"services": args.services, "conntrack_entries": args.entries,
                      "nft_listing_bytes": (dump / "kernel" / "nft-ruleset.txt").stat().st_size,
                      "check_process_s": round(statistics.median(walls), 2),
                      "check_cpu_s": round(statistics.median(cpus), 2), "peak_rss_mib": round(rss_mib), "findings": ids}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
