"""The nftables model: NftRuleset → NftTable → NftChain / NftSet / Flowtable / NftObject → NftRule.

API (what the tracer and the frames build on):

- ``NftRuleset.tables``: ``{(family, name): NftTable}`` in listing order; ``ruleset.table("ip",
  "kube-proxy")``, ``ruleset.iter_rules()``, ``ruleset.iter_chains()``,
  ``ruleset.base_chains(family, hook)`` (sorted by priority, ties in listing order),
  ``ruleset.rules`` / ``ruleset.chains`` / ``ruleset.elements`` (pandas frames), ``len(ruleset)`` (rules),
  ``ruleset.problems`` (lenient parse), ``ruleset.format`` (``nft``, ``nft-json``).
- ``NftTable``: ``family``, ``name``, ``handle``, ``comment``, ``flags``, ``chains`` (dict),
  ``sets`` (dict; maps too, ``NftSet.is_map``), ``flowtables``, ``objects`` (named counters,
  quotas, ct helpers…: kept, not traced), ``iptables_nft`` (True when iptables-nft manages it).
- ``NftChain``: ``name``, ``type``/``hook``/``priority`` (int, resolved from a name such as
  ``dstnat - 10``) and ``priority_text`` (as printed), ``device``, ``policy`` (``accept``/
  ``drop``; None for regular chains), ``comment``, ``rules``; ``chain.is_base``.
- ``NftRule``: ``family``, ``table``, ``chain``, ``position`` (1-based), ``handle``, ``text``
  (one line exactly as nft prints it, no ``# handle``), ``comment``, ``statements`` (typed, see
  :mod:`workbook.nft.statements`; parsed on first use and cached), ``counter`` (pkts, bytes) of
  the first ``counter`` statement, ``verdict`` (``accept``, ``jump X``, ``vmap @m``, ``dnat``…),
  ``spec`` (the Trace JSON ``spec``: ``text`` without counter values), ``line`` (source line).
- ``NftSet``: ``kind`` (``set``/``map``), ``type`` (``ipv4_addr . inet_proto . inet_service``;
  ``typeof`` when declared that way), ``data`` (map value type, ``verdict`` for verdict maps),
  ``flags``, ``timeout``, ``size``, ``policy``, ``comment``, ``elements`` (:class:`SetElement`:
  ``key`` text, ``value`` text or None, ``comment``, ``timeout``, ``expires``), ``extra`` (other
  declaration lines as printed), plus ``lookup(key_text)``.

Priority names are resolved as nft does: :func:`resolve_priority`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from ..model import Problem

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .statements import Statement

__all__ = [
    "FAMILIES", "HOOKS", "PRIORITY_NAMES", "BRIDGE_PRIORITY_NAMES", "resolve_priority", "priority_text",
    "NftRule", "NftChain", "NftSet", "SetElement", "Flowtable", "NftObject", "NftTable", "NftRuleset",
]

FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
HOOKS = ("ingress", "prerouting", "input", "forward", "output", "postrouting", "egress")

#: Standard priority names (nft's ``std_prios``) for ip, ip6, inet, arp and netdev.
PRIORITY_NAMES: dict[str, int] = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0,
                                  "security": 50, "srcnat": 100}
#: The bridge family's names (nft's ``bridge_std_prios``).
BRIDGE_PRIORITY_NAMES: dict[str, int] = {"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}

_PRIO = re.compile(r"^\s*([a-z]+)\s*(?:([+-])\s*(\d+))?\s*$")


def resolve_priority(text: str, family: str) -> int:
    """The number a chain priority stands for.

    >>> resolve_priority("dstnat - 10", "ip"), resolve_priority("filter", "inet"), resolve_priority("-110", "ip")
    (-110, 0, -110)
    >>> resolve_priority("dstnat", "bridge"), resolve_priority("out", "bridge")
    (-300, 100)
    """
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    m = _PRIO.match(t)
    names = BRIDGE_PRIORITY_NAMES if family == "bridge" else PRIORITY_NAMES
    if not m or m.group(1) not in names:
        raise ValueError(f"unknown priority {text!r} for family {family}")
    base = names[m.group(1)]
    if m.group(2):
        base += int(m.group(3)) if m.group(2) == "+" else -int(m.group(3))
    return base


def priority_text(value: int, family: str, hook: str | None) -> str:
    """How nft 1.0.6 prints a priority: by name where the name fits the hook, else the number.

    >>> priority_text(-110, "ip", "prerouting"), priority_text(-100, "ip", "output"), priority_text(5, "inet", "input")
    ('dstnat - 10', '-100', 'filter + 5')
    """
    if family == "bridge":
        names = BRIDGE_PRIORITY_NAMES
        allowed = {"dstnat": ("prerouting",), "srcnat": ("postrouting",), "out": ("output",)}
    else:
        names = PRIORITY_NAMES
        allowed = {"dstnat": ("prerouting",), "srcnat": ("postrouting",)}
    if family == "netdev":
        names = {"filter": 0}
    best = None
    for name, base in names.items():
        if name in allowed and hook not in allowed[name]:
            continue
        d = value - base
        if abs(d) <= 10 and (best is None or abs(d) < abs(best[1])):
            best = (name, d)
    if best is None:
        return str(value)
    name, d = best
    return name if d == 0 else f"{name} {'+' if d > 0 else '-'} {abs(d)}"


@dataclass(slots=True, eq=False)
class NftRule:
    """One rule of a chain (see the module docstring)."""

    family: str
    table: str
    chain: str
    position: int
    text: str
    handle: int | None = None
    line: int = 0
    _statements: "tuple[Statement, ...] | None" = field(default=None, repr=False)
    _comment: "str | None | bool" = field(default=False, repr=False)

    def _parse(self) -> "tuple[tuple[Statement, ...], str | None]":
        from .rule_text import parse_rule_text
        statements, comment = parse_rule_text(self.text)
        self._statements, self._comment = statements, comment
        return statements, comment

    @property
    def statements(self) -> "tuple[Statement, ...]":
        if self._statements is None:
            return self._parse()[0]
        return self._statements

    @property
    def comment(self) -> str | None:
        if self._comment is False:
            if ' comment "' not in self.text and not self.text.startswith("comment "):
                return None
            return self._parse()[1]
        return self._comment if isinstance(self._comment, str) else None  # parsed: the text or None

    @property
    def counter(self) -> tuple[int, int] | None:
        if "counter packets" not in self.text:
            return None
        from .statements import Counter
        for s in self.statements:
            if isinstance(s, Counter) and s.packets is not None:
                return (s.packets, s.bytes or 0)
        return None

    @property
    def verdict(self) -> str | None:
        """What the rule does when it matches: ``accept``, ``drop``, ``jump X``, ``goto X``,
        ``return``, ``continue``, ``vmap @m`` / ``vmap {…}``, ``dnat``/``snat``/``masquerade``/
        ``redirect``, ``reject``, ``queue``; None when it only matches/sets/counts."""
        from .statements import Nat, Reject, Verdict, VerdictMap
        found = None
        for s in self.statements:
            if isinstance(s, Verdict):
                return s.text if s.kind != "queue" else "queue"
            if isinstance(s, VerdictMap):
                return "vmap " + s.map.text if s.map.text.startswith("@") else "vmap {…}"
            if isinstance(s, Nat):
                found = s.kind
            elif isinstance(s, Reject):
                return "reject"
        return found

    @property
    def spec(self) -> str:
        """The rule for Trace JSON: one line, no handle, counter values left out (``nft -s``)."""
        from .rule_text import stateless
        return stateless(self.text)

    def __str__(self) -> str:
        return self.text


@dataclass(slots=True, eq=False)
class NftChain:
    """A chain; ``hook`` is None for a regular chain."""

    family: str
    table: str
    name: str
    handle: int | None = None
    type: str | None = None
    hook: str | None = None
    priority: int | None = None
    priority_text: str | None = None
    device: str | None = None
    policy: str | None = None
    comment: str | None = None
    rules: list[NftRule] = field(default_factory=list)
    line: int = 0

    @property
    def is_base(self) -> bool:
        return self.hook is not None

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[NftRule]:
        return iter(self.rules)


@dataclass(slots=True, eq=False)
class SetElement:
    """One element: ``key`` (text, e.g. ``10.96.0.1 . tcp . 443``), ``value`` for maps
    (``goto service-…``), ``comment``, ``timeout``/``expires`` as printed."""

    key: str
    value: str | None = None
    comment: str | None = None
    timeout: str | None = None
    expires: str | None = None
    counter: str | None = None
    line: int = 0

    def text(self, stateless: bool = False) -> str:
        parts = [self.key]
        if self.counter:
            parts.append("counter" if stateless else self.counter)
        if self.timeout:
            parts.append(f"timeout {self.timeout}")
        if self.expires and not stateless:
            parts.append(f"expires {self.expires}")
        if self.comment is not None:
            parts.append('comment "' + self.comment.replace('"', '\\"') + '"')
        if self.value is not None:
            parts.append(": " + self.value)
        return " ".join(parts)


@dataclass(slots=True, eq=False)
class NftSet:
    """A named set or map with its elements."""

    family: str
    table: str
    name: str
    kind: str = "set"
    handle: int | None = None
    type: str | None = None
    typeof: bool = False
    data: str | None = None
    flags: tuple[str, ...] = ()
    timeout: str | None = None
    size: int | None = None
    policy: str | None = None
    comment: str | None = None
    elements: list[SetElement] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    line: int = 0
    _index: "dict[str, SetElement] | None" = field(default=None, repr=False)

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    @property
    def is_vmap(self) -> bool:
        return self.kind == "map" and self.data == "verdict"

    def lookup(self, key: str) -> SetElement | None:
        """The element whose key text is ``key`` (exact text; intervals are the tracer's job)."""
        if self._index is None or len(self._index) != len(self.elements):
            self._index = {e.key: e for e in self.elements}
        return self._index.get(key)

    def __len__(self) -> int:
        return len(self.elements)


@dataclass(slots=True, eq=False)
class Flowtable:
    """A flowtable: kept for printing and frames, not traced."""

    family: str
    table: str
    name: str
    handle: int | None = None
    hook: str | None = None
    priority_text: str | None = None
    devices: tuple[str, ...] = ()
    extra: list[str] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True, eq=False)
