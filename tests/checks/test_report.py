"""write_report / nfwb report: one standalone HTML file."""

import html
import re

from workbook.checks import check
from workbook.cli import main
from workbook.generate import generate_services, kube_proxy_save
from workbook.parse import parse, parse_save
from workbook.view.report import write_report

from tests.checks.shared import CHECKS_DATA

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def assert_standalone(text):
    assert not EXTERNAL.search(text), EXTERNAL.search(text).group(0)
    assert "<script" not in text.lower()
    assert "<link" not in text.lower()
    assert "@import" not in text


def test_report_of_seed_with_modules(tmp_path):
    rs = parse(CHECKS_DATA / "seed-prerouting-after.iptables-save")
    out = tmp_path / "report.html"
    from workbook.target import Target
    target = Target(rs, modules=parse(CHECKS_DATA / "seed-lsmod-before.txt")).subject
    write_report(target, out)
    text = out.read_text()
    assert_standalone(text)
    assert "<svg" in text
    findings = check(target)
    assert sorted(f.id for f in findings) == ["duplicate-rule", "missing-kernel-modules"]
    plain = html.unescape(text)
    for f in findings:
        assert f.title in plain
    # the fix commands and the modules table are in the page
    assert "iptables -t nat -D PREROUTING 5" in plain
    assert "nft_compat" in plain and "modprobe iptable_nat" in plain


def test_report_of_generated_kube_proxy_dump_via_cli(tmp_path, capsys):
    src = tmp_path / "node.iptables-save"
    src.write_text(kube_proxy_save(generate_services(30, seed=7)))
    out = tmp_path / "r.html"
    assert main(["report", str(src), "-o", str(out)]) == 0
    text = out.read_text()
    assert_standalone(text)
    assert text.count("<svg") == 2          # one diagram per table: filter and nat
    # service table: every cluster IP rule's service appears (names from the generator's comments)
    rs = parse(src)
    names = {r.comment.rsplit(" ", 2)[0] for r in rs.table("nat").chain("KUBE-SERVICES").rules
             if r.comment and r.comment.endswith("cluster IP")}
    plain = html.unescape(text)
    assert names and all(n in plain for n in names)


def test_empty_findings_report(tmp_path):
    out = write_report(parse_save("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"), tmp_path / "e.html")
    text = out.read_text()
    assert "No findings." in text and "<svg" in text
    assert_standalone(text)
