"""NodeDump: load a collected node dump (our layout, EKS log collector, sosreport, loose files; folder or archive).

Evidence is read-only: archives are extracted into a *derived* folder beside them
(``<archive>.nfwb/extracted/``, or a cache folder when that place is not writable) and anything
computed later goes to :attr:`NodeDump.derived_dir` (``<dump>.nfwb/``), never into the dump.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .model import TABLE_ORDER, InputError, ParseError, Problem, Ruleset

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .nft.model import NftRuleset
    from .parse.conntrack import Conntrack
    from .parse.lsmod import Modules

__all__ = ["NodeDump", "load_dump", "save_dump", "write_manifest", "verify_manifest", "extract_archive",
           "parse_ip_addresses", "DUMP_FORMAT", "ARCHIVE_SUFFIXES", "ExtractLimits"]

#: The ``format`` value of our MANIFEST.json.
DUMP_FORMAT = "nfwb-dump/1"
TOOL = "netfilter-workbook 0.1.0"
MANIFEST = "MANIFEST.json"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar")
#: Files larger than this are listed but not read as text by :meth:`NodeDump.text`.
MAX_TEXT = 256 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Where each layout keeps what we read.  "{t}" is replaced by a table name.
# --------------------------------------------------------------------------------------------

_NFWB = {
    "save": {"iptables": ["iptables/iptables-save.txt"],
             "iptables-legacy": ["iptables/iptables-legacy-save.txt"],
             "iptables-nft": ["iptables/iptables-nft-save.txt"],
             "ip6tables": ["iptables/ip6tables-save.txt"]},
    "listing": {"iptables-L": ["iptables/iptables-L-{t}.txt"],
                "ip6tables-L": ["iptables/ip6tables-L-{t}.txt"]},
    "spec": {"iptables-S": ["iptables/iptables-S-{t}.txt"]},
    "lsmod": ["kernel/lsmod.txt"],
    "nft": ["kernel/nft-ruleset.txt", "kernel/nft-ruleset.json"],
    "addr": ["network/ip-addr.txt"],
    "route": ["network/ip-route.txt"],
    "conntrack": ["kernel/conntrack.txt", "kernel/conntrack6.txt"],
    "conntrack-count": ["kernel/conntrack-count.txt"],
    "sysctl": ["kernel/sysctl.txt"],
}
_EKS = {
    "save": {"iptables": ["networking/iptables-save.txt"],
             "ip6tables": ["networking/ip6tables-save.txt"]},
    # iptables.txt is `iptables -nvL` without -t: the filter table
    "listing": {"iptables-L": ["networking/iptables-{t}.txt", "networking/iptables.txt:filter"],
                "ip6tables-L": ["networking/ip6tables-{t}.txt", "networking/ip6tables.txt:filter"]},
    "spec": {},
    "lsmod": [],  # modinfo/ip_vs is `lsmod | grep -e ip_vs -e nf_conntrack`: not a module list
    "nft": [],
    "addr": ["networking/ifconfig.txt"],
    "route": ["networking/iproute.txt"],
    "conntrack": ["networking/conntrack.txt", "networking/conntrack6.txt"],
    "conntrack-count": [],
    "sysctl": ["sysctls/sysctl_all.txt"],
}
_SOS = {
    "save": {"iptables": ["sos_commands/firewall_tables/iptables-save", "sos_commands/networking/iptables-save"],
             "ip6tables": ["sos_commands/firewall_tables/ip6tables-save", "sos_commands/networking/ip6tables-save"]},
    "listing": {"iptables-L": ["sos_commands/firewall_tables/iptables_-t_{t}_-nvL",
                               "sos_commands/networking/iptables_-t_{t}_-nvL",
                               "sos_commands/firewall_tables/iptables_-vnxL:filter",
                               "sos_commands/networking/iptables_-vnxL:filter"],
                "ip6tables-L": ["sos_commands/firewall_tables/ip6tables_-t_{t}_-nvL",
                                "sos_commands/networking/ip6tables_-t_{t}_-nvL",
                                "sos_commands/firewall_tables/ip6tables_-vnxL:filter",
                                "sos_commands/networking/ip6tables_-vnxL:filter"]},
    "spec": {},
    "lsmod": ["sos_commands/kernel/lsmod", "lsmod", "proc/modules"],
    # sos's networking plugin (older) and nftables plugin (newer)
    "nft": ["sos_commands/nftables/nft_-a_list_ruleset", "sos_commands/networking/nft_list_ruleset",
            "sos_commands/nftables/nft_list_ruleset"],
    "addr": ["sos_commands/networking/ip_-o_addr", "ip_addr", "sos_commands/networking/ip_address"],
    "route": ["sos_commands/networking/ip_route_show_table_all", "ip_route"],
    # the conntrack plugin's listing, else the sysinfo copy of /proc (the same entries: one of them)
    "conntrack": ["sos_commands/conntrack/conntrack_-L_-o_extended|proc/net/nf_conntrack"],
    "conntrack-count": [],
    "sysctl": ["sos_commands/kernel/sysctl_-a"],
}
_PLACES = {"nfwb": _NFWB, "eks": _EKS, "sosreport": _SOS}

#: What a file of our layout is called, for each kind of content (used by :func:`save_dump`).
_NFWB_NAME = {"save:iptables": "iptables/iptables-save.txt",
              "save:iptables-legacy": "iptables/iptables-legacy-save.txt",
              "save:iptables-nft": "iptables/iptables-nft-save.txt",
              "save:ip6tables": "iptables/ip6tables-save.txt",
              "lsmod": "kernel/lsmod.txt", "addr": "network/ip-addr.txt", "route": "network/ip-route.txt",
              "conntrack": "kernel/conntrack.txt", "sysctl": "kernel/sysctl.txt",
              "nft": "kernel/nft-ruleset.txt"}

_EKS_DIRS = {"kernel", "modinfo", "system", "docker", "containerd", "storage", "var_log", "networking",
             "sandbox-image", "ipamd", "sysctls", "kubelet", "nodeadm", "cni", "gpu"}
_TRAILER = re.compile(r"^(=======|Total Number of Rules: *(\d+))\s*$")
_INET = re.compile(r"\binet6?\s+(?:addr:\s*)?([0-9a-fA-F:.]+)(?:/\d+)?")
_LOCAL_ROUTE = re.compile(r"^local\s+([0-9a-fA-F:.]+)(?:/(?:32|128))?\s")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _safe_rel(name: str) -> str | None:
    """Normalise an archive/manifest member name; None if it is absolute or climbs out.

    >>> _safe_rel("./networking/iptables-save.txt"), _safe_rel("../etc/passwd"), _safe_rel("/etc/x")
    ('networking/iptables-save.txt', None, None)
    """
    if not name or name.startswith("/") or "\\" in name or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def _join_within(base: str, target: str) -> str | None:
    """Resolve ``target`` relative to folder ``base`` lexically; None if it leaves the root.

    >>> _join_within("a/b", "../c"), _join_within("a", "../../etc/passwd"), _join_within("", "x/./y")
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


