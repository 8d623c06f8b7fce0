"""Chain graphs: exact nodes and edges of a small table, red duplicates/missing chains, collapsing."""

from __future__ import annotations

import pytest

from workbook.view.draw import draw_chains
from workbook.generate import generate_services, kube_proxy_save
from workbook.parse import parse_save

from .dotsource import parse_dot
from .small import SMALL_NAT

RED = "#c62828"


@pytest.fixture(scope="module")
def small():
    return parse_save(SMALL_NAT, "small.rules", strict=False)


def test_small_table_exact_nodes_and_edges(small):
    nodes, edges = parse_dot(draw_chains(small, "nat").source)
    # 9 declared chains + CNI-HOSTPORT-DNAT, jumped to but never declared
    assert set(nodes) == {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "KUBE-SERVICES", "KUBE-SVC-A",
                          "KUBE-SEP-1", "KUBE-SEP-2", "KUBE-MARK-MASQ", "CNI-HOSTPORT-DNAT"}
    # one edge per jump/goto rule: 3 from PREROUTING, 1 goto from OUTPUT, 1+2+1 below
    assert sorted((a, b) for a, b, _ in edges) == sorted([
        ("PREROUTING", "KUBE-SERVICES"), ("PREROUTING", "CNI-HOSTPORT-DNAT"), ("PREROUTING", "CNI-HOSTPORT-DNAT"),
        ("OUTPUT", "KUBE-SERVICES"), ("KUBE-SERVICES", "KUBE-SVC-A"), ("KUBE-SVC-A", "KUBE-SEP-1"),
        ("KUBE-SVC-A", "KUBE-SEP-2"), ("KUBE-SEP-1", "KUBE-MARK-MASQ")])
    by = {(a, b, e["label"].split("\\n")[0]): e for a, b, e in edges}
    # the goto is dashed; the statistic rule is labelled with its position and 50 %
    assert by[("OUTPUT", "KUBE-SERVICES", "#1 all")]["style"] == "dashed"
    assert ("KUBE-SVC-A", "KUBE-SEP-1", "#1 p=50%") in by
    assert ("KUBE-SERVICES", "KUBE-SVC-A", "#1 udp dst 10.96.0.10 dpt:53") in by
    # counters of rule #1 of PREROUTING: 5 packets, 300 bytes
    assert by[("PREROUTING", "KUBE-SERVICES", "#1 kubernetes service portals")]["label"].endswith("5 pkts / 300 bytes")
    assert "policy ACCEPT 10 pkts / 600 bytes" in nodes["PREROUTING"]["label"]
    assert "2 rules" in nodes["KUBE-SVC-A"]["label"]


def test_duplicates_and_missing_chains_are_red(small):
    nodes, edges = parse_dot(draw_chains(small, "nat").source)
    # rule #3 of PREROUTING repeats rule #2 (same normalised rule): its edge and the chain are red
    dup = [e for a, b, e in edges if e.get("class") == "duplicate"]
    assert len(dup) == 1 and dup[0]["color"] == RED and dup[0]["label"].startswith("DUPLICATE of #2")
    assert nodes["PREROUTING"]["color"] == RED and "duplicate" in nodes["PREROUTING"]["class"]
    assert "#3=#2" in nodes["PREROUTING"]["label"]
    # CNI-HOSTPORT-DNAT is never declared: a red dashed "missing" node
    m = nodes["CNI-HOSTPORT-DNAT"]
    assert m["color"] == RED and m["class"] == "missing" and "missing chain" in m["label"]
    # nothing else is red
    assert {n for n, a in nodes.items() if a.get("color") == RED} == {"PREROUTING", "CNI-HOSTPORT-DNAT"}


