"""A JupyterLab server and headless Debian Chromium for the browser tests, and how to run a notebook's cells there."""

from __future__ import annotations

import json
import os
import re
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # render every cell (no virtual scrolling), so every output is in the page to be checked
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    docs = home / "settings" / "@jupyterlab" / "docmanager-extension"
    docs.mkdir(parents=True)
    # never autosave: the notebooks in git must stay without outputs
    (docs / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    before = {p.name: p.read_bytes() for p in NB_DIR.glob("*.ipynb")}
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, PYTHONPATH=str(ROOT), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), NFWB_NOTEBOOK_LAB="0")
    log = open(home / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={ROOT}", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("JupyterLab exited:\n" + (home / "lab.log").read_text()[-2000:])
                time.sleep(0.5)
        else:
            raise RuntimeError("JupyterLab did not start:\n" + (home / "lab.log").read_text()[-2000:])
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
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


def _run_all(page) -> None:
    """Run menu → Run All Cells (a dialog in the way, e.g. the kernel picker, is accepted first)."""
    for attempt in range(3):
        dialogs = page.locator(".jp-Dialog .jp-mod-accept")
        if dialogs.count():
            try:
                dialogs.first.click(timeout=5_000)
            except Exception:  # the page's locator handler (new_page) accepted it first
                pass
        try:
            page.click(".lm-MenuBar-itemLabel:text-is('Run')", timeout=10_000)
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')", timeout=10_000)
            return
        except Exception:
            if not page.locator(".jp-Dialog").count():  # Escape on a dialog would choose "No Kernel"
                page.keyboard.press("Escape")
            if attempt == 2:
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / "RUN-MENU-FAILED.png"))
                raise


PROMPTS_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')].map(e => e.textContent.trim())"""


def _run_all_until_done(page, n_code: int, timeout: float = 150.0) -> None:
    """Run All Cells until every code cell shows an execution count.

    When the kernel is still connecting, JupyterLab may run the first cell and drop the rest;
    so if nothing is running ([*]) for a few seconds while cells are left, Run All again.
    """
    deadline = time.monotonic() + timeout
    _run_all(page)
    quiet_since = None
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        prompts = page.evaluate(PROMPTS_JS)
        done = len(prompts) >= n_code and all(re.fullmatch(r"\[\d+\]:", t) for t in prompts)
        if done:
            return
        if any(t == "[*]:" for t in prompts):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 4:
            _run_all(page)
            quiet_since = None
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "TIMEOUT.png"))
    raise AssertionError(f"cells did not all finish: {n_code} code cells, prompts {page.evaluate(PROMPTS_JS)}")


def new_page(browser, width: int = 1400, height: int = 1000):
    """A browser page that accepts JupyterLab's "Select Kernel" dialog whenever it is in the way."""
    page = browser.new_page(viewport={"width": width, "height": height})
    # JupyterLab may ask "Select Kernel" at any moment while the first kernel starts; whenever that
    # dialog is in the way of an action, accept it (Select = the notebook's own Python 3 kernel)
    page.add_locator_handler(page.locator(".jp-Dialog .jp-mod-accept"), lambda loc: loc.click())
    return page


def open_and_run(page, lab, path: str, workspace: str, n_code: int):
    """Open the notebook at ``path`` (relative to the repo) in its own workspace, run all its cells,
    and return the notebook panel (a Playwright locator)."""
    base, token = lab
    # a workspace of its own, so JupyterLab does not re-open the notebooks of the previous test
    page.goto(f"{base}/lab/workspaces/{workspace}/tree/{path}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-NotebookPanel [data-status='idle']", timeout=60_000)
    if page.locator("#jp-left-stack:not(.lm-mod-hidden)").count():
        page.keyboard.press("Control+b")  # hide the file browser: wider notebooks in the screenshots
    _run_all_until_done(page, n_code)
    page.wait_for_selector(".jp-NotebookPanel [data-status='idle']", timeout=60_000)
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def output_errors(panel) -> list[str]:
    """The tracebacks and errors the notebook's cells printed."""
    return [t for t in panel.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
        if "Traceback" in t or "Error" in t]
