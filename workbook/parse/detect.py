"""Which format is this text? (save, spec, listing, lsmod) — decided by content, not file name."""

from __future__ import annotations

import os
from pathlib import Path

from ..model import ParseError
from .save import check_text

__all__ = ["detect_format", "read_input"]


def read_input(path_or_text) -> tuple[str, str]:
    """Return ``(text, source)`` for a path, a ``Path``, bytes or literal text."""
    if isinstance(path_or_text, Path) or (isinstance(path_or_text, str) and "\n" not in path_or_text
                                          and len(path_or_text) < 4096 and os.path.exists(path_or_text)):
        p = Path(path_or_text)
        if p.is_dir():
            raise ParseError(str(p), 0, "is a directory (load it with workbook.load_dump)")
        try:
            data = p.read_bytes()
        except OSError as e:
            raise ParseError(str(p), 0, f"cannot read: {e.strerror}") from None
        return check_text(data, str(p)), str(p)
    if isinstance(path_or_text, Path):
        raise ParseError(str(path_or_text), 0, "no such file")
    if isinstance(path_or_text, bytes):
        return check_text(path_or_text, "<bytes>"), "<bytes>"
    return check_text(path_or_text, "<text>"), "<text>"


def detect_format(text: str, source: str = "<text>") -> str:
    """Guess the format from the first meaningful lines.

    >>> detect_format("*nat\\n:PREROUTING ACCEPT [0:0]\\nCOMMIT\\n")
    'save'
    >>> detect_format("-P INPUT ACCEPT\\n-N KUBE-FIREWALL\\n")
    'spec'
    >>> detect_format("Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\\n")
    'listing'
    >>> detect_format("Module                  Size  Used by\\nxt_comment 16384 96\\n")
    'lsmod'
    """
    for raw in text.splitlines()[:400]:
        line = raw.strip()
        if not line or line.startswith("#") and not line.startswith("# Warning"):
            continue
        if line.startswith("*") or line.startswith(":") or line.startswith("[") and "] -A" in line:
            return "save"
        if line.startswith(("-P ", "-N ", "-A ")):
            # -S output has no '*table'; save/restore input always has one before rules
            return "spec"
        if line.startswith("Chain ") or line.startswith("Chain\t") or line.split()[:1] == ["Chain"]:
            return "listing"
        if line.startswith("Module") and "Used" in line:
            return "lsmod"
        parts = line.split()
        if len(parts) >= 3 and parts[1].isdigit() and parts[2].isdigit() and not line.startswith("-"):
            return "lsmod"  # /proc/modules or lsmod without its header
    raise ParseError(source, 1, "unrecognised format: not iptables-save, iptables -S, iptables -L, or lsmod output")
