"""`nfwb trace` on a node dump reads the dump's own `ipset save` (network/ipset.txt), so
`-m set` rules are decided rather than assumed."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.realparts import ROOT


def _trace(dump: str) -> dict:
    p = subprocess.run([sys.executable, "-m", "workbook", "trace", str(ROOT / "datasets" / "onprem-dup-hostport" / dump),
                        "--src", "10.10.20.50", "--dst", "10.10.20.21", "--proto", "tcp", "--dport", "80", "--json"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_before_reaches_the_live_ingress_pod_without_masquerade():
    (b,) = _trace("before")["branches"]
    # before/: CNI-HOSTPORT-DNAT → CNI-DN-… DNATs port 80 to the ingress pod 10.42.134.75:80; Calico's
    # policy for the pod sets mark 0x10000, FORWARD's appended "Policy explicitly accepted packet." rule
    # accepts it (dataset README / CHAINS.md §5.2).
    assert (b["verdict"], b["dnat"]) == ("ACCEPT", "10.42.134.75:80")
    # cali-nat-outgoing masquerades only sources in cali40masq-ipam-pools (10.42.0.0/16 in the dump's
    # network/ipset.txt); the client 10.10.20.50 is not in it, so no masquerade — and the set match is
    # not assumed any more.
    assert b["masquerade"] is False
    sets = [s for s in b["steps"] if s["spec"] and "--match-set cali40masq-ipam-pools" in s["spec"]]
    assert sets and not any(s.get("assumed") for s in sets)


def test_after_is_dnated_to_the_deleted_pod_and_dropped_by_routing():
    (b,) = _trace("after")["branches"]
    # after/: the stale first entry still wins (same DNAT), but the pod's /32 route is gone and the
    # blackhole 10.42.134.64/26 block route drops the packet after PREROUTING
    assert (b["verdict"], b["dnat"]) == ("DROP", "10.42.134.75:80")
