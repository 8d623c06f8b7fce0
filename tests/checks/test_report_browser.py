"""The report opens offline in real Chromium: no network request at all, diagrams render, findings show."""

import os
from pathlib import Path

from workbook.parse import parse
from workbook.view.report import write_report
from workbook.target import Target

from tests.checks.shared import CHECKS_DATA
from tests.realparts import ROOT, need

CHROMIUM = "/usr/bin/chromium"


def test_report_renders_offline_in_chromium(tmp_path):
    need(Path(CHROMIUM).exists(), f"needs Debian's chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "needs the Python playwright package")
        return
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    target = Target(parse(CHECKS_DATA / "seed-prerouting-after.iptables-save"),
                    modules=parse(CHECKS_DATA / "seed-lsmod-before.txt")).subject
    out = write_report(target, tmp_path / "report.html")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(out.as_uri())
            page.wait_for_load_state("load")
            svg_count = page.locator("svg").count()
            text = page.inner_text("body")
            shots = ROOT / "test-artifacts" / "screenshots"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "checks-report.png"), full_page=True)
        finally:
            browser.close()
    # the only request is the page itself
    assert requests == [out.as_uri()]
    assert svg_count >= 1
    assert "Kernel modules for legacy iptables not loaded" in text
    assert "iptables -t nat -D PREROUTING 5" in text
