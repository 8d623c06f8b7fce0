"""Real SSH nodes for the collector tests: a network namespace per node, reached from the host
namespace through a veth pair, running a real OpenSSH sshd (own config, throw-away keys) and real
iptables rules. Everything is removed after each test (sshd killed, namespace deleted)."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.realparts import need, nsexec

SSHD = "/usr/sbin/sshd"
_n = itertools.count(1)
_NET = 200 + os.getpid() % 50   # 10.<_NET>.<k>.0/30 per node: .1 host side, .2 inside


def kube_node_rules(services: int = 8, seed: int = 3) -> str:
    """A kube-proxy ruleset plus portmap's top-level jump appended twice (the duplicate of scenario b)."""
    from workbook.generate import generate_services, kube_proxy_save
    text = kube_proxy_save(generate_services(services, seed=seed))
    text = text.replace("*nat\n", "*nat\n:CNI-HOSTPORT-DNAT - [0:0]\n", 1)
    nat = text.index("*nat\n")
    end = text.index("COMMIT\n", nat)
    dup = "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n" * 2
    return text[:end] + dup + text[end:]


@dataclass
class SSHNode:
    ns: str
    ip: str
    dir: Path
    host_key_line: str = ""          # known_hosts line for this node
    proc: subprocess.Popen | None = None
    extra: list = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"root@{self.ip}"

    def save(self) -> str:
        """What the kernel says, read directly (the expected value for a collection)."""
        return nsexec(self.ns, "iptables-save").stdout


@pytest.fixture(scope="session")
def user_key(tmp_path_factory):
    """A throw-away ed25519 key pair for root logins (private key path)."""
    if not shutil.which("ssh-keygen"):
        return None
    d = tmp_path_factory.mktemp("userkey")
    key = d / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nfwb-test", "-f", str(key)], check=True)
    return key


def _wait_port(ip: str, port: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection((ip, port), timeout=0.5) as s:
                s.settimeout(1.0)
                if s.recv(4).startswith(b"SSH"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture
def ssh_node(netns, tmp_path, user_key):
    """Factory: ``ssh_node(rules=TEXT, sshd=True)`` → a running :class:`SSHNode` (skips on a laptop,
    fails under CI=true when sshd/ssh-keygen are missing)."""
    need(os.path.exists(SSHD), f"needs OpenSSH's {SSHD}")
    need(user_key is not None, "needs ssh-keygen")
    nodes: list[SSHNode] = []

    def make(rules: str | None = None, sshd: bool = True) -> SSHNode:
        k = next(_n)
        ns = netns("ssh")
        host_if, ns_if = f"nfc{os.getpid() % 10000}h{k}", f"nfc{os.getpid() % 10000}n{k}"
        ip_host, ip_ns = f"10.{_NET}.{k}.1", f"10.{_NET}.{k}.2"
        subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns], check=True)
        subprocess.run(["ip", "addr", "add", f"{ip_host}/30", "dev", host_if], check=True)
        subprocess.run(["ip", "link", "set", host_if, "up"], check=True)
        subprocess.run(["ip", "-n", ns, "addr", "add", f"{ip_ns}/30", "dev", ns_if], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", ns_if, "up"], check=True)
        d = tmp_path / f"node{k}"
        d.mkdir()
        node = SSHNode(ns=ns, ip=ip_ns, dir=d)
        nodes.append(node)
        if rules:
            nsexec(ns, "iptables-restore", input=rules)
        if not sshd:
            return node
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
        shutil.copy(str(user_key) + ".pub", d / "authorized_keys")
        (d / "sshd_config").write_text(
            f"ListenAddress {ip_ns}:22\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nLogLevel ERROR\nMaxStartups 50\n")
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
        node.proc = subprocess.Popen(["ip", "netns", "exec", ns, SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                     stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "wb"))
        assert _wait_port(ip_ns, 22), f"sshd did not come up: {(d / 'sshd.log').read_text()}"
        pub = (d / "host_key.pub").read_text().split()
        node.host_key_line = f"{ip_ns} {pub[0]} {pub[1]}\n"
        return node

    yield make
    for node in nodes:
        if node.proc is not None:
            node.proc.terminate()
            try:
                node.proc.wait(5)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait()
        # per-connection sshd children we started, if any are left: end them by pid
        pids = subprocess.run(["ip", "netns", "pids", node.ns], capture_output=True, text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
    # the netns fixture deletes the namespaces (and with them the veth pairs)
