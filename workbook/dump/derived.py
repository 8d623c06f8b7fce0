"""The derived folder beside a dump (``<dump>.nfwb/``): made by nfwb, marked, never trusted otherwise.

What is derived from the evidence (an archive's extraction, caches, reports) goes to
``<dump>.nfwb/`` beside it, or to a per-user cache folder when that place is not writable. A
dump may come with hostile neighbours (a ``<dump>.nfwb`` symlink to a folder of the analyst's,
or a folder someone else owns), so nfwb only writes into a ``.nfwb`` folder it made itself:

- a new one is created private (0700) with the marker file :data:`MARKER`;
- an existing one is used only when it is a real folder (not a symlink), owned by this user,
  holding the marker; anything else is refused with one line, never followed, deleted or
  written into (move it away and run again);
- ``extracted/`` inside is replaced only when it is a real folder owned by this user, after the
  new extraction (made in a fresh private folder beside it) succeeded; a symlink there is refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
from pathlib import Path

from .archive import ExtractLimits, extract_into
from ..model import InputError

__all__ = ["derived_for", "extract_beside", "MARKER"]

#: The file that says "nfwb made this folder".
MARKER = ".nfwb-derived"
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _NotWritable(Exception):
    pass


def _claim(folder: Path) -> Path:
    """``folder``, created (private, marked) or checked to be one nfwb made; InputError if it is
    not ours, _NotWritable when it cannot be made or written to."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError as e:
        raise _NotWritable(e) from None
    else:
        dfd = os.open(folder, _DIR)
        try:
            fd = os.open(MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        finally:
            os.close(dfd)
        with os.fdopen(fd, "w") as f:
            f.write("Made by netfilter-workbook: data derived from the dump beside it. Safe to delete.\n")
        return folder
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        why = "is a symlink"
    elif not stat.S_ISDIR(st.st_mode):
        why = "is not a folder"
    elif st.st_uid != os.geteuid():
        why = f"belongs to another user (uid {st.st_uid})"
    else:
        try:
            marker = os.lstat(folder / MARKER)
        except OSError:
            marker = None
        why = "" if marker is not None and stat.S_ISREG(marker.st_mode) else f"has no {MARKER} marker"
    if why:
        raise InputError(f"{folder}: refused: {why}, not a folder nfwb made for derived data; "
                         "nfwb never follows, deletes or writes into it (move it away and run again)")
    if not os.access(folder, os.W_OK):
        raise _NotWritable(folder)
    return folder


def derived_for(path: Path) -> Path:
    """``<path>.nfwb`` beside the evidence, or a per-user cache folder when that is not writable.
    Raises :class:`InputError` when the folder exists but nfwb did not make it (see the module)."""
    beside = path.parent / (path.name + ".nfwb")
    try:
        return _claim(beside)
    except _NotWritable:
        pass
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    base = Path(os.environ.get("NFWB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nfwb")
    base.mkdir(parents=True, exist_ok=True)
    try:
        return _claim(base / f"{path.name}-{digest}")
    except _NotWritable as e:
        raise InputError(f"{path}: no writable place for derived data (beside it, or {base}): {e}") from None


def extract_beside(archive: Path, limits: ExtractLimits) -> tuple[Path, list[str]]:
    """Extract ``archive`` into ``<archive>.nfwb/extracted/`` (replacing an earlier extraction
    only once the new one succeeded). Returns that folder and notes on links not extracted."""
    derived = derived_for(archive)
    dfd = os.open(derived, _DIR)
    try:
        tmp = f".extract-{secrets.token_hex(8)}"
        os.mkdir(tmp, 0o700, dir_fd=dfd)
        try:
            tfd = os.open(tmp, _DIR, dir_fd=dfd)
            try:
                notes = extract_into(archive, tfd, limits=limits)
            finally:
                os.close(tfd)
            try:
                st = os.stat("extracted", dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None:
                if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
                    raise InputError(f"{derived / 'extracted'}: refused: "
                                     f"{'is a symlink' if stat.S_ISLNK(st.st_mode) else 'not a folder nfwb made'}; "
                                     "nfwb never follows, deletes or writes into it (move it away and run again)")
                old = f".old-{secrets.token_hex(8)}"
                os.rename("extracted", old, src_dir_fd=dfd, dst_dir_fd=dfd)
                shutil.rmtree(old, dir_fd=dfd)   # fd-based: never follows a link inside
            os.rename(tmp, "extracted", src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            shutil.rmtree(tmp, dir_fd=dfd, ignore_errors=True)
            raise
    finally:
        os.close(dfd)
    return derived / "extracted", notes
