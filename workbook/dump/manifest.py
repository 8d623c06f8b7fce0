"""MANIFEST.json of our dump layout: written at collection, read defensively, verified without following links."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from .confined import Skipped, hash_in_root, read_in_root, safe_rel
from ..model import InputError, ParseError

__all__ = ["MANIFEST", "DUMP_FORMAT", "TOOL", "write_manifest", "read_manifest", "verify_manifest", "unlisted_files"]

#: The ``format`` value of our MANIFEST.json.
DUMP_FORMAT = "nfwb-dump/1"
TOOL = "netfilter-workbook 0.1.0"
MANIFEST = "MANIFEST.json"
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def utc_now() -> str:
    """Now, in UTC to the second, as MANIFEST.json writes times (``2026-01-02T03:04:05Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def write_manifest(folder: str | os.PathLike, *, host: str | None = None, collected_at: str | None = None,
                   commands: Mapping[str, Mapping[str, Any]] | None = None,
                   errors: Iterable[Mapping[str, Any]] = (), extra: Mapping[str, Any] | None = None) -> dict:
    """Hash every file under ``folder`` and write ``folder/MANIFEST.json`` ("nfwb-dump/1").

    ``commands`` maps a relative path to what produced it (``command``, ``exit_code``,
    ``collected_at``, ``note``); ``errors`` lists commands that produced no file. Returns the
    manifest written.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "kernel").mkdir(); _ = (d / "kernel" / "lsmod.txt").write_text("Module Size Used by\\n")
    >>> m = write_manifest(d, host="node-1", collected_at="2026-01-01T00:00:00Z")
    >>> m["files"][0]["path"], m["files"][0]["size"], m["format"]
    ('kernel/lsmod.txt', 20, 'nfwb-dump/1')
    """
    folder = Path(folder)
    commands = commands or {}
    now = collected_at or utc_now()
    files = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        rel = p.relative_to(folder).as_posix()
        if rel == MANIFEST:
            continue
        digest, size = _sha256(p)
        meta = dict(commands.get(rel, {}))
        entry = {"path": rel, "sha256": digest, "size": size,
                 "command": meta.get("command"), "exit_code": meta.get("exit_code"),
                 "collected_at": meta.get("collected_at", now), "note": meta.get("note")}
        if meta.get("stderr"):
            entry["stderr"] = meta["stderr"]
        files.append(entry)
    manifest = {"format": DUMP_FORMAT, "host": host or folder.name, "collected_at": now, "tool": TOOL,
                "files": files, "errors": [dict(e) for e in errors]}
    if extra:
        manifest.update(extra)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    return manifest


def _text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def read_manifest(root: Path, cap: int) -> dict:
    """Read and check ``root/MANIFEST.json`` (a regular file, at most ``cap`` bytes, no symlink).

    Anything malformed is one :class:`InputError` line naming MANIFEST.json: invalid or too
    deeply nested JSON, a wrong ``format``, ``files`` not a list of objects with a safe ``path``,
    ``host``/``collected_at`` not text, ``errors`` not a list of objects with text fields.
    """
    try:
        raw = read_in_root(root, MANIFEST, cap, follow=False)
    except Skipped as e:
        raise InputError(f"{MANIFEST}: {e.why}") from None
    if raw is None:
        raise InputError(f"{MANIFEST}: missing")
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", 1)
        raise ParseError(MANIFEST, line, f"not valid JSON ({getattr(e, 'msg', e)})") from None
    except RecursionError:
        raise ParseError(MANIFEST, 1, "not valid JSON (nested too deeply)") from None
    except ValueError as e:   # e.g. an integer of more than 4300 digits
        raise ParseError(MANIFEST, 1, f"not valid JSON ({str(e).split(';')[0]})") from None
    if not isinstance(manifest, dict):
        raise ParseError(MANIFEST, 1, "not a JSON object")
    if manifest.get("format") != DUMP_FORMAT:
        fmt = manifest.get("format")
        shown = repr(fmt)[:60] if isinstance(fmt, (str, int, float, type(None))) else type(fmt).__name__
        raise InputError(f"{MANIFEST}: unsupported format {shown} (expected {DUMP_FORMAT!r})")
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files):
        raise InputError(f"{MANIFEST}: 'files' must be a list of objects with a 'path'")
    for f in files:
        if safe_rel(f["path"]) != f["path"]:
            raise InputError(f"{MANIFEST}: refused: unsafe path {f['path'][:200]!r}")
    for key in ("host", "collected_at"):
        if not _text_or_none(manifest.get(key)):
            raise InputError(f"{MANIFEST}: '{key}' must be text")
    errors = manifest.get("errors")
    if errors is not None and not (isinstance(errors, list) and all(
            isinstance(e, dict) and _text_or_none(e.get("command")) and _text_or_none(e.get("error")) for e in errors)):
        raise InputError(f"{MANIFEST}: 'errors' must be a list of objects whose 'command' and 'error' are text")
    return manifest


def _entry_problem(f: Mapping[str, Any]) -> str | None:
    """Why a manifest entry cannot vouch for its file (no or malformed sha256/size), or None."""
    sha, size = f.get("sha256"), f.get("size")
    if sha is None:
        return "no sha256 recorded (cannot be verified)"
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        return "recorded sha256 is not a sha256 digest (cannot be verified)"
    if size is None:
        return "no size recorded (cannot be verified)"
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return "recorded size is not a byte count (cannot be verified)"
    return None


def verify_manifest(root: str | os.PathLike, manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``[(path, why), ...]`` for each listed file that is missing, changed, or cannot be verified
    (no sha256/size in its entry; a symlink, FIFO or folder where a regular file was listed).

    No symlink is followed, so nothing outside the dump is read, and a link says "is a symlink"
    whether its target exists or not.
    """
    root = Path(root)
    bad: list[tuple[str, str]] = []
    for f in manifest.get("files", []):
        rel = f["path"]
        why = _entry_problem(f)
        if why:
            bad.append((rel, why))
            continue
        try:
            found = hash_in_root(root, rel, expected_size=f["size"])
        except Skipped as e:
            bad.append((rel, e.why))
            continue
        if found is None:
            bad.append((rel, "missing file"))
            continue
        digest, size = found
        if size != f["size"]:
            bad.append((rel, f"size mismatch ({size} bytes, manifest says {f['size']})"))
        elif digest != f["sha256"].lower():
            bad.append((rel, "sha256 mismatch"))
    return bad


def unlisted_files(files: Iterable[str], manifest: Mapping[str, Any]) -> list[str]:
    """The files of the dump its manifest does not list (MANIFEST.json itself aside)."""
    listed = {f["path"] for f in manifest.get("files", [])}
    return [rel for rel in files if rel != MANIFEST and rel not in listed]
