"""Time the largest drawings of the 10,000-Service kube-proxy dump: build the graph + render SVG with dot.

Run: .venv/bin/python benchmarks/draw_bench.py [--services 10000] [--repeat 3]
Target: each drawing < 2 s (graph build + `dot` to SVG), parse time reported separately.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbook.view.draw import draw_chains, draw_hooks, draw_trace, to_svg  # noqa: E402
from workbook.generate import generate_services, kube_proxy_save  # noqa: E402
from workbook.packet import Branch, Packet, Step, Trace  # noqa: E402
from workbook.parse import parse_save  # noqa: E402


def make_trace(rs, services):
    """A trace to the last service in KUBE-SERVICES (the longest walk): workbook.trace when present."""
    svc = [s for s in services if len(s.endpoints) >= 2][-1]
    packet = Packet("10.244.7.7", svc.cluster_ip, svc.protocol, 40000, svc.port, in_iface="eth0")
    try:
        from workbook.trace import trace_packet  # type: ignore
        return trace_packet(rs, packet), "workbook.trace.trace_packet"
    except ImportError:
        pass
    # Hand-built: every KUBE-SERVICES rule before the service's is evaluated and fails.
    chain = rs.chain("nat", "KUBE-SERVICES")
    pre = [Step("PREROUTING", "nat", "PREROUTING", 1, rs.chain("nat", "PREROUTING").rules[0].spec, True,
                "JUMP:KUBE-SERVICES")]
    for r in chain.rules:
        if r.target == svc.svc_chain:
            pre.append(Step("PREROUTING", "nat", "KUBE-SERVICES", r.position, r.spec, True, f"JUMP:{svc.svc_chain}"))
            break
        pre.append(Step("PREROUTING", "nat", "KUBE-SERVICES", r.position, r.spec, False, f"JUMP:{r.target}", why="-d"))
    branches = []
    n = len(svc.endpoints)
    for k, (ip, port) in enumerate(svc.endpoints):
        sep = svc.sep_chain(ip, port)
        steps = list(pre) + [Step("PREROUTING", "nat", svc.svc_chain, 1, None, False, "JUMP:KUBE-MARK-MASQ", why="! -s")]
        steps.append(Step("PREROUTING", "nat", svc.svc_chain, k + 2, None, True, f"JUMP:{sep}"))
        steps.append(Step("PREROUTING", "nat", sep, 2, None, True, "DNAT"))
        steps.append(Step("FORWARD", "filter", "FORWARD", 2, None, True, "JUMP:KUBE-FORWARD"))
        branches.append(Branch(1.0 / n, "ACCEPT", steps, dnat=f"{ip}:{port}"))
    return Trace(packet, branches), "hand-built (workbook.trace not present)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    services = generate_services(args.services, seed=0)
    text = kube_proxy_save(services, counters=True)
    t_gen = time.perf_counter() - t
    t = time.perf_counter()
    rs = parse_save(text, f"kube-proxy-{args.services}")
    t_parse = time.perf_counter() - t
    trace, how = make_trace(rs, services)
    print(f"dump: {args.services} services, {len(rs)} rules, {sum(1 for _ in rs.iter_chains())} chains "
          f"(generate {t_gen:.2f} s, parse {t_parse:.2f} s); trace: {how}, {len(trace.branches)} branches, "
          f"{sum(len(b.steps) for b in trace.branches)} steps")
    cases = [
        ("draw_chains(rs, 'nat')", lambda: draw_chains(rs, "nat")),
        ("draw_chains(rs, 'nat', 'KUBE-SERVICES')", lambda: draw_chains(rs, "nat", "KUBE-SERVICES")),
        ("draw_hooks(rs)", lambda: draw_hooks(rs)),
        ("draw_trace(trace, rs)", lambda: draw_trace(trace, rs)),
    ]
    print(f"{'drawing':42s} {'build s':>8s} {'dot svg s':>9s} {'total s':>8s} {'nodes':>6s} {'svg KB':>7s}  (best of {args.repeat})")
    worst = 0.0
    for name, fn in cases:
        best = None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            g = fn()
            t1 = time.perf_counter()
            svg = to_svg(g)
            t2 = time.perf_counter()
            if best is None or t2 - t0 < best[2]:
                best = (t1 - t0, t2 - t1, t2 - t0, g.source.count(" [label="), len(svg) // 1024)
        worst = max(worst, best[2])
        print(f"{name:42s} {best[0]:8.3f} {best[1]:9.3f} {best[2]:8.3f} {best[3]:6d} {best[4]:7d}")
    print(f"largest: {worst:.3f} s (target < 2 s): {'OK' if worst < 2 else 'OVER TARGET'}")
    return 0 if worst < 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
