"""load_dump on our own layout ("nfwb-dump/1"): contents, integrity checks, archives."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile

import pytest

from workbook.dump import load_dump, write_manifest, save_dump
from workbook.model import InputError

from tests.realparts import DATA

MINIMAL = DATA / "dumps" / "nfwb-minimal"


@pytest.fixture
def minimal(tmp_path):
    """A private copy of the minimal dump (tests may damage it)."""
    dst = tmp_path / "node-a"
    shutil.copytree(MINIMAL, dst)
    return dst


def test_loads_rulesets_addresses_and_identity():
    d = load_dump(MINIMAL)
    # expected values read off the fixture files by hand
    assert d.layout == "nfwb"
    assert d.host == "node-a" and d.collected_at == "2026-01-01T00:00:00Z"
    assert set(d.rulesets) == {"iptables", "ip6tables"}
    assert d.ruleset is d.rulesets["iptables"]
    pre = d.ruleset.chain("nat", "PREROUTING").rules
    assert [(r.pkts, r.bytes, r.target) for r in pre] == [(12, 720, "KUBE-SERVICES")]
    assert d.rulesets["ip6tables"].family == "ipv6"
    # network/ip-addr.txt holds lo 127.0.0.1, eth0 10.0.0.5, lo ::1
    assert d.node_ips == ["127.0.0.1", "10.0.0.5", "::1"]
    assert d.tampered == [] and d.problems == []
    assert "MANIFEST.json" in d.files and "iptables/iptables-save.txt" in d.files
    assert d.text("kernel/lsmod.txt").startswith("Module")
    assert d.text("no/such/file.txt") is None
    html = d._repr_html_()
    assert "node-a" in html and "iptables" in html
    assert "layout nfwb" in d.summary()


def test_text_refuses_paths_outside(minimal):
    d = load_dump(minimal)
    with pytest.raises(InputError):
        d.text("../etc/passwd")
    (minimal / "notes").mkdir()
    (minimal / "notes" / "escape").symlink_to("/etc/passwd")
    d = load_dump(minimal, strict=False)
    with pytest.raises(InputError, match="outside the dump"):
        d.text("notes/escape")


def test_sha256_mismatch_raises_one_line_naming_the_file(minimal):
    f = minimal / "iptables" / "iptables-save.txt"
    # same size, different content: only the hash can tell
    data = f.read_bytes().replace(b"--dport 9999", b"--dport 9998")
    assert len(data) == f.stat().st_size
    f.write_bytes(data)
    with pytest.raises(InputError) as e:
        load_dump(minimal)
    assert str(e.value) == "MANIFEST.json: sha256 mismatch for iptables/iptables-save.txt"
    d = load_dump(minimal, strict=False)
    assert d.tampered == ["iptables/iptables-save.txt"]
    # the rules still load: the tampered text is what we parse, and we say so
    assert d.ruleset.chain("filter", "INPUT").rules[0].option("--dport").value == "9998"
    assert any("sha256 mismatch" in p.message for p in d.problems)


def test_size_mismatch_and_missing_file(minimal):
    (minimal / "kernel" / "lsmod.txt").unlink()
    with pytest.raises(InputError, match=r"^MANIFEST.json: missing file for kernel/lsmod.txt$"):
        load_dump(minimal)
    with open(minimal / "network" / "ip-addr.txt", "a") as f:
        f.write("3: eth1    inet 10.9.9.9/24 scope global eth1\n")
    d = load_dump(minimal, strict=False)
    assert sorted(d.tampered) == ["kernel/lsmod.txt", "network/ip-addr.txt"]
    assert any("size mismatch" in p.message for p in d.problems)


def test_files_added_after_collection_are_reported(minimal):
    (minimal / "iptables" / "extra.txt").write_text("hello\n")
    d = load_dump(minimal)
    assert any("iptables/extra.txt is not listed" in p.message for p in d.problems)


def test_bad_manifest_json(minimal):
    (minimal / "MANIFEST.json").write_text('{"format": "nfwb-dump/1",\n "files": [}\n')
    with pytest.raises(InputError, match=r"^MANIFEST.json:2: not valid JSON"):
        load_dump(minimal)


def test_manifest_with_unsafe_path_is_refused(minimal):
    m = json.loads((minimal / "MANIFEST.json").read_text())
    m["files"].append({"path": "../../etc/shadow", "sha256": "0" * 64, "size": 1})
    (minimal / "MANIFEST.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="unsafe path"):
        load_dump(minimal)


def test_write_manifest_hashes_match_hashlib(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"abc")
    m = write_manifest(tmp_path, host="h", commands={"a.txt": {"command": "echo abc", "exit_code": 0}})
    # sha256("abc") is the FIPS 180-2 test vector
    assert m["files"] == [{"path": "a.txt", "size": 3, "command": "echo abc", "exit_code": 0,
                           "collected_at": m["collected_at"], "note": None,
                           "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]
    assert json.loads((tmp_path / "MANIFEST.json").read_text()) == m


def test_missing_path_and_plain_file(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load_dump(tmp_path / "nope")
    f = tmp_path / "rules.txt"
    f.write_text("*filter\nCOMMIT\n")
    with pytest.raises(InputError, match="not a folder or a tar archive"):
        load_dump(f)


@pytest.mark.parametrize("mode,suffix", [("w:gz", ".tar.gz"), ("w:gz", ".tgz"), ("w:xz", ".tar.xz"), ("w", ".tar")])
def test_archives_load_like_the_folder(tmp_path, mode, suffix):
    arc = tmp_path / f"node-a{suffix}"
    with tarfile.open(arc, mode) as tf:
        tf.add(MINIMAL, arcname="node-a")
    before = hashlib.sha256(arc.read_bytes()).hexdigest()
    d = load_dump(arc)
    assert d.archive == arc and d.layout == "nfwb" and d.host == "node-a"
    assert len(d.ruleset) == 3  # 2 nat + 1 filter rules in the fixture
    # extracted beside the evidence, never into it; the archive is unchanged
    assert d.path.is_relative_to(tmp_path / f"node-a{suffix}.nfwb")
    assert hashlib.sha256(arc.read_bytes()).hexdigest() == before
    # loading again replaces the extraction (no stale files)
    (d.path / "stale.txt").write_text("x")
    d2 = load_dump(arc)
    assert "stale.txt" not in d2.files


def test_save_dump_round_trip(tmp_path):
    d = load_dump(MINIMAL)
    out = save_dump(d, tmp_path / "copy")
    d2 = load_dump(out)
    assert d2.ruleset.to_save(counters=True) == d.ruleset.to_save(counters=True)
    assert d2.manifest["files"][0]["path"] == d.manifest["files"][0]["path"]
    with pytest.raises(InputError, match="non-empty folder"):
        save_dump(d, out)


def test_cli_verify_tampered_dump_exit_2_one_line(minimal):
    import subprocess, sys
    from tests.realparts import ROOT
    ok = subprocess.run([sys.executable, "-m", "workbook", "collect", "--verify", str(minimal)],
                        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert ok.returncode == 0 and "layout nfwb" in ok.stdout
    f = minimal / "iptables" / "iptables-save.txt"
    f.write_bytes(f.read_bytes().replace(b"9999", b"9998"))
    bad = subprocess.run([sys.executable, "-m", "workbook", "collect", "--verify", str(minimal)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "nfwb collect: error: MANIFEST.json: sha256 mismatch for iptables/iptables-save.txt\n"


def test_nfwb_check_on_tampered_dump_exit_2_one_line(minimal):
    import subprocess, sys
    from tests.realparts import ROOT
    (minimal / "kernel" / "lsmod.txt").unlink()
    p = subprocess.run([sys.executable, "-m", "workbook", "check", str(minimal)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == "nfwb check: error: MANIFEST.json: missing file for kernel/lsmod.txt\n"
