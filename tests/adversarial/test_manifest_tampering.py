"""Issue 8 §7: entries without sha256/size, files not listed, listed files missing: each is tampering."""

from __future__ import annotations

import json

import pytest

from tests.adversarial.hostile_dumps import nfwb
from tests.dump.test_nfwb_layout import minimal as dump   # noqa: F401  (a private copy of nfwb-minimal)
from workbook.checks import check
from workbook.dump import load_dump
from workbook.model import InputError


def _edit_manifest(dump, edit):
    m = json.loads((dump / "MANIFEST.json").read_text())
    entry = {f["path"]: f for f in m["files"]}
    edit(entry)
    (dump / "MANIFEST.json").write_text(json.dumps(m))


@pytest.mark.parametrize("edit,why", [
    (lambda e: e["kernel/lsmod.txt"].update(sha256=None), "no sha256 recorded (cannot be verified)"),
    (lambda e: e["kernel/lsmod.txt"].pop("sha256"), "no sha256 recorded (cannot be verified)"),
    (lambda e: e["kernel/lsmod.txt"].update(size=None), "no size recorded (cannot be verified)"),
    (lambda e: e["kernel/lsmod.txt"].pop("size"), "no size recorded (cannot be verified)"),
    (lambda e: e["kernel/lsmod.txt"].update(sha256="yes"), "recorded sha256 is not a sha256 digest (cannot be verified)"),
    (lambda e: e["kernel/lsmod.txt"].update(size="12"), "recorded size is not a byte count (cannot be verified)"),
])
def test_entry_that_cannot_vouch_for_its_file(dump, edit, why):
    # an editor who changes a file and blanks its hash must not pass for an honest dump
    (dump / "kernel" / "lsmod.txt").write_text("Module  Size  Used by\n")
    _edit_manifest(dump, edit)
    with pytest.raises(InputError) as e:
        load_dump(dump)
    assert str(e.value) == f"MANIFEST.json: {why} for kernel/lsmod.txt"
    p = nfwb("collect", "--verify", str(dump))
    assert (p.returncode, p.stdout, p.stderr) == (2, "", f"nfwb collect: error: MANIFEST.json: {why} for kernel/lsmod.txt\n")
    d = load_dump(dump, strict=False)
    assert d.tampered == ["kernel/lsmod.txt"] and d.tampering["kernel/lsmod.txt"] == why


def test_unlisted_missing_and_unverifiable_together(dump):
    (dump / "iptables" / "extra.txt").write_text("-A INPUT -j ACCEPT\n")          # added after collection
    (dump / "network" / "ip-addr.txt").unlink()                                 # listed, missing
    _edit_manifest(dump, lambda e: e["kernel/lsmod.txt"].update(sha256=None))   # entry blanked
    d = load_dump(dump, strict=False)
    assert d.tampering == {"network/ip-addr.txt": "missing file",
                           "kernel/lsmod.txt": "no sha256 recorded (cannot be verified)",
                           "iptables/extra.txt": "not listed in the manifest (added later?)"}
    [f] = check(d).by_id("tampered-evidence")
    assert f.severity == "error"
    assert dict(zip(f.evidence["file"], f.evidence["problem"])) == d.tampering
    p = nfwb("collect", "--verify", str(dump))
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1


def test_a_file_not_listed_fails_verify(dump):
    # nfwb check still loads the dump (the finding says it), but --verify must not pass it
    (dump / "iptables" / "iptables-legacy-save.txt").write_text("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    p = nfwb("collect", "--verify", str(dump))
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == ("nfwb collect: error: MANIFEST.json: iptables/iptables-legacy-save.txt is "
                        "not listed in the manifest (added later?)\n")
    p = nfwb("check", str(dump))
    assert p.returncode == 1 and "[ERROR] tampered-evidence" in p.stdout


def test_verify_refuses_a_dump_without_manifest(dump):
    # deleting MANIFEST.json is the simplest tampering of all
    (dump / "MANIFEST.json").unlink()
    p = nfwb("collect", "--verify", str(dump))
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == f"nfwb collect: error: {dump}: no MANIFEST.json: nothing to verify against\n"
