"""Notebook 07 shows the recorded kernel run, with a one-line reason, whenever the live lab cannot
run here: switched off, Binder, not root, a missing tool, no network namespaces, a lab that fails
half-way. Each reason is simulated (environment, PATH, or the availability probe patched), both
in the library call and in a headless run of the notebook; none of them may raise."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import workbook as wb
from tests.notebooks.runner import NB_DIR, errors_in
from tests.realparts import ROOT, need
from workbook import lab as lab_module
from workbook.lessons import lab_runs
from workbook.lessons.lab_runs import kernel_runs, live_lab_unavailable

QUERY = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
RECORDED = ROOT / "notebooks" / "recorded" / "lab-kube-dns.json"


@pytest.fixture(scope="module")
def eks():
    return wb.load_dump(ROOT / "datasets" / "eks-node")


@pytest.fixture
def lab_on(monkeypatch):
    monkeypatch.setenv("NFWB_NOTEBOOK_LAB", "1")
    for k in lab_runs._BINDER_VARS:
        monkeypatch.delenv(k, raising=False)


def _failing_ip(tmp_path: Path) -> Path:
    """A PATH folder whose `ip` fails like `ip netns add` in a container without CAP_SYS_ADMIN."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ip = bin_dir / "ip"
    ip.write_text("#!/bin/sh\necho 'mount --make-shared /run/netns failed: Operation not permitted' >&2\nexit 1\n")
    ip.chmod(ip.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def _recorded_dnat() -> list[str]:
    # what the recording holds, read straight from the JSON (not through the code under test)
    return [r["branches"][0]["dnat"] for r in json.loads(RECORDED.read_text())["runs"]]


def _assert_recorded(result, reason_part: str) -> None:
    assert result.live is False
    assert reason_part in result.reason
    assert "\n" not in result.reason and len(result.reason) < 300
    assert [t.branches[0].dnat for t in result.runs] == _recorded_dnat()
    assert "recorded run" in repr(result) and reason_part in repr(result)


# -- the library call ---------------------------------------------------------------------------

def test_switched_off(eks, lab_on, monkeypatch):
    monkeypatch.setenv("NFWB_NOTEBOOK_LAB", "0")
    _assert_recorded(kernel_runs(eks.ruleset, QUERY, eks.node_ips, progress=False), "NFWB_NOTEBOOK_LAB=0")


def test_on_binder(eks, lab_on, monkeypatch):
    monkeypatch.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    _assert_recorded(kernel_runs(eks.ruleset, QUERY, eks.node_ips, progress=False), "Binder")


def test_not_root(eks, lab_on, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    _assert_recorded(kernel_runs(eks.ruleset, QUERY, eks.node_ips, progress=False), "needs root")


def test_missing_conntrack(eks, lab_on, monkeypatch):
    need(os.geteuid() == 0, "the tool check comes after the root check")
    real = lab_module._which
    monkeypatch.setattr(lab_module, "_which", lambda n: None if n == "conntrack" else real(n))
    _assert_recorded(kernel_runs(eks.ruleset, QUERY, eks.node_ips, progress=False), "conntrack")


def test_no_network_namespaces(eks, lab_on, monkeypatch, tmp_path):
    ok, why = lab_module.lab_available()
    need(ok, why)  # the probe says yes; the namespaces themselves then fail
    monkeypatch.setenv("PATH", f"{_failing_ip(tmp_path)}:{os.environ['PATH']}")
    result = kernel_runs(eks.ruleset, QUERY, eks.node_ips, progress=False)
    _assert_recorded(result, "the live lab failed here")
    assert "Operation not permitted" in result.reason


def test_lab_that_fails_half_way(eks, lab_on, monkeypatch):
    ok, why = lab_module.lab_available()
    need(ok, why)
    calls = []

    def trace_twice(self, packet, **kw):
        calls.append(packet.sport)
        if len(calls) == 2:
            raise RuntimeError("lab: the kernel showed no trace\nwithin 5 s")
        return real_trace(self, packet, **kw)

    real_trace = lab_module.Lab.trace
    monkeypatch.setattr(lab_module.Lab, "trace", trace_twice)
    result = kernel_runs(eks.ruleset, QUERY, eks.node_ips, progress=False)
    _assert_recorded(result, "the kernel showed no trace within 5 s")  # one line, whitespace folded
    assert calls == [40000, 40001]


def test_live_when_it_can(eks, lab_on):
    ok, why = lab_module.lab_available()
    need(ok, why)
    result = kernel_runs(eks.ruleset, QUERY, eks.node_ips, count=2, progress=False)
    assert result.live and result.reason == ""
    assert len(result.runs) == 2 and all(len(t.branches) == 1 for t in result.runs)
    # the post's KUBE-SVC-TCOU7JCQXEZGVUNU has exactly these two endpoints
    assert {t.branches[0].dnat for t in result.runs} <= {"192.168.1.77:53", "192.168.2.64:53"}
    assert "live run" in repr(result)


def test_probe_without_linux(monkeypatch, lab_on):
    monkeypatch.setattr(lab_runs.platform, "system", lambda: "Darwin")
    assert live_lab_unavailable() == "the kernel lab needs Linux, this is Darwin"


# -- the notebook, headless, with each reason simulated inside its kernel -------------------------

PATCHES = {
    "not root": ("import os\nos.geteuid = lambda: 1000", "needs root"),
    "missing conntrack": ("import workbook.lab as _lab\n_real = _lab._which\n"
                          "_lab._which = lambda n: None if n == 'conntrack' else _real(n)", "conntrack"),
    "no namespaces": ("", "Operation not permitted"),  # the kernel's PATH starts with a failing `ip`
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(PATCHES))
def test_notebook_07_falls_back(case, monkeypatch, tmp_path):
    need(os.geteuid() == 0, "simulating a missing tool or namespaces needs a machine that has them (root)")
    patch, reason = PATCHES[case]
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("NFWB_NOTEBOOK_LAB", "1")
    if case == "no namespaces":
        monkeypatch.setenv("PATH", f"{_failing_ip(tmp_path)}:{os.environ['PATH']}")
    nb = nbformat.read(NB_DIR / "07-live-kernel-lab.ipynb", as_version=4)
    if patch:
        nb.cells.insert(0, nbformat.v4.new_code_cell(patch))
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(NB_DIR)}}).execute()
    assert errors_in(nb) == []
    shown = [json.dumps(c.outputs, ensure_ascii=False) for c in nb.cells
             if c.cell_type == "code" and c.source.startswith("lab = kernel_runs(")]
    assert len(shown) == 1 and "recorded run" in shown[0] and reason in shown[0], shown
