"""What a check looks at: the rulesets of a dump (or one Ruleset), its modules and its other files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from ._lazy import pd

from ..model import QUOTED_OPTIONS, InputError, Option, Rule, Ruleset
from ..owners import owner_of
from ..shell_command import commands_or_refusal, iptables_chain_problem, refusal

if TYPE_CHECKING:  # pragma: no cover
    from ..nft.model import NftRuleset

__all__ = ["Context", "ModuleInfo", "rule_evidence", "rule_argv", "delete_commands", "ipt_line", "binary_for"]

RULE_EVIDENCE_COLUMNS = ["table", "chain", "position", "spec", "pkts", "bytes", "owner", "origin"]


@dataclass(frozen=True)
class ModuleInfo:
    """One loaded kernel module as lsmod shows it, with the file:line it came from."""

    name: str
    size: int | None
    used_by_count: int | None
    used_by: tuple[str, ...]
    origin: str | None


@dataclass
class Context:
    """Everything the checks may look at, whatever the caller handed to :func:`check`.

    ``rulesets`` maps a name (``iptables``, ``iptables-legacy``, ``iptables-nft``, ``ip6tables``)
    to a Ruleset; the same dump printed by two tools (``iptables-save`` = ``iptables-nft-save``)
    is kept once. ``modules`` maps module name → :class:`ModuleInfo` (None: no lsmod in the dump).
    ``nft`` is the dump's ``nft list ruleset`` view (:class:`~workbook.nft.model.NftRuleset`) or None.
    """

    rulesets: dict[str, Ruleset] = field(default_factory=dict)
    all_rulesets: dict[str, Ruleset] = field(default_factory=dict)
    modules: dict[str, ModuleInfo] | None = None
    modules_source: str | None = None
    dump: object | None = None
    nft: "NftRuleset | None" = None

    @classmethod
    def of(cls, target, modules=None) -> "Context":
        from ..nft.model import NftRuleset
        from ..target import Target
        if isinstance(target, Target):
            target = target.subject
        ctx = cls()
        if isinstance(target, NftRuleset):
            ctx.nft = target
        elif isinstance(target, Ruleset):
            name = "ip6tables" if target.family == "ipv6" else "iptables"
            ctx.all_rulesets = {name: target}
        elif hasattr(target, "rulesets") or hasattr(target, "ruleset"):
            ctx.dump = target
            rss = dict(getattr(target, "rulesets", None) or {})
            main = getattr(target, "ruleset", None)
            if main is not None and not any(rs is main for rs in rss.values()):
                rss = {("ip6tables" if main.family == "ipv6" else "iptables"): main, **rss}
            ctx.all_rulesets = rss
            ctx.nft = getattr(target, "nft", None)
            if modules is None:
                modules = getattr(target, "modules", None)
        elif target is None:
            ctx.all_rulesets = {}
        else:
            raise InputError(f"check() needs a Ruleset or a NodeDump, not {type(target).__name__}")
        ctx.rulesets = _distinct(ctx.all_rulesets)
        if modules is not None:
            ctx.modules, ctx.modules_source = _module_table(modules)
        return ctx

    # -- access -----------------------------------------------------------------------
    def text(self, relpath: str) -> str | None:
        """The text of a file in the dump (None when absent or when checking a bare Ruleset)."""
        if self.dump is None or not hasattr(self.dump, "text"):
            return None
        try:
            return self.dump.text(relpath)
        except (OSError, KeyError, InputError):
            return None

    def origin_of(self, relpath: str) -> str:
        base = getattr(self.dump, "path", None)
        return f"{Path(base) / relpath}" if base else relpath

    def items(self) -> Iterator[tuple[str, Ruleset]]:
        return iter(self.rulesets.items())


def _same_rules(a: Ruleset, b: Ruleset) -> bool:
    """Do ``a`` and ``b`` hold the same rules (``iptables-save`` and ``iptables-nft-save`` of one node)?

    The same tables, chains and rule counts, and the same first rule in each chain. Only ever
    asked when a dump has two rulesets, so a lone ruleset's rules are not built for it.
    """
    def shape(rs: Ruleset) -> list[tuple[str, str, int]]:
        return [(t.name, c.name, len(c.rules)) for t in rs.tables.values() for c in t.chains.values()]

    if a.family != b.family or shape(a) != shape(b):
        return False
    return all(ca.rules[0].spec == cb.rules[0].spec
               for ta, tb in zip(a.tables.values(), b.tables.values())
               for ca, cb in zip(ta.chains.values(), tb.chains.values()) if ca.rules)


#: Names a dump gives the other views of one backend's rules (``-L -n -v``, ``-S``), best first.
_VIEWS = ("-L", "-S")


def _distinct(rss: dict[str, Ruleset]) -> dict[str, Ruleset]:
    """The rulesets to check: one view of each backend's rules.

    ``iptables-L``/``iptables-S`` (``ip6tables-L``, …) print the same rules as ``iptables-save``
    (``ip6tables-save``): a listing is checked only when the dump has no save of that tool
    (``iptables``, ``iptables-nft`` or ``iptables-legacy``), and ``-S`` only when there is neither. A save that repeats an earlier one (``iptables-save`` and
    ``iptables-nft-save`` of the same node) is dropped too; the first name is kept, so fix
    commands say ``iptables`` when that is what prints these rules. Other rulesets (another
    network namespace's ``netns/<name>``) are checked on their own.

    >>> from workbook.parse import parse_save
    >>> a, b = parse_save("*nat\\n:A - [0:0]\\nCOMMIT\\n"), parse_save("*nat\\n:B - [0:0]\\nCOMMIT\\n")
    >>> L = Ruleset(tables=dict(a.tables), format="listing")
    >>> list(_distinct({"iptables": a, "iptables-L": L, "netns/x": b}))
    ['iptables', 'netns/x']
    >>> list(_distinct({"iptables-L": L, "netns/x": b}))
    ['iptables-L', 'netns/x']
    """
    present = {name for name, rs in rss.items() if rs is not None and (len(rs) or rs.tables)}

    def better_view(name: str) -> bool:
        """Is there a save, or a better view, of the backend ``name`` is a view of?"""
        for i, view in enumerate(_VIEWS):
            if name.endswith(view):
                base = name[: -len(view)]
                saves = (base, base + "-nft", base + "-legacy")
                return any(n in present for n in saves) or any(base + v in present for v in _VIEWS[:i])
        return False

    out: dict[str, Ruleset] = {}
    for name in rss:
        if name not in present or better_view(name):
            continue
        if any(_same_rules(rss[name], kept) for kept in out.values()):
            continue   # the same rules under another tool's name: keep the first (plain 'iptables')
        out[name] = rss[name]
    return out


def binary_for(name: str, rs: Ruleset) -> str:
    """The command that manages ``rs``: ``iptables``, ``ip6tables``, ``iptables-legacy``, …

    >>> binary_for("iptables-legacy", Ruleset()), binary_for("x", Ruleset(family="ipv6"))
    ('iptables-legacy', 'ip6tables')
    """
    if name in ("iptables", "ip6tables", "iptables-legacy", "iptables-nft", "ip6tables-legacy", "ip6tables-nft"):
        return name
    return "ip6tables" if rs.family == "ipv6" else "iptables"


def rule_argv(rule: Rule) -> list[str]:
    """The rule's options after ``-A CHAIN`` as the words iptables reads (its argv), unquoted.

    >>> from workbook.parse import parse_save
    >>> r = next(parse_save('*nat\\n:P - [0:0]\\n-A P ! -s 10.0.0.0/8 -m comment --comment "a \\\\"b\\\\" $(c)" -j RETURN\\nCOMMIT\\n').iter_rules())
    >>> rule_argv(r)
    ['!', '-s', '10.0.0.0/8', '-m', 'comment', '--comment', 'a "b" $(c)', '-j', 'RETURN']
    """
    words: list[str] = []
    for value, neg, flag in (
        (rule.source, rule.source_negated, "-s"),
        (rule.destination, rule.destination_negated, "-d"),
        (rule.in_interface, rule.in_interface_negated, "-i"),
        (rule.out_interface, rule.out_interface_negated, "-o"),
        (rule.protocol, rule.protocol_negated, "-p"),
    ):
        if value is not None:
            words += ["!", flag, value] if neg else [flag, value]
    if rule.fragment is not None:
        words += ["-f"] if rule.fragment else ["!", "-f"]
    for m in rule.matches:
        words += ["-m", m.module]
        for o in m.options:
            words += _option_argv(o)
    if rule.target is not None:
        words += ["-g" if rule.goto else "-j", rule.target]
        for o in rule.target_options:
            words += _option_argv(o)
    return words


def _option_argv(o: Option) -> list[str]:
    words = ["!", o.flag] if o.negated else [o.flag]
    if o.flag in QUOTED_OPTIONS and o.args:
        return words + [" ".join(o.args)]   # one string, as iptables-save quotes it
    return words + list(o.args)


def ipt_line(binary: str, table: str, *commands: Sequence[str]) -> str:
    """``binary -t table CMD CHAIN …`` for each of ``commands`` (joined by ``&&``), every word
    quoted; a ``#`` line saying why when a chain name is not one iptables accepts, or a word
    holds a control character. Each command is ``(op, chain, *words)``.

    >>> ipt_line("iptables", "nat", ("-F", "KUBE-SEP-X"), ("-X", "KUBE-SEP-X"))
    'iptables -t nat -F KUBE-SEP-X && iptables -t nat -X KUBE-SEP-X'
    >>> ipt_line("iptables", "nat", ("-X", "a;$(id)"))
    "iptables -t nat -X 'a;$(id)'"
    >>> ipt_line("iptables", "nat", ("-X", "-x"))
    "# (no command printed: the chain name starts with '-' (iptables refuses it))"
    """
    argvs = []
    for op, chain, *rest in commands:
        why = iptables_chain_problem(chain)
        if why is not None:
            return refusal(why)
        argvs.append([binary, "-t", table, op, chain, *rest])
    return commands_or_refusal(argvs)


def delete_commands(binary: str, rule: Rule, position: int | None = None) -> list[str]:
    """``-D`` by rule spec, and (when ``position`` is given) by position.

    >>> from workbook.parse import parse_save
    >>> r = list(parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\\nCOMMIT\\n').iter_rules())[0]
    >>> delete_commands("iptables", r, 5)
    ['iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT', 'iptables -t nat -D PREROUTING 5']
    """
    out = [ipt_line(binary, rule.table, ("-D", rule.chain, *rule_argv(rule)))]
    if position is not None:
        out.append(ipt_line(binary, rule.table, ("-D", rule.chain, str(position))))
    return out


def rule_evidence(rules: Iterable[Rule], **extra: list) -> pd.DataFrame:
    """Evidence rows for rules: :data:`RULE_EVIDENCE_COLUMNS` plus any ``extra`` columns."""
    rules = list(rules)
    df = pd.DataFrame({
        "table": [r.table for r in rules], "chain": [r.chain for r in rules],
        "position": [r.position for r in rules], "spec": [r.spec for r in rules],
        "pkts": pd.array([r.pkts for r in rules], dtype="Int64"),
        "bytes": pd.array([r.bytes for r in rules], dtype="Int64"),
        "owner": [owner_of(r) for r in rules], "origin": [r.origin for r in rules],
    }, columns=RULE_EVIDENCE_COLUMNS)
    for k, v in extra.items():
        values = list(v)
        if any(x is None for x in values):
            df[k] = pd.Series(values, dtype=object, index=df.index)   # keep None (not NaN)
        else:
            df[k] = values
    return df


# -- modules ---------------------------------------------------------------------------------------

def _module_table(modules) -> tuple[dict[str, ModuleInfo], str | None]:
    """Module name → :class:`ModuleInfo`, and the lsmod source, from what :func:`check` was given:
    a :class:`~workbook.parse.lsmod.Modules`, lsmod text or a path to it, a ready table, or names.

    >>> table, source = _module_table("Module Size Used by\\nnf_nat 57344 3 xt_nat,nft_chain_nat\\n")
    >>> table["nf_nat"]
    ModuleInfo(name='nf_nat', size=57344, used_by_count=3, used_by=('xt_nat', 'nft_chain_nat'), origin='<lsmod>:2')
    """
    from ..parse.lsmod import Modules, parse_lsmod
    if isinstance(modules, dict) and all(isinstance(v, ModuleInfo) for v in modules.values()):
        return modules, None
    if isinstance(modules, (str, Path)):
        path = Path(modules) if isinstance(modules, Path) or "\n" not in modules else None
        if path is not None and path.exists():
            modules = parse_lsmod(path.read_text(errors="replace"), str(path), strict=False)
        else:
            modules = parse_lsmod(str(modules), "<lsmod>", strict=False)
    if isinstance(modules, Modules):
        out: dict[str, ModuleInfo] = {}
        for m in modules:
            origin = f"{modules.source}:{m.line}" if m.line else modules.source
            out.setdefault(m.name, ModuleInfo(m.name, m.size, m.used_by_count, m.used_by, origin))
        return out, modules.source
    return {n: ModuleInfo(n, None, None, (), None) for n in modules}, None
