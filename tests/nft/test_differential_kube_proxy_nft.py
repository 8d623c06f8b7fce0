"""Kernel vs simulator on kube-proxy nftables-mode rulesets: every kernel path is a simulator branch.

30 random kube-proxy nftables-mode rulesets (:func:`workbook.generate.kube_proxy_nft`: ClusterIP,
NodePort, LoadBalancer with and without source ranges, external IPs, externalTrafficPolicy
Local, ClientIP affinity, services without endpoints; NodePorts on a set of node addresses or on
every local address) and 10 mixed nodes (iptables-nft CNI/kubelet tables from iptables-save
beside kube-proxy's nft table, both nat tables at priority -100). Flows: pod→ClusterIP,
node→ClusterIP, hairpin, a ClusterIP's unused port (reject), an unallocated ClusterIP (drop),
no endpoints (reject), NodePort from outside and from a pod, LoadBalancer allowed and blocked
by source ranges, external IP, pod→pod, and on mixed nodes a hostport DNAT and pod→outside
masquerade. The expected answer is what the kernel did (nft monitor trace + conntrack).
"""

from __future__ import annotations

import json

import pytest

from tests.lab.conftest import need_lab
from tests.nft.differential_nft import generated_case, run_case

CASES = [(seed, False) for seed in range(30)] + [(seed, True) for seed in range(100, 110)]


@pytest.mark.parametrize("seed,mixed", CASES, ids=[f"{'mixed' if m else 'nft'}-{s}" for s, m in CASES])
def test_kernel_path_is_a_simulator_branch(seed, mixed):
    need_lab("nft")
    case = generated_case(seed, mixed)
    results = run_case(case)
    assert len(results) == len(case.packets) >= 8
    bad = [r for r in results if not r["agree"]]
    assert not bad, json.dumps(bad[0], indent=1, default=str)[:6000]


def test_the_cases_cover_every_flow_kind():
    kinds = set()
    for seed, mixed in CASES:
        kinds.update(generated_case(seed, mixed).kinds)
    assert {"pod->clusterip", "node->clusterip", "hairpin", "clusterip-wrong-port", "affinity", "no-endpoints",
            "node->no-endpoints", "unallocated-clusterip", "external->nodeport", "external->nodeport-etp-local",
            "pod->nodeport", "external->lb", "external->lb-ranges", "blocked->lb-ranges", "pod->lb-ranges",
            "external->externalip", "pod->pod", "external->hostport", "pod->outside"} <= kinds
