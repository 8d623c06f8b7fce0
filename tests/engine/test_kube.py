"""workbook.kube against rulesets whose services are known: generated ones (the generator's input
is the truth), the kube-proxy test dumps (read by hand) and a hand-written v1.23 XLB layout."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.realparts import DATA
from workbook.generate import generate_services, kube_proxy_save
from workbook.kube import service_endpoints, services
from workbook.parse import parse, parse_save

CASES = DATA / "kube-proxy" / "cases"


def test_generated_services_round_trip():
    svcs = generate_services(60, seed=7)
    df = services(parse_save(kube_proxy_save(svcs))).set_index(["service", "protocol"])
    assert len(df) == len(svcs)
    for s in svcs:
        r = df.loc[(s.svc_port_name, s.protocol)]
        assert (r.cluster_ip, int(r.port)) == (s.cluster_ip, s.port)
        assert r.endpoints == [f"{ip}:{port}" for ip, port in s.endpoints]
        n = len(s.endpoints)
        # kube-proxy's 1/n, 1/(n-1), ..., 1 rule probabilities give every endpoint 1/n
        assert r.probabilities == pytest.approx([1 / n] * n if n else [], abs=1e-9)
        # the generator writes a REJECT for services without endpoints and a NodePort only with endpoints
        assert bool(r.no_endpoints) == (n == 0)
        if n:
            assert r.chain == s.svc_chain
            assert (None if r.node_port is pd.NA else int(r.node_port)) == s.node_port


def test_trace_packet_case_01_services_read_by_hand():
    df = services(parse(CASES / "01-TestTracePacket.rules")).set_index("service")
    # ns2/svc2: cluster IP 172.30.0.42:80, external IP 192.168.99.22, LB 1.2.3.4, NodePort 3001,
    # one endpoint 10.180.0.2:80 (KUBE-SVC-GNZBNJ2PO5MGZ6GT → KUBE-SEP-RS4RBKLTHTF2IUXJ)
    r = df.loc["ns2/svc2:p80"]
    assert (r.cluster_ip, int(r.port), int(r.node_port)) == ("172.30.0.42", 80, 3001)
    assert (r.external_ips, r.load_balancer_ips, r.endpoints) == (["192.168.99.22"], ["1.2.3.4"], ["10.180.0.2:80"])
    assert r.ext_chain == "KUBE-EXT-GNZBNJ2PO5MGZ6GT"
    # filter KUBE-NODEPORTS: "ns2/svc2:p80 health check node port" ... --dport 30000 -j ACCEPT
    assert int(r.health_check_node_port) == 30000
    # ns4/svc4: two endpoints, rule probability 0.5 then unconditional → 0.5 each
    r = df.loc["ns4/svc4:p80"]
    assert (r.endpoints, r.probabilities) == (["10.180.0.4:80", "10.180.0.5:80"], [0.5, 0.5])
    # ns5/svc5: LB 5.6.7.8 through KUBE-FW-NUKIZ6OKUXPJNT4C which admits 203.0.113.0/25
    r = df.loc["ns5/svc5:p80"]
    assert (r.fw_chain, r.source_ranges, int(r.node_port)) == ("KUBE-FW-NUKIZ6OKUXPJNT4C", ["203.0.113.0/25"], 3002)
    # ns6/svc6: only the filter REJECT "has no endpoints" for 172.30.0.46:80
    r = df.loc["ns6/svc6:p80"]
    assert (bool(r.no_endpoints), r.cluster_ip, int(r.port), r.endpoints) == (True, "172.30.0.46", 80, [])


def test_local_policy_svl_chain_and_affinity():
    df = services(parse(CASES / "13-TestOnlyLocalLoadBalancing.rules")).set_index("service")
    r = df.loc["ns1/svc1:p80"]
    # KUBE-SVC has both endpoints (after two affinity --rcheck rules), KUBE-SVL only the local one
    assert r.endpoints == ["10.180.0.1:80", "10.180.2.1:80"]
    assert (r.local_chain, r.local_endpoints, bool(r.affinity)) == ("KUBE-SVL-XPGD46QRK7WJZT7O", ["10.180.2.1:80"], True)
    eps = service_endpoints(parse(CASES / "13-TestOnlyLocalLoadBalancing.rules"), "KUBE-SVC-XPGD46QRK7WJZT7O")
    # 2 affinity rules (no share) + 2 balancing rules (0.5, then the rest)
    assert list(eps.affinity) == [True, True, False, False]
    assert list(eps.probability)[2:] == [0.5, 0.5]


XLB_123 = """*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-MARK-DROP - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
:KUBE-XLB-XPGD46QRK7WJZT7O - [0:0]
:KUBE-FW-XPGD46QRK7WJZT7O - [0:0]
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SEP-ZX7GRIZKSNUQ3LAJ - [0:0]
-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -d 1.2.3.4/32 -p tcp -m comment --comment "ns1/svc1:p80 loadbalancer IP" -m tcp --dport 80 -j KUBE-FW-XPGD46QRK7WJZT7O
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -s 127.0.0.0/8 -p tcp -m comment --comment "ns1/svc1:p80" -m tcp --dport 3001 -j KUBE-MARK-MASQ
-A KUBE-NODEPORTS -p tcp -m comment --comment "ns1/svc1:p80" -m tcp --dport 3001 -j KUBE-XLB-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 loadbalancer IP" -j KUBE-XLB-XPGD46QRK7WJZT7O
-A KUBE-FW-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 loadbalancer IP" -j KUBE-MARK-DROP
-A KUBE-SVC-XPGD46QRK7WJZT7O ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ
-A KUBE-XLB-XPGD46QRK7WJZT7O -s 10.0.0.0/8 -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-XLB-XPGD46QRK7WJZT7O -m comment --comment "masquerade LOCAL traffic for ns1/svc1:p80 LB IP" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
-A KUBE-XLB-XPGD46QRK7WJZT7O -m comment --comment "route LOCAL traffic for ns1/svc1:p80 LB IP to service chain" -m addrtype --src-type LOCAL -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-XLB-XPGD46QRK7WJZT7O -m comment --comment "Balancing rule 0 for ns1/svc1:p80" -j KUBE-SEP-ZX7GRIZKSNUQ3LAJ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-ZX7GRIZKSNUQ3LAJ -s 10.180.2.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ
-A KUBE-SEP-ZX7GRIZKSNUQ3LAJ -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination 10.180.2.1:80
COMMIT
"""


def test_v123_xlb_layout():
    df = services(parse_save(XLB_123))
    assert len(df) == 1
    r = df.iloc[0]
    # cluster chain: both endpoints 0.5 each; XLB (externalTrafficPolicy Local) has the local one;
    # the NodePort is 3001 (the KUBE-MARK-MASQ rule for 127/8 sources is not a service entry);
    # the FW chain has no -s ranges (it sends everything to XLB, then KUBE-MARK-DROP)
    assert (r.service, r.cluster_ip, int(r.port), int(r.node_port)) == ("ns1/svc1:p80", "172.30.0.41", 80, 3001)
    assert (r.endpoints, r.probabilities) == (["10.180.0.1:80", "10.180.2.1:80"], [0.5, 0.5])
    assert (r.local_chain, r.local_endpoints) == ("KUBE-XLB-XPGD46QRK7WJZT7O", ["10.180.2.1:80"])
    assert (r.load_balancer_ips, r.fw_chain, r.source_ranges) == (["1.2.3.4"], "KUBE-FW-XPGD46QRK7WJZT7O", [])


def test_seed_eks_node_kube_dns():
    from tests.realparts import ROOT
    from workbook.dump import load_dump
    df = services(load_dump(ROOT / "datasets" / "eks-node").ruleset).set_index(["service", "protocol"])
    # the seed's listings: KUBE-SERVICES has 8 service rules (kube-dns dns-tcp/metrics/dns, metrics-server,
    # kubernetes, eks-extension-metrics-api, kube-ops-view, aws-load-balancer-webhook-service)
    assert len(df) == 8
    # "KUBE-SVC-TCOU7JCQXEZGVUNU udp ... 10.100.0.10 /* kube-system/kube-dns:dns cluster IP */ udp dpt:53";
    # its KUBE-SVC lists "-> 192.168.1.77:53" with probability 0.5 and "-> 192.168.2.64:53"
    r = df.loc[("kube-system/kube-dns:dns", "udp")]
    assert (r.cluster_ip, int(r.port), r.chain) == ("10.100.0.10", 53, "KUBE-SVC-TCOU7JCQXEZGVUNU")
    assert (r.endpoints, r.probabilities) == (["192.168.1.77:53", "192.168.2.64:53"], [0.5, 0.5])
