"""Which format is this text? (save, spec, listing, lsmod, nft, nft-json) — decided by content, not file name."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..limits import read_capped
from ..model import InputError, ParseError
from .save import check_text, split_lines
from .session import parse_command, prompt_command

__all__ = ["detect_format", "read_input", "FORMATS", "UnsupportedFormat"]

#: Formats :func:`workbook.parse.parse` reads.
FORMATS = ("save", "spec", "listing", "lsmod", "nft", "nft-json")


class UnsupportedFormat(ParseError):
    """A dump in a format this package does not parse (nft, ipset, iptables-xml, ...)."""


def read_input(path_or_text) -> tuple[str, str]:
    """Return ``(text, source)`` for a path, a ``Path``, bytes or literal text."""
    if isinstance(path_or_text, Path) or (isinstance(path_or_text, str) and "\n" not in path_or_text
                                          and len(path_or_text) < 4096 and os.path.exists(path_or_text)):
        p = Path(path_or_text)
        if p.is_dir():
            raise ParseError(str(p), 0, "is a directory (load it with workbook.load_dump)")
        try:
            with open(p, "rb") as f:  # a FIFO or device (/dev/zero) too: bounded by the input cap
                data = read_capped(f, str(p))
        except FileNotFoundError:
            raise InputError(f"{p}: no such file") from None
        except OSError as e:
            raise ParseError(str(p), 0, f"cannot read: {e.strerror}") from None
        return check_text(data, str(p)), str(p)
    if isinstance(path_or_text, bytes):
        return check_text(path_or_text, "<bytes>"), "<bytes>"
    if isinstance(path_or_text, str) and "\n" not in path_or_text and re.fullmatch(
            r"[\w./~-]+\.(txt|save|rules|log|lsmod|json|nft|xml|md|golden|iptables[\w.-]*)", path_or_text):
        raise InputError(f"{path_or_text}: no such file")
    return check_text(path_or_text, "<text>"), "<text>"


_NFT_TABLE = re.compile(r"^table\s+[a-z0-9]+\s+\S+\s*\{")
_NFT_CMD = re.compile(r"^(add|flush|delete|insert|replace|create|destroy)\s+(table|chain|rule|set|map|element|ruleset)\b")
_IPSET = re.compile(r"^(create|add)\s+\S+\s+(hash|bitmap|list):|^add\s+\S+\s+\S+")
_CHAIN_HDR = re.compile(r"^Chain\s+\S+\s+\((policy|\d+\s+references|ERROR)")
_LSMOD_LINE = re.compile(r"^[A-Za-z0-9_-]+\s+\d+\s+(\d+|-)(\s+\S+)?(\s+(Live|Loading|Unloading)\s+0x[0-9a-f]+)?\s*$")


def _unsupported(source: str, line: int, what: str) -> UnsupportedFormat:
    return UnsupportedFormat(source, line, f"unsupported format: {what} "
                                           "(nfwb parses iptables-save, iptables -S, iptables -L, lsmod, "
                                           "nft list ruleset and nft -j list ruleset output)")


def detect_format(text: str, source: str = "<text>") -> str:
    """Guess the format from the first meaningful lines; raise for formats this package does not
    read (nft -f scripts, ipset, iptables-xml, Markdown, recorded multi-command restore input).

    >>> detect_format("*nat\\n:PREROUTING ACCEPT [0:0]\\nCOMMIT\\n")
    'save'
    >>> detect_format("-P INPUT ACCEPT\\n-N KUBE-FIREWALL\\n")
    'spec'
    >>> detect_format("Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\\n")
    'listing'
    >>> detect_format("Module                  Size  Used by\\nxt_comment 16384 96\\n")
    'lsmod'
    >>> detect_format("[root@node ~]# iptables -t nat -S\\n-P PREROUTING ACCEPT\\n")
    'spec'
    >>> detect_format("\\n", "empty.txt")
    Traceback (most recent call last):
    ...
    workbook.model.ParseError: empty.txt: empty: no iptables-save, iptables -S, iptables -L or lsmod output
    >>> detect_format("table ip nat {\\n}\\n", "x.nft"), detect_format('{"nftables": []}')
    ('nft', 'nft-json')
    >>> detect_format("add rule ip nat post masquerade\\n", "x.nft")
    Traceback (most recent call last):
    ...
    workbook.parse.detect.UnsupportedFormat: x.nft:1: unsupported format: nftables script (nft -f input) (nfwb parses iptables-save, iptables -S, iptables -L, lsmod, nft list ruleset and nft -j list ruleset output)
    """
    head = text[:4096].lstrip()[:200]
    if head.startswith("{") and '"nftables"' in head:
        return "nft-json"
    if head.startswith("<?xml") or head.startswith("<iptables-rules"):
        raise _unsupported(source, 1, "XML (iptables-xml output)")
    bare_saves = 0
    for lineno, raw in enumerate(split_lines(text[:400_000])[:2000], 1):
        line = raw.strip()
        if not line:
            continue
        if line in ("iptables-save", "ip6tables-save", "iptables-restore", "ip6tables-restore"):
            bare_saves += 1
            if bare_saves > 1:
                raise _unsupported(source, lineno, "recorded input of several iptables/ip6tables-restore commands "
                                                   "in one file (e.g. an Istio .golden); split it per command")
            continue
        if line.startswith("# Generated by ip") or line.startswith("# Completed on"):
            return "save"
        if line.startswith("<!--") or line.startswith("## ") or line.startswith("```"):
            raise _unsupported(source, lineno, "Markdown/HTML document (take the code blocks out first)")
        cmd = prompt_command(raw)
        if cmd:
            c = parse_command(cmd)
            if c is not None and c.kind in ("save", "spec", "listing", "lsmod"):
                return c.kind
        if line.startswith("#"):
            continue
        if line.startswith("*") or line.startswith(":") or line.startswith("[") and "] -A" in line:
            return "save"
        if line.startswith(("-P ", "-N ", "-A ")):
            # -S output has no '*table'; save/restore input always has one before rules
            return "spec"
        if _CHAIN_HDR.match(" ".join(line.split())):
            return "listing"
        if line.startswith("Module") and "Used" in line:
            return "lsmod"
        if _NFT_TABLE.match(line):
            return "nft"
        if _NFT_CMD.match(line):
            raise _unsupported(source, lineno, "nftables script (nft -f input)")
        if _IPSET.match(line):
            raise _unsupported(source, lineno, "ipset save output")
        if _LSMOD_LINE.match(line):
            return "lsmod"  # /proc/modules or lsmod without its header
    if not text.strip():
        raise ParseError(source, 0, "empty: no iptables-save, iptables -S, iptables -L or lsmod output")
    raise ParseError(source, 1, "unrecognised format: not iptables-save, iptables -S, iptables -L, or lsmod output")