class NftObject:
    """A stateful object (``counter``, ``quota``, ``ct helper``, ``limit``, ``secmark``…):
    ``kind``, ``name`` and its body lines as printed."""

    family: str
    table: str
    kind: str
    name: str
    handle: int | None = None
    body: list[str] = field(default_factory=list)
    line: int = 0


@dataclass(slots=True, eq=False)
class NftTable:
    """A table of one family."""

    family: str
    name: str
    handle: int | None = None
    comment: str | None = None
    flags: tuple[str, ...] = ()
    chains: dict[str, NftChain] = field(default_factory=dict)
    sets: dict[str, NftSet] = field(default_factory=dict)
    flowtables: dict[str, Flowtable] = field(default_factory=dict)
    objects: list[NftObject] = field(default_factory=list)
    iptables_nft: bool = False
    line: int = 0
    #: Order of sets/maps/flowtables/objects as listed ([(kind, name)]), for printing.
    order: list[tuple[str, str]] = field(default_factory=list)

    def chain(self, name: str) -> NftChain:
        try:
            return self.chains[name]
        except KeyError:
            raise KeyError(f"no chain {name!r} in table {self.family} {self.name}") from None

    def set(self, name: str) -> NftSet:
        try:
            return self.sets[name]
        except KeyError:
            raise KeyError(f"no set or map {name!r} in table {self.family} {self.name}") from None

    def rules(self) -> Iterator[NftRule]:
        for c in self.chains.values():
            yield from c.rules

    def __iter__(self) -> Iterator[NftChain]:
        return iter(self.chains.values())


