"""Issue 11 (AKS) through issue 8 §1: zip archives are read by the same safe extractor, same limits."""

from __future__ import annotations

import stat
import zipfile

import pytest

from tests.adversarial.hostile_dumps import SAVE, nfwb, zip_of
from tests.realparts import DATA
from workbook.dump import ExtractLimits, load_dump
from workbook.model import InputError

EKS = DATA / "dumps" / "eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9"


def test_a_zipped_dump_loads_like_its_folder(tmp_path):
    arc = tmp_path / (EKS.name + ".zip")
    with zipfile.ZipFile(arc, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(EKS.rglob("*")):
            zf.write(p, f"{EKS.name}/{p.relative_to(EKS).as_posix()}")   # folders too, as `zip -r` does
    folder, zipped = load_dump(EKS), load_dump(arc)
    assert zipped.layout == "eks" and zipped.host == "i-0f1e2d3c4b5a69788" and zipped.archive == arc
    assert zipped.files == folder.files
    assert {k: rs.to_save() for k, rs in zipped.rulesets.items()} == {k: rs.to_save() for k, rs in folder.rulesets.items()}
    p = nfwb("check", str(arc))
    assert p.returncode in (0, 1) and "duplicate-rule" in p.stdout   # the fixture's doubled CNI-HOSTPORT-DNAT jump


@pytest.mark.parametrize("members,message", [
    ([("../evil.txt", b"x", None)], r"refused: member '\.\./evil\.txt' has an absolute path or '\.\.'"),
    ([("/etc/evil.txt", b"x", None)], r"refused: member '/etc/evil\.txt' has an absolute path or '\.\.'"),
    ([("n/link", None, "/etc/shadow")], r"refused: symlink 'n/link' -> '/etc/shadow' points outside the archive"),
    ([("n/link", None, "../../etc/shadow")], r"refused: symlink 'n/link' -> '\.\./\.\./etc/shadow' points outside"),
])
def test_unsafe_zip_members_refused(tmp_path, members, message):
    arc = zip_of(tmp_path / "bad.zip", [("n/iptables-save.txt", SAVE, None), *members])
    with pytest.raises(InputError, match=r"bad\.zip: " + message):
        load_dump(arc)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "bad.zip.nfwb" / "extracted").exists()


def test_zip_fifo_member_refused(tmp_path):
    arc = tmp_path / "fifo.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        zi = zipfile.ZipInfo("n/pipe")
        zi.create_system = 3
        zi.external_attr = (stat.S_IFIFO | 0o644) << 16
        zf.writestr(zi, b"")
    with pytest.raises(InputError, match=r"fifo\.zip: refused: member 'n/pipe' is a device or special file"):
        load_dump(arc)


def test_zip_limits(tmp_path):
    # 50 members of 1 MB of zeros: ~50 kB of zip, 50 MB expanded
    arc = zip_of(tmp_path / "zeros.zip", [("n/iptables-save.txt", SAVE, None)]
                 + [(f"n/z{i}", b"\0" * 1_000_000, None) for i in range(50)])
    assert arc.stat().st_size < 200_000
    with pytest.raises(InputError, match=r"zeros\.zip: refused: members add up to more than 10000000 bytes"):
        load_dump(arc, limits=ExtractLimits(max_total=10_000_000))
    with pytest.raises(InputError, match=r"zeros\.zip: refused: member 'n/z0' is 1000000 bytes \(limit 999999 per file\)"):
        load_dump(arc, limits=ExtractLimits(max_file=999_999))
    with pytest.raises(InputError, match=r"more than 20 members"):
        load_dump(arc, limits=ExtractLimits(max_members=20))


def test_corrupt_zip_is_one_line(tmp_path):
    good = zip_of(tmp_path / "good.zip", [("n/iptables-save.txt", SAVE * 100, None)])
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    p = nfwb("check", str(cut))
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr.startswith(f"nfwb check: error: {cut}: corrupt or unsupported archive (read as zip: ")
    assert p.stderr.count("\n") == 1
