"""SSH collection against a node that never stops talking: output capped per file, on disk, the
truncation in MANIFEST.json's errors, and the collector's peak memory bounded (real OpenSSH sshd)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.collect.conftest import _wait_port, ssh_node, user_key  # noqa: F401 (the real-sshd fixtures)
from tests.realparts import ROOT

pytestmark = [pytest.mark.root, pytest.mark.sshd]

CAP = 1 << 20          # the per-file cap the tests set (--max-input / $NFWB_MAX_INPUT)
RSS_BOUND_MB = 150     # the collector's own peak RSS (python + paramiko: ~45 MB here; the stream is endless)

# A hostile node (sshd ForceCommand for every session): the collector's discovery command finds
# nothing; in the one-shell session it answers the handshake with the boundary it was sent and an
# empty discovery frame, then forges a frame header announcing ~100 TB for the next command and
# streams forever; every other command (the per-command fallback) streams forever too.
HOSTILE = r"""#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  *"command -v"*) exit 0 ;;
  "sh -s"|"sudo -n sh -s")
    read -r first
    b=${first#nfwb_b=}
    printf '%s ready timeout\n' "$b"
    printf '%s 0 0 - 0 0\n' "$b"
    while read -r line; do case $line in nfwb_id=1*) break ;; esac; done
    printf '%s 1 0 - 99999999999999 0\n' "$b" ;;
esac
exec yes 'forged frame data that never ends'
"""

# runs the collection in its own process, so its peak RSS is the collector's alone; its address
# space is limited, so code without the caps fails with MemoryError instead of eating the machine
DRIVER = textwrap.dedent("""
    import json, resource, sys
    def peak_mb():  # this process's own peak RSS (ru_maxrss would carry over the parent's across exec)
        line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from workbook.collect import collect_ssh
    target, out, key, kh, mode, extra = sys.argv[1:7]
    res = collect_ssh([target], out, identity=key, known_hosts=kh, progress=False, timeout=3.0,
                      session=mode == "session", extra=json.loads(extra))
    print(json.dumps({"ok": res[0].ok, "error": res[0].error, "path": str(res[0].path),
                      "rss_mb": peak_mb()}))
""")


def _collect(node, user_key, tmp_path, mode: str, extra: dict | None = None) -> dict:
    kh = tmp_path / "known_hosts"
    kh.write_text(node.host_key_line)
    done = subprocess.run([sys.executable, "-c", DRIVER, node.target, str(tmp_path / "out"), str(user_key), str(kh),
                           mode, json.dumps(extra or {})],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NFWB_MAX_INPUT": str(CAP)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _manifest(path) -> dict:
    return json.loads((path / "MANIFEST.json").read_text())


def _make_hostile(node) -> None:
    """Every session on ``node`` runs HOSTILE instead of what the collector asked (sshd ForceCommand)."""
    script = node.dir / "hostile.sh"
    script.write_text(HOSTILE)
    script.chmod(0o755)
    with open(node.dir / "sshd_config", "a") as f:
        f.write(f"ForceCommand {script}\n")
    os.kill(node.proc.pid, signal.SIGHUP)  # sshd re-executes itself and re-reads its config
    assert _wait_port(node.ip, 22, 10.0)


@pytest.mark.parametrize("mode", ["session", "per-command"])
def test_hostile_server_streaming_forever_is_capped(ssh_node, user_key, tmp_path, mode):
    node = ssh_node()
    _make_hostile(node)
    got = _collect(node, user_key, tmp_path, mode)
    assert got["ok"], got
    dump = tmp_path / "out" / node.ip
    files = [p for p in dump.rglob("*") if p.is_file() and p.name != "MANIFEST.json"]
    assert files, "the truncated outputs are kept"
    # every file holds at most the cap, so disk is bounded too
    assert max(p.stat().st_size for p in files) <= CAP
    errors = [e["error"] for e in _manifest(dump)["errors"]]
    assert any("over the cap of 1048576 bytes" in e for e in errors), errors
    # memory: what streamed in was far larger than this bound, and only the cap was ever held
    assert got["rss_mb"] < RSS_BOUND_MB, got


def test_command_that_prints_forever_is_cut_at_the_cap(ssh_node, user_key, tmp_path):
    # an honest node whose iptables-save-like command never ends: the remote time limit (3 s)
    # stops it, far past the cap; the file is its first CAP bytes, the truncation in the MANIFEST
    node = ssh_node()
    forever = "while :; do echo '-A INPUT -s 10.0.0.1/32 -j ACCEPT'; done"
    got = _collect(node, user_key, tmp_path, "session", {"iptables/forever.txt": forever})
    assert got["ok"], got
    dump = tmp_path / "out" / node.ip
    assert (dump / "iptables" / "forever.txt").stat().st_size == CAP
    assert (dump / "iptables" / "forever.txt").read_bytes().startswith(b"-A INPUT -s 10.0.0.1/32 -j ACCEPT\n")
    m = _manifest(dump)
    assert any(e["error"].startswith("iptables/forever.txt: output over the cap") for e in m["errors"]), m["errors"]
    entry = next(f for f in m["files"] if f["path"] == "iptables/forever.txt")
    assert entry["size"] == CAP and "truncated" in entry["note"]
    # the other commands still ran (in their own sessions after the shell session was abandoned)
    assert (dump / "iptables" / "iptables-save.txt").exists()
    assert got["rss_mb"] < RSS_BOUND_MB, got
