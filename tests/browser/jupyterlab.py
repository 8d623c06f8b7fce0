"""A JupyterLab server and headless Debian Chromium for the browser tests, and how to run a notebook's cells there.

Deterministic on a busy 2-core machine: every notebook names the python3 kernelspec, JupyterLab's
user settings (a temporary folder) start that kernel without asking, and every wait is on a state
(the notebook and its kernel ready and idle, Run All's own promise settled, an element present),
never a fixed sleep or a click against a timeout. Any dialog that appears is recorded; the tests
treat one as a failure.
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

from tests.realparts import ROOT, need

NB_DIR = ROOT / "notebooks"
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
#: generous deadlines for a state to be reached on a loaded machine (waited on, never slept)
START_S, OPEN_S, RUN_S = 180, 180, 300

#: every .jp-Dialog that ever appears is recorded in window.__nfwbDialogs (a kernel picker would)
WATCH_DIALOGS = """
window.__nfwbDialogs = [];
new MutationObserver(() => {
  for (const d of document.querySelectorAll('.jp-Dialog')) {
    const t = (d.querySelector('.jp-Dialog-header') || d).textContent.trim();
    if (!window.__nfwbDialogs.includes(t)) window.__nfwbDialogs.push(t);
  }
}).observe(document, {childList: true, subtree: true});
"""

#: true once the notebook at `path` is open, its file loaded and its kernel idle
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
  return await app.commands.execute('notebook:run-all-cells');
}"""

#: every code cell of that notebook, from its model: execution count and outputs
CELL_STATES = """(path) => {
  const app = window.jupyterapp;
  const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  const cells = panel.content.model.cells, out = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    const outputs = [];
    for (let j = 0; j < c.outputs.length; j++) outputs.push(c.outputs.get(j).toJSON());
    out.push({count: c.executionCount, outputs});
  }
  return out;
}"""

#: two animation frames: the layout after a viewport change has been computed and painted
SETTLED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_settings(settings: Path) -> None:
    """User settings for this JupyterLab only: start the notebook's kernel without asking (no
    "Select Kernel" dialog), render every cell (no virtual scrolling, so every output is in the page
    to be checked), never autosave (the stored notebooks stay clean), no news."""
    def put(plugin: str, values: dict) -> None:
        path = settings / "@jupyterlab" / plugin
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    put("notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none", "autoStartDefaultKernel": True})
    put("apputils-extension/notification.jupyterlab-settings", {"fetchNews": "false", "checkForUpdates": False})
    put("docmanager-extension/plugin.jupyterlab-settings", {"autosave": False})


def _stored() -> dict[str, bytes]:
    """The notebooks and their text sources, both editions, as stored."""
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
    write_settings(home / "settings")
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
         "--LabApp.expose_app_in_browser=True"],  # window.jupyterapp: its states can be waited on
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:  # until the server answers its status API
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("JupyterLab exited:\n" + (home / "lab.log").read_text()[-2000:])
                if time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (home / "lab.log").read_text()[-2000:])
                try:
                    proc.wait(timeout=0.2)  # returns early only if the server exited (reported above)
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


def new_page(browser, width: int = 1400, height: int = 1000):
    """A browser page that records every JupyterLab dialog (see :func:`dialogs_seen`)."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.add_init_script(WATCH_DIALOGS)
    return page


def dialogs_seen(page) -> list[str]:
    """The titles of the dialogs JupyterLab has shown in this page (none expected)."""
    return page.evaluate("window.__nfwbDialogs || []")


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name.replace('/', '-')}.png"
    page.screenshot(path=str(path))
    return path


def open_and_run(page, lab, path: str, workspace: str, n_code: int):
    """Open the notebook at ``path`` (relative to the repo) in its own workspace, wait until its
    kernel is idle, run all its cells (JupyterLab's Run All, awaited), check every code cell ran,
    and return the notebook panel (a Playwright locator)."""
    base, token = lab
    # a workspace of its own, so JupyterLab does not re-open the notebooks of the previous test
    page.goto(f"{base}/lab/workspaces/{workspace.replace('/', '-')}/tree/{path}?token={token}",
              wait_until="domcontentloaded")
    try:
        page.wait_for_function(NOTEBOOK_READY, arg=path, timeout=OPEN_S * 1000, polling=200)
    except Exception:
        shot(page, f"OPEN-FAILED-{workspace}")
        raise AssertionError(f"{path}: the notebook and its kernel did not become ready; "
                             f"dialogs seen: {dialogs_seen(page)}") from None
    if page.locator("#jp-left-stack:not(.lm-mod-hidden)").count():
        page.keyboard.press("Control+b")  # hide the file browser: wider notebooks in the screenshots
    page.set_default_timeout(RUN_S * 1000)
    ran = page.evaluate(RUN_ALL, path)
    page.wait_for_function(NOTEBOOK_READY, arg=path, timeout=RUN_S * 1000, polling=200)  # idle again
    states = page.evaluate(CELL_STATES, path)
    failed = [o for c in states for o in c["outputs"] if o.get("output_type") == "error"]
    assert ran is not False, f"{path}: Run All reported a failure: {json.dumps(failed)[:1500]}"
    counts = [c["count"] for c in states]
    assert len(counts) == n_code and all(isinstance(n, int) for n in counts), f"{path}: not all cells ran: {counts}"
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def cell_outputs(page, path: str) -> list[list[dict]]:
    """Each code cell's outputs (nbformat JSON), from the notebook's model."""
    return [c["outputs"] for c in page.evaluate(CELL_STATES, path)]


def output_errors(panel) -> list[str]:
    """The tracebacks and errors the notebook's cells printed."""
    return [t for t in panel.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
        if "Traceback" in t or "Error" in t]
