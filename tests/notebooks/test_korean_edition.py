"""The Korean edition (notebooks/ko/): every notebook, in Korean, with the post's own words quoted exactly."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from tests.datasets.seedtext import seed_path
from tests.notebooks.runner import NB_DIR, NOTEBOOKS, run
from tests.realparts import ROOT, need

ENGLISH = [n for n in NOTEBOOKS if "/" not in n]
KOREAN = [n for n in NOTEBOOKS if n.startswith("ko/")]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
_QUESTION = re.compile(r"check_(answer|prediction)\(\s*[\"']([^\s\"']+)")


def _nb(name: str):
    return nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)


def _prose(cell) -> str:
    """A markdown cell without its code blocks and inline code (what a reader reads as sentences)."""
    text = re.sub(r"```.*?```", " ", cell.source, flags=re.S)
    return re.sub(r"`[^`]*`", " ", text)


def _sentences(cell) -> str:
    """The prose less link targets and names in capitals (PREROUTING, KUBE-SEP-…, EKS), which stay English."""
    text = re.sub(r"\]\([^)]*\)", "]", _prose(cell))
    return re.sub(r"\b[A-Z][A-Z0-9_-]+\b", " ", text)


def _squash(text: str) -> str:
    return " ".join(text.replace("•", " ").split())


def test_every_english_notebook_has_a_korean_one():
    assert [n.removeprefix("ko/") for n in KOREAN] == ENGLISH


@pytest.mark.parametrize("name", KOREAN)
def test_speaks_korean(name):
    nb = _nb(name)
    setup = [c for c in nb.cells if c.cell_type == "code" and "DATASETS = setup()" in c.source]
    assert len(setup) == 1 and 'wb.set_language("ko")' in setup[0].source
    # the prose is Korean: most letters of every longer markdown cell are Hangul, not a copy of the English
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        letters = [ch for ch in _sentences(cell) if ch.isalpha()]
        if len(letters) < 80:
            continue
        share = sum(1 for ch in letters if HANGUL.match(ch)) / len(letters)
        assert share > 0.5, f"{name}: mostly not Korean: {cell.source[:80]!r}"
    english = {c.source for c in _nb(name.removeprefix("ko/")).cells if c.cell_type == "markdown"}
    assert not [c.source[:60] for c in nb.cells if c.cell_type == "markdown" and c.source in english]


@pytest.mark.parametrize("name", KOREAN)
def test_same_exercises_and_predictions_as_the_english_notebook(name):
    def ids(nb, kind):
        return [m.group(2) for c in nb.cells if c.cell_type == "code"
                for m in [_QUESTION.search(c.source)] if m and m.group(1) == kind]
    ko, en = _nb(name), _nb(name.removeprefix("ko/"))
    for kind in ("answer", "prediction"):
        assert ids(ko, kind) == ids(en, kind), kind


def test_the_glossary_names_the_english_terms():
    cells = [c.source for c in _nb("ko/00-start-here").cells if c.cell_type == "markdown"]
    glossary = next(c for c in cells if c.startswith("## 용어집"))
    rows = {row.split("|")[1].strip(): row.split("|")[2].strip() for row in glossary.splitlines()
            if row.startswith("|") and row.count("|") >= 4}
    for korean, english in [("훅", "hook"), ("체인", "chain"), ("테이블", "table"), ("DNAT", "destination NAT"),
                            ("SNAT / MASQUERADE", "source NAT"), ("연결 추적", "conntrack"), ("엔드포인트", "endpoint")]:
        assert english in rows.get(korean, ""), (korean, rows.get(korean))


def test_quotes_of_the_post_are_its_own_words():
    """Every Hangul phrase in quotation marks in a cell that cites the post (원문) is in the post, verbatim."""
    seed = seed_path()
    need(seed is not None, "the seed post (../shared/seed) is not beside this checkout")
    post = _squash(seed.read_text(encoding="utf-8"))
    quoted = 0
    for name in KOREAN:
        for cell in _nb(name).cells:
            if cell.cell_type != "markdown" or "원문" not in cell.source:
                continue
            for q in re.findall(r'"([^"\n]*(?:\n[^"\n]*)*?)"', _prose(cell)):
                if HANGUL.search(q):
                    quoted += 1
                    assert _squash(q) in post, f"{name}: not the post's words: {q!r}"
    assert quoted >= 20, quoted     # the edition leans on the post's own phrasings


def test_findings_and_self_checks_speak_korean_and_fix_commands_do_not(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("NFWB_NOTEBOOK_LAB", "0")
    nb, _, errs = run("ko/04-dockershim-duplicate-hostport")
    assert errs == []
    shown = {c.source.splitlines()[0]: json.dumps(c.outputs, ensure_ascii=False) for c in nb.cells
             if c.cell_type == "code" and c.source}
    findings = shown["findings = wb.check(after)"]
    assert "발견 4건: 오류 2, 경고 2, 정보 0" in findings           # the summary, in Korean (with the conntrack error)
    assert "iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" in findings
    assert "conntrack -D -p tcp --orig-port-dst 80 --reply-src 10.42.134.75 --reply-port-src 80" in findings
    unanswered = next(v for k, v in shown.items() if k.startswith('check_answer("4.1'))
    assert "✎" in unanswered and "답으로 바꾸고" in unanswered
