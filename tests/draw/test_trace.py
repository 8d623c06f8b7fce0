"""draw_trace highlights exactly the hooks and chains the packet visited, with branch shares."""

from __future__ import annotations

from workbook.view.draw import draw_hooks, draw_trace
from workbook.packet import Branch, Packet, Step, Trace
from workbook.parse import parse_save

from .dotsource import parse_dot
from .kube_dns_trace import KUBE_DNS_SAVE, PACKET, SEP_A, SEP_B, SVC, kube_dns_branches


def _visited(nodes, kind):
    return {n for n, a in nodes.items() if kind in a.get("class", "").split() and "visited" in a.get("class", "").split()}


def test_visited_chains_exactly():
    t = Trace(PACKET, kube_dns_branches())
    nodes, edges = parse_dot(draw_trace(t).source)
    # hand-listed from the steps: nat PREROUTING → KUBE-SERVICES → SVC → SEP_A | SEP_B; filter FORWARD policy
    assert _visited(nodes, "chain") == {
        "PREROUTING.nat.PREROUTING", "PREROUTING.nat.KUBE-SERVICES", f"PREROUTING.nat.{SVC}",
        f"PREROUTING.nat.{SEP_A}", f"PREROUTING.nat.{SEP_B}", "FORWARD.filter.FORWARD"}
    # a forwarded packet: ingress → PREROUTING → routing → FORWARD → POSTROUTING → egress, the
    # summary's row of hooks; INPUT and OUTPUT are not on its way
    assert _visited(nodes, "hook") == {"PREROUTING", "FORWARD", "POSTROUTING"}
    assert "INPUT" not in nodes and "OUTPUT" not in nodes
    row = [(a, b) for a, b, e in edges if "visited" in e.get("class", "") and "." not in a + b]
    assert row == [("ingress", "PREROUTING"), ("PREROUTING", "routing_in"), ("routing_in", "FORWARD"),
                   ("FORWARD", "POSTROUTING"), ("POSTROUTING", "egress")]
    labels = {(a, b): e.get("label", "") for a, b, e in edges if "visited" in e.get("class", "")}
    # each endpoint got one of the two 0.5 branches; KUBE-SERVICES → SVC was taken by both (no share shown)
    assert labels[(f"PREROUTING.nat.{SVC}", f"PREROUTING.nat.{SEP_A}")] == "#1\\n50%"
    assert labels[(f"PREROUTING.nat.{SVC}", f"PREROUTING.nat.{SEP_B}")] == "#2\\n50%"
    assert labels[("PREROUTING.nat.KUBE-SERVICES", f"PREROUTING.nat.{SVC}")] == "#2"
    outcomes = sorted(a["label"] for n, a in nodes.items() if a.get("class") == "outcome")
    assert outcomes == ["50% ACCEPT\\nDNAT → 192.168.1.77:53", "50% ACCEPT\\nDNAT → 192.168.2.64:53"]


def test_with_ruleset_shows_jumps_not_taken():
    rs = parse_save(KUBE_DNS_SAVE, "kube-dns.rules")
    nodes, edges = parse_dot(draw_trace(Trace(PACKET, kube_dns_branches()), rs).source)
    # from KUBE-SERVICES the packet did not take rule #1 (dns-tcp) nor #3 (nodeports); from the
    # SEPs it did not take KUBE-MARK-MASQ (its source is not the endpoint)
    unvisited = {n for n, a in nodes.items() if "unvisited" in a.get("class", "")}
    assert unvisited == {"PREROUTING.nat.KUBE-SERVICES>KUBE-SVC-ERIFXISQEP7F7OF4",
                         "PREROUTING.nat.KUBE-SERVICES>KUBE-NODEPORTS",
                         f"PREROUTING.nat.{SEP_A}>KUBE-MARK-MASQ", f"PREROUTING.nat.{SEP_B}>KUBE-MARK-MASQ"}
    # the visited chains are the same as without the ruleset
    assert len(_visited(nodes, "chain")) == 6


def test_drop_in_input_stops_the_hook_path():
    steps = [Step("INPUT", "filter", "INPUT", 1, "-A INPUT -p udp -m udp --dport 9999 -j DROP", True, "DROP")]
    t = Trace(Packet("10.0.0.9", "192.168.3.215", "udp", dport=9999), [Branch(1.0, "DROP", steps)])
    nodes, edges = parse_dot(draw_hooks(trace=t).source)
    # dropped in INPUT: ingress, PREROUTING, routing decision, INPUT are on the path; local process is not
    on_path = {n for n, a in nodes.items() if "visited" in a.get("class", "").split()}
    assert on_path == {"ingress", "PREROUTING", "routing_in", "INPUT"}
    assert nodes["verdict"]["label"] == "100% DROP"