def parse_ip_addresses(text: str) -> list[str]:
    """The addresses in ``ip -o addr`` / ``ip addr`` / ``ifconfig`` output, or the ``local``
    routes of ``ip route show table all`` (in order, without prefix lengths, no repeats).

    >>> parse_ip_addresses("1: lo    inet 127.0.0.1/8 scope host lo\\\\       valid_lft forever\\n"
    ...                    "2: eth0    inet 192.168.1.10/24 brd 192.168.1.255 scope global eth0\\n"
    ...                    "2: eth0    inet6 fe80::1/64 scope link \\\\       valid_lft forever\\n")
    ['127.0.0.1', '192.168.1.10', 'fe80::1']
    >>> parse_ip_addresses("local 10.0.1.5 dev eth0 table local proto kernel scope host src 10.0.1.5\\n")
    ['10.0.1.5']
    """
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("local "):  # a local route: one address, not a range like 127.0.0.0/8
            m = _LOCAL_ROUTE.match(line)
            found = [m.group(1)] if m else []
        else:
            found = _INET.findall(line)
        for a in found:
            a = a.split("%")[0]
            if (a.count(".") == 3 or ":" in a) and a not in out:
                out.append(a)
    return out


def _looks_like_ip_addr(text: str) -> bool:
    head = text[:4000]
    return bool(re.search(r"^\d+:\s+\S+\s+inet6?\s", head, re.M)
                or re.search(r"^\d+:\s+\S+:\s+<", head, re.M) and "inet" in head)


def _strip_trailer(text: str) -> tuple[str, int | None]:
    """Blank the EKS collector's ``=======`` / ``Total Number of Rules: N`` trailer (line numbers kept)."""
    lines = text.split("\n")
    total = None
    for i in range(len(lines) - 1, max(-1, len(lines) - 6), -1):
        m = _TRAILER.match(lines[i])
        if m:
            if m.group(2):
                total = int(m.group(2))
            lines[i] = ""
    return "\n".join(lines), total


def _listing_rows(text: str) -> int:
    # what the collector's sed keeps: everything but num/blank/Chain/header lines
    return sum(1 for l in text.split("\n") if l and not l.startswith(("num", "Chain"))
               and not re.match(r"^ *pkts.*destination", l))


def _merge(parts: list[tuple[str, Ruleset]], source: str, fmt: str, family: str) -> Ruleset:
    out = Ruleset(source=source, format=fmt, family=family)
    for tname in sorted((t for _, rs in parts for t in rs.tables),
                        key=lambda t: TABLE_ORDER.index(t) if t in TABLE_ORDER else 99):
        for _, rs in parts:
            if tname in rs.tables and tname not in out.tables:
                out.tables[tname] = rs.tables[tname]
    for _, rs in parts:
        out.problems.extend(rs.problems)
        out.notes.extend(rs.notes)
    return out


# --------------------------------------------------------------------------------------------
# Archives
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExtractLimits:
    """Limits applied while extracting an archive (an archive over any of them is refused)."""

    max_total: int = 4 * 1024 ** 3     #: bytes of all members together
    max_file: int = 1024 ** 3          #: bytes of one member
    max_members: int = 200_000         #: number of members


def _is_archive(path: Path) -> bool:
    return path.is_file() and (path.name.endswith(ARCHIVE_SUFFIXES) or tarfile.is_tarfile(path))


