"""Archives are evidence: extracted beside, never trusted (traversal, links out, devices, size limits)."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest

from workbook.dump import ExtractLimits, load_dump
from workbook.model import InputError

from tests.realparts import DATA

EKS = DATA / "dumps" / "eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9"
SOS = DATA / "dumps" / "sosreport-master1-2019-07-01-kzqtnrm"


def _tar(path, members, mode="w:gz"):
    """members: (TarInfo-ish kwargs, data or None)."""
    with tarfile.open(path, mode) as tf:
        for kw, data in members:
            ti = tarfile.TarInfo(kw.pop("name"))
            for k, v in kw.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return path


SAVE = b"*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"


def test_eks_archive_made_like_the_collector(tmp_path):
    # pack() runs: tar --create --gzip --file eks_<id>_<time>_<ver>.tar.gz --directory=<dir> .
    arc = tmp_path / (EKS.name + ".tar.gz")
    subprocess.run(["tar", "--create", "--gzip", "--file", str(arc), f"--directory={EKS}", "."], check=True)
    names = tarfile.open(arc).getnames()
    assert "./networking/iptables-save.txt" in names  # members really start with ./
    d = load_dump(arc)
    assert d.layout == "eks" and d.host == "i-0f1e2d3c4b5a69788"
    assert "networking/iptables-save.txt" in d.files
    assert len(d.ruleset.table("nat").chain("PREROUTING").rules) == 3


def test_sosreport_tar_xz_keeps_inner_symlinks(tmp_path):
    arc = tmp_path / (SOS.name + ".tar.xz")
    subprocess.run(["tar", "--create", "--xz", "--file", str(arc), f"--directory={SOS.parent}", SOS.name], check=True)
    d = load_dump(arc)
    assert d.layout == "sosreport" and d.host == "master1"
    assert d.path.name == SOS.name  # descended into the single top-level folder
    assert d.text("lsmod") == (SOS / "sos_commands" / "kernel" / "lsmod").read_text()


@pytest.mark.parametrize("member", [
    {"name": "../evil.txt"},
    {"name": "ok/../../evil.txt"},
    {"name": "/etc/evil.txt"},
])
def test_path_traversal_refused(tmp_path, member):
    arc = _tar(tmp_path / "bad.tar.gz", [({"name": "iptables-save.txt"}, SAVE), (dict(member), b"x")])
    with pytest.raises(InputError, match=r"bad\.tar\.gz: refused: member .* absolute path or '\.\.'"):
        load_dump(arc)
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "bad.tar.gz.nfwb" / "extracted").exists()


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../etc/passwd", "a/../../../x"])  # from d/: d/a/../../../x climbs above the root
def test_symlink_pointing_out_refused(tmp_path, target):
    arc = _tar(tmp_path / "bad.tgz", [({"name": "d/iptables-save.txt"}, SAVE),
                                       ({"name": "d/link", "type": tarfile.SYMTYPE, "linkname": target}, None)])
    with pytest.raises(InputError, match="refused: symlink 'd/link' .* points outside the archive"):
        load_dump(arc)


def test_hardlink_pointing_out_refused(tmp_path):
    arc = _tar(tmp_path / "bad.tar", [({"name": "h", "type": tarfile.LNKTYPE, "linkname": "/etc/shadow"}, None)], mode="w")
    with pytest.raises(InputError, match="refused: hard link 'h'"):
        load_dump(arc)


def test_device_refused(tmp_path):
    arc = _tar(tmp_path / "bad.tar.gz", [({"name": "dev/sda", "type": tarfile.BLKTYPE, "devmajor": 8}, None)])
    with pytest.raises(InputError, match="device or special file"):
        load_dump(arc)


def test_size_limits(tmp_path):
    big = b"#" * 5000 + b"\n" + SAVE  # 5000 + 1 + 35 bytes
    arc = _tar(tmp_path / "big.tar.gz", [({"name": "a/iptables-save.txt"}, big), ({"name": "a/b.txt"}, big)])
    with pytest.raises(InputError, match="refused: member 'a/iptables-save.txt' is 5036 bytes \\(limit 1000 per file\\)"):
        load_dump(arc, limits=ExtractLimits(max_file=1000))
    with pytest.raises(InputError, match="add up to more than 8000 bytes"):
        load_dump(arc, limits=ExtractLimits(max_total=8000))
    with pytest.raises(InputError, match="more than 1 members"):
        load_dump(arc, limits=ExtractLimits(max_members=1))
    assert load_dump(arc).layout == "loose"  # the defaults are generous


def test_corrupt_and_truncated_archives(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    with pytest.raises(InputError, match=r"^.*junk\.tar\.gz: corrupt") as junk_error:
        load_dump(junk)
    # one line naming the archive (tarfile's "r:*" used to list every method it tried, a line each)
    assert "\n" not in str(junk_error.value)
    good = tmp_path / "good.tar.gz"
    subprocess.run(["tar", "--create", "--gzip", "--file", str(good), f"--directory={EKS}", "."], check=True)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match=r"cut\.tar\.gz: corrupt") as cut_error:
        load_dump(cut)
    assert "\n" not in str(cut_error.value)
    assert not (tmp_path / "cut.tar.gz.nfwb" / "extracted").exists()


def test_read_only_place_uses_cache(tmp_path, monkeypatch):
    ro = tmp_path / "evidence"
    ro.mkdir()
    arc = ro / (EKS.name + ".tar.gz")
    subprocess.run(["tar", "--create", "--gzip", "--file", str(arc), f"--directory={EKS}", "."], check=True)
    monkeypatch.setenv("NFWB_CACHE", str(tmp_path / "cache"))
    # make the evidence folder read-only (root ignores mode bits, so use a read-only bind of it when root)
    import os
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", "-o", "ro", str(ro), str(ro)], check=False)
        mounted = subprocess.run(["findmnt", str(ro)], capture_output=True).returncode == 0
        if mounted:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=False)
    else:
        ro.chmod(0o555)
        mounted = False
    try:
        d = load_dump(arc)
        assert d.path.is_relative_to(tmp_path / "cache")
        assert d.layout == "eks"
    finally:
        if mounted:
            subprocess.run(["umount", str(ro)], check=False)
        ro.chmod(0o755)
