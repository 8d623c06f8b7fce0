"""Every notebook runs headless from top to bottom without showing an error, and is stored clean."""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from tests.notebooks.runner import NB_DIR, NOTEBOOKS, errors_in, run
from tests.realparts import ROOT

TIMES: dict[str, float] = {}
EXPECTED = ["00-start-here", "01-netfilter-hooks", "02-tables-and-chains", "03-service-dnat-path",
            "04-dockershim-duplicate-hostport", "05-istio-iptables-modules",
            "06-forensics-of-a-node-dump", "07-live-kernel-lab"]


def test_the_eight_notebooks_are_there():
    # The brief names these eight notebooks; nothing else matches the NN-name pattern; a Korean
    # edition (ko/) has the same eight, or none yet.
    assert [n for n in NOTEBOOKS if "/" not in n] == EXPECTED
    korean = [n.removeprefix("ko/") for n in NOTEBOOKS if n.startswith("ko/")]
    assert korean in ([], EXPECTED), korean


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_without_outputs(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code cells teaches nothing here"
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    # each exercise has a self-check right after it
    srcs = [c.source for c in nb.cells]
    for i, s in enumerate(srcs):
        if s.startswith("answer = ..."):
            assert "check_answer(" in srcs[i + 1], f"cell {i + 1} should self-check the answer of cell {i}"
            assert srcs[i - 1].startswith("### "), f"cell {i - 1} should state the exercise (a ### heading)"
    # every numbered section (## n · …) ends with an exercise (00 is orientation and has one at its end)
    sections: list[list[str]] = []
    for s in srcs:
        if s.startswith("## "):
            sections.append([s])
        elif sections:
            sections[-1].append(s)
    if not name.endswith("00-start-here"):
        for sec in sections:
            assert any(c.startswith("answer = ...") for c in sec), f"section without an exercise: {sec[0][:60]}"
    assert any(c.startswith("answer = ...") for c in sections[-1]) or name.endswith("07-live-kernel-lab")


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_without_errors(name, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))      # the kernel imports this checkout's workbook
    monkeypatch.setenv("NFWB_NOTEBOOK_LAB", os.environ.get("NFWB_NOTEBOOK_LAB", "1"))
    nb, secs, errs = run(name)
    TIMES[name] = secs
    assert errs == [], "\n".join(errs)
    # every self-check ran and said something (a hint for the unanswered placeholder, never silence)
    checks = [c for c in nb.cells if c.cell_type == "code" and "check_answer(" in c.source]
    for c in checks:
        text = json.dumps(c.outputs, ensure_ascii=False)
        assert "✎" in text, f"self-check without the placeholder hint: {c.source[:60]}"


@pytest.fixture(scope="module", autouse=True)
def report_total_time(request):
    """After the module: print (and store) how long the notebooks took; the target is < 3 min for all eight."""
    yield
    if not TIMES:
        return
    total = sum(TIMES.values())
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "notebook-times.json").write_text(json.dumps({"total_seconds": round(total, 1),
                                                         **{k: round(v, 1) for k, v in TIMES.items()}}, indent=1))
    line = f"notebooks: {total:.1f} s total for {len(TIMES)} — " + ", ".join(f"{k[:2]} {v:.1f}s" for k, v in TIMES.items())
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(line)