@dataclass(slots=True, eq=False)
class NftRuleset:
    """Everything read from one nft listing (see the module docstring)."""

    tables: dict[tuple[str, str], NftTable] = field(default_factory=dict)
    source: str = "<text>"
    format: str = "nft"
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Trailer lines such as "# Warning: table ip nat is managed by iptables-nft, do not touch!".
    warnings: list[str] = field(default_factory=list)

    family = "nft"

    def table(self, family: str, name: str | None = None) -> NftTable:
        """``table("ip", "kube-proxy")`` (or ``table("kube-proxy")`` when the name is unique)."""
        if name is None:
            found = [t for (f, n), t in self.tables.items() if n == family]
            if len(found) == 1:
                return found[0]
            raise KeyError(f"{len(found)} tables named {family!r} in {self.source}")
        try:
            return self.tables[(family, name)]
        except KeyError:
            have = ", ".join(f"{f} {n}" for f, n in self.tables) or "none"
            raise KeyError(f"no table {family} {name} in {self.source} (has: {have})") from None

    def __contains__(self, key: object) -> bool:
        return key in self.tables

    def __len__(self) -> int:
        return sum(len(c.rules) for t in self.tables.values() for c in t.chains.values())

    def iter_rules(self) -> Iterator[NftRule]:
        for t in self.tables.values():
            yield from t.rules()

    def iter_chains(self) -> Iterator[NftChain]:
        for t in self.tables.values():
            yield from t.chains.values()

    def iter_sets(self) -> Iterator[NftSet]:
        for t in self.tables.values():
            yield from t.sets.values()

    def base_chains(self, family: str | None = None, hook: str | None = None) -> list[NftChain]:
        """Base chains (of a family as the kernel sees it: an ``inet`` chain also runs for ``ip``
        and ``ip6`` packets), at ``hook``, ordered by priority; equal priorities keep listing order."""
        fams = {family, "inet"} if family in ("ip", "ip6") else {family}
        out = [c for c in self.iter_chains() if c.is_base and (family is None or c.family in fams)
               and (hook is None or c.hook == hook)]
        out.sort(key=lambda c: c.priority or 0)
        return out

    @property
    def rules(self) -> "pd.DataFrame":
        """One row per rule (columns :data:`workbook.frames.NFT_RULE_COLUMNS`)."""
        from ..frames import nft_rules_frame
        return nft_rules_frame(self)

    @property
    def chains(self) -> "pd.DataFrame":
        """One row per chain (columns :data:`workbook.frames.NFT_CHAIN_COLUMNS`)."""
        from ..frames import nft_chains_frame
        return nft_chains_frame(self)

    @property
    def elements(self) -> "pd.DataFrame":
        """One row per set/map element (columns :data:`workbook.frames.NFT_ELEMENT_COLUMNS`)."""
        from ..frames import nft_elements_frame
        return nft_elements_frame(self)

    def to_nft(self, stateless: bool = False, handles: bool = False, portable: bool = False) -> str:
        """``nft list ruleset`` text (``nft -f`` reads it back; ``portable``: priority names only
        where nft 1.0.6 accepts them, for listings printed by a newer nft)."""
        from .printer import print_ruleset
        return print_ruleset(self, stateless=stateless, handles=handles, portable=portable)

    def summary(self) -> str:
        parts = [f"{f} {n}: {len(t.chains)} chains, {sum(len(c) for c in t)} rules, {len(t.sets)} sets"
                 + (" (iptables-nft)" if t.iptables_nft else "") for (f, n), t in self.tables.items()]
        return f"nftables ruleset from {self.source} ({self.format}): " + "; ".join(parts)

    def __repr__(self) -> str:
        return (f"<NftRuleset {self.source!r} tables={[f'{f} {n}' for f, n in self.tables]} "
                f"rules={len(self)} problems={len(self.problems)}>")

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(f)}</td><td>{html.escape(n)}</td><td>{len(t.chains)}</td>"
            f"<td>{sum(1 for c in t if c.is_base)}</td><td>{sum(len(c) for c in t)}</td>"
            f"<td>{len(t.sets)}</td><td>{'yes' if t.iptables_nft else ''}</td></tr>"
            for (f, n), t in self.tables.items())
        probs = ""
        if self.problems:
            items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in self.problems[:20])
            probs = f"<p><b>{len(self.problems)} problem(s):</b></p><ul>{items}</ul>"
        return (f"<div><b>nftables ruleset</b> <code>{html.escape(self.source)}</code> ({html.escape(self.format)})"
                "<table><thead><tr><th>family</th><th>table</th><th>chains</th><th>base</th><th>rules</th>"
                f"<th>sets</th><th>iptables-nft</th></tr></thead><tbody>{rows}</tbody></table>{probs}</div>")
