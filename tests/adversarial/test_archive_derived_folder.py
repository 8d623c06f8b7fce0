"""Issue 8 §1: an existing ``<dump>.nfwb`` (or its ``extracted/``) that nfwb did not make is never
followed, deleted or written into."""

from __future__ import annotations

import os

import pytest

from tests.adversarial.hostile_dumps import SAVE, nfwb
from tests.dump.test_archives import _tar
from workbook.dump.derived import MARKER
from workbook.dump import load_dump
from workbook.model import InputError


@pytest.fixture
def victim(tmp_path):
    """A folder of the analyst's that looks like an earlier extraction."""
    v = tmp_path / "home" / "project"
    (v / "extracted").mkdir(parents=True)
    (v / "extracted" / "precious.txt").write_text("keep me\n")
    return v


def _snapshot(folder):
    return sorted((p.relative_to(folder).as_posix(), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))


@pytest.fixture
def arc(tmp_path):
    (tmp_path / "evidence").mkdir()
    return _tar(tmp_path / "evidence" / "node.tar.gz", [({"name": "node/iptables-save.txt"}, SAVE)])


def test_derived_folder_that_is_a_symlink_is_refused(arc, victim):
    before = _snapshot(victim)
    (arc.parent / "node.tar.gz.nfwb").symlink_to(victim)
    with pytest.raises(InputError, match=r"node\.tar\.gz\.nfwb: refused: is a symlink, not a folder nfwb made"):
        load_dump(arc)
    assert _snapshot(victim) == before   # nothing deleted, nothing written
    p = nfwb("check", str(arc))
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1
    assert _snapshot(victim) == before


def test_derived_folder_without_our_marker_is_refused(arc, victim):
    # e.g. shipped beside the archive by whoever made it
    planted = arc.parent / "node.tar.gz.nfwb"
    (planted / "extracted").mkdir(parents=True)
    (planted / "extracted" / "theirs.txt").write_text("x\n")
    with pytest.raises(InputError, match=f"refused: has no {MARKER} marker"):
        load_dump(arc)
    assert (planted / "extracted" / "theirs.txt").read_text() == "x\n"


def test_derived_folder_of_another_user_is_refused(arc):
    planted = arc.parent / "node.tar.gz.nfwb"
    planted.mkdir()
    (planted / MARKER).write_text("")
    os.chown(planted, 65534, 65534)
    if os.geteuid() == 65534:   # pragma: no cover - the tests run as root or a normal user
        pytest.fail("run as a user other than nobody")
    with pytest.raises(InputError, match=r"refused: belongs to another user \(uid 65534\)"):
        load_dump(arc)
    assert sorted(p.name for p in planted.iterdir()) == [MARKER]


def test_extracted_replaced_by_a_symlink_is_refused(arc, victim):
    d = load_dump(arc)                    # a first, honest extraction makes the folder (ours)
    extracted = d.path.parent
    assert extracted.name == "extracted"
    os.rename(extracted, extracted.parent / "moved")
    extracted.symlink_to(victim / "extracted")
    before = _snapshot(victim)
    with pytest.raises(InputError, match=r"extracted: refused: is a symlink"):
        load_dump(arc)
    assert _snapshot(victim) == before
    assert not [p for p in extracted.parent.iterdir() if p.name.startswith(".extract-")]   # no leftovers


def test_a_folder_we_made_is_reused_and_private(arc):
    d1 = load_dump(arc)
    derived = d1.path.parent.parent
    assert oct(derived.stat().st_mode & 0o777) == "0o700"
    d2 = load_dump(arc)
    assert d2.path == d1.path and (d2.path / "iptables-save.txt").read_bytes() == SAVE
