"""The hook diagram: every hook, tables in kernel priority order, present/absent marking."""

from __future__ import annotations

import re

from workbook.view.draw import draw_hooks
from workbook.parse import parse_save

from .dotsource import parse_dot

# Expected from include/uapi/linux/netfilter_ipv4.h (raw -300, mangle -150, nat DNAT -100,
# filter 0, security 50, nat SNAT 100) and which hooks each iptable_*.c module registers.
EXPECTED = {
    "PREROUTING": ["raw", "mangle", "nat"],
    "INPUT": ["mangle", "filter", "security", "nat"],
    "FORWARD": ["mangle", "filter", "security"],
    "OUTPUT": ["raw", "mangle", "nat", "filter", "security"],
    "POSTROUTING": ["mangle", "nat"],
}
PRIORITY = {("PREROUTING", "nat"): -100, ("OUTPUT", "nat"): -100, ("INPUT", "nat"): 100,
            ("POSTROUTING", "nat"): 100, ("raw",): -300, ("mangle",): -150, ("filter",): 0, ("security",): 50}


def _ports(label: str) -> list[str]:
    return re.findall(r'PORT="(\w+)"', label)


def test_every_hook_and_tables_in_priority_order():
    nodes, edges = parse_dot(draw_hooks().source)
    for hook, tables in EXPECTED.items():
        assert hook in nodes, hook
        assert _ports(nodes[hook]["label"]) == tables, hook
        for t in tables:
            prio = PRIORITY.get((hook, t), PRIORITY.get((t,)))
            # the priority number is printed in the row right after the table's cell
            assert re.search(rf'PORT="{t}".*?<TD ALIGN="RIGHT">{prio}</TD>', nodes[hook]["label"]), (hook, t)


def test_packet_flow_edges():
    _, edges = parse_dot(draw_hooks().source)
    pairs = {(a, b) for a, b, _ in edges}
    # the seed's diagram: ingress → PREROUTING → routing → INPUT → local → OUTPUT → routing → POSTROUTING
    # → egress, and PREROUTING → (routing) → FORWARD → POSTROUTING
    assert {("ingress", "PREROUTING"), ("PREROUTING", "routing_in"), ("routing_in", "INPUT"),
            ("INPUT", "local"), ("local", "OUTPUT"), ("OUTPUT", "routing_out"),
            ("routing_out", "POSTROUTING"), ("routing_in", "FORWARD"), ("FORWARD", "POSTROUTING"),
            ("POSTROUTING", "egress")} == pairs


def test_present_tables_bold_absent_grey():
    rs = parse_save("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    "-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
                    "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                    ":POSTROUTING ACCEPT [0:0]\nCOMMIT\n")
    nodes, _ = parse_dot(draw_hooks(rs).source)
    inp = nodes["INPUT"]["label"]
    # filter INPUT has 2 rules and policy DROP (hand count of the text above)
    assert re.search(r'PORT="filter"[^>]*><B>filter</B>.*?<B>2 rules, policy DROP</B>', inp)
    # mangle and security tables are not in the dump: greyed and "absent"
    assert re.search(r'PORT="mangle"[^>]*><FONT COLOR="#9e9e9e">mangle</FONT>.*?absent', inp)
    assert re.search(r'PORT="security"[^>]*><FONT COLOR="#9e9e9e">security</FONT>', inp)
    pre = nodes["PREROUTING"]["label"]
    assert re.search(r'<B>nat \(DNAT\)</B>.*?<B>0 rules</B>', pre)
    assert re.search(r'<FONT COLOR="#9e9e9e">raw</FONT>', pre)
