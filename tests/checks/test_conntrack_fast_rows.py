"""The conntrack findings found entry by entry (the default) equal those found from the whole joined
frame (``via_frame=True``, the general path): same ids, texts, fixes and evidence, on every dataset
with a conntrack table and on generated kube-proxy dumps (iptables and nftables mode)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from workbook.checks.conntrack import find_conntrack_problems
from workbook.checks.context import Context
from workbook.dump import load_dump, save_dump

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def _same(dump) -> int:
    ctx = Context.of(dump, None)
    fast = list(find_conntrack_problems(ctx))
    general = list(find_conntrack_problems(ctx, via_frame=True))
    assert [(f.id, f.severity, f.title, f.explanation, f.fix, f.owner) for f in fast] == \
        [(f.id, f.severity, f.title, f.explanation, f.fix, f.owner) for f in general]
    for a, b in zip(fast, general):
        pd.testing.assert_frame_equal(a.evidence, b.evidence)
    return len(fast)


@pytest.mark.parametrize("rel", sorted(str(p.parent.parent.relative_to(ROOT / "datasets"))
                                       for p in (ROOT / "datasets").glob("**/kernel/conntrack.txt")))
def test_datasets(rel):
    _same(load_dump(ROOT / "datasets" / rel))


@pytest.mark.parametrize("mode", ["nft", "iptables"])
def test_generated_dumps(tmp_path, mode):
    from nft_check_bench import CNI, conntrack_lines
    from workbook.generate import generate_services, kube_proxy_nft, kube_proxy_save
    services = generate_services(120, seed=3)
    lines = conntrack_lines(services, 3000)
    # plus never-DNATed UDP entries to a Service (the stale kube-dns case) and entries to no Service
    udp = next(s for s in services if s.protocol == "udp")
    lines += (f"ipv4     2 udp      17 29 src=10.244.9.9 dst={udp.cluster_ip} sport=5000 dport={udp.port} "
              f"[UNREPLIED] src={udp.cluster_ip} dst=10.244.9.9 sport={udp.port} dport=5000 mark=0 use=1\n"
              "ipv4     2 tcp      6 20 SYN_SENT src=10.244.9.9 dst=1.1.1.1 sport=5001 dport=443 [UNREPLIED] "
              "src=1.1.1.1 dst=10.244.9.9 sport=443 dport=5001 mark=0 use=1\n")
    files = {"kernel/conntrack.txt": lines}
    if mode == "nft":
        files |= {"iptables/iptables-save.txt": CNI, "kernel/nft-ruleset.txt": kube_proxy_nft(services)}
    else:
        files["iptables/iptables-save.txt"] = kube_proxy_save(services)
    ids = {f.id for f in find_conntrack_problems(Context.of(load_dump(save_dump(files, tmp_path / mode)), None))}
    assert {"stale-conntrack-entry", "conntrack-not-dnated"} <= ids      # both kinds of rows were selected
    assert _same(load_dump(tmp_path / mode)) >= 2
