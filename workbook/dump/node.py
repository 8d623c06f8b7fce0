"""NodeDump: load a collected node dump (our layout, EKS log collector, sosreport, loose files; folder or archive).

Evidence is read-only: archives are extracted into a *derived* folder beside them
(``<archive>.nfwb/extracted/``, or a cache folder when that place is not writable) and anything
computed later goes to :attr:`NodeDump.derived_dir` (``<dump>.nfwb/``), never into the dump.
"""

from __future__ import annotations

import html
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Mapping

from .archive import ARCHIVE_SUFFIXES, ExtractLimits, extract_archive, is_archive
from .confined import Skipped, kind_in_root, list_files, read_in_root, resolve_in_root
from .confined import safe_rel as _safe_rel
from .derived import derived_for, extract_beside
from .manifest import DUMP_FORMAT, MANIFEST, TOOL, read_manifest, unlisted_files, verify_manifest, write_manifest  # noqa: F401
from ..model import TABLE_ORDER, InputError, ParseError, Problem, Ruleset
from ..parse.save import split_lines

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..nft.model import NftRuleset
    from ..parse.conntrack import Conntrack
    from ..parse.lsmod import Modules

__all__ = ["NodeDump", "load_dump", "save_dump", "write_manifest", "verify_manifest", "extract_archive",
           "parse_ip_addresses", "DUMP_FORMAT", "ARCHIVE_SUFFIXES", "ExtractLimits"]

#: What :meth:`NodeDump.text` and the loaders read of one file, when no limits are given.
MAX_TEXT = ExtractLimits().max_read


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
    for line in split_lines(text):
        if line.startswith("local "):  # a local route: one address, not a range like 127.0.0.0/8
            m = _LOCAL_ROUTE.match(line)
            found = [m.group(1)] if m else []
        else:
            found = _INET.findall(line)
        for a in found:
            a = a.split("%")[0]
            if (a.count(".") == 3 or ":" in a) and a not in out and _is_address(a):
                out.append(a)
    return out


