"""Parse ``iptables -S`` / ``iptables -t TABLE -S [-v]`` output (also pasted with shell prompts)."""

from __future__ import annotations

from ..extensions.registry import target_names
from ..limits import fits_count as _fits
from ..model import BUILTIN_CHAINS, Chain, ParseError, Problem, Ruleset, Table
from .rule import KNOWN_TABLES, RuleSyntaxError, build_rule, tokenize
from .save import _looks_v6, check_text, split_lines
from .session import parse_command, prompt_command

__all__ = ["parse_spec", "infer_table"]

# targets that exist only in one table (xt target ``.table`` restrictions)
_NAT_TARGETS = frozenset({"DNAT", "SNAT", "MASQUERADE", "REDIRECT", "NETMAP"})
_RAW_TARGETS = target_names("raw")  # CT, NOTRACK
_MANGLE_TARGETS = frozenset({"IMQ"}) | target_names("mangle")


def infer_table(chains: dict[str, Chain] | set[str], targets: set[str] | None = None) -> tuple[str, str]:
    """Guess the table of a ``-S``/``-L`` dump printed without ``-t`` (and without a prompt line
    saying which). Returns ``(table, reason)``.

    The built-in chains printed give it away (``-P`` lines / policy headers: nat has
    PREROUTING, INPUT, OUTPUT, POSTROUTING; mangle also FORWARD; raw only PREROUTING and
    OUTPUT); otherwise table-only targets (DNAT/SNAT/MASQUERADE/REDIRECT → nat, CT/NOTRACK →
    raw, TPROXY/TOS/... → mangle); PREROUTING/POSTROUTING with only MARK/CONNMARK → mangle,
    else nat; anything else is ``iptables -S`` without ``-t``: filter.

    >>> infer_table({"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"})[0]
    'nat'
    >>> infer_table({"INPUT", "FORWARD", "OUTPUT", "KUBE-FIREWALL"})[0]
    'filter'
    >>> infer_table({"KUBE-SEP-X"}, {"KUBE-MARK-MASQ", "DNAT"})[0]
    'nat'
    >>> infer_table({"PREROUTING"}, {"MARK"})[0]
    'mangle'
    """
    names = set(chains)
    targets = targets or set()
    builtins = {c for c in names if c in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")}
    if isinstance(chains, dict):
        with_policy = {n for n, c in chains.items() if c.policy is not None and n in builtins}
    else:
        with_policy = builtins
    full = with_policy or builtins
    for t in sorted(KNOWN_TABLES, key=lambda t: t == "security"):   # filter before security (same chains)
        if full == set(BUILTIN_CHAINS[t]):
            return t, f"its built-in chains are exactly those of {t} ({', '.join(BUILTIN_CHAINS[t])})"
    if targets & _NAT_TARGETS:
        return "nat", f"it uses nat-only targets ({', '.join(sorted(targets & _NAT_TARGETS))})"
    if targets & _RAW_TARGETS:
        return "raw", f"it uses raw targets ({', '.join(sorted(targets & _RAW_TARGETS))})"
    if targets & _MANGLE_TARGETS:
        return "mangle", f"it uses mangle-only targets ({', '.join(sorted(targets & _MANGLE_TARGETS))})"
    if builtins & {"PREROUTING", "POSTROUTING"}:
        if targets and targets <= {"MARK", "CONNMARK", "RETURN", "ACCEPT", "DROP"} | (names - builtins):
            if targets & {"MARK", "CONNMARK"}:
                return "mangle", "PREROUTING/POSTROUTING rules that only set marks"
        return "nat", "it has PREROUTING/POSTROUTING chains"
    if any(n.startswith(("KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-", "KUBE-SVL-", "KUBE-MARK-MASQ", "KUBE-POSTROUTING",
                         "CNI-HOSTPORT-", "CNI-DN-", "KUBE-HP-", "KUBE-HOSTPORTS")) for n in names):
        return "nat", "it has kube-proxy / CNI hostport nat chains"
    return "filter", "no table named and nothing table-specific (iptables -S defaults to filter)"


class _Section:
    """Consecutive lines that belong to one table (one command's output)."""

    def __init__(self, table: str | None, family: str | None, line: int, why: str | None = None):
        self.table, self.family, self.line, self.why = table, family, line, why
        self.lines: list[tuple[int, str]] = []
        self.skip = False  # a shell command's output that is not read (noted or refused)


def _split_sections(text: str, table: str | None, source: str, problems: list[Problem], strict: bool,
                    notes: list[str]) -> list[_Section]:
    sections: list[_Section] = [_Section(table, None, 1, "given" if table else None)]
    for lineno, line in enumerate(split_lines(text), 1):
        c0 = line[:1]
        if c0 == "-":
            sections[-1].lines.append((lineno, line))
            continue
        stripped = line.strip()
        if not stripped:
            continue
        cmd = prompt_command(line)
        if cmd is not None:
            if not cmd:
                continue
            c = parse_command(cmd)
            if c is None or c.kind in (None, "lsmod"):
                notes.append(f"{source}:{lineno}: skipped shell command {cmd!r}")
                sections.append(_Section(None if c is None else table, None, lineno, None))
                sections[-1].skip = True
                continue
            if c.kind != "spec":
                msg = f"{c.kind} output of {cmd!r} inside an iptables -S dump (parse it separately)"
                sections.append(_Section(None, None, lineno))
                sections[-1].skip = True
                problems.append(Problem(source, lineno, msg, line))
                continue
            t = table or c.default_table
            why = f"from the command line {cmd!r}" if c.table else f"{cmd!r} has no -t: filter"
            sections.append(_Section(t, c.family, lineno, why))
            continue
        if stripped.startswith("#"):
            if "Warning:" in stripped:
                notes.append(stripped.lstrip("# ").strip())
            continue
        if sections[-1].skip:
            continue  # output of a command we do not parse here
        if stripped.startswith("-") and line[0] in " \t":
            sections[-1].lines.append((lineno, stripped))  # indented (Markdown code block)
            continue
        msg = f"not an iptables -S line: {stripped[:60]!r}"
        if strict:
            raise ParseError(source, lineno, msg)
        problems.append(Problem(source, lineno, msg, line))
    return [s for s in sections if s.lines]


def parse_spec(text: str | bytes, source: str = "<text>", strict: bool = True, table: str | None = None,
               *, family: str | None = None) -> Ruleset:
    """Parse ``iptables -S`` output into a :class:`~workbook.model.Ruleset` (``format="spec"``).

    Reads ``-P CHAIN POLICY``, ``-N CHAIN`` and ``-A CHAIN ...`` lines, with ``-c PKTS BYTES``
    counters from ``iptables -S -v``. ``-S`` does not print the table: it is ``table`` when
    given, else taken from a pasted prompt/command line (``[root@host ~]# iptables -t nat -S``),
    else inferred from the chains and targets (see :func:`infer_table`) and the guess is
    recorded in ``ruleset.notes``. Several pasted commands give several tables.

    Lines that are not ``-S`` output (prose between pasted commands, ``중략``) raise
    :class:`~workbook.model.ParseError` with ``strict``; otherwise they are skipped and listed
    in ``ruleset.problems``. Prompt lines and ``#`` comment lines are always skipped.

    >>> rs = parse_spec("-P PREROUTING ACCEPT\\n-P INPUT ACCEPT\\n-P OUTPUT ACCEPT\\n-P POSTROUTING ACCEPT\\n-N KUBE-MARK-MASQ\\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\\n", "nat.txt")
    >>> list(rs.tables), rs.chain("nat", "KUBE-MARK-MASQ").rules[0].spec
    (['nat'], '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000')
    >>> rs.notes[0]
    "nat.txt: table 'nat' inferred: its built-in chains are exactly those of nat (PREROUTING, INPUT, OUTPUT, POSTROUTING)"
    >>> r = parse_spec("-P INPUT ACCEPT -c 5 300\\n-A INPUT -i lo -c 2 120 -j ACCEPT\\n").chain("filter", "INPUT")
    >>> (r.pkts, r.bytes, r.rules[0].counters, r.rules[0].spec)
    (5, 300, (2, 120), '-A INPUT -i lo -j ACCEPT')
    """
    text = check_text(text, source)
    if table is not None and table not in KNOWN_TABLES:
        raise ParseError(source, 0, f"unknown table {table!r} (known: raw, mangle, nat, filter, security)")
    rs = Ruleset(source=source, format="spec")
    problems = rs.problems
    sections = _split_sections(text, table, source, problems, strict, rs.notes)
    fam_default = family or ("ipv6" if _looks_v6(text) else "ipv4")
    rs.family = fam_default
    for sec in sections:
        fam = family or sec.family or fam_default
        if sec.family == "ipv6":
            rs.family = "ipv6"
        tname = sec.table
        chains: dict[str, Chain] = {}
        rules: list[tuple[str, int, list[str], list[bool] | None, int | None, int | None, str]] = []
        for lineno, line in sec.lines:
            try:
                toks, quoted = tokenize(line)
            except RuleSyntaxError as e:
                _problem(problems, strict, source, lineno, str(e), line)
                continue
            if len(toks) < 2:
                _problem(problems, strict, source, lineno, f"incomplete command {line.strip()!r}", line)
                continue
            cmd, cname = toks[0], toks[1]
            if cmd in ("-A", "--append"):
                if cname not in chains:
                    chains[cname] = Chain("", cname, origin=f"{source}:{lineno}")
                rules.append((cname, lineno, toks[2:], None if quoted is None else quoted[2:], None, None, line))
            elif cmd in ("-N", "--new-chain"):
                if cname in chains:
                    _problem(problems, strict, source, lineno, f"chain {cname} already exists", line)
                    continue
                chains.setdefault(cname, Chain("", cname, origin=f"{source}:{lineno}"))
            elif cmd in ("-P", "--policy"):
                if len(toks) < 3:
                    _problem(problems, strict, source, lineno, f"-P {cname} without a policy", line)
                    continue
                ch = chains.setdefault(cname, Chain("", cname, origin=f"{source}:{lineno}"))
                ch.policy = toks[2]
                if len(toks) >= 6 and toks[3] in ("-c", "--set-counters") and _fits(toks[4]) and _fits(toks[5]):
                    ch.pkts, ch.bytes = int(toks[4]), int(toks[5])
                elif len(toks) > 3:
                    _problem(problems, strict, source, lineno, f"unexpected words after -P {cname} {toks[2]}", line)
            else:
                _problem(problems, strict, source, lineno, f"unknown command {cmd!r} (iptables -S prints -P, -N, -A)", line)
        if tname is None:
            targets = set()
            for cname, lineno, toks, quoted, *_ in rules:
                for k, t in enumerate(toks[:-1]):
                    if t in ("-j", "-g", "--jump", "--goto"):
                        targets.add(toks[k + 1])
            tname, why = infer_table(chains, targets)
            rs.notes.append(f"{source}: table {tname!r} inferred: {why}")
        tbl = rs.tables.get(tname)
        if tbl is None:
            tbl = rs.tables[tname] = Table(tname)
        builtin = BUILTIN_CHAINS.get(tname, ())
        for cname, ch in chains.items():
            old = tbl.chains.get(cname)
            if old is not None:  # listed again by a later command: the later listing wins
                if ch.policy is not None:
                    old.policy, old.pkts, old.bytes = ch.policy, ch.pkts, ch.bytes
                if any(r[0] == cname for r in rules) and old.rules:
                    rs.notes.append(f"{source}:{sec.line}: chain {cname} listed again; keeping the later listing")
                    old.rules.clear()
                continue
            ch.table = tname
            if ch.policy is None and cname in builtin:
                ch.policy = "ACCEPT"
                rs.notes.append(f"{source}: no -P line for built-in chain {tname}/{cname} (partial paste?); policy assumed ACCEPT")
            tbl.chains[cname] = ch
        for cname, lineno, toks, quoted, _, _, line in rules:
            ch = tbl.chains[cname]
            try:
                rule = build_rule(toks, quoted, tname, cname, position=len(ch.rules) + 1, family=fam,
                                  origin=f"{source}:{lineno}")
            except RuleSyntaxError as e:
                _problem(problems, strict, source, lineno, str(e), line)
                continue
            ch.rules.append(rule)
    _order_chains(rs)
    return rs


def _order_chains(rs: Ruleset) -> None:
    """Built-in chains first in hook order (as iptables-save prints), then user chains as read."""
    for t in rs.tables.values():
        b = BUILTIN_CHAINS.get(t.name, ())
        first = [t.chains[n] for n in b if n in t.chains]
        rest = [c for n, c in t.chains.items() if n not in b]
        t.chains = {c.name: c for c in first + rest}


def _problem(problems: list[Problem], strict: bool, source: str, lineno: int, msg: str, line: str) -> None:
    if strict:
        raise ParseError(source, lineno, msg)
    problems.append(Problem(source, lineno, msg, line))
