"""Issue 8 §1: MANIFEST verification follows no symlink out of the dump and tells nothing about outside files."""

from __future__ import annotations

import shutil

import pytest

from tests.adversarial.hostile_dumps import nfwb
from tests.realparts import DATA
from workbook.dump import load_dump
from workbook.model import InputError

MINIMAL = DATA / "dumps" / "nfwb-minimal"


@pytest.fixture
def outside(tmp_path):
    """One outside file that exists (same name as a dump file, other content) and one that does not."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "exists").write_text("Module  Size  Used by\nsecret_module 1 0\n")
    return host / "exists", host / "absent"


def _dump_with_link(tmp_path, name, rel, target):
    d = tmp_path / name
    shutil.copytree(MINIMAL, d)
    (d / rel).unlink()
    (d / rel).symlink_to(target)
    return d


@pytest.mark.parametrize("rel", ["kernel/lsmod.txt", "MANIFEST.json"])
def test_answers_are_the_same_whether_the_outside_file_exists_or_not(tmp_path, outside, rel):
    answers = []
    for name, target in zip(("a", "b"), outside):
        d = _dump_with_link(tmp_path, name, rel, target)
        with pytest.raises(InputError) as e:
            load_dump(d)
        p = nfwb("check", str(d))
        answers.append((str(e.value), p.returncode, p.stdout, p.stderr.replace(str(d), "DUMP")))
    assert answers[0] == answers[1]
    msg, code, out, err = answers[0]
    assert code == 2 and out == "" and err.count("\n") == 1
    assert msg == ("MANIFEST.json: is a symlink (expected a regular file)" if rel == "MANIFEST.json" else
                   "MANIFEST.json: is a symlink (expected a regular file) for kernel/lsmod.txt")
    assert "secret_module" not in err and "bytes" not in err   # neither content nor size leaks


def test_a_link_inside_the_dump_is_not_followed_either(tmp_path):
    # a listed path through a folder link: verification follows no link at all
    d = tmp_path / "node"
    shutil.copytree(MINIMAL, d)
    shutil.move(d / "kernel", d / "real-kernel")
    (d / "kernel").symlink_to("real-kernel")
    got = load_dump(d, strict=False)
    assert got.tampering["kernel/lsmod.txt"] == "is a symlink (expected a regular file)"