def test_from_one_chain_and_depth(small):
    nodes, edges = parse_dot(draw_chains(small, "nat", "KUBE-SVC-A").source)
    chains = {n for n, a in nodes.items() if a.get("class") != "nat-end"}
    assert chains == {"KUBE-SVC-A", "KUBE-SEP-1", "KUBE-SEP-2", "KUBE-MARK-MASQ"}
    # drawn from one chain, the graph ends where the packets go: rule #2 of KUBE-SEP-1 DNATs to
    # 10.244.0.2:53, rule #1 of KUBE-SEP-2 to 10.244.1.2:53 (SMALL_NAT above)
    ends = {(a, nodes[b]["label"], e["label"]) for a, b, e in edges if nodes[b].get("class") == "nat-end"}
    assert ends == {("KUBE-SEP-1", "DNAT → 10.244.0.2\\n:53", "#2"), ("KUBE-SEP-2", "DNAT → 10.244.1.2\\n:53", "#1")}
    nodes, _ = parse_dot(draw_chains(small, "nat", "KUBE-SVC-A", depth=1).source)
    assert {n for n, a in nodes.items() if a.get("class") != "nat-end"} == {"KUBE-SVC-A", "KUBE-SEP-1", "KUBE-SEP-2"}
    # the whole-table graph has no such ends (thousands of KUBE-SEP chains would each add one)
    nodes, _ = parse_dot(draw_chains(small, "nat").source)
    assert not [n for n, a in nodes.items() if a.get("class") == "nat-end"]
    with pytest.raises(KeyError):
        draw_chains(small, "nat", "NOPE")


def test_small_fanout_collapses(small):
    nodes, edges = parse_dot(draw_chains(small, "nat", max_fanout=1).source)
    # KUBE-SVC-A jumps to two chains (> 1) so its two KUBE-SEP-* targets become one group node
    assert "KUBE-SEP-*" in nodes and "KUBE-SEP-1" not in nodes and "KUBE-SEP-2" not in nodes
    assert "×2" in nodes["KUBE-SEP-*"]["label"]
    assert [e["label"].split("\\n")[0] for a, b, e in edges if (a, b) == ("KUBE-SVC-A", "KUBE-SEP-*")] == ["×2 jumps"]
    # ... unless named in expand=
    nodes, _ = parse_dot(draw_chains(small, "nat", max_fanout=1, expand=("KUBE-SEP-1",)).source)
    assert "KUBE-SEP-1" in nodes and "KUBE-SEP-2" in nodes and "KUBE-SEP-*" not in nodes


@pytest.fixture(scope="module")
def big():
    services = generate_services(10000, seed=7)
    return services, parse_save(kube_proxy_save(services), "10k.rules")


def test_ten_thousand_services_collapse(big):
    services, rs = big
    with_eps = [s for s in services if s.endpoints]
    n_sep = sum(len(s.endpoints) for s in with_eps)
    nodes, edges = parse_dot(draw_chains(rs, "nat").source)
    assert len(nodes) <= 30 and len(edges) <= 40
    # the generator made len(with_eps) KUBE-SVC chains and n_sep KUBE-SEP chains
    assert f"KUBE-SVC-* ×{len(with_eps)}<" in nodes["KUBE-SVC-*"]["label"]
    assert f"KUBE-SEP-* ×{n_sep}<" in nodes["KUBE-SEP-*"]["label"]
    nodes, _ = parse_dot(draw_chains(rs, "nat", "KUBE-SERVICES").source)
    assert len(nodes) <= 20 and "KUBE-SVC-*" in nodes
    # expanding one service shows it and its endpoints' chains, the rest stay collapsed
    svc = max(with_eps, key=lambda s: len(s.endpoints))
    nodes, _ = parse_dot(draw_chains(rs, "nat", "KUBE-SERVICES", expand=(svc.svc_chain,)).source)
    assert svc.svc_chain in nodes
    assert all(svc.sep_chain(ip, port) in nodes for ip, port in svc.endpoints)
    assert f"×{len(with_eps) - 1}<" in nodes["KUBE-SVC-*"]["label"]
    assert len(nodes) <= 20 + len(svc.endpoints) + 1


def test_duplicates_ignore_comments_and_counters():
    rs = parse_save("*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n"
                    '[9:540] -A INPUT -m comment --comment "first" -j KUBE-FIREWALL\n'
                    '[0:0] -A INPUT -m comment --comment "second copy" -j KUBE-FIREWALL\n'
                    "[1:60] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
                    "[2:120] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
                    "[3:180] -A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\nCOMMIT\n", "fw.rules")
    nodes, edges = parse_dot(draw_chains(rs, "filter").source)
    # #2 repeats #1 apart from its comment; #4 repeats #3 (#5 differs in the port): two duplicates
    assert "2 duplicate rules (#2=#1, #4=#3)" in nodes["INPUT"]["label"]
    assert [e["label"].split("\\n")[0] for a, b, e in edges if e.get("class") == "duplicate"] == ["DUPLICATE of #1"]
