"""The typed model of a ruleset: Ruleset → Table → Chain → Rule, with fields as iptables prints them."""

from __future__ import annotations

import html
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Iterator

from .vocab import BUILTIN_CHAINS, TABLES

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "Option", "Match", "Rule", "Chain", "Table", "Ruleset", "Problem", "ParseError", "InputError",
    "BUILTIN_CHAINS", "TABLE_ORDER", "save_string", "spec_texts",
]

#: Built-in chains of each table, and the order iptables-legacy-save prints tables: :mod:`workbook.vocab`'s
TABLE_ORDER: tuple[str, ...] = TABLES

_BARE = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def save_string(value: str) -> str:
    """Quote a string the way ``xtables_save_string`` does.

    >>> save_string("kubernetes service portals")
    '"kubernetes service portals"'
    >>> save_string("ct_state_invalid_dropped_pkts")
    'ct_state_invalid_dropped_pkts'
    >>> save_string('dnat name: "k8s"')
    '"dnat name: \\\\"k8s\\\\""'
    """
    if value and all(c in _BARE for c in value):
        return value
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return f'"{out}"'


# Options whose single value iptables-save prints through xtables_save_string (quoted when
# it holds anything outside [A-Za-z0-9_-]).
QUOTED_OPTIONS = frozenset({"--comment", "--log-prefix", "--nflog-prefix", "--nfacct-name"})


@dataclass(frozen=True, slots=True)
class Problem:
    """Something a lenient parse could not use: where it was and why (line 0: the whole file).

    >>> str(Problem("rules.txt", 7, "unterminated quote")), str(Problem("dump/", 0, "is a directory"))
    ('rules.txt:7: unterminated quote', 'dump/: is a directory')
    """

    source: str
    line: int
    message: str
    text: str = ""

    def __str__(self) -> str:
        return _where(self.source, self.line, self.message)


def _where(source: str, line: int, message: str) -> str:
    """``file:line: message``, or ``file: message`` for line 0 (about the whole file)."""
    return f"{source}:{line}: {message}" if line else f"{source}: {message}"


class InputError(ValueError):
    """Bad input of any kind (a missing file, a corrupt archive, a tampered manifest).

    ``str(err)`` is the one-line message the CLI prints before exiting with status 2.
    """


class ParseError(InputError):
    """Bad input, named by file and line: ``str(err)`` is the one-line message the CLI prints.

    >>> str(ParseError("rules.txt", 7, "unterminated quote")), str(ParseError("rules.txt", 0, "empty file"))
    ('rules.txt:7: unterminated quote', 'rules.txt: empty file')
    """

    def __init__(self, source: str, line: int, message: str, problems: list[Problem] | None = None):
        self.source, self.line, self.message = source, line, message
        self.problems = problems or [Problem(source, line, message)]
        super().__init__(_where(source, line, message))


