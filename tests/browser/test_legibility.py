"""The figures in a real JupyterLab output cell 1000 px wide: rendered font-size × on-screen scale ≥ 9 px, and Hangul glyphs."""

from __future__ import annotations

import json

import pytest

from tests.browser.jupyterlab import ROOT, SHOTS, browser, lab, new_page, open_and_run, output_errors  # noqa: F401
from tests.draw.figures import figures
from workbook.view.legibility import MIN_TEXT_PX, legibility

CELL_PX = 1000
HANGUL = "훅 체인 테이블 엔드포인트"
NB = ROOT / "test-artifacts" / "legibility" / "legibility.ipynb"


def _cell(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": source}


def _notebook() -> int:
    """Write the notebook the test runs (one figure a cell); return its number of code cells."""
    cells = [_cell("from IPython.display import HTML, display\n"
                   "from tests.draw.figures import figures\n"
                   "from workbook.view.draw import FONT, Drawing\n"
                   "from workbook.view.widgets import HostportLab\n"
                   "F = figures()")]
    for name in figures():
        cells.append(_cell(f"display(HTML('<p class=\"nfwb-fig\">{name}</p>'))\nF[{name!r}]()"))
    cells.append(_cell("display(HTML('<p class=\"nfwb-fig\">HostportLab widget, step 4</p>'))\n"
                       "lab = HostportLab()\nlab.step.value = 4\nlab"))
    cells.append(_cell("display(HTML('<p class=\"nfwb-fig\">whole nat table (zoom view)</p>'))\n"
                       "from tests.draw.figures import eks_dump\nfrom workbook.view.draw import draw_chains\n"
                       "draw_chains(eks_dump().ruleset, 'nat')"))
    cells.append(_cell("display(HTML('<p class=\"nfwb-fig\">Hangul</p>'))\n"
                       "g = Drawing(node_attr={'fontname': FONT})\n"
                       f"g.node('k', {HANGUL!r})\ng"))
    NB.parent.mkdir(parents=True, exist_ok=True)
    NB.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                           "language": "python"}},
                              "nbformat": 4, "nbformat_minor": 5}))
    return len(cells)


