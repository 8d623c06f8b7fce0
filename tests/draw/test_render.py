"""Every drawing renders to SVG through Debian's real `dot`."""

from __future__ import annotations

import html
import shutil

import pytest

from workbook.view.draw import draw_chains, draw_hooks, draw_trace, to_svg
from workbook.packet import Trace
from workbook.parse import parse_save
from tests.realparts import need

from .kube_dns_trace import KUBE_DNS_SAVE, PACKET, SEP_A, kube_dns_branches
from .small import SMALL_NAT


@pytest.fixture(autouse=True)
def _dot():
    need(shutil.which("dot") is not None, "needs graphviz's dot (Debian package graphviz)")


def test_hooks_and_chains_render():
    rs = parse_save(SMALL_NAT, "small.rules", strict=False)
    for g in (draw_hooks(), draw_hooks(rs), draw_chains(rs, "nat"), draw_chains(rs, "nat", max_fanout=1)):
        svg = to_svg(g)
        assert "<svg" in svg and "</svg>" in svg
    svg = html.unescape(to_svg(draw_chains(rs, "nat")))  # dot writes "-" as &#45;
    # graphviz writes each node's class into the SVG <g> element: CSS and tests can find them
    assert 'class="node missing"' in svg and "CNI-HOSTPORT-DNAT" in svg


def test_trace_renders_with_quoted_titles():
    rs = parse_save(KUBE_DNS_SAVE, "kube-dns.rules")
    svg = html.unescape(to_svg(draw_trace(Trace(PACKET, kube_dns_branches()), rs)))
    # the title holds dots and arrows (a bare 10.100.0.10 would break DOT syntax if unquoted)
    assert "10.100.0.10:53" in svg and SEP_A in svg and "50%" in svg


def test_chain_names_with_colons_stay_whole():
    rs = parse_save("*filter\n:INPUT ACCEPT [0:0]\n:a:b - [0:0]\n-A INPUT -j a:b\nCOMMIT\n", "colon.rules")
    g = draw_chains(rs, "filter")
    svg = html.unescape(to_svg(g))
    # one edge INPUT → "a:b" (not node "a" with port "b")
    assert "<title>INPUT&#45;&gt;a%3Ab</title>" in to_svg(g) or "<title>INPUT->a%3Ab</title>" in svg
    assert ">a:b<" in svg
