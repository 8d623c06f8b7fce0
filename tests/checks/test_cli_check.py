"""nfwb check: text and JSON output, exit codes 0/1/2, --severity."""

import json

from workbook.cli import main

from tests.checks.shared import CHECKS_DATA

AFTER = CHECKS_DATA / "seed-prerouting-after.iptables-save"


def test_warning_only_exits_0_and_prints_fix(capsys):
    assert main(["check", str(AFTER)]) == 0
    out = capsys.readouterr().out
    assert "[WARNING] duplicate-rule" in out
    assert "iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" in out
    assert "iptables -t nat -D PREROUTING 5" in out
    assert f"{AFTER}:14" in out          # evidence names file:line of the second copy


def test_error_exits_1(tmp_path, capsys):
    # a jump to a chain the file does not declare: restore would fail, an error-severity finding
    p = tmp_path / "cut.rules"
    p.write_text("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n")
    assert main(["check", str(p), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["error"] == 1
    assert doc["findings"][0]["id"] == "jump-to-missing-chain"
    assert doc["findings"][0]["evidence"][0]["origin"] == f"{p}:3"


def test_severity_filter_keeps_exit_status(tmp_path, capsys):
    assert main(["check", str(AFTER), "--severity", "error", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["findings"] == [] and doc["summary"]["warning"] == 1


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.rules"
    bad.write_text('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m comment --comment "open -j ACCEPT\nCOMMIT\n')
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"nfwb check: error: {bad}:3: unterminated quote"]
    assert main(["check", str(tmp_path / "missing.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.txt" in err[0]


def test_lsmod_file_alone(capsys):
    assert main(["check", str(CHECKS_DATA / "seed-lsmod-before.txt")]) == 0   # a warning, no Istio evidence
    out = capsys.readouterr().out
    assert "missing-kernel-modules" in out and "modprobe iptable_raw" in out


def test_modules_option(capsys):
    assert main(["check", str(AFTER), "--modules", str(CHECKS_DATA / "seed-lsmod-before.txt"), "--json"]) == 0
    ids = sorted(f["id"] for f in json.loads(capsys.readouterr().out)["findings"])
    assert ids == ["duplicate-rule", "missing-kernel-modules"]


def test_every_finding_id_is_documented():
    # ids produced anywhere in the package must be listed in FINDING_IDS (stable ids are an API)
    import re
    from pathlib import Path

    import workbook.checks as checks
    produced = set()
    for p in Path(checks.__file__).parent.glob("*.py"):
        if p.name == "finding.py":   # its doctests make example findings "a", "b", "x"
            continue
        produced |= set(re.findall(r'Finding\(\s*"([a-z-]+)"', p.read_text()))
    assert produced == set(checks.FINDING_IDS)