#: Per figure (cell): the smallest text's computed font-size × the scale the SVG is drawn at on
#: screen (getScreenCTM: viewBox, graphviz's transform and the CSS scaling to the cell, together).
MEASURE_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')].map(cell => {
  const tag = cell.querySelector('.nfwb-fig');
  const out = [];
  for (const svg of cell.querySelectorAll('.jp-OutputArea-output svg')) {
    let min = Infinity, text = '';
    for (const t of svg.querySelectorAll('text')) {
      if (!t.textContent.trim()) continue;
      const m = t.getScreenCTM();
      const px = parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
      if (px < min) { min = px; text = t.textContent; }
    }
    const area = svg.closest('.jp-OutputArea-output');
    out.push({min, text, width: svg.getBoundingClientRect().width,
              cell: area.getBoundingClientRect().width, svg: new XMLSerializer().serializeToString(svg)});
  }
  return {name: tag ? tag.textContent : null, svgs: out};
}).filter(c => c.name)"""

#: Does the Hangul label render with real glyphs? Draw characters on a canvas in the label's
#: computed font: two different Hangul syllables must differ from each other and from a
#: character no font has (U+10FFFD: the .notdef "tofu" box), and the label must have a width.
HANGUL_JS = """() => {
  const t = [...document.querySelectorAll('.jp-OutputArea-output svg text')].find(e => e.textContent.includes('훅'));
  if (!t) return null;
  const family = getComputedStyle(t).fontFamily;
  const c = document.createElement('canvas'); c.width = 120; c.height = 80;
  const x = c.getContext('2d');
  const ink = s => { x.clearRect(0, 0, 120, 80); x.font = `60px ${family}`; x.fillStyle = '#000';
    x.fillText(s, 10, 65); const d = x.getImageData(0, 0, 120, 80).data; let h = 0, n = 0;
    for (let i = 3; i < d.length; i += 4) { h = (h * 31 + d[i]) % 1000000007; if (d[i]) n++; } return [h, n]; };
  const [hun, chae, tofu] = [ink('훅'), ink('체'), ink('\\u{10FFFD}')];
  return {family, width: t.getComputedTextLength(), hun, chae, tofu,
          loaded: document.fonts.check('16px "Noto Sans CJK KR"', '훅')};
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_figures_legible_in_a_1000px_cell(lab, browser):
    n_code = _notebook()
    page = new_page(browser, width=1400, height=1000)
    try:
        panel = open_and_run(page, lab, str(NB.relative_to(ROOT)), "legibility", n_code)
        assert output_errors(panel) == []
        page.wait_for_selector(".jp-OutputArea-output .widget-html-content svg", timeout=30_000)
        # make the output cells 1000 px wide (JupyterLab's own margins and prompts around them)
        cell = page.evaluate("() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
                             ".jp-OutputArea-output').getBoundingClientRect().width")
        page.set_viewport_size({"width": round(1400 + CELL_PX - cell), "height": 1000})
        page.wait_for_timeout(500)
        found = page.evaluate(MEASURE_JS)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "legibility.png"), full_page=True)
        by_name = {c["name"]: c["svgs"] for c in found}
        want = list(figures()) + ["HostportLab widget, step 4", "whole nat table (zoom view)", "Hangul"]
        assert sorted(by_name) == sorted(want)
        report, bad = [], []
        for name in want[:-2]:
            (fig,) = by_name[name]   # one drawing a cell (the widget's chain graph)
            assert abs(fig["cell"] - CELL_PX) <= 2, fig["cell"]
            assert fig["width"] <= fig["cell"] + 1   # scaled down to the cell, never cut off
            static = legibility(fig["svg"], fig["cell"]).text_px
            report.append(f"{name}: {fig['min']:.2f} px in the DOM ({static:.2f} measured from the SVG), "
                          f"{fig['text']!r}")
            # the one measurement function agrees with the browser
            assert static == pytest.approx(fig["min"], rel=0.03), report[-1]
            if fig["min"] < MIN_TEXT_PX:
                bad.append(report[-1])
        (SHOTS.parent / "legibility.txt").write_text("\n".join(report) + "\n")
        assert bad == [], "\n".join(bad)

        # The whole EKS nat table is too wide to read fitted: shown at its natural size in a
        # scrolling box (readable: ≥ 9 px), with zoom buttons that work offline (no script to load).
        (zoom,) = by_name["whole nat table (zoom view)"]
        assert zoom["min"] >= MIN_TEXT_PX and zoom["width"] > zoom["cell"]
        assert legibility(zoom["svg"], zoom["cell"]).text_px < MIN_TEXT_PX   # what fitting would have made it
        box = page.locator(".nfwb-zoom").first
        box.scroll_into_view_if_needed()
        width = lambda: box.locator("svg").first.evaluate("s => s.getBoundingClientRect().width")  # noqa: E731
        view = box.locator(".nfwb-zoom-view").first
        assert view.evaluate("v => v.scrollWidth > v.clientWidth")   # pan by scrolling
        before = width()
        box.locator("button", has_text="+").click()
        assert width() == pytest.approx(before * 1.25, rel=0.01)
        box.locator("button", has_text="fit").click()
        assert width() <= view.evaluate("v => v.clientWidth") + 1
        page.screenshot(path=str(SHOTS / "zoom-view-fitted.png"))

        hangul = page.evaluate(HANGUL_JS)
        page.locator(".jp-OutputArea-output svg text", has_text="훅").first.screenshot(
            path=str(SHOTS / "hangul-label.png"))
        assert hangul is not None and "Noto Sans CJK KR" in hangul["family"]
        assert hangul["width"] > 0
        # real glyphs: the two syllables draw differently, and neither like the tofu box
        assert hangul["hun"][1] > 0 and hangul["hun"] != hangul["chae"]
        assert hangul["hun"] != hangul["tofu"] and hangul["chae"] != hangul["tofu"]
        assert hangul["loaded"] is True
    finally:
        page.close()
