"""One shell per host: every command's stdout, stderr and exit code framed back exactly (hostile output
included), time limits with and without coreutils ``timeout``, a stuck shell, a shell that will not
start — against real OpenSSH sshd's in network namespaces (and the same framing locally)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

import workbook.collect.session as ws
import workbook.collect.transport as wt
from workbook.collect import collect_local, collect_ssh
from workbook.dump import load_dump

from tests.collect.conftest import kube_node_rules
from tests.collect.test_collect_ssh import _known_hosts, _rules_only
from tests.realparts import nsexec

pytestmark = [pytest.mark.root, pytest.mark.sshd]

FIXED = "nfwb-" + "5e55" * 8   # the boundary the tests force, so a command can print it on purpose
# every command below prints header lines carrying the session's own boundary, NULs, bytes that are
# not UTF-8, or no final newline; the expected bytes are written out by hand beside each
HOSTILE = {
    # stdout: a fake header announcing 3 bytes, a fake "ready" line, and no final newline
    "notes/boundary.txt": f"printf '{FIXED} 99 0 - 3 0\\nabc\\n{FIXED} ready timeout'; "
                          f"printf '{FIXED} 0 0 - 0 0\\n' >&2; exit 5",
    "notes/binary.bin": "printf 'a\\000b\\377\\001\\n\\000'",
    "notes/no-newline.txt": "printf 'last line without newline'",
    "notes/large.txt": "yes 0123456789abcdef | head -c 5242880",
    "notes/stderr.txt": "echo out; printf 'warn\\000ing\\n' >&2",
}
EXPECTED = {
    "notes/boundary.txt": f"{FIXED} 99 0 - 3 0\nabc\n{FIXED} ready timeout".encode(),
    "notes/binary.bin": b"a\x00b\xff\x01\n\x00",
    "notes/no-newline.txt": b"last line without newline",
    # `yes` repeats the 17-byte line; head keeps the first 5 MiB
    "notes/large.txt": (b"0123456789abcdef\n" * (5242880 // 17 + 1))[:5242880],
    "notes/stderr.txt": b"out\n",
}


def _check_hostile(dump: Path) -> dict:
    m = json.loads((dump / "MANIFEST.json").read_text())
    for rel, want in EXPECTED.items():
        got = (dump / rel).read_bytes()
        assert len(got) == len(want) and got == want, rel
        entry = next(f for f in m["files"] if f["path"] == rel)
        assert entry["sha256"] == hashlib.sha256(want).hexdigest() and entry["size"] == len(want)
    by = {f["path"]: f for f in m["files"]}
    assert by["notes/boundary.txt"]["exit_code"] == 5
    # stderr is kept per file (stripped), the fake header in it included
    assert by["notes/boundary.txt"]["stderr"] == f"{FIXED} 0 0 - 0 0"
    assert by["notes/stderr.txt"]["stderr"] == "warn\x00ing" and by["notes/stderr.txt"]["exit_code"] == 0
    assert {"command": HOSTILE["notes/boundary.txt"], "error": f"exit 5: {FIXED} 0 0 - 0 0"} in m["errors"]
    return m


def test_hostile_output_over_ssh_comes_back_byte_for_byte(ssh_node, user_key, tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "_boundary", lambda: FIXED)
    node = ssh_node(rules=kube_node_rules(services=2))
    [res] = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=_known_hosts(tmp_path, node),
                        extra=HOSTILE, progress=False)
    assert res.ok, res.error
    assert res.mode == "session"
    m = _check_hostile(res.path)
    assert m["collection"] == {"mode": "session", "timeouts": "coreutils timeout", "note": None}
    # the rest of the dump is intact: expected value from the kernel itself
    d = load_dump(res.path)
    assert _rules_only(d.text("iptables/iptables-save.txt")) == _rules_only(node.save())
    assert d.tampered == []


def test_hostile_output_locally_in_one_shell(netns, tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "_boundary", lambda: FIXED)
    ns = netns("ses")
    nsexec(ns, "iptables-restore", input=kube_node_rules(services=2))
    res = collect_local(tmp_path / "d", netns=ns, extra=HOSTILE, session=True, progress=False)
    assert res.ok and res.mode == "session"
    _check_hostile(res.path)
    assert _rules_only((res.path / "iptables" / "iptables-save.txt").read_text()) == \
        _rules_only(nsexec(ns, "iptables-save").stdout)


HANGS = {"notes/partial.txt": "echo partial; echo broken >&2; exit 3",
         "notes/hang.txt": "sleep 30",
         "notes/deaf.txt": "trap '' TERM; sleep 30",       # ignores TERM: killed 2 s later
         "notes/after.txt": "echo after"}


def _check_hangs(res, timeout: int = 3) -> dict:
    assert res.ok, res.error
    m = json.loads((res.path / "MANIFEST.json").read_text())
    by = {f["path"]: f for f in m["files"]}
    assert by["notes/partial.txt"]["exit_code"] == 3 and (res.path / "notes/partial.txt").read_text() == "partial\n"
    assert {"command": "sleep 30", "error": f"timed out after {timeout} s"} in m["errors"]
    assert {"command": "trap '' TERM; sleep 30", "error": f"timed out after {timeout} s"} in m["errors"]
    assert "notes/hang.txt" not in by and "notes/deaf.txt" not in by
    # the commands after the hanging ones still ran
    assert (res.path / "notes/after.txt").read_text() == "after\n"
    assert (res.path / "iptables" / "iptables-save.txt").stat().st_size > 0
    return m


@pytest.mark.parametrize("session", [True, False], ids=["one-session", "per-command"])
def test_hanging_commands(ssh_node, user_key, tmp_path, session):
    node = ssh_node(rules=kube_node_rules(services=2))
    [res] = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=_known_hosts(tmp_path, node),
                        timeout=3, extra=HANGS, progress=False, session=session)
    m = _check_hangs(res)
    mode = "session" if session else "per-command"
    assert m["collection"]["mode"] == mode and res.mode == mode


def _farm_without_timeout(folder: Path) -> str:
    """A PATH folder with every program of this machine except coreutils ``timeout``."""
    folder.mkdir()
    for d in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name != "timeout" and not (folder / name).exists():
                (folder / name).symlink_to(os.path.join(d, name))
    return f"PATH={folder}; "


def test_node_without_timeout_command_uses_the_shell_watchdog(ssh_node, user_key, tmp_path, monkeypatch):
    monkeypatch.setattr(wt, "SHELL_PATH", _farm_without_timeout(tmp_path / "bin"))
    node = ssh_node(rules=kube_node_rules(services=2))
    [res] = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=_known_hosts(tmp_path, node),
                        timeout=3, extra={**HANGS, "notes/which.txt": "command -v timeout || echo none"},
                        progress=False)
    m = _check_hangs(res)
    assert (res.path / "notes/which.txt").read_text() == "none\n"   # the commands saw no `timeout` either
    assert m["collection"] == {"mode": "session", "timeouts": "shell watchdog (no timeout command)", "note": None}
    assert _rules_only((res.path / "iptables" / "iptables-save.txt").read_text()) == _rules_only(node.save())


def test_stuck_shell_the_command_times_out_and_the_rest_run_one_by_one(ssh_node, user_key, tmp_path, monkeypatch):
    monkeypatch.setattr(ws, "_SESSION_GRACE", 2.0)
    node = ssh_node(rules=kube_node_rules(services=2))
    # the command stops the collecting shell itself (its grandparent: sh -c → timeout → sh -s), so
    # the session never answers again
    stop = "kill -STOP $(cut -d' ' -f4 /proc/$PPID/stat)"
    [res] = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=_known_hosts(tmp_path, node),
                        timeout=3, extra={"notes/stop.txt": stop, "notes/after.txt": "echo after"}, progress=False)
    assert res.ok, res.error
    m = json.loads((res.path / "MANIFEST.json").read_text())
    assert {"command": stop, "error": "timed out after 3 s"} in m["errors"]
    assert m["collection"]["mode"] == "session+per-command" and res.mode == "session+per-command"
    assert m["collection"]["per_command"] == ["notes/after.txt"]
    assert m["collection"]["note"].startswith("the shell session broke (no result for notes/stop.txt within 5 s)")
    assert (res.path / "notes/after.txt").read_text() == "after\n"
    assert _rules_only((res.path / "iptables" / "iptables-save.txt").read_text()) == _rules_only(node.save())


def test_shell_that_will_not_run_the_script_falls_back_to_one_channel_per_command(ssh_node, user_key, tmp_path,
                                                                                    monkeypatch):
    monkeypatch.setattr(ws, "_PRELUDE", "echo 'sh: no such feature' >&2; exit 3\n")
    node = ssh_node(rules=kube_node_rules(services=2))
    [res] = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=_known_hosts(tmp_path, node),
                        timeout=5, progress=False)
    assert res.ok, res.error
    m = json.loads((res.path / "MANIFEST.json").read_text())
    assert m["collection"] == {"mode": "per-command", "timeouts": None,
                               "note": "one shell session failed to start (the shell exited (exit 3): "
                                       "sh: no such feature): one session per command"}
    assert _rules_only((res.path / "iptables" / "iptables-save.txt").read_text()) == _rules_only(node.save())


def test_shell_watchdog_never_flags_quick_commands(netns, tmp_path, monkeypatch):
    # regression: the watchdog of a command that ends at once used to survive being killed (a signal
    # trap inherited for a moment after fork) and flag the command as timed out, about 1 in 15
    monkeypatch.setattr(wt, "SHELL_PATH", _farm_without_timeout(tmp_path / "bin"))
    ns = netns("wd")
    quick = {f"notes/quick-{k:02d}.txt": f"echo {k}" for k in range(60)}
    res = collect_local(tmp_path / "d", netns=ns, extra=quick, session=True, timeout=20, progress=False)
    assert res.ok and res.mode == "session"
    m = json.loads((res.path / "MANIFEST.json").read_text())
    assert m["collection"]["timeouts"] == "shell watchdog (no timeout command)"
    assert [e for e in m["errors"] if "timed out" in e["error"]] == []
    for k in range(60):
        assert (res.path / f"notes/quick-{k:02d}.txt").read_text() == f"{k}\n"


def test_banner_before_the_script_is_skipped(netns, tmp_path, monkeypatch):
    # a shell start-up file that prints (e.g. an echo in .bashrc) comes before the ready line
    monkeypatch.setattr(ws, "_PRELUDE", "echo 'Welcome to node-1'; printf 'no newline'\n" + ws._PRELUDE)
    ns = netns("ban")
    res = collect_local(tmp_path / "d", netns=ns, extra={"notes/x.txt": "echo x"}, session=True, progress=False)
    assert res.ok and res.mode == "session"
    assert (res.path / "notes/x.txt").read_text() == "x\n"
