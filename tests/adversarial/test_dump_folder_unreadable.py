"""Issue 8 §5: a file of a dump folder that cannot be read is one line (exit 2) or a finding, never
an internal error or a hang."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.adversarial.hostile_dumps import SAVE, nfwb
from tests.realparts import DATA

MINIMAL = DATA / "dumps" / "nfwb-minimal"
EKS = DATA / "dumps" / "eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9"
SOS = DATA / "dumps" / "sosreport-master1-2019-07-01-kzqtnrm"
#: As root, permission bits do not stop a read: run nfwb without the capabilities that bypass them
#: (setpriv is util-linux's, on every Debian system).
_NO_DAC = ("setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search")


def _unprivileged() -> tuple[str, ...]:
    return _NO_DAC if os.geteuid() == 0 else ()


def _unread(stdout: str) -> str:
    """The evidence block of the unread-files finding."""
    assert "[WARNING] unread-files:" in stdout, stdout
    return stdout.split("[WARNING] unread-files:", 1)[1].split("\n\n", 1)[0]


def test_chmod_000_listed_file_is_one_line_exit_2(tmp_path):
    d = tmp_path / "node"
    shutil.copytree(MINIMAL, d)
    (d / "kernel" / "lsmod.txt").chmod(0)
    p = nfwb("check", str(d), prefix=_unprivileged())
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == "nfwb check: error: MANIFEST.json: unreadable: Permission denied for kernel/lsmod.txt\n"


def test_chmod_000_file_in_a_loose_folder_is_a_finding(tmp_path):
    (tmp_path / "iptables-save.txt").write_bytes(SAVE)
    (tmp_path / "ip6tables-save.txt").write_bytes(SAVE)
    (tmp_path / "ip6tables-save.txt").chmod(0)
    p = nfwb("check", str(tmp_path), prefix=_unprivileged())
    assert p.returncode == 0, p.stderr
    assert "ip6tables-save.txt unreadable: Permission denied" in _unread(p.stdout)


def test_fifo_where_a_file_is_expected_does_not_hang(tmp_path):
    d = tmp_path / "eks"
    shutil.copytree(EKS, d)
    (d / "networking" / "iptables-filter.txt").unlink()
    os.mkfifo(d / "networking" / "iptables-filter.txt")    # nobody ever writes to it
    p = nfwb("check", str(d), timeout=60)
    assert p.returncode in (0, 1), p.stderr
    assert "networking/iptables-filter.txt not a regular file (a FIFO)" in _unread(p.stdout)


def test_folder_where_a_file_is_expected(tmp_path):
    d = tmp_path / "eks"
    shutil.copytree(EKS, d)
    (d / "networking" / "iptables-save.txt").unlink()
    (d / "networking" / "iptables-save.txt").mkdir()
    p = nfwb("check", str(d))
    assert p.returncode in (0, 1), p.stderr
    assert "networking/iptables-save.txt not a regular file (a folder)" in _unread(p.stdout)


@pytest.mark.parametrize("target,why", [("../nowhere/lsmod", "dangling symlink (its target is not in the dump)"),
                                        ("lsmod", "symlink loop (more than 40 links)")])
def test_dangling_or_looping_link_at_a_place_we_read(tmp_path, target, why):
    d = tmp_path / "sos"
    shutil.copytree(SOS, d, symlinks=True)
    (d / "sos_commands" / "kernel" / "lsmod").unlink()
    (d / "sos_commands" / "kernel" / "lsmod").symlink_to(target)
    p = nfwb("check", str(d))
    assert p.returncode in (0, 1), p.stderr
    assert f"sos_commands/kernel/lsmod {why}" in _unread(p.stdout)
