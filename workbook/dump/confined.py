"""Confined reading inside an evidence folder: symlinks resolved within it, O_NOFOLLOW opens, byte caps."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Callable, TypeVar

from ..model import InputError

__all__ = ["Skipped", "safe_rel", "join_within", "resolve_in_root", "kind_in_root", "read_in_root",
           "hash_in_root", "list_files", "MAX_HOPS"]

#: Symlinks followed while resolving one path (the kernel's own limit, ELOOP).
MAX_HOPS = 40

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO put where a file is expected must not hang the open
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFDIR: "a folder", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symlink"}
T = TypeVar("T")


class Skipped(InputError):
    """A file of the dump that is there but was not read: ``rel`` and ``why`` (one line each).

    >>> str(Skipped("kernel/lsmod.txt", "not a regular file (a FIFO)"))
    'kernel/lsmod.txt: not a regular file (a FIFO)'
    """

    def __init__(self, rel: str, why: str, size: int | None = None):
        super().__init__(f"{rel}: {why}")
        self.rel, self.why = rel, why
        self.size = size   #: the file's size, when it was not read for being over the cap


def safe_rel(name: str) -> str | None:
    """Normalise an archive/manifest member name; None if it is absolute or climbs out.

    >>> safe_rel("./networking/iptables-save.txt"), safe_rel("../etc/passwd"), safe_rel("/etc/x")
    ('networking/iptables-save.txt', None, None)
    """
    if not name or name.startswith("/") or "\\" in name or "\0" in name or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def join_within(base: str, target: str) -> str | None:
    """Resolve ``target`` relative to folder ``base`` lexically; None if it leaves the root.

    >>> join_within("a/b", "../c"), join_within("a", "../../etc/passwd"), join_within("", "x/./y")
    ('a/c', None, 'x/y')
    """
    stack = [p for p in base.split("/") if p not in ("", ".")]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                return None
            stack.pop()
        else:
            stack.append(part)
    return "/".join(stack)


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _walk(root: Path, rel: str, final: Callable[[int, str, os.stat_result, str], T], *,
          follow: bool = True) -> T | None:
    """Find ``rel`` under ``root`` one component at a time, from directory fds, never leaving root.

    A symlink's target is spliced in and resolved the same way (``..`` climbs the components
    walked so far; an absolute target or a climb above root is refused before anything outside is
    looked at, so the answer is the same whether the outside file exists or not). With
    ``follow=False`` any symlink on the way is refused. ``final(dir_fd, name, lstat, real_rel)``
    is called on the last component (never a symlink); None when ``rel`` is not there. Raises
    :class:`Skipped` for links leading out or nowhere and for components that cannot be read.
    """
    if safe_rel(rel) is None:
        raise Skipped(rel, "refused: path outside the dump")
    pending = [p for p in reversed(rel.split("/")) if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        while pending:
            part = pending.pop()
            if part == "..":
                if not done:
                    raise Skipped(rel, "refused: symlink points outside the dump")
                done.pop()
                os.close(fds.pop())
                continue
            try:
                st = os.stat(part, dir_fd=fds[-1], follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                if hops:
                    raise Skipped(rel, "dangling symlink (its target is not in the dump)") from None
                return None
            except OSError as e:
                raise Skipped(rel, f"unreadable: {e.strerror}") from None
            if stat.S_ISLNK(st.st_mode):
                if not follow:
                    raise Skipped(rel, "is a symlink (expected a regular file)")
                hops += 1
                if hops > MAX_HOPS:
                    raise Skipped(rel, f"symlink loop (more than {MAX_HOPS} links)")
                try:
                    target = os.readlink(part, dir_fd=fds[-1])
                except OSError as e:
                    raise Skipped(rel, f"unreadable: {e.strerror}") from None
                if target.startswith("/"):
                    raise Skipped(rel, "refused: symlink points outside the dump")
                pending.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
                continue
            if not pending:
                return final(fds[-1], part, st, "/".join([*done, part]))
            if not stat.S_ISDIR(st.st_mode):
                if hops:
                    raise Skipped(rel, "dangling symlink (its target is not in the dump)")
                return None
            try:
                fds.append(os.open(part, _DIR, dir_fd=fds[-1]))
            except OSError as e:
                raise Skipped(rel, f"unreadable: {e.strerror}") from None
            done.append(part)
        return final(fds[-1], ".", os.fstat(fds[-1]), "/".join(done))
    finally:
        for fd in fds:
            os.close(fd)


def resolve_in_root(root: Path, rel: str) -> str | None:
    """The path of ``rel`` inside ``root`` with every symlink replaced by its target (so it has
    none left), or None when it is not there. Raises :class:`Skipped` for links leading out."""
    return _walk(root, rel, lambda fd, name, st, real: real)


def kind_in_root(root: Path, rel: str) -> str | None:
    """``"file"``, ``"dir"``, ``"other"``, or None (absent, or not reachable inside ``root``)."""
    def kind(fd: int, name: str, st: os.stat_result, real: str) -> str:
        return "file" if stat.S_ISREG(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "other"
    try:
        return _walk(root, rel, kind)
    except Skipped:
        return None


def _open_regular(rel: str, fd: int, name: str, st: os.stat_result) -> int:
    if not stat.S_ISREG(st.st_mode):
        raise Skipped(rel, f"not a regular file ({_kind(st.st_mode)})")
    try:
        f = os.open(name, _FILE, dir_fd=fd)
    except OSError as e:
        raise Skipped(rel, f"unreadable: {e.strerror}") from None
    now = os.fstat(f)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
        os.close(f)
        raise Skipped(rel, "changed while being read")
    return f


def read_in_root(root: Path, rel: str, cap: int, *, follow: bool = True, head: bool = False) -> bytes | None:
    """The bytes of file ``rel`` (symlinks followed inside ``root`` only; none with ``follow=False``),
    None when it is not there. Raises :class:`Skipped` when it is there but not read: over ``cap``
    bytes, not a regular file (FIFO, folder, device), unreadable, or a link leading out or nowhere.
    ``head``: the first ``cap`` bytes of a file of any size."""
    def read(fd: int, name: str, st: os.stat_result, real: str) -> bytes:
        if stat.S_ISREG(st.st_mode) and st.st_size > cap and not head:
            raise Skipped(rel, f"{st.st_size} bytes, over the per-file read cap of {cap} bytes: not read", st.st_size)
        f = _open_regular(rel, fd, name, st)
        try:
            with os.fdopen(f, "rb", closefd=True) as fh:
                data = fh.read(cap + 1)
        except OSError as e:
            raise Skipped(rel, f"unreadable: {e.strerror}") from None
        if len(data) > cap:
            if head:
                return data[:cap]
            raise Skipped(rel, f"grew over the per-file read cap of {cap} bytes while being read: not read", len(data))
        return data
    return _walk(root, rel, read, follow=follow)


def hash_in_root(root: Path, rel: str, *, expected_size: int | None = None) -> tuple[str | None, int] | None:
    """``(sha256, size)`` of the regular file ``rel``, following no symlink at all (a MANIFEST
    lists regular files only); None when it is not there. When the size differs from
    ``expected_size`` the file is not read (sha256 None). Raises :class:`Skipped` otherwise."""
    def digest(fd: int, name: str, st: os.stat_result, real: str) -> tuple[str | None, int]:
        f = _open_regular(rel, fd, name, st)
        with os.fdopen(f, "rb", closefd=True) as fh:
            if expected_size is not None and st.st_size != expected_size:
                return None, st.st_size
            h = hashlib.sha256()
            size = 0
            try:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
            except OSError as e:
                raise Skipped(rel, f"unreadable: {e.strerror}") from None
        return h.hexdigest(), size
    return _walk(root, rel, digest, follow=False)


def list_files(root: Path, limit: int, skip_dir: Callable[[str], bool] = lambda name: False) -> list[str]:
    """Relative paths of everything under ``root`` that is not a folder (files, symlinks, FIFOs...),
    folder by folder in name order; links to folders are listed, never followed. InputError past
    ``limit`` entries."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if len(out) > limit:
            raise InputError(f"{root}: more than {limit} files: not a node dump")
        base = Path(dirpath)
        links = {d for d in dirnames if (base / d).is_symlink()}
        dirnames[:] = sorted(d for d in dirnames if d not in links and not skip_dir(d))
        out.extend((base / fn).relative_to(root).as_posix() for fn in sorted([*filenames, *links]))
    return out
