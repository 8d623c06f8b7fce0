"""Every ``nfwb`` command that takes a DUMP opens every target form: a dump folder (each layout the
dump loader knows), a ``.tar.xz``, a ``.zip``, and a single rules file (one loader: open_target)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.realparts import DATA, ROOT, need

MINIMAL = DATA / "dumps" / "nfwb-minimal"
EKS = DATA / "dumps" / "eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9"
SOS = DATA / "dumps" / "sosreport-master1-2019-07-01-kzqtnrm"
DATASET = ROOT / "datasets" / "eks-node"
PACKET = ["--src", "10.0.0.9", "--dst", "10.0.0.5", "--proto", "tcp", "--dport", "22"]


def _target(form: str, tmp: Path) -> Path:
    """The nfwb-minimal dump in the given form, made in ``tmp``."""
    if form == "folder":
        return MINIMAL
    if form == "tar.xz":
        out = tmp / "node.tar.xz"
        with tarfile.open(out, "w:xz") as tf:
            tf.add(MINIMAL, arcname=MINIMAL.name)
        return out
    if form == "zip":
        out = tmp / "node.zip"
        with zipfile.ZipFile(out, "w") as zf:
            for f in sorted(MINIMAL.rglob("*")):
                zf.write(f, f"{MINIMAL.name}/{f.relative_to(MINIMAL)}")
        return out
    if form == "file":
        return MINIMAL / "iptables" / "iptables-save.txt"
    raise AssertionError(form)


COMMANDS = {
    "check": lambda t, tmp: ["check", str(t)],
    "report": lambda t, tmp: ["report", str(t), "-o", str(tmp / "report.html")],
    "diff": lambda t, tmp: ["diff", str(t), str(MINIMAL / "iptables" / "iptables-save.txt")],
    "trace": lambda t, tmp: ["trace", str(t), *PACKET],
    "lab": lambda t, tmp: ["lab", "trace", str(t), *PACKET],
}
FORMS = ["folder", "tar.xz", "zip", "file"]


def _nfwb(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbook", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_opens_every_form(command, form, tmp_path):
    if command == "lab":
        from workbook.lab import lab_available
        need(*lab_available("nft"))
    target = _target(form, tmp_path)
    argv = COMMANDS[command](target, tmp_path)
    if command in ("trace", "lab") and form == "file":   # a rules file has no node addresses of its own
        argv += ["--node-ip", "10.0.0.5"]
    done = _nfwb(argv)
    # check exits 1 when it finds errors; every other status but 0/1 means the target was refused
    assert done.returncode in (0, 1), (done.returncode, done.stderr[-2000:])
    assert "error:" not in done.stderr, done.stderr[-2000:]
    assert done.stdout.strip() or (tmp_path / "report.html").exists()
    if command in ("trace", "lab"):
        assert "tcp 10.0.0.9:40000 -> 10.0.0.5:22" in done.stdout, done.stdout[:500]
        assert "INPUT" in done.stdout
    if command == "trace" and form != "file":   # a dump gives its own node addresses
        assert "node addresses: 127.0.0.1, 10.0.0.5" in done.stdout, done.stdout[:500]


@pytest.mark.parametrize("dump", [EKS, SOS, DATASET], ids=["eks-collector", "sosreport", "dataset-eks-node"])
@pytest.mark.parametrize("command", ["check", "trace"])
def test_each_dump_layout_opens(command, dump, tmp_path):
    done = _nfwb(COMMANDS[command](dump, tmp_path))
    assert done.returncode in (0, 1), (done.returncode, done.stderr[-2000:])
    assert "error:" not in done.stderr, done.stderr[-2000:]
    if command == "trace":
        assert "tcp 10.0.0.9:40000 -> 10.0.0.5:22" in done.stdout, done.stdout[:500]


def test_open_target_is_the_one_loader():
    """The library entry point gives the same object the CLI used, for each form."""
    from workbook import open_target
    folder = open_target(MINIMAL)
    single = open_target(MINIMAL / "iptables" / "iptables-save.txt")
    text = open_target((MINIMAL / "iptables" / "iptables-save.txt").read_text())
    assert folder.dump is not None and folder.node_ips == ["127.0.0.1", "10.0.0.5", "::1"]
    assert single.dump is None and text.dump is None and text.source == "<text>"
    assert (folder.ruleset.to_save() == single.ruleset.to_save() == text.ruleset.to_save())
    assert folder.modules is not None and "nf_nat" in folder.modules.names
