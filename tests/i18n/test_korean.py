"""Korean through gettext: chosen by LANGUAGE/LANG or set_language; JSON and fix commands stay as they are."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import workbook
from workbook import i18n
from workbook.checks import check
from workbook.dump import load_dump

ROOT = Path(__file__).resolve().parents[2]
AFTER = ROOT / "datasets" / "onprem-dup-hostport" / "after"


def _nfwb(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    return subprocess.run([sys.executable, "-m", "workbook", *args], capture_output=True, text=True,
                          env={**base, **env}, cwd=ROOT, timeout=120)


def _hangul(text: str) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for c in text)


def _fix_lines(out: str) -> list[str]:
    """The fix commands of every finding: the indented lines after each fix heading."""
    lines, keep = [], False
    for ln in out.splitlines():
        if ln.startswith("  ") and not ln.startswith("    "):
            keep = ln.rstrip().endswith(":") and ("fix (" in ln or "고치는 명령" in ln)
            continue
        if keep and ln.startswith("    "):
            lines.append(ln)
    return lines


def test_lang_ko_prints_the_finding_in_korean_with_the_fix_unchanged():
    ko = _nfwb("check", str(AFTER), LANG="ko_KR.UTF-8")
    en = _nfwb("check", str(AFTER), LANG="C.UTF-8")
    assert ko.returncode == en.returncode == 1          # the stale hostport entry is an error
    # hand-written expectations: the severity word, the finding's heading and the fix heading in Korean
    assert "[오류] stale-hostport-entry: nat CNI-HOSTPORT-DNAT:" in ko.stdout
    assert "[경고] duplicate-rule: nat PREROUTING:" in ko.stdout
    assert "호스트 포트" in ko.stdout and "고치는 명령" in ko.stdout
    assert "[ERROR] stale-hostport-entry" in en.stdout and "호스트" not in en.stdout
    # the fix commands (and their '#' comments) are byte for byte the English ones
    fixes = _fix_lines(en.stdout)
    assert "    iptables -t nat -D PREROUTING 5" in fixes
    assert "    iptables -t nat -F CNI-DN-6be53cad1e29e8ca61c17 && iptables -t nat -X CNI-DN-6be53cad1e29e8ca61c17" in fixes
    assert _fix_lines(ko.stdout) == fixes


def test_language_beats_lang_and_english_is_the_default():
    assert "[오류]" in _nfwb("check", str(AFTER), LANGUAGE="ko", LANG="C").stdout
    assert "[ERROR]" in _nfwb("check", str(AFTER), LANGUAGE="en", LANG="ko_KR.UTF-8").stdout
    assert "[ERROR]" in _nfwb("check", str(AFTER)).stdout          # no locale variable at all
    assert "[ERROR]" in _nfwb("check", str(AFTER), LANG="fr_FR.UTF-8").stdout   # no French catalog


def test_json_output_is_english_and_identical_in_every_language():
    ko = _nfwb("check", str(AFTER), "--json", LANG="ko_KR.UTF-8")
    en = _nfwb("check", str(AFTER), "--json", LANG="C.UTF-8")
    assert ko.stdout == en.stdout
    doc = json.loads(ko.stdout)
    # errors first: the stale hostPort entry and the conntrack entries it sent to the deleted pod (after/'s
    # kernel/conntrack.txt), then the two duplicated jumps
    assert [f["id"] for f in doc["findings"]] == ["stale-hostport-entry", "conntrack-to-stale-hostport",
                                                  "duplicate-rule", "duplicate-rule"]
    for f in doc["findings"]:
        assert not _hangul(f["title"]) and not _hangul(f["explanation"]) and f["title"].isascii()
        assert set(f) == {"id", "severity", "title", "explanation", "owner", "table", "chain", "evidence", "fix"}


@pytest.fixture
def korean():
    workbook.set_language("ko")
    yield
    workbook.set_language(None)


def test_set_language_in_a_notebook(korean):
    findings = check(load_dump(AFTER))
    dup = findings.by_id("duplicate-rule")[0]
    assert i18n.get_language() == "ko"
    assert "사본 2개" in dup.text() and "사본 2개" in dup._repr_html_()
    assert "근거" in dup.text() and "소유자: CNI portmap" in dup.text()
    # the object itself keeps English words: JSON, to_dict and plain comparisons are stable
    assert dup.title == "nat PREROUTING: 2 copies of '-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT'"
    assert dup.to_dict()["title"] == dup.title and type(dup.to_dict()["title"]) is str
    assert "발견 4건: 오류 2, 경고 2, 정보 0" == findings.summary()
    assert json.loads(findings.to_json())["findings"][2]["title"] == dup.title
    # fix commands are never translated
    assert dup.fix[1] == "iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"
    assert all(line in dup.text() for line in dup.fix)
    workbook.set_language("en")
    assert "[WARNING] duplicate-rule: nat PREROUTING: 2 copies of" in dup.text()


def test_messages_built_in_korean_show_in_english_after_switching_back(korean):
    findings = check(load_dump(AFTER))
    workbook.set_language(None)          # the environment: LANGUAGE=en under the tests
    assert findings.summary() == "4 finding(s): 2 error, 2 warning, 0 info"
    assert "[ERROR] stale-hostport-entry" in findings.text()


def test_set_language_refuses_an_empty_name():
    with pytest.raises(ValueError):
        workbook.set_language(" ")


TRACE = ["trace", str(ROOT / "datasets" / "eks-node"), "--src", "192.168.3.98", "--dst", "10.100.0.10",
         "--proto", "udp", "--dport", "53", "--in-iface", "eni5d1d36193a1"]
DIFF = ["diff", str(ROOT / "datasets" / "onprem-dup-hostport" / "before"), str(AFTER)]


@pytest.mark.parametrize("args", [TRACE, DIFF], ids=["trace", "diff"])
def test_other_commands_keep_json_and_speak_korean_as_text(args):
    ko = _nfwb(*args, "--json", LANG="ko_KR.UTF-8")
    en = _nfwb(*args, "--json", LANG="C.UTF-8")
    assert ko.stdout == en.stdout and json.loads(ko.stdout) and not _hangul(ko.stdout)
    text = _nfwb(*args, LANG="ko_KR.UTF-8").stdout
    english = _nfwb(*args, LANG="C.UTF-8").stdout
    if args is TRACE:
        # kube-dns has two endpoints: two branches of probability 0.5 (notebook 03, the seed post)
        assert "갈래 1/2  확률 0.5  ACCEPT  DNAT→192.168.1.77:53" in text
        assert "branch 1/2  probability 0.5  ACCEPT  DNAT→192.168.1.77:53" in english
        # the rules themselves are printed as iptables prints them, in both languages
        rule = "-m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-4JJWD7DPDSPAPXRS"
        assert rule in text and rule in english
    else:
        assert text.startswith("nfwb diff: ") and "추가" in text and "added" in english
        assert [ln for ln in text.splitlines()[1:]] == [ln for ln in english.splitlines()[1:]]   # the hunks


def test_an_error_line_stays_one_line_in_korean(tmp_path):
    r = _nfwb("check", str(tmp_path / "missing"), LANG="ko_KR.UTF-8")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("nfwb check: 오류: ") and "Traceback" not in r.stderr


def test_widgets_speak_korean_and_keep_their_commands(korean):
    from workbook.view.widgets import ModuleChecker, TracerForm
    garbage = ModuleChecker("hello world\n")
    assert "lsmod 출력이 아닙니다" in garbage.result_out.value
    # the post's lsmod before the fix: none of the four legacy table modules (notebook 05, exercise 5.1)
    lsmod = (ROOT / "tests" / "data" / "checks" / "seed-lsmod-before.txt").read_text()
    checker = ModuleChecker(lsmod)
    assert "4개 없음" in checker.result_out.value and "✘ 없음" in checker.result_out.value
    assert "modprobe iptable_nat" in checker.fix_out.value          # commands stay as they are
    form = TracerForm(load_dump(ROOT / "datasets" / "eks-node"), src="192.168.3.98", dst="10.100.0.10",
                      proto="udp", dport=53)
    assert form.run.description == "추적"
    from workbook.view.widgets import HOSTPORT_STEPS, HostportLab
    lab = HostportLab()
    assert "<h4>1. 인그레스 컨트롤러가 뜨기 전의 워커</h4>" in lab.text_out.value
    assert HOSTPORT_STEPS[0].title == "1. A worker before the ingress controller"   # the object keeps English
    lab.step.value = 5                                                                # the fix step
    assert "iptables -t nat -D PREROUTING 5" in lab.commands_out.value
