"""Each notebook (both editions), run in a real JupyterLab in headless Debian Chromium at 1400 and
900 px wide: no errors, no dialog, diagrams and widgets show, Hangul renders in the Korean edition.
Screenshots go to test-artifacts/screenshots/ (the server and the waits: tests/browser/jupyterlab.py).
"""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.jupyterlab import (NB_DIR, ROOT, SETTLED, browser, cell_outputs, dialogs_seen,  # noqa: F401
                                      lab, new_page, open_and_run, output_errors, shot)
from tests.notebooks.runner import NOTEBOOKS

WIDTHS = (1400, 900)
WIDGET_CALLS = ("ipywidgets", "widgets.", "Explorer(", "HostportLab(", "ModuleChecker(", "TracerForm(")
DIAGRAM_CALLS = ("graphviz.Digraph(", "wb.draw_")
TIMES: dict[str, float] = {}
MEASURED: dict[str, dict] = {}

#: the smallest rendered text (CSS px) of the notebook's diagrams: each SVG text's font-size times the
#: scale it is drawn at (inline SVG: its screen matrix; an SVG shown as <img>: the image's width over
#: the drawing's own width), and how many outputs are wider than their cell
MEASURE = r"""() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const sizes = [];
  for (const t of panel.querySelectorAll('.jp-OutputArea-output svg text')) {
    if (!t.textContent.trim() || t.getBoundingClientRect().width === 0) continue;
    const m = t.getScreenCTM();
    sizes.push(parseFloat(getComputedStyle(t).fontSize) * (m ? Math.hypot(m.a, m.b) : 1));
  }
  for (const img of panel.querySelectorAll('.jp-OutputArea-output img')) {
    const src = img.getAttribute('src') || '';
    if (!src.startsWith('data:image/svg+xml') || img.clientWidth === 0) continue;
    const body = src.slice(src.indexOf(',') + 1);
    const text = src.includes(';base64,') ? atob(body) : decodeURIComponent(body);
    const svg = new DOMParser().parseFromString(text, 'image/svg+xml').documentElement;
    const vb = (svg.getAttribute('viewBox') || '').split(/[ ,]+/).map(Number);
    const own = vb.length === 4 ? vb[2] : parseFloat(svg.getAttribute('width'));
    if (!own) continue;
    for (const t of svg.querySelectorAll('text')) {
      if (!t.textContent.trim()) continue;
      let scale = 1;  // graphviz's size= scaling is a transform="scale(s s) …" on an enclosing <g>
      for (let e = t; e && e !== svg; e = e.parentElement) {
        const m = /scale\(\s*([0-9.eE+-]+)/.exec(e.getAttribute('transform') || '');
        if (m) scale *= parseFloat(m[1]);
      }
      sizes.push(parseFloat(t.getAttribute('font-size') || '14') * scale * img.clientWidth / own);
    }
  }
  let overflowing = 0;
  for (const o of panel.querySelectorAll('.jp-OutputArea-output')) if (o.scrollWidth > o.clientWidth + 1) overflowing++;
  return {smallest_text_px: sizes.length ? Math.round(Math.min(...sizes) * 10) / 10 : null,
          diagrams_text_items: sizes.length, overflowing_outputs: overflowing};
}"""

#: does the element's font draw these Hangul syllables, or the same box as for unassigned code points?
HANGUL_RENDERS = """(sel) => {
  const el = document.querySelector(sel);
  const font = getComputedStyle(el).font;
  const draw = (text) => {
    const c = document.createElement('canvas'); c.width = 200; c.height = 60;
    const g = c.getContext('2d'); g.font = font; g.fillText(text, 5, 40);
    return {pixels: c.toDataURL(), width: g.measureText(text).width};
  };
  const hangul = draw('한글'), tofu = draw('\\u0378\\u0379');
  return {font, width: hangul.width, differs: hangul.pixels !== tofu.pixels,
          loaded: document.fonts.check(font, '한글')};
}"""


def _sources(name: str) -> list[str]:
    nb = json.loads((NB_DIR / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(name, lab, browser):
    path = f"notebooks/{name}.ipynb"
    sources = _sources(name)
    start = time.perf_counter()
    page = new_page(browser, width=WIDTHS[0])
    try:
        panel = open_and_run(page, lab, path, f"t-{name}", len(sources))
        errors = [o for outs in cell_outputs(page, path) for o in outs if o.get("output_type") == "error"
                  or (o.get("name") == "stderr" and "Traceback" in "".join(o.get("text", "")))]
        assert errors == [], f"{name}: {json.dumps(errors)[:1500]}"
        assert output_errors(panel) == []
        if any(any(c in s for c in DIAGRAM_CALLS) for s in sources):
            panel.locator(".jp-RenderedSVG svg, .jp-RenderedSVG img, .jp-RenderedHTMLCommon svg").first.wait_for()
        if any(any(c in s for c in WIDGET_CALLS) for s in sources):
            panel.locator(".jp-OutputArea-output .jupyter-widgets, .jp-OutputArea-output .widget-box").first.wait_for()
        if name.startswith("ko/"):
            hangul = page.evaluate(HANGUL_RENDERS, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMarkdown h1")
            assert hangul["width"] > 0 and hangul["differs"], f"{name}: Hangul renders as tofu: {hangul}"
        diagrams = panel.locator(".jp-OutputArea-output svg, .jp-OutputArea-output img")
        if diagrams.count():
            diagrams.first.scroll_into_view_if_needed()  # the screenshots show the first diagram
        measured = {}
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            page.evaluate(SETTLED)
            measured[width] = page.evaluate(MEASURE)
            shot(page, f"{name}-{width}")
        assert dialogs_seen(page) == [], f"{name}: JupyterLab showed dialogs: {dialogs_seen(page)}"
        MEASURED[name] = measured
    finally:
        page.close()
        TIMES[name] = time.perf_counter() - start


@pytest.fixture(scope="module", autouse=True)
def report_browser_time(request):
    """After the module: print (and store) how long each notebook took, and what was measured."""
    yield
    if not TIMES:
        return
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "browser-times.json").write_text(json.dumps({k: round(v, 1) for k, v in TIMES.items()}, indent=1))
    (out / "browser-measured.json").write_text(json.dumps(MEASURED, indent=1))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"browser: {sum(TIMES.values()):.1f} s for {len(TIMES)} notebooks")
