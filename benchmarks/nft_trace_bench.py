"""Trace one flow per Service through a 10,000-Service kube-proxy nftables-mode ruleset: traces/s.

Run: .venv/bin/python benchmarks/nft_trace_bench.py [--services 10000] [--seed 0] [--from-node]
Target: >= 10,000 warm traces/s of one CPU (process time; wall time also shown, the build
machine is shared). One packet per Service (a pod on cni0 → the Service's cluster IP:port,
or the node itself with --from-node); every trace is checked: its DNAT destinations are the
Service's endpoints, or REJECT for a Service without endpoints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from trace_bench import time_flows  # noqa: E402

from workbook.generate import generate_services, kube_proxy_nft  # noqa: E402
from workbook.nft.parse_text import parse_nft_text  # noqa: E402
from workbook.nft.trace import NftTracer  # noqa: E402
from workbook.packet import Packet  # noqa: E402

NODE = "192.168.0.10"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-node", action="store_true", help="send the packets from the node (OUTPUT path)")
    a = ap.parse_args(argv)

    services = generate_services(a.services, seed=a.seed, features=True)
    text = kube_proxy_nft(services, nodeport_ips=[NODE])
    t0 = time.perf_counter()
    rs = parse_nft_text(text, "generated.nft")
    t1 = time.perf_counter()
    tracer = NftTracer(rs, None, [NODE])
    packets = [Packet(NODE if a.from_node else "10.244.7.7", s.cluster_ip, s.protocol, 40000, s.port,
                      None if a.from_node else "cni0", a.from_node) for s in services]

    n = len(packets)
    print(f"ruleset: {len(text) / 2**20:.1f} MB of nft text, {len(rs)} rules, "
          f"{sum(len(t.chains) for t in rs.tables.values())} chains; parse {t1 - t0:.2f} s")
    ok = 0
    for label in ("cold (compiles chains and sets on first use)", "warm"):
        cpu, wall, steps, branches, ok = time_flows(tracer, services, packets)
        print(f"{label}: {n} flows in {cpu:.2f} s CPU ({wall:.2f} s wall): {n / cpu:,.0f} traces/s per CPU "
              f"({n / wall:,.0f}/s wall); {steps / n:.1f} steps, {branches / n:.2f} branches per trace; "
              f"correct {ok}/{n}")
    return 0 if ok == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
