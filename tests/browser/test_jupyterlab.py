"""Each notebook (both editions), run in a real JupyterLab in headless Debian Chromium at 1400 and
900 px wide: no errors, no dialog, diagrams and widgets show, Hangul renders in the Korean edition.

Deterministic on a busy machine: every notebook names the python3 kernelspec, JupyterLab's
settings (a temporary settings folder) start that kernel without asking, and every wait is on a
state (the app restored, the kernel idle, Run All's promise settled, an element present), never
a fixed sleep. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.notebooks.runner import NB_DIR, NOTEBOOKS
from tests.realparts import ROOT, need

SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
WIDTHS = (1400, 900)
WIDGET_CALLS = ("ipywidgets", "widgets.", "Explorer(", "HostportLab(", "ModuleChecker(", "TracerForm(")
DIAGRAM_CALLS = ("graphviz.Digraph(", "wb.draw_")
#: generous deadlines for states to be reached on a loaded 2-core machine (never slept)
OPEN_S, RUN_S = 180, 300
TIMES: dict[str, float] = {}
MEASURED: dict[str, dict] = {}

#: every .jp-Dialog that ever appears is recorded (a kernel picker would show up here)
WATCH_DIALOGS = """
window.__nfwbDialogs = [];
new MutationObserver(() => {
  for (const d of document.querySelectorAll('.jp-Dialog')) {
    const t = (d.querySelector('.jp-Dialog-header') || d).textContent.trim();
    if (!window.__nfwbDialogs.includes(t)) window.__nfwbDialogs.push(t);
  }
}).observe(document, {childList: true, subtree: true});
"""

#: true once the notebook at `path` is open, its context loaded and its kernel idle
NOTEBOOK_READY = """(path) => {
  const app = window.jupyterapp;
  if (!app) return false;
  const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  if (!panel || !panel.context.isReady || !panel.sessionContext.isReady) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle';
}"""

#: Run All on that notebook; resolves when JupyterLab's own promise for it settles
RUN_ALL = """async (path) => {
  const app = window.jupyterapp;
  const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  app.shell.activateById(panel.id);
  const ok = await app.commands.execute('notebook:run-all-cells');
  return ok;
}"""

#: every code cell from the model: its execution count, output types and error texts
CELL_STATES = """(path) => {
  const app = window.jupyterapp;
  const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  const kernel = panel.sessionContext.session.kernel;
  const cells = panel.content.model.cells, out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < c.outputs.length; j++) outputs.push(c.outputs.get(j).toJSON());
    out.push({count: c.executionCount, outputs});
  }
  return {kernel: kernel.status, cells: out};
}"""

#: two animation frames: the layout after a viewport change has been computed and painted
SETTLED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_settings(settings: Path) -> None:
    """User settings for this JupyterLab only: start the notebook's kernel without asking, render
    every cell, never autosave (the stored notebooks must stay clean), no news."""
    def put(plugin: str, values: dict) -> None:
        path = settings / "@jupyterlab" / plugin
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    put("notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none", "autoStartDefaultKernel": True})
    put("apputils-extension/notification.jupyterlab-settings", {"fetchNews": "false", "checkForUpdates": False})
    put("docmanager-extension/plugin.jupyterlab-settings", {"autosave": False})


def _stored() -> dict[str, bytes]:
    return {str(p.relative_to(NB_DIR)): p.read_bytes() for pat in ("*.ipynb", "*.py", "ko/*.ipynb", "ko/*.py")
            for p in NB_DIR.glob(pat)}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab server for all notebooks (random port, token), stopped afterwards."""
    need(Path(CHROMIUM).exists(), f"needs Debian's chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        need(False, "needs the Python playwright package")
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    home = tmp_path_factory.mktemp("jupyter")
    _write_settings(home / "settings")
    before = _stored()
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), NFWB_NOTEBOOK_LAB="0")
    log = open(home / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={ROOT}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.expose_app_in_browser=True"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + OPEN_S
        while True:  # the server answers its status API: up
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("JupyterLab exited:\n" + (home / "lab.log").read_text()[-2000:])
                if time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (home / "lab.log").read_text()[-2000:])
                try:
                    proc.wait(timeout=0.2)  # returns early only if the server exited (then said above)
                except subprocess.TimeoutExpired:
                    pass
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    changed = [n for n, b in before.items() if (NB_DIR / n).read_bytes() != b]
    assert not changed, f"JupyterLab wrote to the stored notebooks: {changed}"


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _shot(page, name: str, width: int) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name.replace('/', '-')}-{width}.png"
    page.screenshot(path=str(path))
    return path


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(name, lab, browser):
    base, token = lab
    path = f"notebooks/{name}.ipynb"
    sources = _sources(name)
    start = time.perf_counter()
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1000})
    page.add_init_script(WATCH_DIALOGS)
    try:
        # a workspace of its own, so JupyterLab does not re-open the notebooks of the previous test
        page.goto(f"{base}/lab/workspaces/t-{name.replace('/', '-')}/tree/{path}?token={token}", wait_until="domcontentloaded")
        try:
            page.wait_for_function(NOTEBOOK_READY, arg=path, timeout=OPEN_S * 1000, polling=200)
        except Exception:
            _shot(page, f"OPEN-FAILED-{name}", WIDTHS[0])
            raise AssertionError(f"{name}: the notebook and its kernel did not become ready; "
                                 f"dialogs seen: {page.evaluate('window.__nfwbDialogs')}") from None
        if page.locator("#jp-left-stack:not(.lm-mod-hidden)").count():
            page.keyboard.press("Control+b")  # hide the file browser: wider notebooks in the screenshots
        page.set_default_timeout(RUN_S * 1000)
        assert page.evaluate(RUN_ALL, path) is not False, f"{name}: Run All reported a failure"
        page.wait_for_function(NOTEBOOK_READY, arg=path, timeout=RUN_S * 1000, polling=200)  # idle again
        state = page.evaluate(CELL_STATES, path)
        counts = [c["count"] for c in state["cells"]]
        assert len(counts) == len(sources) and all(isinstance(n, int) for n in counts), \
            f"{name}: cells not executed: {counts}"
        errors = [o for c in state["cells"] for o in c["outputs"] if o.get("output_type") == "error"
                  or (o.get("name") == "stderr" and "Traceback" in "".join(o.get("text", "")))]
        assert errors == [], f"{name}: {json.dumps(errors)[:1500]}"
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
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
            _shot(page, name, width)
        dialogs = page.evaluate("window.__nfwbDialogs")
        assert dialogs == [], f"{name}: JupyterLab showed dialogs: {dialogs}"
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
