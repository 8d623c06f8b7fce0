"""Extract tar and zip archives from their own member table: regular files only, nothing outside.

Every decision is made from the archive's member table, never from the filesystem:

- names are normalised lexically and refused when absolute or climbing out (``..``);
- symlink and hard-link targets are resolved lexically *inside the archive's namespace*, through
  the other links of the table (so a chain of links that each look harmless, e.g. a symlink
  through a directory link written after it plus a hard link to that symlink, is resolved as a
  whole and refused when it leaves the archive);
- nothing but folders and regular files is ever created: a link that resolves to a regular file
  member is written as a *copy* of that member's data; a link to a folder, to nothing, or in a
  loop is not extracted (a note says so). Why that is enough for the layouts we read: our own
  layout and the EKS log collector's contain no links; sosreports do (``lsmod``, ``ip_addr``,
  ``hostname`` … at the top are links into ``sos_commands/``, and copied ``/etc``/``/proc``
  trees keep theirs), and every link we read there points to a regular file, which the copy
  reproduces byte for byte. Folder links (``/proc/net -> self/net``) lead to nothing we read.
- files are created with ``O_CREAT|O_EXCL|O_NOFOLLOW`` relative to directory fds, inside a new
  folder only this process writes to, so no write can land anywhere else.

Bombs are bounded by :class:`ExtractLimits`: members, bytes per member and in total (links'
copies included) while extracting; bytes read per file and per dump when parsing.
"""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator, Literal

from .confined import MAX_HOPS, join_within, safe_rel
from ..model import InputError

