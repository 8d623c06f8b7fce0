"""Local collection (``nfwb collect --local``) of a command printing 256 times the per-file cap:
cut at the cap in both modes (one shell per command, one shell for all), recorded in the MANIFEST.
(The output is finite here only to spare the disk: in session mode the node's shell spools a
command's output before sending it; endless output is tested against a real sshd.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.realparts import ROOT

CAP = 256 << 10

DRIVER = textwrap.dedent("""
    import json, resource, sys
    def peak_mb():  # this process's own peak RSS (ru_maxrss would carry over the parent's across exec)
        line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from workbook.collect import collect_local
    r = collect_local(sys.argv[1], timeout=5.0, session=sys.argv[2] == "session", progress=False,
                      extra={"iptables/forever.txt": "yes -- '-A INPUT -j ACCEPT' | head -c 67108864"})
    print(json.dumps({"ok": r.ok, "error": r.error,
                      "rss_mb": peak_mb()}))
""")


@pytest.mark.parametrize("mode", ["per-command", "session"])
def test_endless_local_command_is_cut_at_the_cap(tmp_path, mode):
    out = tmp_path / "node"
    done = subprocess.run([sys.executable, "-c", DRIVER, str(out), mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NFWB_MAX_INPUT": str(CAP)})
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["ok"], got
    forever = out / "iptables" / "forever.txt"
    # 64 MiB printed; the file holds exactly the cap
    assert forever.stat().st_size == CAP
    assert forever.read_bytes().startswith(b"-A INPUT -j ACCEPT\n-A INPUT -j ACCEPT\n")
    m = json.loads((out / "MANIFEST.json").read_text())
    assert [e["error"] for e in m["errors"] if "forever" in e["error"]] == [
        f"iptables/forever.txt: output over the cap of {CAP} bytes: truncated to the first {CAP}"]
    assert got["rss_mb"] < 150, got  # python + the collector: ~30 MB here
