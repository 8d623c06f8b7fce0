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
            "06-forensics-of-a-node-dump", "07-live-kernel-lab", "08-same-service-both-modes"]


def test_the_notebooks_are_there():
    # The briefs name these notebooks (08: issue 11); nothing else matches the NN-name pattern; a
    # Korean edition (ko/) has the same ones, or none yet.
    assert [n for n in NOTEBOOKS if "/" not in n] == EXPECTED
    korean = [n.removeprefix("ko/") for n in NOTEBOOKS if n.startswith("ko/")]
    assert korean in ([], EXPECTED), korean


TRACE_CALLS = ("trace_packet(", "kernel_runs(")


def _sections(nb) -> list[list]:
    """The cells of each numbered section (## …), in order."""
    sections: list[list] = []
    for c in nb.cells:
        if c.cell_type == "markdown" and c.source.startswith("## "):
            sections.append([c])
        elif sections:
            sections[-1].append(c)
    return sections


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_without_outputs(name):
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code cells teaches nothing here"
    assert all(c.outputs == [] and c.execution_count is None for c in code)
    # each exercise has a self-check right after it, and a ### heading stating it right before
    srcs = [c.source for c in nb.cells]
    for i, s in enumerate(srcs):
        if s.startswith("answer = ..."):
            assert "check_answer(" in srcs[i + 1], f"cell {i + 1} should self-check the answer of cell {i}"
            assert srcs[i - 1].startswith("### "), f"cell {i - 1} should state the exercise (a ### heading)"
    # every numbered section (## n · …) has an exercise or a prediction (00 is orientation and has one at its end)
    sections = _sections(nb)
    if not name.endswith("00-start-here"):
        for sec in sections:
            assert any(c.source.startswith(("answer = ...", "prediction = ...")) for c in sec), \
                f"section without an exercise: {sec[0].source[:60]}"
    assert any(c.source.startswith("answer = ...") for c in sections[-1]) or name.endswith("07-live-kernel-lab")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_predict_then_run_before_every_trace(name):
    """A prediction is asked (a ### heading, then `prediction = ...`) before each trace, and
    checked (check_prediction) only after the trace has run."""
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    for sec in _sections(nb):
        for i, cell in enumerate(sec):
            if cell.cell_type != "code" or not any(call in cell.source for call in TRACE_CALLS):
                continue
            asked = [j for j in range(i) if sec[j].source.startswith("prediction = ...")]
            assert asked, f"{name}: a trace without a prediction before it: {cell.source[:70]}"
            j = asked[-1]
            heading = next(c for c in reversed(sec[:j]) if c.cell_type == "markdown")
            assert any(line.startswith("### ") for line in heading.source.splitlines()), heading.source[:80]
            checks = [k for k in range(j + 1, len(sec)) if "check_prediction(" in sec[k].source]
            assert checks and checks[0] > i, f"{name}: the prediction before {cell.source[:50]!r} is checked too early"


def test_break_it_yourself_labs():
    """The three labs of the brief: add the duplicate jump (04), remove an endpoint (03), unload a
    module (05); each changes a copy and runs the checks on it, then traces or checks again."""
    labs = {"03-service-dnat-path": ("remove an endpoint", "trace_packet(broken_rs"),
            "04-dockershim-duplicate-hostport": ("add the duplicate jump", "wb.check(doubled)"),
            "05-istio-iptables-modules": ("unload a module", "wb.check(fixed, modules=")}
    for name, (title, call) in labs.items():
        nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
        text = "\n".join(c.source for c in nb.cells)
        assert f"Break it yourself: {title}" in text, name
        assert call in text, name


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
