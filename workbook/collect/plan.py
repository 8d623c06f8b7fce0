"""What is collected from a node: the discovery command, then which files come from which read-only commands."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Iterable

from ..vocab import TABLES

__all__ = ["DISCOVER", "SAVE_FILE", "Plan", "plan_commands", "saved_tables", "TABLES"]

# Nothing is changed on the node: every command planned here only reads (``iptables-save``,
# ``iptables -L``, ``lsmod``, ``cat``, ``ls``, kube-proxy's mode from its metrics port).

#: Files copied when present: (remote glob or path, folder in the dump).
_COPIES = (("/etc/modules-load.d/*", "kernel/modules-load.d"),
           ("/etc/cni/net.d/*", "kubelet/cni-net.d"),
           ("/var/lib/kubelet/config.yaml", "kubelet"),
           ("/etc/kubernetes/kubelet.conf", "kubelet"),
           ("/var/lib/kube-proxy/config.conf", "kubelet/kube-proxy"),
           ("/proc/net/ip_vs", "kernel"))
_TOOLS = ("iptables", "iptables-save", "iptables-legacy-save", "iptables-nft-save", "ip6tables-save",
          "ip6tables-legacy-save", "ip6tables-nft-save", "nft", "lsmod", "ip", "conntrack", "sysctl", "curl")
#: The sysctls that decide what netfilter sees (``-e``: a key of an unloaded module is no error).
_SYSCTLS = ("net.netfilter.nf_conntrack_max", "net.netfilter.nf_conntrack_count",
            "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
            "net.ipv4.ip_forward", "net.ipv4.conf.all.route_localnet", "net.ipv4.conf.all.rp_filter")

#: The first command run on a node: which tools, files, folders and legacy tables it has, and its name
#: (lines ``tool X``, ``file X``, ``dir X``, ``table X``, ``hostname X`` for :func:`plan_commands`).
DISCOVER = ("for t in " + " ".join(_TOOLS) + "; do command -v $t >/dev/null 2>&1 && echo \"tool $t\"; done; "
            "for f in " + " ".join(g for g, _ in _COPIES) + "; do [ -f \"$f\" ] && echo \"file $f\"; done; "
            "for d in /var/lib/dockershim/sandbox /var/lib/cni/results; do [ -d \"$d\" ] && echo \"dir $d\"; done; "
            "[ -r /proc/net/ip_tables_names ] && sed 's/^/table /' /proc/net/ip_tables_names; "
            "hostname 2>/dev/null | sed 's/^/hostname /'; true")
#: The dump file of ``iptables-save -c``: run first, its tables decide which ``iptables -L`` to run.
SAVE_FILE = "iptables/iptables-save.txt"

_TABLE_LINE = re.compile(rb"\*(\w+)\s*$")


@dataclass
class Plan:
    """The commands to run on one node, those left out (and why), and the node's name."""

    items: list[tuple[str, str]]          # (relative path, shell command)
    skipped: list[dict]
    hostname: str | None


def saved_tables(lines: Iterable[bytes]) -> list[str]:
    """The tables an ``iptables-save`` output holds (its ``*table`` lines), in order.

    >>> saved_tables([b"# Generated\\n", b"*nat\\n", b"COMMIT\\n", b"*filter\\n"])
    ['nat', 'filter']
    """
    return [m.group(1).decode() for m in map(_TABLE_LINE.match, lines) if m]