def _is_address(text: str) -> bool:
    """An IPv4/IPv6 address (a damaged ``ip addr`` line may hold ``fe80::6f03:6200:``)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


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
# Archives and folders
# --------------------------------------------------------------------------------------------

def _dump_root(folder: Path) -> Path:
    """Descend through a lone top-level folder (sosreport-…/, eks_…/, <host>/)."""
    root = folder
    for _ in range(3):
        entries = [e for e in root.iterdir() if not e.name.startswith(".") or e.name == MANIFEST]
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() and not os.path.lexists(root / MANIFEST):
            root = entries[0]
        else:
            break
    return root


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
    #: why each file in ``tampered`` is there (sha256 mismatch, not listed, no sha256 recorded, ...)
    tampering: dict[str, str] = field(default_factory=dict)
    #: files that are in the dump but were not read, and why (over a read cap, a FIFO, unreadable,
    #: a link leading out of the dump or to nothing); the ``unread-files`` finding lists them
    skipped: dict[str, str] = field(default_factory=dict)
    #: the caps reads are held to (``max_read`` per file, ``max_read_total`` per dump)
    limits: ExtractLimits = field(default_factory=ExtractLimits, repr=False)
    _read_so_far: int = field(default=0, repr=False)
    _read_whole: set[str] = field(default_factory=set, repr=False)   # files read whole: not charged again

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
        from ..conntrack_services import join_services
        return join_services(self.conntrack_table, self.ruleset, self.node_ips, self.nft)

    @property
    def derived_dir(self) -> Path:
        """Where derived data (caches, reports, frames) goes: ``<dump>.nfwb/`` beside the evidence."""
        return derived_for(self.archive or self.path)

    def read_bytes(self, relpath: str, *, head: int | None = None) -> bytes | None:
        """The bytes of a file of the dump (relative path; symlinks followed inside the dump only),
        or None when the dump does not have it, or has it but it was not read: then
        :attr:`skipped` says why (over ``limits.max_read``, past ``limits.max_read_total`` for the
        whole dump, a FIFO or folder, unreadable, a dangling link). ``head``: only its first bytes.
        A link leading out of the dump raises :class:`InputError` (and is in :attr:`skipped`)."""
        if relpath in self.skipped:
            return None
        again = head is None and relpath in self._read_whole
        left = self.limits.max_read if again else max(0, self.limits.max_read_total - self._read_so_far)
        if left == 0:
            if kind_in_root(self.path, relpath) is None:
                return None
            self.skipped[relpath] = (f"not read: the per-dump read budget of {self.limits.max_read_total} "
                                     "bytes (ExtractLimits.max_read_total) is spent")
            return None
        cap = min(head or self.limits.max_read, left)
        try:
            data = read_in_root(self.path, relpath, cap, head=head is not None)
        except Skipped as e:
            why = e.why
            if e.size is not None and cap < self.limits.max_read:
                why = (f"{e.size} bytes, more than the {left} left of the per-dump read budget of "
                       f"{self.limits.max_read_total} bytes: not read")
            if head is None or e.size is None:
                self.skipped[relpath] = why
            if why.startswith("refused"):
                raise InputError(f"{self.path / relpath}: {why}") from None
            return None
        if data is not None and not again:
            self._read_so_far += len(data)
            if head is None:
                self._read_whole.add(relpath)
        return data

    def text(self, relpath: str) -> str | None:
        """The text of a file of the dump (relative path), or None if the dump does not have it
        (or it was not read: see :meth:`read_bytes`)."""
        data = self.read_bytes(relpath)
        return None if data is None else data.decode("utf-8", errors="replace")

    def file(self, relpath: str) -> Path | None:
        """The path of a regular file of the dump, with every symlink on the way resolved inside
        the dump (InputError for one leading out), or None."""
        try:
            real = resolve_in_root(self.path, relpath)
        except Skipped as e:
            if e.why.startswith("refused"):
                raise InputError(f"{self.path / relpath}: {e.why}") from None
            return None
        if real is None or kind_in_root(self.path, real) != "file":
            return None
        return self.path / real

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
    def has(rel: str, kind: str = "file") -> bool:
        return kind_in_root(root, rel) == kind
    if os.path.lexists(root / MANIFEST):   # even a link or FIFO: read_manifest says what is wrong
        return "nfwb"
    if has("sos_commands", "dir"):
        return "sosreport"
    if has("networking/iptables-save.txt") or has("networking/iptables-nat.txt"):
        return "eks"
    dirs = {p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()}
    if len(dirs & _EKS_DIRS) >= 3 and "networking" in dirs:
        return "eks"
    if has("iptables/iptables-save.txt"):
        return "nfwb"
    return "loose"


#: A dump with more files than this is refused (a wrong folder, e.g. ``/``, given by mistake).
MAX_FILES = 100_000
#: The loose loader decides what a file is from its first bytes (detect_format looks at 4 KiB).
_HEAD = 64 * 1024


def _list_files(root: Path) -> list[str]:
    return list_files(root, MAX_FILES, skip_dir=lambda name: name.endswith(".nfwb"))


class _Loader:
    def __init__(self, dump: NodeDump):
        self.d = dump

    def problem(self, source: str, line: int, message: str) -> None:
        self.d.problems.append(Problem(source, line, message))

    def read(self, rel: str) -> str | None:
        """A file's text; None when it is not there or not read (``d.skipped`` says why)."""
        try:
            data = self.d.read_bytes(rel)
        except InputError:   # a link out of the dump: in d.skipped
            return None
        if data is None:
            return None
        if b"\x00" in data[:65536]:
            self.problem(rel, 0, "binary data (NUL byte), not a text dump")
            return None
        return data.decode("utf-8", errors="replace")

    def parse_save(self, rel: str, ipv6: bool = False) -> Ruleset | None:
        """An iptables-save file (``ipv6``: ip6tables-save's, even when it is empty); problems recorded."""
        from ..parse.save import parse_save
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
        from ..parse.listing import parse_listing
        from ..parse.spec import parse_spec
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
            from ..parse.lsmod import parse_lsmod
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
        from ..nft.parse_json import parse_nft_json
        from ..nft.parse_text import parse_nft_text
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
            from ..nft.iptables_nft import mark_iptables_nft
            from ..nft.parse_text import WARNING
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
                a for a in parse_ip_addresses("\n".join(l for l in split_lines(text) if l.startswith("local ")))]
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
        from ..parse.conntrack import Conntrack, parse_conntrack
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
        prefix = "sos_commands/networking/namespaces/"
        files = set(self.d.files)
        for ns in sorted({rel[len(prefix):].split("/")[0] for rel in files if rel.startswith(prefix)}):
            for fam, fn in (("", f"ip_netns_exec_{ns}_iptables-save"), ("6", f"ip_netns_exec_{ns}_ip6tables-save")):
                rel = f"{prefix}{ns}/{fn}"
                if rel in files:
                    rs = self.parse_save(rel, ipv6=fam == "6")
                    if rs is not None:
                        self.d.rulesets[f"netns{fam}/{ns}"] = rs

    def loose(self) -> None:
        from ..parse.detect import detect_format
        d = self.d
        saves: list[tuple[str, Ruleset]] = []
        listings: list[tuple[str, str]] = []
        for rel in d.files:
            try:   # what a file is, from its first bytes: logs and notes are never read whole
                data = d.read_bytes(rel, head=_HEAD)
            except InputError:   # a link out of the dump: in d.skipped
                continue
            if data is None or b"\x00" in data:
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                if len(data) < _HEAD or e.start < len(data) - 3:
                    continue
                text = data[:e.start].decode("utf-8")   # a character cut at the end of the head
            if _looks_like_ip_addr(text):
                if not d.node_ips:
                    whole = self.read(rel)
                    if whole is not None:
                        d.node_ips = parse_ip_addresses(whole)
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