def test_from_node_path():
    steps = [Step("OUTPUT", "nat", "OUTPUT", None, None, True, "policy:ACCEPT"),
             Step("POSTROUTING", "nat", "POSTROUTING", None, None, True, "policy:ACCEPT")]
    t = Trace(Packet("192.168.3.215", "8.8.8.8", "udp", dport=53, from_node=True), [Branch(1.0, "ACCEPT", steps)])
    nodes, _ = parse_dot(draw_hooks(trace=t).source)
    on_path = {n for n, a in nodes.items() if "visited" in a.get("class", "").split()}
    assert on_path == {"local", "OUTPUT", "routing_out", "POSTROUTING", "egress"}


def test_from_node_to_a_local_address_comes_back_over_lo():
    # workbook.netfilter.packet_path(True, True): OUTPUT → POSTROUTING → (lo) → PREROUTING → INPUT
    steps = [Step("OUTPUT", "filter", "OUTPUT", None, None, True, "policy:ACCEPT"),
             Step("INPUT", "filter", "INPUT", None, None, True, "policy:ACCEPT")]
    t = Trace(Packet("192.168.3.215", "192.168.3.215", "tcp", dport=10250, from_node=True),
              [Branch(1.0, "ACCEPT", steps)])
    nodes, edges = parse_dot(draw_hooks(trace=t).source)
    on_path = {n for n, a in nodes.items() if "visited" in a.get("class", "").split()}
    assert on_path == {"local", "OUTPUT", "routing_out", "POSTROUTING", "PREROUTING", "routing_in", "INPUT"}
    lo = [e for a, b, e in edges if (a, b) == ("POSTROUTING", "PREROUTING")]
    assert len(lo) == 1 and lo[0]["label"] == "back in over lo"
    # without such a trace there is no loopback edge
    assert not [1 for a, b, _ in parse_dot(draw_hooks().source)[1] if (a, b) == ("POSTROUTING", "PREROUTING")]


def test_jumps_not_taken_collapse_above_max_fanout():
    rs = parse_save(KUBE_DNS_SAVE, "kube-dns.rules")
    nodes, _ = parse_dot(draw_trace(Trace(PACKET, kube_dns_branches()), rs, max_fanout=1).source)
    groups = sorted(a["label"] for n, a in nodes.items() if a.get("class") == "unvisited group")
    # KUBE-SERVICES has 2 jumps not taken (> 1): one node listing them, each family of one by its name
    assert groups == ["2 jumps not taken\\nKUBE-NODEPORTS\\nKUBE-SVC-ERIFXISQEP7F7OF4"]
    # the SEPs' single jump not taken (KUBE-MARK-MASQ) stays a node of its own
    assert len([n for n, a in nodes.items() if a.get("class") == "unvisited"]) == 2


def test_many_jumps_not_taken_are_one_node_by_family():
    from workbook.generate import generate_services, kube_proxy_save
    from workbook.trace import trace_packet
    services = generate_services(40, seed=5)
    rs = parse_save(kube_proxy_save(services), "40.rules")
    svc = next(s for s in services if s.endpoints)
    t = trace_packet(rs, Packet("10.244.7.7", svc.cluster_ip, svc.protocol, 40000, svc.port, in_iface="eth0"))
    nodes, _ = parse_dot(draw_trace(t, rs).source)
    (label,) = [a["label"] for n, a in nodes.items() if n == "PREROUTING.nat.KUBE-SERVICES>not-taken"]
    # KUBE-SERVICES jumps to every service's KUBE-SVC chain and to KUBE-NODEPORTS; the packet took one
    n_svc = sum(1 for c in rs.table("nat").chains if c.startswith("KUBE-SVC-"))
    jumps = [r for r in rs.chain("nat", "KUBE-SERVICES").rules if r.target and r.target.startswith("KUBE-")]
    assert label.split("\\n")[0] == f"{len(jumps) - 1} jumps not taken"
    assert f"KUBE-SVC-* ×{n_svc - 1}" in label.split("\\n")
