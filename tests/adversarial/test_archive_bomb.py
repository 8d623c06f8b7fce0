"""Issue 8 §1: a small archive that expands to a lot of text stays bounded in time and memory."""

from __future__ import annotations

import io
import sys
import tarfile

from tests.adversarial.hostile_dumps import SAVE, nfwb
from tests.realparts import DATA
from workbook.dump import ExtractLimits, load_dump

EKS = DATA / "dumps" / "eks_i-0f1e2d3c4b5a69788_2026-01-01_0000-UTC_0.7.9"
#: Run a command and print, last on stderr, the peak RSS (KiB) of that command alone.
_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)")


def _bomb(path, megabytes: int):
    """An archive of our layout whose iptables-legacy-save.txt is ``megabytes`` of the densest
    rule text ("-A INPUT -j ACCEPT", 19 bytes a rule): ~250 kB of gzip for 80 MB."""
    line = b"-A INPUT -j ACCEPT\n"
    big = b"*filter\n:INPUT ACCEPT [0:0]\n" + line * (megabytes * 1024 * 1024 // len(line)) + b"COMMIT\n"
    lsmod = b"Module                  Size  Used by\nxt_comment             16384  96\n"
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        for name, data in (("node/iptables/iptables-save.txt", SAVE), ("node/kernel/lsmod.txt", lsmod),
                           ("node/iptables/iptables-legacy-save.txt", big)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path, len(big)


def test_bomb_is_skipped_with_a_finding_in_bounded_time_and_memory(tmp_path):
    # 80 MB of rules, over the default 64 MiB per-file cap. Before the cap, `nfwb check` on it
    # ran over 300 s and 3.9 GB; parsing is ~0.45 s and ~40 MB per MB of such text.
    arc, size = _bomb(tmp_path / "bomb.tar.gz", 80)
    assert arc.stat().st_size < 2_000_000
    p = nfwb("check", str(arc), timeout=90, prefix=(sys.executable, "-c", _PEAK))
    peak_kib = int(p.stderr.strip().splitlines()[-1])
    assert p.returncode in (0, 1), p.stderr   # findings (1: some are errors), never exit 2 or 3
    assert "[WARNING] unread-files: 1 file(s) of the dump were not read" in p.stdout
    assert f"iptables/iptables-legacy-save.txt {size} bytes, over the per-file read cap of 67108864 bytes" in p.stdout
    assert peak_kib < 400 * 1024, f"peak RSS {peak_kib} KiB"


def test_per_file_and_per_dump_read_caps(tmp_path):
    save = EKS / "networking" / "iptables-save.txt"
    d = load_dump(EKS, limits=ExtractLimits(max_read=save.stat().st_size - 1))
    assert "iptables" not in d.rulesets
    assert d.skipped["networking/iptables-save.txt"] == (
        f"{save.stat().st_size} bytes, over the per-file read cap of {save.stat().st_size - 1} bytes: not read")
    # a budget for the whole dump: the files read first use it up, the rest are listed as not read
    d = load_dump(EKS, limits=ExtractLimits(max_read_total=save.stat().st_size + 10))
    assert "iptables" in d.rulesets
    assert d.skipped and all("per-dump read budget" in why for why in d.skipped.values())
    from workbook.checks import check
    [found] = check(d).by_id("unread-files")
    assert found.severity == "warning" and set(found.evidence["file"]) == set(d.skipped)
