"""The nftables kernel lab: a ruleset loaded with `nft -f`, one real packet, `nft monitor trace` read back."""

from __future__ import annotations

import os

import pytest

from tests.lab.conftest import lab_namespaces, need_lab
from workbook.generate import Service, kube_proxy_nft
from workbook.model import Ruleset
from workbook.nft.lab import NftLab, nft_lab_trace
from workbook.packet import Packet

SERVICES = [Service("ns1", "svc1", "p80", "tcp", "10.96.0.41", 80, [("10.244.1.1", 80), ("10.244.1.2", 80)],
                    node_port=30001),
            Service("ns1", "svc6", "p80", "tcp", "10.96.0.46", 80, [])]
TEXT = kube_proxy_nft(SERVICES, nodeport_ips=["192.168.0.2"])


@pytest.fixture(scope="module")
def lab():
    need_lab("nft")
    with NftLab(Ruleset(), ("192.168.0.2",), nft_text=TEXT) as lab:
        yield lab


def _path(trace):
    (b,) = trace.branches
    return [(s.hook, s.chain, s.action) for s in b.steps]


def test_pod_to_cluster_ip_is_dnatted_to_an_endpoint(lab):
    t = lab.trace(Packet("10.244.9.9", "10.96.0.41", "tcp", 40000, 80))
    (b,) = t.branches
    assert t.source == "kernel" and b.verdict == "ACCEPT"
    assert b.dnat in ("10.244.1.1:80", "10.244.1.2:80")
    ep = f"endpoint-{'QV5ODBRC' if b.dnat.startswith('10.244.1.1') else 'P2GVATDV'}-ns1/svc1/tcp/p80__{b.dnat.replace(':', '/')}"
    # by hand from kube-proxy's rules: firewall-check finds nothing; services' vmap goes to the
    # service chain (a pod source: no masquerade mark), numgen picks an endpoint chain, its DNAT
    # accepts; then forward's checks find nothing, and masquerading returns (mark not set)
    assert _path(t) == [
        ("PREROUTING", "filter-prerouting-pre-dnat", "JUMP:firewall-check"),
        ("PREROUTING", "filter-prerouting-pre-dnat", "policy:ACCEPT"),
        ("PREROUTING", "nat-prerouting", "JUMP:services"),
        ("PREROUTING", "services", "GOTO:service-ULMVA6XW-ns1/svc1/tcp/p80"),
        ("PREROUTING", "service-ULMVA6XW-ns1/svc1/tcp/p80", f"GOTO:{ep}"),
        ("PREROUTING", ep, "DNAT"),
        ("FORWARD", "filter-forward", "JUMP:service-endpoints-check"),
        ("FORWARD", "filter-forward", "JUMP:cluster-ips-check"),
        ("FORWARD", "filter-forward", "policy:ACCEPT"),
        ("POSTROUTING", "nat-postrouting", "JUMP:masquerading"),
        ("POSTROUTING", "masquerading", "RETURN"),
        ("POSTROUTING", "nat-postrouting", "policy:ACCEPT")]
    step = b.steps[3]
    assert step.family == "ip" and step.table == "kube-proxy" and step.position == 1 and step.handle
    assert step.spec == "ip daddr . meta l4proto . th dport vmap @service-ips"
    assert step.to_json()["family"] == "ip" and "handle" in step.to_json()


def test_no_endpoints_is_rejected_and_shows_as_reject(lab):
    t = lab.trace(Packet("10.244.9.9", "10.96.0.46", "tcp", 40001, 80))
    assert t.branches[0].verdict == "REJECT"
    assert _path(t)[-2:] == [("FORWARD", "service-endpoints-check", "GOTO:reject-chain"),
                             ("FORWARD", "reject-chain", "REJECT")]


def test_unallocated_cluster_ip_is_dropped(lab):
    t = lab.trace(Packet("10.244.9.9", "10.96.0.99", "tcp", 40002, 80))
    assert t.branches[0].verdict == "DROP" and t.branches[0].dnat is None
    assert _path(t)[-1] == ("FORWARD", "cluster-ips-check", "DROP")


def test_node_to_cluster_ip_is_masqueraded(lab):
    t = lab.trace(Packet("192.168.0.2", "10.96.0.41", "tcp", 40003, 80, from_node=True))
    (b,) = t.branches
    assert b.verdict == "ACCEPT" and b.masquerade and b.dnat in ("10.244.1.1:80", "10.244.1.2:80")
    assert _path(t)[:2] == [("OUTPUT", "filter-output-pre-dnat", "JUMP:firewall-check"),
                            ("OUTPUT", "filter-output-pre-dnat", "policy:ACCEPT")]
    assert ("OUTPUT", "mark-for-masquerade", "CONTINUE") in _path(t)
    assert _path(t)[-1] == ("POSTROUTING", "masquerading", "MASQUERADE")


def test_lab_trace_leaves_no_namespace():
    need_lab("nft")
    mine = f"nfwb-lab-{os.getpid()}-"  # other processes may run labs meanwhile
    before = set(lab_namespaces(mine))
    t = nft_lab_trace(TEXT, Packet("203.0.113.2", "192.168.0.2", "tcp", 40004, 30001), ["192.168.0.2"])
    assert t.branches[0].verdict == "ACCEPT" and t.branches[0].masquerade
    assert ("PREROUTING", "services", "GOTO:external-ULMVA6XW-ns1/svc1/tcp/p80") in _path(t)
    assert set(lab_namespaces(mine)) == before