#: The first bytes of each compression tarfile reads, and its mode suffix.
_COMPRESSION_MAGIC = ((b"\x1f\x8b", "gz"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"))


def _compression(path: Path) -> str:
    """``gz``, ``bz2``, ``xz`` or ``""`` (plain tar), from the file's first bytes.

    Opening with that one mode (rather than ``r:*``, which tries every method and reports each
    failure on its own line) gives one error for a corrupt archive.
    """
    with open(path, "rb") as f:
        head = f.read(6)
    return next((mode for magic, mode in _COMPRESSION_MAGIC if head.startswith(magic)), "")


def _one_line(e: BaseException) -> str:
    """An exception's text with its line breaks folded (error messages here are one line)."""
    return " ".join(str(e).split())


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike, *,
                    limits: ExtractLimits = ExtractLimits()) -> Path:
    """Extract a tar archive (plain, gzip, xz, bzip2) into the new folder ``dest``, refusing
    anything unsafe: absolute names, ``..``, links that point outside, devices/FIFOs, and
    members over the :class:`ExtractLimits`. Raises :class:`InputError` naming the archive.
    Returns ``dest``. The archive itself is only read.
    """
    archive, dest = Path(archive), Path(dest)
    name = str(archive)
    total = 0
    members: list[tuple[tarfile.TarInfo, str]] = []
    try:
        compression = _compression(archive)
        tf = tarfile.open(archive, f"r:{compression}")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as e:
        kind = f"{compression} compressed tar" if compression else "tar"
        raise InputError(f"{name}: corrupt or unsupported archive (read as {kind}: {_one_line(e)})") from None
    with tf:
        try:
            seen: set[str] = set()
            for m in tf:
                rel = _safe_rel(m.name)
                if rel is None:
                    raise InputError(f"{name}: refused: member {m.name!r} has an absolute path or '..'")
                if len(members) >= limits.max_members:
                    raise InputError(f"{name}: refused: more than {limits.max_members} members")
                if m.isdev() or m.isfifo() or not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                    raise InputError(f"{name}: refused: member {m.name!r} is a device or special file")
                if m.issym() or m.islnk():
                    base = str(PurePosixPath(rel).parent) if m.issym() else ""
                    tgt = m.linkname
                    target = None if tgt.startswith("/") else _join_within(base, tgt)
                    if target is None or (m.islnk() and target not in seen):
                        kind = "symlink" if m.issym() else "hard link"
                        raise InputError(f"{name}: refused: {kind} {m.name!r} -> {tgt!r} points outside the archive")
                if m.isfile():
                    if m.size > limits.max_file:
                        raise InputError(f"{name}: refused: member {m.name!r} is {m.size} bytes "
                                         f"(limit {limits.max_file} per file)")
                    total += m.size
                    if total > limits.max_total:
                        raise InputError(f"{name}: refused: members add up to more than {limits.max_total} bytes")
                if rel:
                    seen.add(rel)
                    members.append((m, rel))
            dest.mkdir(parents=True, exist_ok=False)
            links: list[tuple[tarfile.TarInfo, str]] = []
            for m, rel in members:
                out = dest / rel
                if m.isdir():
                    out.mkdir(parents=True, exist_ok=True)
                elif m.isfile():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    src = tf.extractfile(m)
                    with open(out, "wb") as f:
                        written = 0
                        while chunk := src.read(1 << 20):
                            written += len(chunk)
                            if written > limits.max_file:
                                raise InputError(f"{name}: refused: member {m.name!r} larger than its header says")
                            f.write(chunk)
                    os.chmod(out, 0o644)
                else:
                    links.append((m, rel))
            for m, rel in links:  # after the files, so that targets exist
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                if out.exists() or out.is_symlink():
                    out.unlink()
                if m.issym():
                    os.symlink(m.linkname, out)
                    # resolve to be sure a chain of links did not escape
                    real = out.resolve()
                    if not real.is_relative_to(dest.resolve()):
                        out.unlink()
                        raise InputError(f"{name}: refused: symlink {m.name!r} -> {m.linkname!r} points outside the archive")
                else:
                    shutil.copyfile(dest / (_join_within("", m.linkname) or ""), out)
        except InputError:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as e:
            shutil.rmtree(dest, ignore_errors=True)
            raise InputError(f"{name}: corrupt archive ({type(e).__name__}: {_one_line(e)})") from None
    return dest


def _derived_for(path: Path) -> Path:
    """``<path>.nfwb`` beside the evidence, or a per-user cache folder when that is not writable."""
    beside = path.parent / (path.name + ".nfwb")
    try:
        beside.mkdir(exist_ok=True)
        probe = beside / ".write-test"
        probe.write_text("")
        probe.unlink()
        return beside
    except OSError:
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
        base = Path(os.environ.get("NFWB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nfwb")
        cache = base / f"{path.name}-{digest}"
        cache.mkdir(parents=True, exist_ok=True)
        return cache


def _extract_beside(archive: Path, limits: ExtractLimits) -> Path:
    derived = _derived_for(archive)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=derived))
    shutil.rmtree(tmp)
    try:
        extract_archive(archive, tmp, limits=limits)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = derived / "extracted"
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def _dump_root(folder: Path) -> Path:
    """Descend through a lone top-level folder (sosreport-…/, eks_…/, <host>/)."""
    root = folder
    for _ in range(3):
        entries = [e for e in root.iterdir() if not e.name.startswith(".") or e.name == MANIFEST]
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() and not (root / MANIFEST).exists():
            root = entries[0]
        else:
            break
    return root


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------

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
    now = collected_at or _now()
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


def _read_manifest(root: Path) -> dict:
    raw = (root / MANIFEST).read_bytes()
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        line = getattr(e, "lineno", 1)
        raise ParseError(MANIFEST, line, f"not valid JSON ({getattr(e, 'msg', e)})") from None
    if not isinstance(manifest, dict):
        raise ParseError(MANIFEST, 1, "not a JSON object")
    if manifest.get("format") != DUMP_FORMAT:
        raise InputError(f"{MANIFEST}: unsupported format {manifest.get('format')!r} (expected {DUMP_FORMAT!r})")
    files = manifest.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) and isinstance(f.get("path"), str) for f in files):
        raise InputError(f"{MANIFEST}: 'files' must be a list of objects with a 'path'")
    for f in files:
        if _safe_rel(f["path"]) != f["path"]:
            raise InputError(f"{MANIFEST}: refused: unsafe path {f['path']!r}")
    return manifest