def plan_commands(discovered: str, save_tables: Iterable[str] = ()) -> Plan:
    """Turn the discovery output into the list of (file, command) to run.

    >>> p = plan_commands("tool iptables\\ntool iptables-save\\ntool lsmod\\ntable filter\\n")
    >>> p.items[0] == (SAVE_FILE, "iptables-save -c")
    True
    >>> [f for f, _ in p.items][:4]
    ['iptables/iptables-save.txt', 'iptables/iptables-version.txt', 'iptables/iptables-L-filter.txt', 'kernel/lsmod.txt']
    >>> [s["command"] for s in p.skipped][:2]
    ['iptables-legacy-save -c', 'iptables-nft-save -c']
    """
    tools: set[str] = set()
    files: list[str] = []
    dirs: set[str] = set()
    tables: list[str] = []
    hostname: str | None = None
    for line in discovered.splitlines():
        kind, _, value = line.partition(" ")
        if kind == "tool":
            tools.add(value)
        elif kind == "file":
            files.append(value)
        elif kind == "dir":
            dirs.add(value)
        elif kind == "table" and value in TABLES and value not in tables:
            tables.append(value)
        elif kind == "hostname":
            hostname = value.strip() or None
    items: list[tuple[str, str]] = []
    skipped: list[dict] = []

    def want(tool: str, rel: str, cmd: str) -> None:
        if tool in tools:
            items.append((rel, cmd))
        else:
            skipped.append({"command": cmd, "reason": f"{tool} not installed"})

    want("iptables-save", "iptables/iptables-save.txt", "iptables-save -c")  # SAVE_FILE
    want("iptables-legacy-save", "iptables/iptables-legacy-save.txt", "iptables-legacy-save -c")
    want("iptables-nft-save", "iptables/iptables-nft-save.txt", "iptables-nft-save -c")
    want("ip6tables-save", "iptables/ip6tables-save.txt", "ip6tables-save -c")
    want("ip6tables-legacy-save", "iptables/ip6tables-legacy-save.txt", "ip6tables-legacy-save -c")
    want("ip6tables-nft-save", "iptables/ip6tables-nft-save.txt", "ip6tables-nft-save -c")
    want("iptables", "iptables/iptables-version.txt", "iptables -V")
    # tables: those in /proc/net/ip_tables_names (legacy) and in the save output (either backend),
    # else all five
    seen = set(tables) | set(save_tables)
    listed = [t for t in TABLES if t in seen] or list(TABLES)
    for t in listed:
        want("iptables", f"iptables/iptables-L-{t}.txt", f"iptables -t {t} -L -n -v -x --line-numbers")
    want("lsmod", "kernel/lsmod.txt", "lsmod")
    items.append(("kernel/ip_tables_names.txt", "cat /proc/net/ip_tables_names"))
    want("nft", "kernel/nft-ruleset.txt", "nft -a list ruleset")
    want("nft", "kernel/nft-ruleset.json", "nft -j list ruleset")
    want("nft", "kernel/nft-version.txt", "nft --version")
    want("conntrack", "kernel/conntrack.txt", "conntrack -L -o extended")
    want("conntrack", "kernel/conntrack6.txt", "conntrack -L -o extended -f ipv6")
    want("conntrack", "kernel/conntrack-stats.txt", "conntrack -S")
    want("conntrack", "kernel/conntrack-count.txt", "conntrack -C")
    want("sysctl", "kernel/sysctl.txt", "sysctl -e " + " ".join(_SYSCTLS))
    # kube-proxy answers its mode on its metrics port (iptables, ipvs, nftables)
    want("curl", "kubelet/kube-proxy-mode.txt", "curl -s --max-time 2 http://127.0.0.1:10249/proxyMode")
    want("ip", "network/ip-addr.txt", "ip -o addr")
    want("ip", "network/ip-route.txt", "ip route")
    for rel, d in (("kubelet/dockershim-sandbox.txt", "/var/lib/dockershim/sandbox"),
                   ("kubelet/cni-results.txt", "/var/lib/cni/results")):
        if d in dirs:
            items.append((rel, f"ls -la {d}"))
        else:
            skipped.append({"command": f"ls -la {d}", "reason": "no such directory"})
    for f in files:
        for glob, folder in _COPIES:
            if f == glob or (glob.endswith("/*") and f.startswith(glob[:-1]) and "/" not in f[len(glob) - 1:]):
                name = os.path.basename(f)
                if not name or name.startswith(".."):
                    continue
                items.append((f"{folder}/{name}", f"cat {shlex.quote(f)}"))
                break
    return Plan(items, skipped, hostname)
