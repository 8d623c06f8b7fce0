"""Issue 8 §1: links in an archive never reach outside the derived folder, alone or chained."""

from __future__ import annotations

import tarfile

import pytest

from tests.adversarial.hostile_dumps import SAVE, nfwb, tree_text, zip_of
from tests.dump.test_archives import _tar
from workbook.dump import ExtractLimits, load_dump
from workbook.model import InputError

#: The host file the archive tries to reach; its chain name must never show up in any output.
SECRET = b"*filter\n:INPUT ACCEPT [0:0]\n:SECRET-HOST-CHAIN - [0:0]\nCOMMIT\n"
DEPTH = 16   # more "d/" than the extraction folder is deep, fewer than the kernel's 40 link hops


def _chain_target(secret) -> str:
    # From node/, "a/d" is a link to "." (so a/d/d/... is just a/): lexically the target is
    # node/a/d^16 then 18 ".." -> the archive's root, then the secret's absolute path spelled
    # relatively -> inside the archive. Really, a/d^16 is node/a, and 18 ".." from there climb
    # to /, so it is the secret's own path.
    return "a/" + "d/" * DEPTH + "../" * (DEPTH + 2) + str(secret).lstrip("/")


def _chain_tar(path, secret):
    """The chain of issue 8: a symlink written before the directory link it passes through, then
    a hard link to that symlink. Each link alone stays inside the archive."""
    return _tar(path, [
        ({"name": "node/iptables-save.txt"}, SAVE),
        ({"name": "node/a", "type": tarfile.DIRTYPE}, None),
        ({"name": "node/s", "type": tarfile.SYMTYPE, "linkname": _chain_target(secret)}, None),
        ({"name": "node/a/d", "type": tarfile.SYMTYPE, "linkname": "."}, None),
        ({"name": "node/h", "type": tarfile.LNKTYPE, "linkname": "node/s"}, None),
    ])


@pytest.fixture
def secret(tmp_path):
    outside = tmp_path / "host" / "shadow"
    outside.parent.mkdir()
    outside.write_bytes(SECRET)
    return outside


def test_link_chain_never_reads_a_host_file(tmp_path, secret):
    (tmp_path / "evidence").mkdir()
    arc = _chain_tar(tmp_path / "evidence" / "chain.tar.gz", secret)
    try:
        d = load_dump(arc)
        refusal = ""
        assert "SECRET-HOST-CHAIN" not in d.text("h")   # before the fix: the host file's text
    except InputError as e:
        refusal = str(e)
    # nothing of the host file was copied anywhere beside the evidence (before: node/h, 0644)
    assert b"SECRET-HOST-CHAIN" not in tree_text(tmp_path / "evidence").encode()
    assert refusal.startswith(f"{arc}: refused: symlink 'node/s' -> ")
    assert refusal.endswith("points outside the archive (through the archive's other links)")
    p = nfwb("check", str(arc))
    assert p.returncode == 2 and p.stdout == "" and p.stderr.count("\n") == 1
    assert "SECRET-HOST-CHAIN" not in p.stderr


def test_same_chain_in_a_zip(tmp_path, secret):
    arc = zip_of(tmp_path / "chain.zip", [("node/iptables-save.txt", SAVE, None),
                                           ("node/s", None, _chain_target(secret)),
                                           ("node/a/d", None, ".")])
    with pytest.raises(InputError, match=r"refused: symlink 'node/s' -> .* points outside the archive"):
        load_dump(arc)
    assert b"SECRET-HOST-CHAIN" not in tree_text(tmp_path / "chain.zip.nfwb").encode()


def test_links_become_copies_of_their_member_and_nothing_else(tmp_path):
    # a sosreport's shape: a top-level link to a file in sos_commands, a hard link, a link to a
    # folder (/proc/net -> self/net), a dangling one (etc/localtime when usr/ was not collected)
    lsmod = b"Module                  Size  Used by\nxt_comment             16384  96\n"
    arc = _tar(tmp_path / "sosreport-n1-2026-01-01-abcdefg.tar.xz", [
        ({"name": "sosreport-n1-2026-01-01-abcdefg/sos_commands/kernel/lsmod"}, lsmod),
        ({"name": "sosreport-n1-2026-01-01-abcdefg/sos_commands/networking/iptables-save"}, SAVE),
        ({"name": "sosreport-n1-2026-01-01-abcdefg/lsmod", "type": tarfile.SYMTYPE,
          "linkname": "sos_commands/kernel/lsmod"}, None),
        ({"name": "sosreport-n1-2026-01-01-abcdefg/saved", "type": tarfile.LNKTYPE,
          "linkname": "sosreport-n1-2026-01-01-abcdefg/sos_commands/networking/iptables-save"}, None),
        ({"name": "sosreport-n1-2026-01-01-abcdefg/proc/self/net", "type": tarfile.DIRTYPE}, None),
        ({"name": "sosreport-n1-2026-01-01-abcdefg/proc/net", "type": tarfile.SYMTYPE, "linkname": "self/net"}, None),
        ({"name": "sosreport-n1-2026-01-01-abcdefg/etc/localtime", "type": tarfile.SYMTYPE,
          "linkname": "../usr/share/zoneinfo/UTC"}, None),
    ], mode="w:xz")
    d = load_dump(arc)
    assert d.layout == "sosreport"
    top = d.path
    assert not [p for p in top.rglob("*") if p.is_symlink()]        # no link was created at all
    assert (top / "lsmod").read_bytes() == lsmod and (top / "saved").read_bytes() == SAVE
    assert d.modules is not None and "xt_comment" in d.modules.names
    assert not (top / "proc" / "net").exists() and not (top / "etc" / "localtime").exists()
    assert any("2 link(s) not extracted" in n and "'sosreport-n1-2026-01-01-abcdefg/proc/net' -> 'self/net' (a folder)" in n
               and "(nothing in the archive)" in n for n in d.notes)


def test_link_copies_count_against_the_size_limits(tmp_path):
    # one 100 kB member and 200 hard links to it: 20 MB once copied, over a 1 MB total
    arc = _tar(tmp_path / "links.tar.gz", [({"name": "n/iptables-save.txt"}, SAVE + b"#" * 100_000)]
               + [({"name": f"n/copy{i}", "type": tarfile.LNKTYPE, "linkname": "n/iptables-save.txt"}, None)
                  for i in range(200)])
    with pytest.raises(InputError, match=r"links\.tar\.gz: refused: members add up to more than 1000000 bytes"):
        load_dump(arc, limits=ExtractLimits(max_total=1_000_000))


def test_member_under_a_symlinked_folder_refused(tmp_path):
    # GNU tar would write n/d/shadow through the link n/d: refuse the archive
    arc = _tar(tmp_path / "through.tar", [({"name": "n/iptables-save.txt"}, SAVE),
                                            ({"name": "n/d", "type": tarfile.SYMTYPE, "linkname": "x"}, None),
                                            ({"name": "n/d/shadow"}, b"overwritten")], mode="w")
    with pytest.raises(InputError, match=r"refused: member 'n/d/shadow' is inside 'n/d', which is a symlink, not a folder"):
        load_dump(arc)