def verify_manifest(root: str | os.PathLike, manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Compare files with the manifest: ``[(path, why), ...]`` for each missing or changed file."""
    root = Path(root)
    bad: list[tuple[str, str]] = []
    for f in manifest.get("files", []):
        p = root / f["path"]
        if not p.is_file():
            bad.append((f["path"], "missing file"))
            continue
        digest, size = _sha256(p)
        if f.get("size") is not None and size != f["size"]:
            bad.append((f["path"], f"size mismatch ({size} bytes, manifest says {f['size']})"))
        elif f.get("sha256") and digest != f["sha256"]:
            bad.append((f["path"], "sha256 mismatch"))
    return bad


# --------------------------------------------------------------------------------------------
# NodeDump
# --------------------------------------------------------------------------------------------

@dataclass
class NodeDump:
    """One node's collected state: files, the rulesets parsed from them, modules and addresses.

    Build it with :func:`load_dump`. ``rulesets`` maps a name to a Ruleset: ``iptables`` (the
    main IPv4 rules), ``iptables-legacy``, ``iptables-nft``, ``ip6tables``, and ``iptables-L`` /
    ``ip6tables-L`` / ``iptables-S`` when listings were collected; ``netns/<name>`` for per-namespace
    saves in a sosreport. ``nft`` is the ``nft list ruleset`` view (an
    :class:`~workbook.nft.model.NftRuleset`: kube-proxy's nftables mode, firewalld, and
    iptables-nft's own tables as nft prints them), None when the dump has none.
    """

    path: Path
    layout: str
    manifest: dict | None = None
    archive: Path | None = None
    files: list[str] = field(default_factory=list)
    rulesets: dict[str, Ruleset] = field(default_factory=dict)
    modules: "Modules | None" = None
    nft: "NftRuleset | None" = None
    node_ips: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    host: str | None = None
    collected_at: str | None = None
    sources: dict[str, list[str]] = field(default_factory=dict)
    #: the connection tracking table (``conntrack -L``), when the dump has it
    conntrack_table: "Conntrack | None" = None
    #: ``sysctl`` values the dump recorded (``net.netfilter.nf_conntrack_max`` → ``"262144"``)
    sysctls: dict[str, str] = field(default_factory=dict)

    # -- access ------------------------------------------------------------------------
    @property
    def ruleset(self) -> Ruleset | None:
        """The main IPv4 ruleset: ``iptables-save`` form when collected, else the listings
        (``-L -n -v``), else ``-S``; None when the dump holds no IPv4 rules at all."""
        for name in ("iptables", "iptables-L", "iptables-S", "iptables-nft", "iptables-legacy"):
            if name in self.rulesets:
                return self.rulesets[name]
        return None

    @property
    def conntrack(self) -> "pd.DataFrame | None":
        """The conntrack table as a frame, each entry joined to the Service and endpoint it belongs
        to (see :func:`workbook.conntrack_services.join_services`); None when none was collected."""
        if self.conntrack_table is None:
            return None
        from .conntrack_services import join_services
        return join_services(self.conntrack_table, self.ruleset, self.node_ips, self.nft)

    @property
    def derived_dir(self) -> Path:
        """Where derived data (caches, reports, frames) goes: ``<dump>.nfwb/`` beside the evidence."""
        return _derived_for(self.archive or self.path)

    def _resolve(self, relpath: str) -> Path | None:
        rel = _safe_rel(relpath)
        if rel is None:
            raise InputError(f"{relpath}: refused: path outside the dump")
        p = self.path / rel
        try:
            real = p.resolve()
        except OSError:
            return None
        if not real.is_relative_to(self.path.resolve()):
            raise InputError(f"{self.path / rel}: refused: symlink points outside the dump")
        return p if p.is_file() else None

    def text(self, relpath: str) -> str | None:
        """The text of a file of the dump (relative path), or None if the dump does not have it."""
        p = self._resolve(relpath)
        if p is None:
            return None
        data = p.read_bytes()[:MAX_TEXT]
        return data.decode("utf-8", errors="replace")

    def file(self, relpath: str) -> Path | None:
        """The absolute path of a file of the dump, or None."""
        return self._resolve(relpath)

    # -- display -----------------------------------------------------------------------
    def summary(self) -> str:
        """A few lines saying what the dump holds."""
        out = [f"NodeDump {self.path} (layout {self.layout}"
               + (f", from {self.archive}" if self.archive else "") + ")",
               f"  host: {self.host or '?'}   collected at: {self.collected_at or '?'}   files: {len(self.files)}"]
        for name, rs in self.rulesets.items():
            tables = ", ".join(f"{t.name} {sum(len(c) for c in t)}" for t in rs.tables.values())
            out.append(f"  {name}: {len(rs)} rules ({tables or 'no tables'}) from {rs.source}")
        if self.nft is not None:
            out.append(f"  nft: {self.nft.summary()}")
        if self.modules is not None:
            out.append(f"  modules: {len(getattr(self.modules, 'names', []) or [])}")
        out.append(f"  node addresses: {', '.join(self.node_ips) or 'none found'}")
        if self.tampered:
            out.append(f"  TAMPERED: {', '.join(self.tampered)}")
        for n in self.notes:
            out.append(f"  note: {n}")
        if self.problems:
            out.append(f"  {len(self.problems)} problem(s):")
            out.extend(f"    {p}" for p in self.problems[:20])
            if len(self.problems) > 20:
                out.append(f"    … and {len(self.problems) - 20} more")
        return "\n".join(out)

    def __repr__(self) -> str:
        return (f"<NodeDump {str(self.path)!r} layout={self.layout} host={self.host!r} "
                f"rulesets={list(self.rulesets)} problems={len(self.problems)} tampered={len(self.tampered)}>")

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><td>{e(name)}</td><td>{len(rs)}</td><td>{e(', '.join(rs.tables))}</td>"
            f"<td><code>{e(str(rs.source))}</code></td><td>{len(rs.problems)}</td></tr>"
            for name, rs in self.rulesets.items())
        if self.nft is not None:
            rows += (f"<tr><td>nft</td><td>{len(self.nft)}</td>"
                     f"<td>{e(', '.join(f'{f} {n}' for f, n in self.nft.tables))}</td>"
                     f"<td><code>{e(self.nft.source)}</code></td><td>{len(self.nft.problems)}</td></tr>")
        warn = ""
        if self.tampered:
            warn = ("<p style='color:#b00'><b>Integrity check failed</b> for: "
                    + ", ".join(f"<code>{e(t)}</code>" for t in self.tampered) + "</p>")
        probs = ""
        if self.problems:
            items = "".join(f"<li><code>{e(str(p))}</code></li>" for p in self.problems[:20])
            more = f"<li>… and {len(self.problems) - 20} more</li>" if len(self.problems) > 20 else ""
            probs = f"<p><b>{len(self.problems)} problem(s)</b></p><ul>{items}{more}</ul>"
        notes = "".join(f"<li>{e(n)}</li>" for n in self.notes)
        mods = "—" if self.modules is None else str(len(getattr(self.modules, "names", []) or []))
        return (f"<div><b>NodeDump</b> <code>{e(str(self.path))}</code> — layout <b>{e(self.layout)}</b><br>"
                f"host <b>{e(self.host or '?')}</b>, collected {e(self.collected_at or '?')}, "
                f"{len(self.files)} files, {mods} modules, addresses: {e(', '.join(self.node_ips) or 'none')}"
                f"{warn}<table><thead><tr><th>ruleset</th><th>rules</th><th>tables</th><th>from</th>"
                f"<th>problems</th></tr></thead><tbody>{rows}</tbody></table>"
                f"{'<ul>' + notes + '</ul>' if notes else ''}{probs}</div>")


def _detect_layout(root: Path) -> str:
    if (root / MANIFEST).is_file():
        return "nfwb"
    if (root / "sos_commands").is_dir():
        return "sosreport"
    if (root / "networking" / "iptables-save.txt").is_file() or (root / "networking" / "iptables-nat.txt").is_file():
        return "eks"
    dirs = {p.name for p in root.iterdir() if p.is_dir()}
    if len(dirs & _EKS_DIRS) >= 3 and "networking" in dirs:
        return "eks"
    if (root / "iptables" / "iptables-save.txt").is_file():
        return "nfwb"
    return "loose"


#: A dump with more files than this is refused (a wrong folder, e.g. ``/``, given by mistake).
MAX_FILES = 100_000


def _list_files(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if len(out) > MAX_FILES:
            raise InputError(f"{root}: more than {MAX_FILES} files: not a node dump")
        dirnames[:] = sorted(d for d in dirnames if not d.endswith(".nfwb"))
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            try:
                st = p.lstat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                out.append(p.relative_to(root).as_posix())
    return out


class _Loader:
    def __init__(self, dump: NodeDump):
        self.d = dump

    def problem(self, source: str, line: int, message: str) -> None:
        self.d.problems.append(Problem(source, line, message))

    def read(self, rel: str) -> str | None:
        try:
            p = self.d._resolve(rel)
        except InputError as e:
            self.problem(rel, 0, str(e).split(": ", 1)[-1])
            return None
        if p is None:
            return None
        data = p.read_bytes()
        if b"\x00" in data[:65536]:
            self.problem(rel, 0, "binary data (NUL byte), not a text dump")
            return None
        return data.decode("utf-8", errors="replace")

    def parse_save(self, rel: str, ipv6: bool = False) -> Ruleset | None:
        """An iptables-save file (``ipv6``: ip6tables-save's, even when it is empty); problems recorded."""
        from .parse.save import parse_save
        text = self.read(rel)
        if text is None:
            return None
        try:
            rs = parse_save(text, rel, strict=False, family="ipv6" if ipv6 else None)
        except ParseError as e:
            self.d.problems.extend(e.problems)
            return None
        self.d.problems.extend(rs.problems)
        return rs

    def parse_view(self, kind: str, text: str, rel: str, table: str, family: str | None = None) -> Ruleset | None:
        """One table's ``-L -n -v`` (``kind="listing"``) or ``-S`` (``"spec"``) file, its problems
        recorded; None when it does not parse."""
        from .parse.listing import parse_listing
        from .parse.spec import parse_spec
        parse = parse_listing if kind == "listing" else parse_spec
        try:
            rs = parse(text, rel, strict=False, table=table, family=family)
        except ParseError as e:
            self.d.problems.extend(e.problems)
            return None
        except Exception as e:  # a parser bug must not lose the rest of the dump
            self.problem(rel, 0, f"{kind} parser failed: {type(e).__name__}: {e}")
            return None
        self.d.problems.extend(rs.problems)
        return rs

    def parse_tables(self, name: str, places: list[str], kind: str) -> Ruleset | None:
        parts: list[tuple[str, Ruleset]] = []
        family = "ipv6" if name.startswith("ip6") else "ipv4"
        for table in TABLE_ORDER:
            for pat in places:
                pat, _, only = pat.partition(":")
                if only and only != table:
                    continue
                rel = pat.format(t=table)
                if "{t}" not in pat and not only:
                    continue
                text = self.read(rel)
                if text is None:
                    continue
                text, total = _strip_trailer(text)
                if total is not None and _listing_rows(text) != total:
                    self.problem(rel, 0, f"trailer says {total} rules but the file has {_listing_rows(text)} rule lines: truncated?")
                rs = self.parse_view(kind, text, rel, table, family)
                if rs is not None:
                    parts.append((rel, rs))
                break
        if not parts:
            return None
        src = parts[0][0] if len(parts) == 1 else ", ".join(p for p, _ in parts)
        return _merge(parts, src, kind, family)

    def modules(self, places: list[str]) -> None:
        for rel in places:
            text = self.read(rel)
            if text is None:
                continue
            from .parse.lsmod import parse_lsmod
            try:
                self.d.modules = parse_lsmod(text, rel, strict=False)
                self.d.problems.extend(self.d.modules.problems)
                self.d.sources["modules"] = [rel]
            except ParseError as e:
                self.d.problems.extend(e.problems)
            except Exception as e:
                self.problem(rel, 0, f"lsmod parser failed: {type(e).__name__}: {e}")
            return

    def nft(self, places: list[str]) -> None:
        """The first ``nft list ruleset`` (text or ``-j``) file found; its problems recorded."""
        for rel in places:
            text = self.read(rel)
            if text is None:
                continue
            self.parse_nft(rel, text)
            return

    def parse_nft(self, rel: str, text: str, fmt: str | None = None) -> None:
        from .nft.parse_json import parse_nft_json
        from .nft.parse_text import parse_nft_text
        if fmt is None:
            fmt = "nft-json" if text.lstrip().startswith("{") else "nft"
        try:
            rs = (parse_nft_json if fmt == "nft-json" else parse_nft_text)(text, rel, strict=False)
        except ParseError as e:
            self.d.problems.extend(e.problems)
            return
        except Exception as e:  # a parser bug must not lose the rest of the dump
            self.problem(rel, 0, f"nft parser failed: {type(e).__name__}: {e}")
            return
        self.d.problems.extend(rs.problems)
        # iptables-nft's "# Warning: table ip nat is managed by iptables-nft" goes to stderr,
        # which our collector keeps in the manifest
        entry = next((f for f in (self.d.manifest or {}).get("files", []) if f.get("path") == rel), None)
        stderr = str((entry or {}).get("stderr") or "")
        if "managed by iptables-nft" in stderr:
            from .nft.iptables_nft import mark_iptables_nft
            from .nft.parse_text import WARNING
            rs.warnings.extend(line for line in stderr.splitlines() if WARNING.match(line))
            mark_iptables_nft(rs)
        if self.d.nft is None:
            self.d.nft = rs
            self.d.sources["nft"] = [rel]

    def addresses(self, addr: list[str], route: list[str]) -> None:
        for rel in addr + route:
            text = self.read(rel)
            if text is None:
                continue
            ips = parse_ip_addresses(text) if rel in addr else [
                a for a in parse_ip_addresses("\n".join(l for l in text.splitlines() if l.startswith("local ")))]
            if ips:
                self.d.node_ips = ips
                self.d.sources["node_ips"] = [rel]
                return

    def known_layout(self, places: dict) -> None:
        d = self.d
        for name, cands in places["save"].items():
            for rel in cands:
                rs = self.parse_save(rel, ipv6=name.startswith("ip6"))
                if rs is not None:
                    d.rulesets[name] = rs
                    d.sources[name] = [rel]
                    break
        for kind in ("listing", "spec"):
            for name, cands in places[kind].items():
                rs = self.parse_tables(name, cands, kind)
                if rs is not None:
                    d.rulesets[name] = rs
                    d.sources[name] = rs.source.split(", ")
        self.modules(places["lsmod"])
        self.nft(places["nft"])
        self.addresses(places["addr"], places["route"])
        self.conntrack(places["conntrack"], places["conntrack-count"])
        self.sysctls(places["sysctl"])

    def conntrack(self, places: list[str], count: list[str]) -> None:
        """Every conntrack listing of the dump (IPv4 and IPv6 files), merged; ``a|b``: the first of."""
        from .parse.conntrack import Conntrack, parse_conntrack
        merged: Conntrack | None = None
        for alternatives in places:
            for rel in alternatives.split("|"):
                text = self.read(rel)
                if text is None:
                    continue
                try:
                    ct = parse_conntrack(text, rel, strict=False)
                except ParseError as e:
                    self.d.problems.extend(e.problems)
                    break
                self.d.problems.extend(ct.problems)
                if merged is None:
                    merged = ct
                else:
                    merged.entries.extend(ct.entries)
                    merged.stats.extend(ct.stats)
                    merged.source += ", " + rel
                self.d.sources.setdefault("conntrack", []).append(rel)
                break
        for rel in count:
            text = self.read(rel)
            if merged is not None and text is not None and text.strip().isdigit() and len(text.strip()) < 20:
                merged.count = int(text.strip())
        self.d.conntrack_table = merged

    def sysctls(self, places: list[str]) -> None:
        """``key = value`` lines (``sysctl`` and ``sysctl -a`` output)."""
        for rel in places:
            text = self.read(rel)
            if text is None:
                continue
            for line in text.split("\n"):
                key, eq, value = line.partition("=")
                if eq and key.strip().startswith(("net.netfilter.", "net.bridge.", "net.ipv4.", "net.ipv6.")):
                    self.d.sysctls[key.strip()] = value.strip()[:200]
            self.d.sources["sysctl"] = [rel]
            return

    def sos_netns(self) -> None:
        base = self.d.path / "sos_commands" / "networking" / "namespaces"
        if not base.is_dir():
            return
        for ns in sorted(p.name for p in base.iterdir() if p.is_dir()):
            for fam, fn in (("", f"ip_netns_exec_{ns}_iptables-save"), ("6", f"ip_netns_exec_{ns}_ip6tables-save")):
                rel = f"sos_commands/networking/namespaces/{ns}/{fn}"
                if (self.d.path / rel).is_file():
                    rs = self.parse_save(rel, ipv6=fam == "6")
                    if rs is not None:
                        self.d.rulesets[f"netns{fam}/{ns}"] = rs

    def loose(self) -> None:
        from .parse.detect import detect_format
        d = self.d
        saves: list[tuple[str, Ruleset]] = []
        listings: list[tuple[str, str]] = []
        for rel in d.files:
            p = d.path / rel
            try:
                if p.stat().st_size > 64 * 1024 * 1024:
                    continue
            except OSError:
                continue
            try:
                raw = d._resolve(rel)
            except InputError as e:
                self.problem(rel, 0, str(e).split(": ", 1)[-1])
                continue
            if raw is None:
                continue
            data = raw.read_bytes()
            if b"\x00" in data[:65536]:
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if _looks_like_ip_addr(text):
                if not d.node_ips:
                    d.node_ips = parse_ip_addresses(text)
                    d.sources["node_ips"] = [rel]
                continue
            try:
                fmt = detect_format(text, rel)
            except ParseError:
                continue  # not a netfilter file: notes, configs, logs
            if fmt == "save":
                rs = self.parse_save(rel)
                if rs is not None:
                    saves.append((rel, rs))
            elif fmt == "lsmod" and d.modules is None:
                self.modules([rel])
            elif fmt in ("listing", "spec"):
                listings.append((rel, fmt))
            elif fmt in ("nft", "nft-json"):
                self.parse_nft(rel, text, fmt)
        # name the save files: the first IPv4 one whose name says iptables-save is the main one
        def rank(item: tuple[str, Ruleset]) -> tuple:
            rel, rs = item
            low = rel.lower()
            return ("legacy" in low or "nft" in low, "save" not in low, rel)
        for rel, rs in sorted(saves, key=rank):
            low = rel.lower()
            if rs.family == "ipv6":
                name = "ip6tables"
            elif "legacy" in low:
                name = "iptables-legacy"
            elif "nft" in low:
                name = "iptables-nft"
            else:
                name = "iptables"
            if name in d.rulesets:
                name = PurePosixPath(rel).name
            d.rulesets[name] = rs
            d.sources[name] = [rel]
        for rel, fmt in listings:
            text = self.read(rel) or ""
            text, _ = _strip_trailer(text)
            table = _guess_table(rel, text)
            rs = self.parse_view(fmt, text, rel, table)
            if rs is None:
                continue
            fam = "ip6tables" if rs.family == "ipv6" or "ip6" in rel.lower() else "iptables"
            name = f"{fam}-{'L' if fmt == 'listing' else 'S'}"
            if name in d.rulesets:
                # another table of the same family: merge
                old = d.rulesets[name]
                for t, tab in rs.tables.items():
                    if t not in old.tables:
                        old.tables[t] = tab
                old.problems.extend(rs.problems)
                d.sources[name].append(rel)
            else:
                d.rulesets[name] = rs
                d.sources[name] = [rel]


def _guess_table(rel: str, text: str) -> str:
    """Which table a listing shows: from the file name, else from its built-in chains."""
    low = PurePosixPath(rel).name.lower()
    for t in TABLE_ORDER:
        if re.search(rf"(^|[^a-z]){t}([^a-z]|$)", low):
            return t
    chains = set(re.findall(r"^Chain (\S+) \(policy", text, re.M))
    chains |= set(re.findall(r"^-P (\S+) ", text, re.M))
    if "POSTROUTING" in chains and "FORWARD" not in chains:
        return "nat"
    if "POSTROUTING" in chains:
        return "mangle"
    if "PREROUTING" in chains:
        return "raw"
    return "filter"


_EKS_NAME = re.compile(r"^eks_(?P<id>[^_]*)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<hm>\d{4})-UTC")
_SOS_FRIENDLY = re.compile(r"^sosreport-(?P<host>.+?)-(?P<date>\d{4}-\d{2}-\d{2})-[a-z]{7}$")
_SOS_LEGACY = re.compile(r"^sosreport-(?P<host>.+?)-(?P<ts>\d{14})$")


def _strip_suffix(name: str) -> str:
    for s in ARCHIVE_SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return name


def _identity(d: NodeDump, names: list[str]) -> None:
    """Fill host and collected_at from the manifest, files, or the folder/archive name."""
    if d.manifest:
        d.host = d.manifest.get("host")
        d.collected_at = d.manifest.get("collected_at")
        return
    for n in names:
        n = _strip_suffix(n)
        m = _EKS_NAME.match(n)
        if m:
            d.host = d.host or (m.group("id") or None)
            d.collected_at = f"{m.group('date')}T{m.group('hm')[:2]}:{m.group('hm')[2:]}:00Z"
            break
        m = _SOS_FRIENDLY.match(n)
        if m:
            d.host = d.host or m.group("host")
            d.collected_at = m.group("date")
            break
        m = _SOS_LEGACY.match(n)
        if m:
            ts = m.group("ts")
            d.host = d.host or m.group("host")
            d.collected_at = f"{ts[:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}"
            break
    if d.layout == "eks" and not d.host:
        d.host = (d.text("system/instance-id.txt") or "").strip() or None
    if d.layout == "sosreport":
        h = (d.text("hostname") or d.text("sos_commands/host/hostname") or d.text("sos_commands/general/hostname") or "").strip()
        if h:
            d.host = h.splitlines()[0].strip()


def load_dump(path: str | os.PathLike, *, strict: bool = True, limits: ExtractLimits = ExtractLimits()) -> NodeDump:
    """Load a node dump: a folder or a ``.tar.gz``/``.tgz``/``.tar.xz``/``.tar`` archive in our
    layout (MANIFEST.json), the EKS log collector's, a sosreport's, or a loose folder of files.

    Integrity: with ``strict`` (the default) a file whose sha256/size differs from MANIFEST.json,
    or is missing, raises :class:`InputError` (``MANIFEST.json: sha256 mismatch for
    iptables/iptables-save.txt``); otherwise the files are listed in ``.tampered`` and ``.problems``.
    A file that does not parse is always a problem, never fatal: the rest still loads. A folder
    of none of these layouts with no rules or lsmod output in any file is not a dump (InputError).

    >>> from pathlib import Path
    >>> d = load_dump(Path("tests/data/dumps/nfwb-minimal"))
    >>> d.layout, d.host, sorted(d.rulesets), d.node_ips
    ('nfwb', 'node-a', ['ip6tables', 'iptables'], ['127.0.0.1', '10.0.0.5', '::1'])
    >>> d.ruleset.table("nat").chain("PREROUTING").rules[0].target
    'KUBE-SERVICES'
    """
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        raise InputError(f"{p}: no such file or folder")
    archive = None
    if p.name == MANIFEST and p.is_file():
        p = p.parent
    if p.is_dir():
        folder = p
    elif _is_archive(p):
        archive = p
        folder = _extract_beside(p, limits)
    else:
        # a single file: treat its folder-of-one as a loose dump
        raise InputError(f"{p}: not a folder or a tar archive (.tar.gz, .tgz, .tar.xz, .tar); "
                         "parse a single file with `nfwb parse`")
    root = _dump_root(folder)
    layout = _detect_layout(root)
    d = NodeDump(path=root, layout=layout, archive=archive)
    d.files = _list_files(root)
    if (root / MANIFEST).is_file():
        d.manifest = _read_manifest(root)
        bad = verify_manifest(root, d.manifest)
        if bad:
            if strict:
                rel, why = bad[0]
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                raise InputError(f"{MANIFEST}: {why} for {rel}{more}")
            for rel, why in bad:
                d.tampered.append(rel)
                d.problems.append(Problem(MANIFEST, 0, f"{why} for {rel}"))
        listed = {f["path"] for f in d.manifest["files"]}
        for rel in d.files:
            if rel != MANIFEST and rel not in listed:
                d.problems.append(Problem(MANIFEST, 0, f"{rel} is not listed in the manifest (added later?)"))
        for f in d.manifest["files"]:
            if f.get("stderr"):  # e.g. "# Warning: iptables-legacy tables present, use iptables-legacy-save ..."
                d.notes.append(f"{f['path']}: {f['stderr']}")
        for err in d.manifest.get("errors") or []:
            d.notes.append(f"collection error: {err.get('command')}: {err.get('error')}")
    elif layout == "nfwb":
        d.notes.append("no MANIFEST.json: integrity not verified")
    loader = _Loader(d)
    if layout in _PLACES:
        loader.known_layout(_PLACES[layout])
        if layout == "sosreport":
            loader.sos_netns()
        if layout == "eks" and (root / "modinfo" / "ip_vs").is_file():
            d.notes.append("modinfo/ip_vs is `lsmod | grep -e ip_vs -e nf_conntrack`, not a full module list: modules unknown")
    else:
        loader.loose()
        if not d.rulesets and d.modules is None and d.nft is None:
            first = f"; {d.problems[0]}" if d.problems else ""
            raise InputError(f"{p}: not a node dump: no MANIFEST.json, EKS or sosreport layout, and no "
                             f"iptables-save, iptables -L/-S, nft list ruleset or lsmod output among its "
                             f"{len(d.files)} file(s){first}")
    if "iptables" not in d.rulesets and d.ruleset is not None:
        d.notes.append(f"no iptables-save output: the main ruleset comes from {d.ruleset.source} ({d.ruleset.format})")
    if d.ruleset is None and d.nft is not None:
        d.notes.append(f"no iptables ruleset: the rules come from nft list ruleset ({d.nft.source})")
    elif d.ruleset is None:
        d.notes.append("no IPv4 ruleset found in this dump")
    _identity(d, [n for n in ((archive.name if archive else None), folder.name, root.name) if n])
    return d


# --------------------------------------------------------------------------------------------
# Writing our layout
# --------------------------------------------------------------------------------------------

def save_dump(source: NodeDump | Mapping[str, str | bytes], folder: str | os.PathLike, *,
              host: str | None = None, collected_at: str | None = None,
              commands: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write a dump in our layout ("nfwb-dump/1") with MANIFEST.json into the new ``folder``.

    ``source`` is a mapping ``relative path → text`` (written as given), or a loaded
    :class:`NodeDump` of any layout (its netfilter files go to our names, every other file to
    ``notes/<original path>``; each file's ``note`` says where it came from). Refuses to write
    into a non-empty folder.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "node"
    >>> _ = save_dump({"kernel/lsmod.txt": "Module  Size  Used by\\n"}, out, host="n1")
    >>> sorted(p.name for p in out.rglob("*") if p.is_file())
    ['MANIFEST.json', 'lsmod.txt']
    """
    out = Path(folder)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: refusing to write a dump into a non-empty folder")
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (commands or {}).items()}
    if isinstance(source, NodeDump):
        host = host or source.host
        collected_at = collected_at or source.collected_at
        mapped: dict[str, str] = {}
        for name, rels in source.sources.items():
            key = f"save:{name}" if name in ("iptables", "iptables-legacy", "iptables-nft", "ip6tables") else name
            target = _NFWB_NAME.get(key)
            if target and len(rels) == 1:
                mapped[rels[0]] = target
        items: list[tuple[str, bytes, str | None]] = []
        for rel in source.files:
            if rel == MANIFEST:
                continue
            p = source.file(rel)
            if p is None:
                continue
            dest = mapped.get(rel) or ("notes/" + rel)
            note = None if source.layout == "nfwb" else f"from {source.layout} dump: {rel}"
            if source.layout == "nfwb":
                dest = rel
                old = next((f for f in (source.manifest or {}).get("files", []) if f["path"] == rel), None)
                if old:
                    meta.setdefault(rel, {k: old.get(k) for k in ("command", "exit_code", "collected_at", "note")})
            items.append((dest, p.read_bytes(), note))
        for dest, data, note in items:
            (out / dest).parent.mkdir(parents=True, exist_ok=True)
            (out / dest).write_bytes(data)
            if note:
                meta.setdefault(dest, {})["note"] = note
    else:
        for rel, data in source.items():
            safe = _safe_rel(rel)
            if safe is None or safe == MANIFEST:
                raise InputError(f"{rel}: refused: not a relative path inside the dump")
            (out / safe).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                (out / safe).write_bytes(data)
            else:
                (out / safe).write_text(data)
    write_manifest(out, host=host, collected_at=collected_at, commands=meta)
    return out
