"""Pasted terminal sessions: recognise shell-prompt / command lines and read the iptables command in them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

__all__ = ["Command", "prompt_command", "parse_command"]

# "[root@ip-192-168-3-215 ~]# cmd", "root@node:~# cmd", "user@host:/x$ cmd", "$ cmd", "sh-4.2# cmd"
_PROMPT = re.compile(
    r"^\s*(?:\[[^\]\n]*\]\s?[#$]|[\w.-]+@[\w.-]+(?::[^#$\s]*)?\s?[#$]|(?:ba|z)?sh-[\d.]+[#$]|\$)(?:\s+(.*))?$")
# a bare command line ("iptables -t nat -S"), optionally behind sudo / ip netns exec / nsenter
_COMMAND = re.compile(r"^\s*(?:sudo\s+(?:-\S+\s+)*)?(?:(?:ip\s+netns\s+exec\s+\S+|nsenter\s+(?:-\S+\s+)*)\s+)?"
                      r"(ip6?tables(?:-legacy|-nft)?(?:-save)?|lsmod|cat\s+/proc/modules)((?:\s+-|\s*\||\s*$).*)$")


@dataclass(frozen=True)
class Command:
    """What an ``iptables ...`` command line says about the output that follows it."""

    program: str                 # iptables, ip6tables, iptables-nft, iptables-save, lsmod, ...
    table: str | None            # from -t/--table (None when not given)
    family: str                  # ipv4 / ipv6
    kind: str | None             # "spec" (-S), "listing" (-L), "save", "lsmod", or None (other command)
    chain: str | None = None     # -S CHAIN / -L CHAIN
    text: str = ""

    @property
    def default_table(self) -> str:
        return self.table or "filter"


def prompt_command(line: str) -> str | None:
    """The command typed on a shell-prompt line (``""`` for a bare prompt), or None if the line
    is not a prompt line. Bare ``iptables ...`` lines count as commands too.

    >>> prompt_command("[root@ip-192-168-3-215 ~]# iptables -t nat -S")
    'iptables -t nat -S'
    >>> prompt_command("[root@ip-192-168-3-215 modules-load.d]#")
    ''
    >>> prompt_command("iptables -v --numeric --table nat --list PREROUTING | column -t")
    'iptables -v --numeric --table nat --list PREROUTING | column -t'
    >>> prompt_command("-A INPUT -j DROP") is None, prompt_command("# PREROUTING") is None
    (True, True)
    """
    if not line or line[0] == "-":
        return None
    m = _PROMPT.match(line)
    if m:
        return (m.group(1) or "").strip()
    if line.lstrip().startswith("# "):  # root prompt "# iptables -S" (but not prose comments)
        rest = line.lstrip()[2:].strip()
        return rest if _COMMAND.match(rest) else None
    if _COMMAND.match(line):
        return line.strip()
    return None


def parse_command(cmd: str) -> Command | None:
    """Read table, family and kind of output from an iptables command line (None if it is not one).

    >>> c = parse_command("iptables -v --numeric --table nat --list PREROUTING | column -t")
    >>> (c.table, c.kind, c.chain, c.family)
    ('nat', 'listing', 'PREROUTING', 'ipv4')
    >>> c = parse_command("ip6tables -t mangle -nvL"); (c.table, c.kind, c.family)
    ('mangle', 'listing', 'ipv6')
    >>> parse_command("iptables -t filter -S").kind
    'spec'
    """
    m = _COMMAND.match(cmd or "")
    if not m:
        return None
    prog = m.group(1)
    rest = m.group(2).split("|", 1)[0]
    if prog == "lsmod" or prog.startswith("cat"):
        return Command("lsmod", None, "ipv4", "lsmod", None, cmd)
    try:
        words = shlex.split(rest)
    except ValueError:
        words = rest.split()
    family = "ipv6" if prog.startswith("ip6") else "ipv4"
    if prog.endswith("-save"):
        t = None
        for i, w in enumerate(words):
            if w in ("-t", "--table") and i + 1 < len(words):
                t = words[i + 1]
            elif w.startswith("--table="):
                t = w.split("=", 1)[1]
        return Command(prog, t, family, "save", None, cmd)
    table = None
    kind = None
    chain = None
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w in ("-t", "--table"):
            table = nxt
            i += 2
            continue
        if w.startswith("--table="):
            table = w.split("=", 1)[1]
        elif w in ("-S", "--list-rules", "-L", "--list"):
            kind = "spec" if w in ("-S", "--list-rules") else "listing"
            if nxt and not nxt.startswith("-"):
                chain = nxt
                i += 1
        elif len(w) > 1 and w[0] == "-" and w[1] != "-":
            letters = w[1:]
            if "t" in letters and letters.endswith("t"):
                table = nxt
                i += 1
            if "S" in letters:
                kind = "spec"
            elif "L" in letters:
                kind = "listing"
            if ("S" in letters or "L" in letters) and letters[-1] in "SL" and nxt and not nxt.startswith("-"):
                chain = nxt
                i += 1
        i += 1
    return Command(prog, table, family, kind, chain, cmd)