def _short(line: str, n: int = 300) -> str:
    """A note from the dump, one line of at most ``n`` characters."""
    line = " ".join(line.split())
    return line if len(line) <= n else line[: n - 1] + "…"


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
    """Load a node dump: a folder or a ``.tar.gz``/``.tgz``/``.tar.xz``/``.tar``/``.zip`` archive in
    our layout (MANIFEST.json), the EKS log collector's, a sosreport's, or a loose folder of files.

    Integrity: with ``strict`` (the default) a listed file whose sha256/size differs from
    MANIFEST.json, is missing, is not a regular file, or whose entry has no sha256/size raises
    :class:`InputError` (``MANIFEST.json: sha256 mismatch for iptables/iptables-save.txt``);
    otherwise the files are listed in ``.tampered`` (why: ``.tampering``) and ``.problems``. Files
    the manifest does not list are tampered too, never fatal. A file that does not parse is a
    problem, never fatal: the rest still loads. A file not read (over ``limits.max_read``, a FIFO,
    unreadable, a link out of the dump) is in ``.skipped``. A folder of none of these layouts with
    no rules or lsmod output in any file is not a dump (InputError).

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
    elif is_archive(p):
        archive = p
        folder, extract_notes = extract_beside(p, limits)
    else:
        # a single file: treat its folder-of-one as a loose dump
        raise InputError(f"{p}: not a folder or a tar archive (.tar.gz, .tgz, .tar.xz, .tar) or .zip; "
                         "parse a single file with `nfwb parse`")
    root = _dump_root(folder)
    layout = _detect_layout(root)
    d = NodeDump(path=root, layout=layout, archive=archive, limits=limits)
    if archive is not None:
        d.notes.extend(extract_notes)
    d.files = _list_files(root)
    if os.path.lexists(root / MANIFEST):
        d.manifest = read_manifest(root, limits.max_read)
        bad = verify_manifest(root, d.manifest)
        if bad and strict:
            rel, why = bad[0]
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise InputError(f"{MANIFEST}: {why} for {rel}{more}")
        bad += [(rel, "not listed in the manifest (added later?)") for rel in unlisted_files(d.files, d.manifest)]
        for rel, why in bad:
            if rel not in d.tampering:
                d.tampered.append(rel)
                d.tampering[rel] = why
            d.problems.append(Problem(MANIFEST, 0, f"{rel} is {why}" if why.startswith("not listed") else f"{why} for {rel}"))
        for f in d.manifest["files"]:
            if f.get("stderr"):  # e.g. "# Warning: iptables-legacy tables present, use iptables-legacy-save ..."
                d.notes.append(_short(f"{f['path']}: {f['stderr']}"))
        for err in d.manifest.get("errors") or []:
            d.notes.append(_short(f"collection error: {err.get('command')}: {err.get('error')}"))
    elif layout == "nfwb":
        d.notes.append("no MANIFEST.json: integrity not verified")
    loader = _Loader(d)
    if layout in _PLACES:
        loader.known_layout(_PLACES[layout])
        if layout == "sosreport":
            loader.sos_netns()
        if layout == "eks" and kind_in_root(root, "modinfo/ip_vs") == "file":
            d.notes.append("modinfo/ip_vs is `lsmod | grep -e ip_vs -e nf_conntrack`, not a full module list: modules unknown")
    else:
        loader.loose()
        if not d.rulesets and d.modules is None and d.nft is None:
            first = (f"; {d.problems[0]}" if d.problems else
                     f"; not read: {next(iter(d.skipped.items()))[0]}: {next(iter(d.skipped.values()))}" if d.skipped else "")
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
        for rel, content in source.items():
            safe = _safe_rel(rel)
            if safe is None or safe == MANIFEST:
                raise InputError(f"{rel}: refused: not a relative path inside the dump")
            (out / safe).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                (out / safe).write_bytes(content)
            else:
                (out / safe).write_text(content)
    write_manifest(out, host=host, collected_at=collected_at, commands=meta)
    return out