@dataclass(frozen=True, slots=True)
class Option:
    """One option of a match or target: ``! --ctstate RELATED,ESTABLISHED`` is
    ``Option("--ctstate", ("RELATED,ESTABLISHED",), negated=True)``."""

    flag: str
    args: tuple[str, ...] = ()
    negated: bool = False

    @property
    def value(self) -> str:
        """The arguments joined by spaces (``""`` for a flag without arguments)."""
        return " ".join(self.args)

    def to_save(self) -> str:
        parts = ["!"] if self.negated else []
        parts.append(self.flag)
        if self.flag in QUOTED_OPTIONS and self.args:
            sep = "  " if self.flag == "--nfacct-name" else " "
            return " ".join(parts) + sep + save_string(" ".join(self.args))
        parts.extend(save_string(a) if not a or any(c.isspace() or c in "\"'\\" for c in a) else a
                     for a in self.args)
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Match:
    """A ``-m module`` with its options, e.g. ``-m tcp --dport 53``."""

    module: str
    options: tuple[Option, ...] = ()

    def get(self, flag: str) -> Option | None:
        """The option named ``flag`` (e.g. ``"--dport"``), or None."""
        for o in self.options:
            if o.flag == flag:
                return o
        return None

    def to_save(self) -> str:
        if not self.options:
            return f"-m {self.module}"
        return f"-m {self.module} " + " ".join(o.to_save() for o in self.options)


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, its fields as ``iptables-save`` prints them.

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n-A PREROUTING -d 10.0.0.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.1.0.5:53\\nCOMMIT\\n')
    >>> r = rs.table("nat").chain("PREROUTING").rules[0]
    >>> (r.destination, r.protocol, r.target, r.target_option("--to-destination").value)
    ('10.0.0.1/32', 'udp', 'DNAT', '10.1.0.5:53')
    >>> r.spec
    '-A PREROUTING -d 10.0.0.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.1.0.5:53'
    """

    table: str
    chain: str
    position: int = 0
    source: str | None = None
    source_negated: bool = False
    destination: str | None = None
    destination_negated: bool = False
    protocol: str | None = None
    protocol_negated: bool = False
    in_interface: str | None = None
    in_interface_negated: bool = False
    out_interface: str | None = None
    out_interface_negated: bool = False
    fragment: bool | None = None
    matches: tuple[Match, ...] = ()
    target: str | None = None
    goto: bool = False
    target_options: tuple[Option, ...] = ()
    pkts: int | None = None
    bytes: int | None = None
    family: str = "ipv4"
    origin: str | None = None
    #: True when pkts/bytes came from a listing's K/M/G/T abbreviation (rounded, decimal ×1000).
    counters_approx: bool = False
    # Parsers may create a rule whose fields are filled on first access (a large iptables-save
    # is read much faster that way): ``_lazy`` then holds ``(fill, ...)`` and ``fill(rule)`` sets
    # every field. Not part of the rule's value (no init, eq, hash or repr).
    _lazy: Any = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __getattr__(self, name: str):
        # Only reached when a field's slot is still empty, i.e. for a lazily created rule.
        if name in _RULE_FIELD_NAMES:
            try:
                lazy = _RULE_LAZY_GET(self)
            except AttributeError:
                lazy = None
            if lazy is not None:
                lazy[0](self)
                return object.__getattribute__(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # -- lookups -----------------------------------------------------------------------
    def match(self, module: str) -> Match | None:
        """The first ``-m module`` of this rule, or None."""
        for m in self.matches:
            if m.module == module:
                return m
        return None

    def option(self, flag: str) -> Option | None:
        """The first match option named ``flag`` in any module, or None."""
        for m in self.matches:
            for o in m.options:
                if o.flag == flag:
                    return o
        return None

    def target_option(self, flag: str) -> Option | None:
        """The target option named ``flag`` (e.g. ``"--to-destination"``), or None."""
        for o in self.target_options:
            if o.flag == flag:
                return o
        return None

    @property
    def comment(self) -> str | None:
        """All ``-m comment`` texts of the rule joined by ``"; "`` (None when there is none)."""
        found = [o.value for m in self.matches if m.module == "comment" for o in m.options
                 if o.flag == "--comment"]
        return "; ".join(found) if found else None

    @property
    def counters(self) -> tuple[int, int] | None:
        if self.pkts is None or self.bytes is None:
            return None
        return (self.pkts, self.bytes)

    # -- text --------------------------------------------------------------------------
    def body(self, match_texts: dict[int, str] | None = None, keep: list | None = None) -> str:
        """The rule's options after ``-A CHAIN``, in iptables-save order. ``match_texts`` (with
        ``keep``, which holds the Match objects whose id() is a key) caches each Match's text
        across rules: see :func:`spec_texts`."""
        parts: list[str] = []
        for value, neg, flag in (
            (self.source, self.source_negated, "-s"),
            (self.destination, self.destination_negated, "-d"),
            (self.in_interface, self.in_interface_negated, "-i"),
            (self.out_interface, self.out_interface_negated, "-o"),
            (self.protocol, self.protocol_negated, "-p"),
        ):
            if value is not None:
                parts.append(f"! {flag} {value}" if neg else f"{flag} {value}")
        if self.fragment is not None:
            parts.append("-f" if self.fragment else "! -f")
        if match_texts is None:
            parts.extend(m.to_save() for m in self.matches)
        else:
            for m in self.matches:
                t = match_texts.get(id(m))
                if t is None:
                    t = match_texts[id(m)] = m.to_save()
                    if keep is not None:  # given with match_texts (see spec_texts)
                        keep.append(m)
                parts.append(t)
        if self.target is not None:
            parts.append(("-g " if self.goto else "-j ") + self.target)
            parts.extend(o.to_save() for o in self.target_options)
        return " ".join(parts)

    @property
    def spec(self) -> str:
        """The rule exactly as ``iptables-save`` prints it, without counters."""
        body = self.body()
        return f"-A {self.chain} {body}" if body else f"-A {self.chain}"

    def to_save(self, counters: bool = False) -> str:
        """The save line; with ``counters`` prefixed by ``[pkts:bytes]`` as ``iptables-save -c``."""
        if counters:
            return f"[{self.pkts or 0}:{self.bytes or 0}] {self.spec}"
        return self.spec

    def normalized(self) -> tuple:
        """A key equal for rules that do the same thing (comments and counters ignored)."""
        matches = tuple(m for m in self.matches if m.module != "comment")
        return (self.table, self.chain, replace(self, matches=matches, pkts=None, bytes=None,
                                                origin=None, position=0).body())

    def __str__(self) -> str:
        return self.spec


def spec_texts(rules: list[Rule], texts: dict[int, str] | None = None, keep: list | None = None) -> list[str]:
    """``[r.spec for r in rules]``, each distinct Match object printed once (parsers share equal
    matches between rules); ``texts``/``keep`` let a caller reuse the cache (``keep`` holds the
    Match objects whose id() is a key).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT ! -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j ACCEPT\\nCOMMIT\\n')
    >>> spec_texts(list(rs.iter_rules())) == [r.spec for r in rs.iter_rules()]
    True
    """
    texts = {} if texts is None else texts
    keep = [] if keep is None else keep
    out = []
    for r in rules:
        body = r.body(texts, keep)
        out.append(f"-A {r.chain} {body}" if body else f"-A {r.chain}")
    return out


_RULE_FIELD_NAMES = frozenset(f.name for f in fields(Rule) if f.name != "_lazy")
_RULE_LAZY_GET = Rule.__dict__["_lazy"].__get__


@dataclass(slots=True)
class Chain:
    """A chain: built-in (with a policy) or user-defined (policy None)."""

    table: str
    name: str
    policy: str | None = None
    pkts: int | None = None
    bytes: int | None = None
    rules: list[Rule] = field(default_factory=list)
    references: int | None = None
    origin: str | None = None
    #: True when the policy counters came from a listing's K/M/G/T abbreviation (rounded).
    counters_approx: bool = False

    @property
    def builtin(self) -> bool:
        return self.name in BUILTIN_CHAINS.get(self.table, ())

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def declaration(self, counters: bool = True) -> str:
        """The chain's line in iptables-save output (policy counters only with ``counters``).

        >>> Chain("filter", "INPUT", "DROP", 12, 720).declaration(), Chain("filter", "INPUT", "DROP", 12, 720).declaration(False)
        (':INPUT DROP [12:720]', ':INPUT DROP [0:0]')
        >>> Chain("nat", "KUBE-SERVICES").declaration()
        ':KUBE-SERVICES - [0:0]'
        """
        if self.policy is None and not self.builtin:
            return f":{self.name} - [0:0]"
        counts = f"[{self.pkts or 0}:{self.bytes or 0}]" if counters else "[0:0]"
        return f":{self.name} {self.policy or 'ACCEPT'} {counts}"


@dataclass(slots=True)
class Table:
    """A table (``raw``, ``mangle``, ``nat``, ``filter``, ``security``) and its chains in order."""

    name: str
    chains: dict[str, Chain] = field(default_factory=dict)

    def chain(self, name: str) -> Chain:
        try:
            return self.chains[name]
        except KeyError:
            raise KeyError(f"no chain {name!r} in table {self.name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.chains

    def __iter__(self) -> Iterator[Chain]:
        return iter(self.chains.values())

    def rules(self) -> Iterator[Rule]:
        for c in self.chains.values():
            yield from c.rules


@dataclass(slots=True)
class Ruleset:
    """Everything parsed from one dump: tables of chains of rules, plus what could not be parsed.

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*filter\\n:INPUT DROP [0:0]\\n-A INPUT -i lo -j ACCEPT\\nCOMMIT\\n')
    >>> rs.table("filter").chain("INPUT").policy, len(rs)
    ('DROP', 1)
    """

    tables: dict[str, Table] = field(default_factory=dict)
    family: str = "ipv4"
    source: str = "<text>"
    format: str = "save"
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # -- access ------------------------------------------------------------------------
    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"no table {name!r} in {self.source} (has: {', '.join(self.tables) or 'none'})") from None

    def chain(self, table: str, name: str) -> Chain:
        return self.table(table).chain(name)

    def __getitem__(self, name: str) -> Table:
        return self.table(name)

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    def __len__(self) -> int:
        return sum(len(c.rules) for t in self.tables.values() for c in t.chains.values())

    def iter_rules(self) -> Iterator[Rule]:
        for t in self.tables.values():
            yield from t.rules()

    def iter_chains(self) -> Iterator[Chain]:
        for t in self.tables.values():
            yield from t.chains.values()

    # -- output ------------------------------------------------------------------------
    def to_save(self, counters: bool = False) -> str:
        """iptables-save text that ``iptables-restore`` accepts (``counters`` as ``-c``)."""
        out: list[str] = []
        for t in self.tables.values():
            out.append(f"*{t.name}")
            out.extend(c.declaration(counters) for c in t.chains.values())
            texts: dict[int, str] = {}
            keep: list = []
            for c in t.chains.values():
                if counters:
                    out.extend(f"[{r.pkts or 0}:{r.bytes or 0}] {s}"
                               for r, s in zip(c.rules, spec_texts(c.rules, texts, keep)))
                else:
                    out.extend(spec_texts(c.rules, texts, keep))
            out.append("COMMIT")
        return "\n".join(out) + "\n"

    @property
    def rules(self) -> "pd.DataFrame":
        """All rules as a pandas frame (columns in :data:`workbook.frames.RULE_COLUMNS`; a parsed
        ``iptables -L`` listing adds ``counters_approx``: True where K/M/G/T counters were rounded)."""
        from .frames import rules_frame
        df = rules_frame(self)
        if self.format == "listing" and "counters_approx" not in df.columns:
            df["counters_approx"] = [r.counters_approx for r in self.iter_rules()]
        return df

    @property
    def chains(self) -> "pd.DataFrame":
        """All chains as a pandas frame (columns in :data:`workbook.frames.CHAIN_COLUMNS`)."""
        from .frames import chains_frame
        return chains_frame(self)

    def summary(self) -> str:
        parts = [f"{t.name}: {len(t.chains)} chains, {sum(len(c) for c in t)} rules" for t in self.tables.values()]
        return f"Ruleset from {self.source} ({self.family}, {self.format}): " + "; ".join(parts)

    def __repr__(self) -> str:
        return f"<Ruleset {self.source!r} {self.family} tables={list(self.tables)} rules={len(self)} problems={len(self.problems)}>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(t.name)}</td><td>{len(t.chains)}</td>"
            f"<td>{sum(1 for c in t if c.builtin)}</td><td>{sum(len(c) for c in t)}</td></tr>"
            for t in self.tables.values())
        probs = ""
        if self.problems:
            items = "".join(f"<li><code>{html.escape(str(p))}</code></li>" for p in self.problems[:20])
            more = f"<li>… and {len(self.problems) - 20} more</li>" if len(self.problems) > 20 else ""
            probs = f"<p><b>{len(self.problems)} problem(s):</b></p><ul>{items}{more}</ul>"
        return (f"<div><b>Ruleset</b> <code>{html.escape(self.source)}</code> "
                f"({html.escape(self.family)}, {html.escape(self.format)})"
                f"<table><thead><tr><th>table</th><th>chains</th><th>built-in</th><th>rules</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>{probs}</div>")
