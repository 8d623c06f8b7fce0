"""One loader: :func:`open_target` opens whatever a user hands us (dump folder, archive, rules file, text)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .model import InputError, Ruleset

if TYPE_CHECKING:  # pragma: no cover
    from .dump import NodeDump
    from .nft.model import NftRuleset
    from .parse.lsmod import Modules

__all__ = ["Target", "open_target", "ROUTE_FILES", "IPSET_FILES"]

#: Where the node's routes (``ip route`` output) sit in each dump layout.
ROUTE_FILES = ("network/ip-route.txt", "networking/iproute.txt", "sos_commands/networking/ip_route_show_table_all",
               "ip_route")
#: Where a dump keeps ``ipset save``.
IPSET_FILES = ("network/ipset.txt", "network/ipset-save.txt")


@dataclass
class Target:
    """What a target gave: its main ruleset (IPv4 for a dump; an empty Ruleset when it has only
    nft rules or only lsmod), the node's addresses, its ``ip route`` text, its ``ipset save``
    sets, its modules, the NodeDump (None for a single file or text) and its nft ruleset.

    ``rulesets`` holds every iptables ruleset (a dump's ``iptables``, ``ip6tables``, listings…).
    ``subject`` is what ``check``/``diff``/``report`` look at: the dump, else the file's ruleset.
    """

    ruleset: Ruleset
    node_ips: list[str] = field(default_factory=list)
    routes: str | None = None
    ipsets: dict[str, list[str]] | None = None
    modules: "Modules | None" = None
    dump: "NodeDump | None" = None
    nft: "NftRuleset | None" = None
    source: str = "<text>"
    rulesets: dict[str, Ruleset] = field(default_factory=dict)

    @property
    def path(self) -> Path | None:
        """The dump's folder (None for a single file or text)."""
        return None if self.dump is None else self.dump.path

    def text(self, relpath: str) -> str | None:
        """A file of the dump (None when absent, or for a single file or text)."""
        return None if self.dump is None else self.dump.text(relpath)

    @property
    def subject(self) -> Any:
        """What the checks, ``diff`` and the report look at: the NodeDump, else the nft ruleset of
        an nft listing, else the Ruleset (with the modules of an lsmod file when there are no rules)."""
        if self.dump is not None:
            return self.dump
        if self.nft is not None and not len(self.ruleset) and not self.ruleset.tables:
            return self.nft
        if self.modules is not None:
            return _RulesetWithModules(self.ruleset, self.modules)
        return self.ruleset


class _RulesetWithModules:
    """A bare lsmod file given where a dump is expected: no rules, just modules."""

    def __init__(self, ruleset: Ruleset, modules: Any) -> None:
        self.ruleset = ruleset
        self.rulesets = {"iptables": ruleset}
        self.modules = modules
        self.node_ips: list[str] = []
        self.path = ruleset.source

    def text(self, relpath: str) -> str | None:
        return None


def _is_path(obj: Any) -> bool:
    return isinstance(obj, os.PathLike) or (isinstance(obj, str) and "\n" not in obj and len(obj) < 4096)


def open_target(path_or_text: Any, node_ips: list[str] | None = None) -> Target:
    """Open a dump folder (any layout :func:`~workbook.dump.load_dump` knows), an archive of one
    (``.tar.*``, ``.zip``, read by the safe archive code), a rules file (iptables-save, ``-S``,
    ``-L -n -v``, ``nft list ruleset`` text or JSON, lsmod) or the text of one.

    ``node_ips`` given by the caller win over the dump's own addresses. Bad input raises
    :class:`~workbook.model.InputError` naming the file (and line).

    >>> t = open_target("tests/data/dumps/nfwb-minimal")
    >>> t.dump.layout, t.node_ips, t.ruleset.family, sorted(t.rulesets)
    ('nfwb', ['127.0.0.1', '10.0.0.5', '::1'], 'ipv4', ['ip6tables', 'iptables'])
    >>> t = open_target("*filter\\n:INPUT DROP [0:0]\\nCOMMIT\\n", ["10.0.0.1"])
    >>> t.dump, t.node_ips, t.ruleset.format, t.subject is t.ruleset
    (None, ['10.0.0.1'], 'save', True)
    """
    if isinstance(path_or_text, Target):
        return path_or_text
    if not _is_path(path_or_text):
        if not isinstance(path_or_text, str):
            raise InputError(f"not a ruleset, dump or rules file: {type(path_or_text).__name__}")
        return _from_parsed(_parse(path_or_text), "<text>", node_ips)
    p = Path(path_or_text)
    if not p.exists() and not p.is_symlink():
        raise InputError(f"{p}: no such file or directory")
    from .dump.archive import is_archive
    if p.is_dir() or (p.is_file() and is_archive(p)) or p.name.endswith(".zip"):   # load_dump says what a .zip is not
        return _from_dump(p, node_ips)
    return _from_parsed(_parse(p), str(p), node_ips)


def _parse(obj: Any) -> Any:
    from .parse import parse
    return parse(obj)


def _from_parsed(obj: Any, source: str, node_ips: list[str] | None) -> Target:
    from .nft.model import NftRuleset
    ips = list(node_ips or [])
    if isinstance(obj, Ruleset):
        name = "ip6tables" if obj.family == "ipv6" else "iptables"
        return Target(obj, ips, source=source, rulesets={name: obj})
    if isinstance(obj, NftRuleset):
        return Target(Ruleset(source=source), ips, nft=obj, source=source)
    # an lsmod file: no rules, just modules
    return Target(Ruleset(source=source, format="lsmod"), ips, modules=obj, source=source)


def _from_dump(p: Path, node_ips: list[str] | None) -> Target:
    from .dump import load_dump
    from .gc_pause import paused_gc
    with paused_gc():   # ~a million acyclic parsed objects in a large dump: see gc_pause
        d = load_dump(p)
    routes = next((t for t in map(d.text, ROUTE_FILES) if t), None)
    ipset_text = next((t for t in map(d.text, IPSET_FILES) if t), None)
    ipsets = None
    if ipset_text:  # the dump's own `ipset save`: -m set is decided, not assumed
        from .trace import ipsets_from_save
        ipsets = ipsets_from_save(ipset_text)
    rs = d.ruleset if d.ruleset is not None else Ruleset(source=str(p))
    return Target(rs, list(node_ips or d.node_ips or []), routes, ipsets, d.modules, d, d.nft, str(p),
                  dict(d.rulesets))
