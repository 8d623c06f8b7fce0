"""Builders for hostile archives and dump folders, and a runner for the real `nfwb` CLI."""

from __future__ import annotations

import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.realparts import ROOT

SAVE = b"*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"


def nfwb(*args: str, timeout: float = 120, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run ``nfwb ARGS`` (``python -m workbook``) from the repository; text output captured."""
    return subprocess.run([*prefix, sys.executable, "-m", "workbook", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def zip_of(path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    """A zip of ``(name, data, symlink target)`` members, symlinks stored the Info-ZIP way
    (mode S_IFLNK in the high bits of external_attr, the target as the member's data)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, target in members:
            zi = zipfile.ZipInfo(name)
            zi.create_system = 3   # Unix: external_attr carries the mode
            if target is not None:
                zi.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(zi, target)
            else:
                zi.external_attr = (stat.S_IFREG | 0o644) << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(zi, data or b"")
    return path


def tree_text(folder: Path) -> str:
    """Everything readable under ``folder`` (regular files, links not followed), concatenated."""
    out = []
    for p in sorted(folder.rglob("*")) if folder.exists() else []:
        if p.is_file() and not p.is_symlink():
            out.append(p.read_text(errors="replace"))
    return "\n".join(out)
