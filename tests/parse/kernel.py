"""Load rulesets into a throw-away namespace and read them back with the real iptables tools."""

from __future__ import annotations

import re

from tests.realparts import nsexec
from workbook.vocab import TABLES

__all__ = ["TABLES", "restore", "save", "tables_in", "run", "canonical"]


def restore(ns: str, text: str, *, family: str = "ipv4", backend: str = "nft", counters: bool = False):
    """``iptables-{nft,legacy}-restore [-c]`` inside ``ns``; returns the CompletedProcess (no check)."""
    prog = ("ip6tables" if family == "ipv6" else "iptables") + f"-{backend}-restore"
    return nsexec(ns, prog, *(["-c"] if counters else []), input=text, check=False)


def save(ns: str, *, family: str = "ipv4", backend: str = "nft", counters: bool = False) -> str:
    prog = ("ip6tables" if family == "ipv6" else "iptables") + f"-{backend}-save"
    return nsexec(ns, prog, *(["-c"] if counters else [])).stdout


def tables_in(save_text: str) -> list[str]:
    return [l[1:].strip() for l in save_text.splitlines() if l.startswith("*")]


def run(ns: str, *args: str, family: str = "ipv4", backend: str = "nft") -> str:
    prog = ("ip6tables" if family == "ipv6" else "iptables") + f"-{backend}"
    return nsexec(ns, prog, *args).stdout


def canonical(save_text: str) -> dict[str, tuple[dict[str, str], dict[str, list[str]]]]:
    """table → ({chain: policy-or-'-'}, {chain: [rule lines without counters]}): iptables-save
    text without comments/counters and independent of the chain order."""
    out: dict = {}
    table = None
    for line in save_text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            out[table] = ({}, {})
        elif line.startswith(":") and table:
            name, pol = line[1:].split()[:2]
            out[table][0][name] = pol
            out[table][1].setdefault(name, [])
        elif line.startswith(("-A", "[")) and table:
            line = re.sub(r"^\[\d+:\d+\] ", "", line)
            out[table][1].setdefault(line.split()[1], []).append(line)
    return out
