"""The nftables-mode generator: kube-proxy's chain names, rule shapes, and a real `nft -f` load."""

from __future__ import annotations

import pytest

from tests.realparts import nsexec
from workbook.generate import Service, generate_services, kube_proxy_nft, kube_proxy_save, nft_chain_base

# Chain names copied from kube-proxy's expected output (kubernetes/kubernetes
# pkg/proxy/nftables/proxier_test.go @ 81810de635aa, TestOverallNFTablesRules).
UPSTREAM_NAMES = [
    ("ns1/svc1/tcp/p80", "ULMVA6XW"), ("ns1/svc1/tcp/p80__10.180.0.1/80", "5OJB2KTY"),
    ("ns2/svc2/tcp/p80", "42NFTM6N"), ("ns2/svc2/tcp/p80__10.180.0.2/80", "SGOXE6O3"),
    ("ns3/svc3/tcp/p80", "4AT6LBPK"), ("ns3/svc3/tcp/p80__10.180.0.3/80", "UEIP74TE"),
    ("ns4/svc4/tcp/p80", "LAUZTJTB"), ("ns4/svc4/tcp/p80__10.180.0.4/80", "UNZV3OEC"),
    ("ns4/svc4/tcp/p80__10.180.0.5/80", "5RFCDDV7"), ("ns5/svc5/tcp/p80", "HVFWP5L3"),
    ("ns5/svc5/tcp/p80__10.180.0.3/80", "GTK6MW7G"),
]


@pytest.mark.parametrize("name,hash8", UPSTREAM_NAMES)
def test_chain_hash_matches_kube_proxy(name, hash8):
    assert nft_chain_base(name) == f"{hash8}-{name}"


def _chain(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    i = lines.index(f"\tchain {name} {{")
    out = []
    for line in lines[i + 1:]:
        if line == "\t}":
            return out
        out.append(line.strip())
    raise AssertionError(name)


def test_rule_shapes_match_upstream_expected_output():
    # TestOverallNFTablesRules' svc4 (two endpoints, an external IP) and svc5 (LoadBalancer with
    # source range and ClientIP affinity), pod CIDR 10.0.0.0/8: the expected rules are upstream's.
    svc4 = Service("ns4", "svc4", "p80", "tcp", "172.30.0.44", 80, [("10.180.0.4", 80), ("10.180.0.5", 80)],
                   external_ips=["192.168.99.33"])
    svc5 = Service("ns5", "svc5", "p80", "tcp", "172.30.0.45", 80, [("10.180.0.3", 80)], node_port=3002,
                   lb_ips=["5.6.7.8"], source_ranges=["203.0.113.0/25"], affinity=10800)
    text = kube_proxy_nft([svc4, svc5], pod_cidr="10.0.0.0/8", service_cidr="172.30.0.0/16",
                          nodeport_ips=["192.168.0.2"])
    assert _chain(text, "service-LAUZTJTB-ns4/svc4/tcp/p80") == [
        "ip daddr 172.30.0.44 ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
        "numgen random mod 2 vmap { 0 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80, "
        "1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 }"]
    assert _chain(text, "external-LAUZTJTB-ns4/svc4/tcp/p80") == [
        "jump mark-for-masquerade", "goto service-LAUZTJTB-ns4/svc4/tcp/p80"]
    assert _chain(text, "service-HVFWP5L3-ns5/svc5/tcp/p80")[1] == (
        "ip saddr @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 goto endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80")
    assert _chain(text, "endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80") == [
        "ip saddr 10.180.0.3 jump mark-for-masquerade",
        "update @affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { ip saddr }",
        "meta l4proto tcp dnat to 10.180.0.3:80"]
    assert _chain(text, "firewall-HVFWP5L3-ns5/svc5/tcp/p80") == ["ip saddr != { 203.0.113.0/25 } drop"]
    assert "5.6.7.8 . tcp . 80 : goto firewall-HVFWP5L3-ns5/svc5/tcp/p80" in text
    assert "tcp . 3002 : goto external-HVFWP5L3-ns5/svc5/tcp/p80" in text


def test_etp_local_without_local_endpoints_drops_external_traffic():
    # upstream svc2: eTP Local, its one endpoint on another node: no local chain, external → drop
    svc2 = Service("ns2", "svc2", "p80", "tcp", "172.30.0.42", 80, [("10.180.0.2", 80)], node_port=3001,
                   lb_ips=["1.2.3.4"], external_ips=["192.168.99.22"], etp_local=True)
    text = kube_proxy_nft([svc2], pod_cidr="10.0.0.0/8")
    assert _chain(text, "external-42NFTM6N-ns2/svc2/tcp/p80") == [
        'ip saddr 10.0.0.0/8 goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit pod traffic"',
        'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
        'fib saddr type local goto service-42NFTM6N-ns2/svc2/tcp/p80 comment "short-circuit local traffic"']
    assert 'tcp . 3001 comment "ns2/svc2:p80" : drop' in text
    assert "local-42NFTM6N" not in text


def test_features_do_not_change_the_basic_services():
    plain = generate_services(50, seed=4)
    rich = generate_services(50, seed=4, features=True)
    assert [(s.cluster_ip, s.endpoints) for s in plain] == [(s.cluster_ip, s.endpoints) for s in rich]
    assert kube_proxy_save(plain) == kube_proxy_save(generate_services(50, seed=4))
    assert any(s.lb_ips and s.source_ranges for s in rich) and any(s.etp_local for s in rich)
    assert any(s.affinity for s in rich) and any(s.local_endpoints for s in rich)


@pytest.mark.parametrize("nodeport_ips", [["192.168.0.2"], None])
def test_nft_loads_the_generated_ruleset(netns, nodeport_ips):
    services = generate_services(300, seed=11, features=True, empty_ratio=0.1)
    text = kube_proxy_nft(services, nodeport_ips=nodeport_ips)
    ns = netns("gen")
    p = nsexec(ns, "nft", "-f", "-", input=text, check=False)
    assert p.returncode == 0, p.stderr
    listing = nsexec(ns, "nft", "list", "table", "ip", "kube-proxy").stdout
    for s in services:
        if s.endpoints:
            assert f"chain service-{nft_chain_base(f'{s.namespace}/{s.name}/{s.protocol}/{s.port_name}')}" in listing
    # the same cluster in iptables mode loads beside it (one Service, both modes)
    p = nsexec(ns, "iptables-nft-restore", input=kube_proxy_save(services), check=False)
    assert p.returncode == 0, p.stderr
