"""Every figure the notebooks and widgets draw is readable in a 1000 px output cell: smallest text ≥ 9 CSS px."""

from __future__ import annotations

import html
import re
import shutil
import subprocess

import pytest

from workbook.view.draw import FONT, draw_chains, draw_trace, to_html, to_svg
from workbook.view.legibility import MIN_TEXT_PX, legibility
from workbook.packet import Trace
from workbook.parse import parse_save
from tests.realparts import need

from .figures import eks_dump, figures
from .kube_dns_trace import KUBE_DNS_SAVE, PACKET, kube_dns_branches

FIGURES = figures()


@pytest.fixture(autouse=True)
def _dot():
    need(shutil.which("dot") is not None, "needs graphviz's dot (Debian package graphviz)")


@pytest.mark.parametrize("name", list(FIGURES))
def test_smallest_text_at_least_9px_in_a_1000px_cell(name):
    m = legibility(to_svg(FIGURES[name]()), 1000)
    assert m.text_px >= MIN_TEXT_PX, (f"{name}: {m.text!r} is {m.text_px:.2f} px (font {m.font_size}, "
                                      f"{m.natural_px:.0f} px wide, scaled {m.fit:.2f})")


def test_measure_by_hand():
    # 8pt text, the SVG 1152 pt wide (1536 px) scaled by graphviz 0.5: 8 × 0.5 user units; a
    # user unit is 1536 px / 1152 = 4/3 px; the cell fits 1536 px into 1000: ×1000/1536.
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="1152pt" height="100pt" viewBox="0 0 1152 100">'
           '<g transform="scale(0.5 0.5) rotate(0) translate(4 96)"><text font-size="8.00">x</text>'
           '<text font-size="14.00">title</text></g></svg>')
    m = legibility(svg, 1000)
    assert m.text == "x" and m.natural_px == pytest.approx(1536)
    assert m.text_px == pytest.approx(8 * 0.5 * 4 / 3 * 1000 / 1536)
    # narrower than the cell: not scaled up
    m = legibility(svg.replace('width="1152pt"', 'width="576pt"'), 1000)
    assert m.fit == 1 and m.text_px == pytest.approx(8 * 0.5 * 576 / 1152 * 4 / 3)


def test_old_layout_was_illegible():
    # The figure: the kube-dns trace drawn left to right with graphviz's size="12,12"
    # measured about 1.4-2.2 px; the same graph with that size put back still measures under 9.
    rs = parse_save(KUBE_DNS_SAVE, "kube-dns.rules")
    g = draw_trace(Trace(PACKET, kube_dns_branches()), rs)
    squeezed = g.copy()
    squeezed.graph_attr.update(size="4,4")
    assert legibility(to_svg(squeezed)).text_px < MIN_TEXT_PX <= legibility(to_svg(g)).text_px


def test_rule_tooltips_are_svg_titles():
    rs = parse_save(KUBE_DNS_SAVE, "kube-dns.rules")
    svg = to_svg(draw_trace(Trace(PACKET, kube_dns_branches()), rs))
    titles = [html.unescape(t) for t in re.findall(r"<title>([^<]*)</title>", svg)]
    # the DNAT rule of the first endpoint, shortened in the cell, is whole in its hover text
    spec = f"-A {kube_dns_branches()[0].steps[-2].chain} ... -j DNAT --to-destination 192.168.1.77:53"
    assert spec in titles
    assert "#nfwb-tip" not in svg   # the link graphviz needs for a cell tooltip is gone


def test_whole_table_graph_gets_a_zoom_view():
    # the EKS node's whole nat table: five jump levels side by side, too wide to read fitted
    g = draw_chains(eks_dump().ruleset, "nat")
    m = legibility(to_svg(g))
    assert m.text_px < MIN_TEXT_PX <= m.text_px / m.fit   # ... but readable at its natural size
    out = to_html(g)
    assert 'class="nfwb-graph nfwb-zoom"' in out and "overflow:auto" in out and "max-width:none" in out
    assert "http" not in out.split("<svg")[0]   # nothing fetched: works offline
    # a figure that fits the cell is shown plainly
    assert to_html(FIGURES["draw_hooks()"]()).startswith('<div class="nfwb-graph"><svg')


def test_font_has_hangul():
    need(shutil.which("fc-list") is not None, "needs fontconfig's fc-list (Debian fontconfig)")
    family = FONT.split(",")[0]
    korean = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True).stdout
    # fonts-noto-cjk (scripts/setup, binder/apt.txt) covers Korean under this family name
    assert any(family in line.split(",") for line in korean.splitlines()), korean[:500]
    svg = to_svg(__import__("graphviz").Digraph(node_attr={"fontname": FONT}, body=['a [label="훅 체인"]']))
    assert "훅 체인" in svg and f'font-family="{FONT}"' in svg