__all__ = ["ExtractLimits", "extract_archive", "extract_into", "is_archive", "ARCHIVE_SUFFIXES"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar", ".zip")

MiB = 1024 ** 2


@dataclass(frozen=True)
class ExtractLimits:
    """Resource limits for one dump. An archive over an extraction limit is refused; a file over a
    read limit is listed but not parsed, and a finding says so (``unread-files``).

    The read caps bound what parsing can cost: a 10,000-Service kube-proxy ``iptables-save`` is
    about 14 MB, and the densest rule text costs the parser about 0.45 s and 40 MB of memory per MB.
    """

    max_total: int = 4 * 1024 ** 3     #: extraction: bytes of all members together (link copies too)
    max_file: int = 1024 ** 3          #: extraction: bytes of one member
    max_members: int = 200_000         #: extraction: number of members
    max_read: int = 64 * MiB           #: parsing: bytes of one file (bigger: not read, a finding)
    max_read_total: int = 128 * MiB    #: parsing: bytes read from one dump (later files: not read)


_COMPRESSION_MAGIC = ((b"\x1f\x8b", "gz"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"))
#: the tarfile mode that reads each kind of tar archive (one decompressor only)
_TAR_MODES: dict[str, Literal["r:", "r:gz", "r:bz2", "r:xz"]] = {
    "tar": "r:", "gz compressed tar": "r:gz", "bz2 compressed tar": "r:bz2", "xz compressed tar": "r:xz"}
assert {k for k in _TAR_MODES if k != "tar"} == {f"{mode} compressed tar" for _, mode in _COMPRESSION_MAGIC}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
           zlib.error, lzma.LZMAError, NotImplementedError, RuntimeError)
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_ZIP_LINK = 4096   # a zip symlink's target is its data: PATH_MAX at most


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(6)


def is_archive(path: Path) -> bool:
    """An archive load_dump reads: by name (``ARCHIVE_SUFFIXES``), or a tar/zip by content."""
    if not path.is_file():
        return False
    return path.name.endswith(ARCHIVE_SUFFIXES) or _head(path).startswith(_ZIP_MAGIC) or tarfile.is_tarfile(path)


def _one_line(e: BaseException) -> str:
    """An exception's text with its line breaks folded (error messages here are one line)."""
    return " ".join(str(e).split())


def _short(text: str, n: int = 120) -> str:
    r = repr(text)
    return r if len(r) <= n else r[: n - 1] + "…"


@dataclass
class _Member:
    name: str      # as written in the archive (for messages)
    rel: str       # normalised path inside the archive
    kind: str      # file, dir, symlink, hardlink
    size: int
    link: str      # a symlink's target as written; a hard link's target, normalised
    src: Any       # TarInfo or ZipInfo


def _kind(head: bytes) -> str:
    """``zip``, ``tar``, or ``gz``/``bz2``/``xz compressed tar``, from an archive's first bytes."""
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    compression = next((mode for magic, mode in _COMPRESSION_MAGIC if head.startswith(magic)), "")
    return f"{compression} compressed tar" if compression else "tar"


class _Tar:
    def __init__(self, path: Path, kind: str):
        # one mode, not "r:*" (which tries each method and reports each failure on its own line)
        self.f = tarfile.open(path, _TAR_MODES[kind])

    def members(self) -> Iterator[tuple[str, str | None, int, str, Any]]:
        for ti in self.f:
            kind = ("file" if ti.isfile() else "dir" if ti.isdir() else "symlink" if ti.issym()
                    else "hardlink" if ti.islnk() else None)
            yield ti.name, kind, ti.size, ti.linkname, ti

    def open(self, src: Any) -> IO[bytes]:
        f = self.f.extractfile(src)
        if f is None:  # callers open only the members listed as files
            raise ValueError(f"{src.name}: not a regular file")
        return f

    def close(self) -> None:
        self.f.close()


class _Zip:
    def __init__(self, path: Path):
        self.f = zipfile.ZipFile(path)
        self.name = str(path)

    def members(self) -> Iterator[tuple[str, str | None, int, str, Any]]:
        for zi in self.f.infolist():
            mode = zi.external_attr >> 16
            link = ""
            if zi.flag_bits & 0x1:
                raise InputError(f"{self.name}: refused: member {_short(zi.filename)} is encrypted")
            if zi.is_dir():
                kind: str | None = "dir"
            elif stat.S_ISLNK(mode):   # Info-ZIP stores a symlink as its target text, mode S_IFLNK
                kind = "symlink"
                if zi.file_size > _MAX_ZIP_LINK:
                    raise InputError(f"{self.name}: refused: symlink {_short(zi.filename)} has a {zi.file_size}-byte target")
                with self.f.open(zi) as fh:
                    link = fh.read(_MAX_ZIP_LINK + 1).decode("utf-8", errors="surrogateescape")
            elif stat.S_IFMT(mode) in (0, stat.S_IFREG):
                kind = "file"
            else:
                kind = None
            yield zi.filename, kind, zi.file_size, link, zi

    def open(self, src: Any) -> IO[bytes]:
        return self.f.open(src)

    def close(self) -> None:
        self.f.close()


def _reader(path: Path, kind: str) -> _Tar | _Zip:
    return _Zip(path) if kind == "zip" else _Tar(path, kind)


def _read(reader: _Tar | _Zip, name: str, limits: ExtractLimits, tree: "_Tree") -> tuple[list[_Member], dict[str, _Member], set[str]]:
    """One pass over the archive: check each member against the table so far and write regular
    files as they come (folders made as named or implied). Returns (members in archive order,
    the last member of each name, every folder)."""
    order: list[_Member] = []
    table: dict[str, _Member] = {}
    dirs: set[str] = set()
    declared = 0
    for count, (mname, kind, size, linkname, src) in enumerate(reader.members(), 1):
        rel = safe_rel(mname)
        if rel is None:
            raise InputError(f"{name}: refused: member {_short(mname)} has an absolute path or '..'")
        if count > limits.max_members:
            raise InputError(f"{name}: refused: more than {limits.max_members} members")
        if kind is None:
            raise InputError(f"{name}: refused: member {_short(mname)} is a device or special file")
        if kind == "file":
            if size > limits.max_file:
                raise InputError(f"{name}: refused: member {_short(mname)} is {size} bytes "
                                 f"(limit {limits.max_file} per file)")
            declared += size
            if declared > limits.max_total:
                raise InputError(f"{name}: refused: members add up to more than {limits.max_total} bytes")
        link = linkname
        if kind == "symlink":
            if linkname.startswith("/") or join_within(rel.rpartition("/")[0], linkname) is None:
                raise InputError(f"{name}: refused: symlink {_short(mname)} -> {_short(linkname)} points outside the archive")
        elif kind == "hardlink":   # a hard link names an earlier member, from the archive's root
            link = safe_rel(linkname) or ""
            if not link or link not in table:
                raise InputError(f"{name}: refused: hard link {_short(mname)} -> {_short(linkname)} "
                                 "points outside the archive")
        if not rel:   # "./": the root itself
            continue
        parts = rel.split("/")
        for i in range(1, len(parts)):
            above = table.get("/".join(parts[:i]))
            if above is not None and above.kind != "dir":
                what = "a file" if above.kind == "file" else f"a {above.kind.replace('hardlink', 'hard link')}"
                raise InputError(f"{name}: refused: member {_short(mname)} is inside {_short(above.name)}, "
                                 f"which is {what}, not a folder")
        old = table.get(rel)
        if (old is not None or rel in dirs) and (kind == "dir") != (rel in dirs):
            raise InputError(f"{name}: refused: {_short(mname)} is in the archive both as a folder and as a file")
        m = _Member(mname, rel, kind, size, link, src)
        table[rel] = m
        order.append(m)
        for i in range(1, len(parts) + (kind == "dir")):
            up = "/".join(parts[:i])
            if up not in dirs:
                dirs.add(up)
                tree.mkdir(up)
        if kind == "file":
            with reader.open(src) as data:
                tree.write(m, data)
    return order, table, dirs


def _resolve(table: dict[str, _Member], dirs: set[str], rel: str) -> tuple[str, str]:
    """Where ``rel`` leads in the archive's own namespace, following its links lexically:
    ``("file", path)``, ``("dir", path)``, ``("missing", "")``, ``("loop", "")`` or ``("outside", "")``.

    ``a/d -> .`` makes ``a/d/d`` the folder ``a``, so one ``..`` after it is the root, two leave it
    (lexically, without the links, both would still be inside):

    >>> t = {"a/d": _Member("a/d", "a/d", "symlink", 0, ".", None), "x": _Member("x", "x", "file", 1, "", None)}
    >>> _resolve(t, {"a"}, "a/d/d/../x"), _resolve(t, {"a"}, "a/d/d/../../x"), _resolve(t, {"a"}, "a/y")
    (('file', 'x'), ('outside', ''), ('missing', ''))
    """
    pending = [p for p in reversed(rel.split("/")) if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if not done:
                return "outside", ""
            done.pop()
            continue
        here = "/".join([*done, part])
        m = table.get(here)
        if m is not None and m.kind in ("symlink", "hardlink"):
            hops += 1
            if hops > MAX_HOPS:
                return "loop", ""
            if m.kind == "symlink":
                if m.link.startswith("/"):
                    return "outside", ""
            else:
                done = []   # a hard link's target is named from the root
            pending.extend(p for p in reversed(m.link.split("/")) if p not in ("", "."))
            continue
        if m is None and here not in dirs:
            return "missing", ""
        if pending and m is not None and m.kind == "file":
            return "missing", ""   # a path through a file: ENOTDIR
        done.append(part)
    final = "/".join(done)
    m = table.get(final)
    return ("file", final) if m is not None and m.kind == "file" else ("dir", final)


class _Tree:
    """The new folder being filled: folders and regular files only, opened from directory fds,
    bytes counted against the limits."""

    def __init__(self, fd: int, name: str, limits: ExtractLimits):
        self.fd, self.name, self.limits = fd, name, limits
        self.total = 0
        self._parent: tuple[str, int] | None = None

    def parent(self, rel: str) -> tuple[int, str]:
        folder, _, leaf = rel.rpartition("/")
        if self._parent and self._parent[0] == folder:
            return self._parent[1], leaf
        self.close()
        fd = os.dup(self.fd)
        try:
            for part in folder.split("/") if folder else []:
                nxt = os.open(part, _DIR, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        self._parent = (folder, fd)
        return fd, leaf

    def mkdir(self, rel: str) -> None:
        fd, leaf = self.parent(rel)
        os.mkdir(leaf, 0o755, dir_fd=fd)

    def write(self, m: _Member, src: IO[bytes]) -> None:
        """``src`` into a new regular file at ``m.rel`` (an earlier member of that name replaced)."""
        fd, leaf = self.parent(m.rel)
        try:
            out = os.open(leaf, _WRITE, 0o644, dir_fd=fd)
        except FileExistsError:   # the same name twice: the last one wins, as with tar
            os.unlink(leaf, dir_fd=fd)
            out = os.open(leaf, _WRITE, 0o644, dir_fd=fd)
        written = 0
        with os.fdopen(out, "wb") as f:
            while chunk := src.read(MiB):
                written += len(chunk)
                self.total += len(chunk)
                if written > self.limits.max_file:
                    raise InputError(f"{self.name}: refused: member {_short(m.name)} is larger than "
                                     f"{self.limits.max_file} bytes")
                if self.total > self.limits.max_total:
                    raise InputError(f"{self.name}: refused: members add up to more than {self.limits.max_total} bytes")
                f.write(chunk)

    def remove(self, rel: str) -> None:
        fd, leaf = self.parent(rel)
        try:
            os.unlink(leaf, dir_fd=fd)
        except FileNotFoundError:
            pass

    def open(self, rel: str) -> IO[bytes]:
        fd, leaf = self.parent(rel)
        return os.fdopen(os.open(leaf, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd), "rb")

    def close(self) -> None:
        if self._parent:
            os.close(self._parent[1])
            self._parent = None


def extract_into(archive: str | os.PathLike, dest_fd: int, *, limits: ExtractLimits = ExtractLimits()) -> list[str]:
    """Extract ``archive`` (tar: plain, gzip, xz, bzip2; or zip) into the empty folder open as
    ``dest_fd``. Returns notes on what was not extracted (links to folders or to nothing). Raises
    :class:`InputError` naming the archive for anything unsafe or corrupt (see the module's text);
    the caller removes what was written then.
    """
    path = Path(archive)
    name = str(path)
    try:
        kind = _kind(_head(path))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read: {e.strerror}") from None
    try:
        reader = _reader(path, kind)
    except _ERRORS as e:
        raise InputError(f"{name}: corrupt or unsupported archive (read as {kind}: {_one_line(e)})") from None
    tree = _Tree(dest_fd, name, limits)
    skipped: list[str] = []
    try:
        order, table, dirs = _read(reader, name, limits, tree)
        for m in order:
            if m.kind not in ("symlink", "hardlink") or table[m.rel] is not m:
                continue
            where, target = _resolve(table, dirs, m.rel)
            if where == "outside":
                kind = "symlink" if m.kind == "symlink" else "hard link"
                raise InputError(f"{name}: refused: {kind} {_short(m.name)} -> {_short(m.link)} points outside "
                                 "the archive (through the archive's other links)")
            if where == "file":
                with tree.open(target) as src:
                    tree.write(m, src)
            else:
                tree.remove(m.rel)   # a file of the same name written earlier: the link replaced it
                what = {"dir": "a folder", "missing": "nothing in the archive", "loop": "a loop of links"}[where]
                skipped.append(f"{_short(m.name)} -> {_short(m.link)} ({what})")
    except InputError:
        raise
    except _ERRORS as e:
        raise InputError(f"{name}: corrupt archive ({type(e).__name__}: {_one_line(e)})") from None
    finally:
        tree.close()
        reader.close()
    if not skipped:
        return []
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    return [f"{path.name}: {len(skipped)} link(s) not extracted (only links to files are, as copies): "
            + ", ".join(skipped[:3]) + more]


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike, *,
                    limits: ExtractLimits = ExtractLimits()) -> Path:
    """Extract a tar (plain, gzip, xz, bzip2) or zip archive into the new private folder ``dest``
    (see the module's text for what is refused). Raises :class:`InputError` naming the archive;
    nothing is left behind on error. Returns ``dest``. The archive itself is only read."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(dest, 0o700)
    except FileExistsError:
        raise InputError(f"{dest}: refused: already exists (extraction needs a new folder)") from None
    fd = os.open(dest, _DIR)
    try:
        extract_into(archive, fd, limits=limits)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    finally:
        os.close(fd)
    return dest
