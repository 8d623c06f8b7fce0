"""Each notebook, run in a real JupyterLab in headless Debian Chromium: no errors, diagrams and widgets show."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser.jupyterlab import (NB_DIR, ROOT, SHOTS, browser, lab, new_page,  # noqa: F401 (fixtures)
                                     open_and_run, output_errors)

NOTEBOOKS = sorted(p.stem for p in NB_DIR.glob("[0-9][0-9]-*.ipynb"))
WIDGET_CALLS = ("ipywidgets", "widgets.", "Explorer(", "HostportLab(", "ModuleChecker(", "TracerForm(")
DIAGRAM_CALLS = ("graphviz.Digraph(", "wb.draw_")
TIMES: dict[str, float] = {}


def _sources(name: str) -> list[str]:
    nb = json.loads((NB_DIR / f"{name}.ipynb").read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(name, lab, browser):
    sources = _sources(name)
    n_code = len(sources)
    start = time.perf_counter()
    page = new_page(browser)
    try:
        panel = open_and_run(page, lab, f"notebooks/{name}.ipynb", f"t{name[:2]}", n_code)
        errors = output_errors(panel)
        assert errors == [], "\n---\n".join(e[:500] for e in errors)
        if any(any(c in s for c in DIAGRAM_CALLS) for s in sources):
            svgs = panel.locator(".jp-RenderedSVG svg, .jp-RenderedSVG img, .jp-RenderedHTMLCommon svg")
            assert svgs.count() >= 1, "a notebook that draws should show at least one graphviz SVG"
            svgs.first.scroll_into_view_if_needed()
        if any(any(c in s for c in WIDGET_CALLS) for s in sources):
            widgets = panel.locator(".jp-OutputArea-output .jupyter-widgets, .jp-OutputArea-output .widget-box,"
                                    " .jp-OutputArea-output .lm-Widget.jupyter-widgets")
            widgets.first.wait_for(timeout=30_000)
            assert widgets.count() >= 1, "a notebook that makes widgets should show at least one"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))
    finally:
        page.close()
        TIMES[name] = time.perf_counter() - start


@pytest.fixture(scope="module", autouse=True)
def report_browser_time(request):
    """After the module: print (and store) how long each notebook took in the browser."""
    yield
    if not TIMES:
        return
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "browser-times.json").write_text(json.dumps({k: round(v, 1) for k, v in TIMES.items()}, indent=1))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"browser: {sum(TIMES.values()):.1f} s for {len(TIMES)} notebooks")
