"""Every ``nfwb`` subcommand on bad input: exactly one line on stderr naming the input, exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.realparts import DATA, ROOT

GOOD = DATA / "checks" / "seed-prerouting-after.iptables-save"
PACKET = ["--src", "10.0.0.1", "--dst", "10.0.0.2", "--proto", "tcp", "--dport", "80"]


def _bad_input(kind: str, tmp_path):
    """A path of the given kind of bad input, made in ``tmp_path``."""
    if kind == "missing":
        return tmp_path / "missing.txt"
    if kind == "not-a-dump":
        folder = tmp_path / "photos"
        folder.mkdir()
        (folder / "readme.txt").write_text("holiday pictures, no iptables here\n")
        return folder
    if kind == "binary":
        path = tmp_path / "junk.bin"
        path.write_bytes(bytes(range(256)) * 16)
        return path
    if kind == "empty":
        path = tmp_path / "empty.txt"
        path.write_bytes(b"")
        return path
    if kind == "corrupt-archive":
        path = tmp_path / "node.tar.gz"
        path.write_bytes(b"\x1f\x8b\x08\x00 not really gzip" * 20)
        return path
    raise AssertionError(kind)


COMMANDS = {
    "parse": lambda bad, tmp: ["parse", str(bad)],
    "check": lambda bad, tmp: ["check", str(bad)],
    "diff-a": lambda bad, tmp: ["diff", str(bad), str(GOOD)],
    "diff-b": lambda bad, tmp: ["diff", str(GOOD), str(bad)],
    "report": lambda bad, tmp: ["report", str(bad), "-o", str(tmp / "report.html")],
    "trace": lambda bad, tmp: ["trace", str(bad), *PACKET],
    "lab": lambda bad, tmp: ["lab", "trace", str(bad), *PACKET],
}
KINDS = ["missing", "not-a-dump", "binary", "empty", "corrupt-archive"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_one_line_and_exit_2(command, kind, tmp_path):
    bad = _bad_input(kind, tmp_path)
    argv = COMMANDS[command](bad, tmp_path)
    done = subprocess.run([sys.executable, "-m", "workbook", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    lines = done.stderr.splitlines()
    # the CLI contract (design.md, COMMON.md): bad input is one line naming the file, exit status 2
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith(f"nfwb {argv[0]}: error: ") and bad.name in lines[0], lines[0]
    assert done.stdout == ""
    assert not (tmp_path / "report.html").exists()
