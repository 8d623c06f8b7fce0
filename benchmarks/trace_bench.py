"""Trace one flow per Service through the 10,000-Service kube-proxy dump: traces/s and peak memory.

Run: .venv/bin/python benchmarks/trace_bench.py [--services 10000] [--seed 0] [--from-node]
Target: >= 10,000 traces/s of one CPU (process time; wall time is also shown, the
build machine is shared) (one packet per Service, a pod on cni0 → the Service's cluster IP:port),
with KUBE-SERVICES indexed (workbook.trace.INDEX_MIN_RULES). Reports compile time, traces/s,
steps and branches per trace, and peak traced Python memory (tracemalloc) and max RSS.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbook.generate import generate_services, kube_proxy_save  # noqa: E402
from workbook.packet import Packet  # noqa: E402
from workbook.parse import parse_save  # noqa: E402
from workbook.trace import Tracer  # noqa: E402

NODE = "192.168.0.10"


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def time_flows(tracer, services, packets) -> tuple[float, float, int, int, int]:
    """Trace every packet once: (CPU s, wall s, steps, branches, traces whose DNATs are the Service's
    endpoints, or REJECT for a Service without endpoints)."""
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    steps = branches = ok = 0
    for s, p in zip(services, packets):
        tr = tracer.trace(p)
        branches += len(tr.branches)
        steps += sum(len(b.steps) for b in tr.branches)
        want = {f"{ip}:{port}" for ip, port in s.endpoints}
        got = {b.dnat for b in tr.branches}
        if (want and got == want) or (not want and tr.verdicts == {"REJECT": 1.0}):
            ok += 1
    return time.process_time() - c0, time.perf_counter() - w0, steps, branches, ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-node", action="store_true", help="send the packets from the node (OUTPUT path)")
    ap.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass (it slows tracing)")
    a = ap.parse_args(argv)

    services = generate_services(a.services, seed=a.seed)
    text = kube_proxy_save(services)
    t0 = time.perf_counter()
    rs = parse_save(text, "generated")
    t1 = time.perf_counter()
    tracer = Tracer(rs, [NODE])
    t2 = time.perf_counter()
    rss_parsed = _rss_mib()
    packets = [Packet(NODE if a.from_node else "10.244.7.7", s.cluster_ip, s.protocol, 40000, s.port,
                      None if a.from_node else "cni0", a.from_node) for s in services]

    def run_all():
        return time_flows(tracer, services, packets)

    n = len(packets)
    print(f"ruleset: {len(rs)} rules, nat KUBE-SERVICES {len(rs.chain('nat', 'KUBE-SERVICES').rules)} rules")
    print(f"parse {t1 - t0:.2f} s; Tracer() {t2 - t1:.2f} s (chains are compiled when a packet first enters them)")
    f0 = time.perf_counter()
    tracer.trace(packets[0])
    f1 = time.perf_counter()
    tracer.trace(packets[-1])
    f2 = time.perf_counter()
    print(f"first trace {1000 * (f1 - f0):.0f} ms (indexes KUBE-SERVICES, compiles only the rules it reaches); "
          f"a second service {1000 * (f2 - f1):.1f} ms")
    for label in ("cold (compiles each chain on first use)", "warm (all chains compiled)"):
        cpu, wall, steps, branches, ok = run_all()
        print(f"{label}: {n} flows in {cpu:.2f} s CPU ({wall:.2f} s wall): {n / cpu:,.0f} traces/s per CPU "
              f"({n / wall:,.0f}/s wall); {steps / n:.1f} steps, {branches / n:.2f} branches per trace; "
              f"correct {ok}/{n}")
    dnat_ok = ok

    print(f"resident memory: {rss_parsed:.0f} MiB after parsing, {_rss_mib():.0f} MiB with every chain compiled "
          f"and traced (VmRSS)")
    if not a.no_memory:
        gc.collect()
        tracemalloc.start()
        kept = [tracer.trace(p) for p in packets[:1000]]
        cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"1000 traces kept in memory: {cur / 2**20:.1f} MiB ({cur / len(kept) / 1024:.1f} KiB per trace), "
              f"peak {peak / 2**20:.1f} MiB (tracemalloc)")
    print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0 if dnat_ok == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
