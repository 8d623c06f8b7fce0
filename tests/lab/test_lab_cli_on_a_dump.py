"""`nfwb lab trace` on a node dump folder takes the dump's own addresses (loopback, IPv6 and
link-local ones included in its `ip addr` output) without --node-ip."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.realparts import ROOT


def test_lab_trace_on_the_eks_dump_without_node_ip(root_netns):
    p = subprocess.run(
        [sys.executable, "-m", "workbook", "lab", "trace", str(ROOT / "datasets" / "eks-node"),
         "--src", "192.168.3.98", "--dst", "10.100.0.10", "--proto", "udp", "--dport", "53",
         "--in-iface", "eni5d1d36193a1", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    trace = json.loads(p.stdout)
    (branch,) = trace["branches"]
    # the seed's KUBE-SVC-TCOU7JCQXEZGVUNU sends kube-dns:dns to one of its two endpoints
    # (KUBE-SEP-4JJWD7DPDSPAPXRS → 192.168.1.77:53, KUBE-SEP-CMUTYLZJRO6PLWPI → 192.168.2.64:53)
    assert branch["dnat"] in {"192.168.1.77:53", "192.168.2.64:53"}
    assert branch["verdict"] == "ACCEPT"
