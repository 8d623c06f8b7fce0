"""nfwb collect over SSH against real OpenSSH sshd's in network namespaces with real iptables rules."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest

from workbook.collect import collect_ssh
from workbook.dump import load_dump

from tests.collect.conftest import kube_node_rules
from tests.realparts import ROOT

pytestmark = [pytest.mark.root, pytest.mark.sshd]


def _rules_only(save_text: str) -> list[str]:
    """iptables-save text without header comments and counters (they change between two reads)."""
    out = []
    for line in save_text.splitlines():
        if line.startswith("#"):
            continue
        line = re.sub(r"^\[\d+:\d+\] ", "", line)
        line = re.sub(r"^(:\S+ \S+) \[\d+:\d+\]$", r"\1", line)
        out.append(line)
    return out


def _known_hosts(tmp_path, *nodes):
    kh = tmp_path / "known_hosts"
    kh.write_text("".join(n.host_key_line for n in nodes))
    return kh


def test_collected_save_equals_the_kernel(ssh_node, user_key, tmp_path):
    node = ssh_node(rules=kube_node_rules())
    res = collect_ssh([node.target], tmp_path / "out", identity=user_key,
                      known_hosts=_known_hosts(tmp_path, node), progress=False)
    assert [r.ok for r in res] == [True], res[0].error
    dump = tmp_path / "out" / node.ip
    assert res[0].path == dump
    collected = (dump / "iptables" / "iptables-save.txt").read_text()
    # expected: what the kernel prints when asked directly in the namespace
    assert _rules_only(collected) == _rules_only(node.save())
    d = load_dump(dump)
    assert d.layout == "nfwb" and d.tampered == []
    assert d.host == node.target
    assert node.ip in d.node_ips  # `ip -o addr` inside the namespace shows the veth address
    pre = [r.target for r in d.ruleset.chain("nat", "PREROUTING").rules]
    assert pre.count("CNI-HOSTPORT-DNAT") == 2  # the duplicate we loaded
    # the -L listings were taken for the tables the save output shows (nft backend: /proc/net/ip_tables_names empty)
    assert {f for f in d.files if f.startswith("iptables/iptables-L-")} == {
        "iptables/iptables-L-filter.txt", "iptables/iptables-L-nat.txt"}
    assert "Chain PREROUTING" in d.text("iptables/iptables-L-nat.txt")
    # the -L -n -v -x listings, parsed, say the same rules as the kernel's own save output
    listed = d.rulesets["iptables-L"]
    for t, table in d.ruleset.tables.items():
        assert [r.spec for r in listed.tables[t].rules()] == [r.spec for r in table.rules()]
    assert d.problems == [], [str(p) for p in d.problems]
    m = d.manifest
    entry = next(f for f in m["files"] if f["path"] == "iptables/iptables-save.txt")
    assert entry["command"] == "iptables-save -c" and entry["exit_code"] == 0
    assert d.text("iptables/iptables-version.txt").startswith("iptables v1.8")


def test_unknown_host_key_refused_then_accepted_with_the_flag(ssh_node, user_key, tmp_path):
    node = ssh_node(rules=kube_node_rules(services=2))
    kh = tmp_path / "known_hosts"
    kh.write_text("")  # exists, knows nobody
    res = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=kh, progress=False)
    assert not res[0].ok
    assert res[0].error == f"unknown host key for {node.ip} (not in {kh}); verify it and add it, or pass --accept-new-host-key"
    assert not (tmp_path / "out" / node.ip).exists()  # nothing written for a refused host
    res = collect_ssh([node.target], tmp_path / "out2", identity=user_key, known_hosts=kh,
                      accept_new_host_key=True, progress=False)
    assert res[0].ok, res[0].error
    # the accepted key was recorded: it is the node's real host key
    assert node.host_key_line.split()[2] in kh.read_text()
    res = collect_ssh([node.target], tmp_path / "out3", identity=user_key, known_hosts=kh, progress=False)
    assert res[0].ok, res[0].error


def test_changed_host_key_refused_even_with_the_flag(ssh_node, user_key, tmp_path):
    a = ssh_node(rules=None)
    b = ssh_node(rules=None)
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{a.ip} " + " ".join(b.host_key_line.split()[1:]) + "\n")  # a's address, b's key
    res = collect_ssh([a.target], tmp_path / "out", identity=user_key, known_hosts=kh,
                      accept_new_host_key=True, progress=False)
    assert not res[0].ok and res[0].error.startswith("host key CHANGED")


def test_dead_hosts_fail_clearly_and_the_others_are_collected(ssh_node, user_key, tmp_path):
    live = ssh_node(rules=kube_node_rules(services=2))
    refused = ssh_node(sshd=False)                                   # nothing listening: RST
    silent = ssh_node(sshd=False, rules="*filter\n:INPUT DROP [0:0]\nCOMMIT\n")  # packets dropped: no answer
    t0 = time.monotonic()
    res = collect_ssh([refused.target, silent.target, live.target], tmp_path / "out", identity=user_key,
                      known_hosts=_known_hosts(tmp_path, live), connect_timeout=2, progress=False)
    took = time.monotonic() - t0
    assert res[0].error == f"cannot connect to {refused.ip} port 22: Connection refused"
    assert res[1].error == f"connection to {silent.ip} timed out after 2 s"
    assert res[2].ok and (tmp_path / "out" / live.ip / "MANIFEST.json").exists()
    assert took < 15  # parallel: bounded by the 2 s connect timeout, not a TCP retry storm
    assert not (tmp_path / "out" / refused.ip).exists() and not (tmp_path / "out" / silent.ip).exists()


def test_failing_and_hanging_commands_are_recorded(ssh_node, user_key, tmp_path):
    node = ssh_node(rules=kube_node_rules(services=2))
    res = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=_known_hosts(tmp_path, node),
                      timeout=3, extra={"notes/partial.txt": "echo partial; echo broken >&2; exit 3",
                                        "notes/hang.txt": "sleep 30"}, progress=False)
    assert res[0].ok, res[0].error
    dump = res[0].path
    m = json.loads((dump / "MANIFEST.json").read_text())
    partial = next(f for f in m["files"] if f["path"] == "notes/partial.txt")
    assert partial["exit_code"] == 3 and (dump / "notes" / "partial.txt").read_text() == "partial\n"
    assert {"command": "echo partial; echo broken >&2; exit 3", "error": "exit 3: broken"} in m["errors"]
    assert {"command": "sleep 30", "error": "timed out after 3 s"} in m["errors"]
    assert not (dump / "notes" / "hang.txt").exists()
    # everything else still collected
    assert (dump / "iptables" / "iptables-save.txt").stat().st_size > 0
    assert load_dump(dump).ruleset is not None


def test_three_hosts_in_parallel_via_the_cli(ssh_node, user_key, tmp_path):
    nodes = [ssh_node(rules=kube_node_rules(services=3, seed=s)) for s in (1, 2, 3)]
    kh = tmp_path / "known_hosts"
    kh.write_text("")
    base = [sys.executable, "-m", "workbook", "collect", "--ssh", *[n.ip for n in nodes],
            "--identity", str(user_key), "--known-hosts", str(kh), "--json"]
    # three unknown keys accepted at once: all three recorded (appended under a lock, none lost)
    p = subprocess.run(base + ["-o", str(tmp_path / "out"), "--accept-new-host-key"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert [o["ok"] for o in out] == [True, True, True]
    assert sorted(kh.read_text().splitlines()) == sorted(n.host_key_line.strip() for n in nodes)
    p = subprocess.run(base + ["-o", str(tmp_path / "again")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    for n in nodes:
        collected = (tmp_path / "out" / n.ip / "iptables" / "iptables-save.txt").read_text()
        assert _rules_only(collected) == _rules_only(n.save())


def test_cli_unknown_host_exit_2_one_line(ssh_node, user_key, tmp_path):
    node = ssh_node(rules=None)
    kh = tmp_path / "kh"
    kh.write_text("")
    p = subprocess.run([sys.executable, "-m", "workbook", "collect", "--ssh", node.ip, "-o", str(tmp_path / "o"),
                        "--identity", str(user_key), "--known-hosts", str(kh)],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 2
    assert p.stderr.splitlines() == [f"nfwb collect: error: root@{node.ip}: unknown host key for {node.ip} "
                                     f"(not in {kh}); verify it and add it, or pass --accept-new-host-key"]


def test_key_from_ssh_agent(ssh_node, user_key, tmp_path, monkeypatch):
    node = ssh_node(rules=None)
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # the socket file appears at bind(), before the agent listens: wait until it answers
        # (`ssh-add -l` exits 1 "no identities" once it does, 2 while it cannot connect)
        for _ in range(500):
            if sock.exists() and subprocess.run(["ssh-add", "-l"], env={"SSH_AUTH_SOCK": str(sock)},
                                                capture_output=True).returncode == 1:
                break
            time.sleep(0.02)
        subprocess.run(["ssh-add", "-q", str(user_key)], env={"SSH_AUTH_SOCK": str(sock)}, check=True,
                       capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/id_* to fall back on: only the agent has the key
        res = collect_ssh([node.target], tmp_path / "out", known_hosts=_known_hosts(tmp_path, node), progress=False)
        assert res[0].ok, res[0].error
        # without the agent (and no key file) the login is refused
        monkeypatch.delenv("SSH_AUTH_SOCK")
        res = collect_ssh([node.target], tmp_path / "out2", known_hosts=_known_hosts(tmp_path, node), progress=False)
        assert res[0].error == (f"no SSH key to offer for root@{node.ip}: give --identity KEY or add a key "
                                "to ssh-agent")
        # a key the node does not accept
        other = tmp_path / "other"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        res = collect_ssh([node.target], tmp_path / "out3", identity=other,
                          known_hosts=_known_hosts(tmp_path, node), progress=False)
        assert res[0].error == f"authentication failed for root@{node.ip} (Authentication failed.)"
    finally:
        agent.terminate()
        agent.wait(5)


def test_sudo_without_sudo_on_the_node_is_a_clear_error(ssh_node, user_key, tmp_path):
    node = ssh_node(rules=None)
    import shutil
    if shutil.which("sudo"):
        # sudo present (as root, `sudo -n` just works): the collection must succeed through it
        res = collect_ssh([node.target], tmp_path / "out", identity=user_key,
                          known_hosts=_known_hosts(tmp_path, node), sudo=True, progress=False)
        assert res[0].ok, res[0].error
        return
    res = collect_ssh([node.target], tmp_path / "out", identity=user_key, known_hosts=_known_hosts(tmp_path, node),
                      sudo=True, progress=False)
    # the node (this machine) has no sudo: the shell says so and nothing is collected
    assert not res[0].ok
    assert re.fullmatch(r"cannot run commands \(exit 127\): .*sudo: (command )?not found", res[0].error), res[0].error
