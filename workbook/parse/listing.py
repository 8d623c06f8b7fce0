"""Parse ``iptables -L [-n] [-v] [-x] [--line-numbers]`` listings (also ``| column -t`` re-flowed) into the save-form Rule model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..extensions import listing_reader, match_extension, target_extension
from ..limits import MAX_COUNT
from ..model import Chain, Match, Option, ParseError, Problem, Rule, Ruleset, Table
from ..vocab import TABLES, protocol_name
from .listing_words import ListingContext as _Ctx, NotThisReader as _Unknown
from .save import check_text, split_lines
from .session import parse_command, prompt_command
from .spec import _order_chains, infer_table

__all__ = ["parse_listing", "parse_count", "listed_options", "UNPARSED"]

#: Flag of the Option that keeps listing text this parser could not map (inside a Match named "?").
UNPARSED = "--unparsed"

_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_COUNT = re.compile(r"^(\d+)([KMGT]?)$")


def parse_count(tok: str) -> tuple[int, bool] | None:
    """A listed counter as ``(value, approximate)``: K/M/G/T are decimal (×1000) and rounded.

    >>> parse_count("3519K"), parse_count("61085"), parse_count("42M"), parse_count("x")
    ((3519000, True), (61085, False), (42000000, True), None)
    """
    m = _COUNT.match(tok)
    if not m or len(m.group(1)) > 19:
        return None
    n = int(m.group(1)) * _SUFFIX[m.group(2)]
    return (n, bool(m.group(2))) if n <= MAX_COUNT else None


# --------------------------------------------------------------------------- chain headers
_CHAIN = re.compile(r"^Chain (\S+) \((?:policy (\S+)(?: (\S+) packets, (\S+) bytes)?|(\d+) references?|ERROR obtaining refs)\)\s*$")

_OPTS = frozenset({"--", "-f", "!f"})
_ANY_ADDR = frozenset({"0.0.0.0/0", "::/0", "anywhere"})
_ANY_IF = frozenset({"*", "any"})
_IP4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def _addr(tok: str, family: str) -> tuple[str | None, bool]:
    neg = tok.startswith("!")
    if neg:
        tok = tok[1:]
    if tok in _ANY_ADDR:
        return None, neg
    if "/" not in tok:
        if _IP4.match(tok):
            tok += "/32"
        elif ":" in tok:
            tok += "/128"
        elif tok == "localhost":
            tok = "::1/128" if family == "ipv6" else "127.0.0.1/32"
    return tok, neg


def _iface(tok: str) -> tuple[str | None, bool]:
    neg = tok.startswith("!")
    if neg:
        tok = tok[1:]
    if tok in _ANY_IF:
        return None, neg
    return tok, neg


# --------------------------------------------------------------------------- option text tokens
_TOK = re.compile(r'/\*.*?\*/|"[^"]*"(?=\s|$)|"[^"]*$|\S+')
_GLUE = re.compile(r"(?<=\S)(flags:|option=)")


def _tokens(text: str, reflowed: bool) -> list[str]:
    """Split the options text: ``/* comment */`` and ``"quoted"`` stay one token each."""
    out: list[str] = []
    for m in _TOK.finditer(text):
        t = m.group(0)
        if t.startswith("/*") or t.startswith('"'):
            if reflowed:
                t = " ".join(t.split())
            out.append(t)
        elif "flags:" in t[1:] or "option=" in t[1:]:
            out.extend(_GLUE.sub(r" \1", t).split())
        elif t.startswith(("match0x", "match!")):  # libxt_tos prints " tos match" + "0x10/0x3f"
            out.extend(("match", t[5:]))
        else:
            out.append(t)
    return out


# --------------------------------------------------------------------------- matches and targets
# Each extension's reader lives with it in workbook/extensions (``read_listing``).
def _comment_reader():
    ext = match_extension("comment")
    assert ext is not None and ext.read_listing is not None
    return ext.read_listing


# a match keyword that is also a target's first printed word only counts as a match when
# the next word says so ("TTL match" vs "TTL set to", "DSCP match" vs "DSCP set")
_NEEDS_MATCH_WORD = frozenset({"TTL", "DSCP", "tos", "helper", "tcpmss"})


def listed_options(text: str, target: str | None, protocol: str | None = None, *, family: str = "ipv4",
                   reflowed: bool = False) -> tuple[tuple[Match, ...], tuple[Option, ...], str | None, list[str], list[str]]:
    """Map the options text of one listed rule (everything after the destination column) to
    save-form matches and target options.

    Returns ``(matches, target_options, target, unparsed_texts, resolved_names)``; text that no
    printer recognises is kept as ``Match("?", (Option("--unparsed", (text,)),))``.

    >>> m, o, tgt, bad, _ = listed_options('/* kube-system/kube-dns:dns */ udp to:192.168.1.77:53', "DNAT", "udp")
    >>> " ".join(x.to_save() for x in m), " ".join(x.to_save() for x in o)
    ('-m comment --comment "kube-system/kube-dns:dns" -m udp', '--to-destination 192.168.1.77:53')
    >>> m, o, tgt, bad, _ = listed_options("MARK or 0x4000", "MARK"); o[0].to_save()
    '--set-xmark 0x4000/0x4000'
    >>> m, o, tgt, bad, _ = listed_options("frobnicate 7", "ACCEPT"); (m[0].module, bad)
    ('?', ['frobnicate 7'])
    """
    t = _tokens(text, reflowed)
    ctx = _Ctx(protocol, family, [])
    matches: list[Match] = []
    topts: list[Option] = []
    unknown: list[str] = []
    bad: list[str] = []
    text_ext = target_extension(target or "")
    tprinter = text_ext.read_listing if text_ext is not None else None
    i = 0
    n = len(t)
    neg = False

    def flush():
        if unknown:
            txt = " ".join(unknown)
            matches.append(Match("?", (Option(UNPARSED, (txt,)),)))
            bad.append(txt)
            unknown.clear()

    while i < n:
        w = t[i]
        if w.startswith("/*"):
            flush()
            matches.append(_comment_reader()(t, i, False, ctx)[0])
            i += 1
            continue
        if w == "!" and i + 1 < n:
            neg = True
            i += 1
            continue
        key = w
        ext = listing_reader(key)
        fn = ext.read_listing if ext is not None else None
        if fn is not None and key in _NEEDS_MATCH_WORD and (i + 1 >= n or t[i + 1] != "match"):
            fn = None
        if fn is not None:
            try:
                m, j = fn(t, i, neg, ctx)
            except (_Unknown, ValueError, IndexError):
                fn = None
            else:
                flush()
                matches.append(m)
                i = j
                neg = False
                continue
        if tprinter is not None and not topts:
            try:
                res = tprinter(t, i, target, ctx)
            except (_Unknown, ValueError, IndexError):
                pass
            else:
                flush()
                topts.extend(res[0])
                if len(res) > 2:
                    target = res[2]
                i = res[1]
                neg = False
                continue
        if neg:
            unknown.append("!")
            neg = False
        unknown.append(w)
        i += 1
    if neg:
        unknown.append("!")
    flush()
    return tuple(matches), tuple(topts), target, bad, ctx.names


# --------------------------------------------------------------------------- the listing
@dataclass
class _Columns:
    num: bool = False
    counters: bool = True
    inout: bool = True

    @classmethod
    def from_header(cls, words: list[str]) -> "_Columns":
        return cls(num=words[0] == "num", counters="pkts" in words, inout="in" in words)


@dataclass
class _Section:
    table: str | None
    family: str | None
    line: int
    why: str | None = None
    chains: dict[str, Chain] = field(default_factory=dict)
    targets: set[str] = field(default_factory=set)
    trailer: tuple[int, int] | None = None      # (line, N) of "Total Number of Rules: N"
    sed_count: int = 0                           # lines the EKS collector's sed would count


_HEADER_WORDS = frozenset({"num", "pkts", "target"})
_BUILTIN_NAMES = frozenset({"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"})
_SED_SKIP = re.compile(r"^num|^$|^Chain|^ pkts.*.destination")


def parse_listing(text: str | bytes, source: str = "<text>", strict: bool = True, table: str | None = None,
                  *, family: str | None = None) -> Ruleset:
    """Parse ``iptables -L`` output into a :class:`~workbook.model.Ruleset` (``format="listing"``).

    Accepts ``-L -n -v`` with or without ``-x`` and ``--line-numbers``, ``-L -n`` (no counters,
    no in/out), ``-L -v`` without ``-n`` (names: ``anywhere``, service names resolved through
    ``/etc/services``), iptables 1.8.9/1.8.10 numeric protocols, ``| column -t`` re-flowed
    output, pasted shell sessions (the table is read from ``iptables -t nat -L`` prompt lines)
    and the EKS log collector's ``Total Number of Rules: N`` trailer (the count is checked).
    Without a table from the caller or a command line, it is inferred (see
    :func:`~workbook.parse.spec.infer_table`) and the guess is noted in ``ruleset.notes``.

    Each rule is mapped back to the save form (``Rule.spec`` equals the iptables-save line
    where the listing shows enough). Counters printed with K/M/G/T are decimal and rounded:
    such rules and chains have ``counters_approx=True`` and the rules frame gets a
    ``counters_approx`` column. Listing text no printer recognises never fails the parse: it is
    kept in the rule as ``Match("?", (Option("--unparsed", (text,)),))``; ``strict=False`` also
    lists it in ``problems`` while ``strict=True`` only counts it in ``notes``. Lines that are
    not a listing at all raise :class:`~workbook.model.ParseError` with ``strict``.

    What a listing cannot show, so a listed rule's ``spec`` can differ from iptables-save:
    in/out interfaces without ``-v``; exact counters without ``-x``; numbers for names
    without ``-n`` (ports are resolved through ``/etc/services``, user/host names are kept as
    printed); what ``-L`` does not show at all (hashlimit's ``--hashlimit-name``, the ``!`` of
    ``! --quota``); the original spacing of a comment in ``| column -t`` output (runs of blanks
    become one space).

    >>> rs = parse_listing('''Chain KUBE-MARK-MASQ (9 references)
    ...  pkts bytes target     prot opt in     out     source               destination
    ...     3   180 MARK       all  --  *      *       0.0.0.0/0            0.0.0.0/0            MARK or 0x4000
    ... ''', "l.txt", table="nat")
    >>> r = rs.chain("nat", "KUBE-MARK-MASQ").rules[0]
    >>> r.spec, r.counters, rs.chain("nat", "KUBE-MARK-MASQ").references
    ('-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000', (3, 180), 9)
    """
    text = check_text(text, source)
    if table is not None and table not in TABLES:
        raise ParseError(source, 0, f"unknown table {table!r} (known: raw, mangle, nat, filter, security)")
    rs = Ruleset(source=source, format="listing")
    problems = rs.problems
    notes = rs.notes

    def problem(lineno: int, msg: str, line: str) -> None:
        if strict:
            raise ParseError(source, lineno, msg)
        problems.append(Problem(source, lineno, msg, line))

    sections: list[_Section] = [_Section(table, family, 1, "given" if table else None)]
    chain: Chain | None = None
    cols: _Columns | None = None
    reflowed = False
    skipping = False
    approx_any = False
    unparsed_count = 0
    names_resolved: set[str] = set()
    lines = split_lines(text)
    for lineno, raw in enumerate(lines, 1):
        stripped = raw.strip()
        sec = sections[-1]
        if not stripped:
            if not skipping:
                pass
            continue
        if stripped.startswith("Total Number of Rules:"):
            num = stripped.rpartition(":")[2].strip()
            if num.isdecimal():
                sec.trailer = (lineno, int(num))
                continue
        if stripped.startswith("=====") and not stripped.strip("="):
            continue
        cmd = prompt_command(raw) if not raw[:1].isdecimal() else None
        if cmd is not None and not stripped.startswith("Chain"):
            if not cmd:
                continue
            c = parse_command(cmd)
            if c is None or c.kind != "listing":
                skipping = True
                if c is not None and c.kind in ("spec", "save"):
                    problem(lineno, f"{c.kind} output of {cmd!r} inside an iptables -L dump (parse it separately)", raw)
                else:
                    notes.append(f"{source}:{lineno}: skipped shell command {cmd!r}")
                continue
            skipping = False
            t = table or c.default_table
            why = f"from the command line {cmd!r}" if c.table else f"{cmd!r} has no -t: filter"
            sections.append(_Section(t, c.family, lineno, why))
            chain = None
            cols = None
            continue
        if stripped.startswith("#"):
            if "Warning:" in stripped:
                notes.append(stripped.lstrip("# ").strip())
            continue
        if skipping:
            continue
        words = stripped.split()
        if words[0] == "Chain":
            norm = " ".join(words)
            m = _CHAIN.match(norm)
            if not m:
                problem(lineno, f"bad chain header {norm[:70]!r}", raw)
                chain = None
                continue
            name, pol, pk, by, refs = m.groups()
            reflowed = "  " in stripped
            if name in sec.chains:
                if name in _BUILTIN_NAMES:
                    # the same built-in chain again without a command line: another table's listing
                    sec = _Section(table, family, lineno, "given" if table else None)
                    sections.append(sec)
                else:
                    notes.append(f"{source}:{lineno}: chain {name} listed again; keeping the later listing")
                    del sec.chains[name]
            ch = Chain("", name, origin=f"{source}:{lineno}")
            if pol is not None:
                ch.policy = pol
                if pk is not None:
                    p = parse_count(pk)
                    b = parse_count(by)
                    if p is None or b is None:
                        problem(lineno, f"bad policy counters in {norm!r}", raw)
                    else:
                        ch.pkts, ch.bytes = p[0], b[0]
                        if p[1] or b[1]:
                            ch.counters_approx = True
                            approx_any = True
            elif refs is not None:
                ch.references = int(refs)
            sec.chains[name] = ch
            chain = ch
            cols = None
            sec.sed_count += 0
            continue
        if words[0] in _HEADER_WORDS and "source" in words and "destination" in words:
            cols = _Columns.from_header(words)
            if _SED_SKIP.match(raw) is None:
                sec.sed_count += 1
            continue
        if chain is None:
            problem(lineno, f"not an iptables -L line: {stripped[:60]!r}", raw)
            continue
        if _SED_SKIP.match(raw) is None:
            sec.sed_count += 1
        res = _rule(raw, words, cols, chain, sec, family or sec.family or "ipv4", reflowed, f"{source}:{lineno}")
        if isinstance(res, str):
            problem(lineno, res, raw)
            if _SED_SKIP.match(raw) is None:
                sec.sed_count -= 1
            continue
        rule, bad, names, approx = res
        if approx:
            approx_any = True
        names_resolved.update(names)
        if bad:
            unparsed_count += 1
            if not strict:
                for b in bad:
                    problems.append(Problem(source, lineno, f"listing text not understood, kept as -m ? --unparsed: {b!r}", raw))
        chain.rules.append(rule)

    fam_all = family or next((s.family for s in sections if s.family), None)
    for sec in sections:
        if not sec.chains:
            if sec.trailer:
                _check_trailer(sec, 0, problem)
            continue
        tname = sec.table
        if tname is None:
            tname, why = infer_table(sec.chains, sec.targets)
            notes.append(f"{source}: table {tname!r} inferred: {why}")
        _check_trailer(sec, sum(len(c.rules) for c in sec.chains.values()), problem)
        tbl = rs.tables.get(tname)
        if tbl is None:
            tbl = rs.tables[tname] = Table(tname)
        for name, ch in sec.chains.items():
            ch.table = tname
            ch.rules[:] = [replace(r, table=tname) for r in ch.rules]
            if name in tbl.chains:
                notes.append(f"{source}:{sec.line}: chain {tname}/{name} listed again; keeping the later listing")
            tbl.chains[name] = ch
    fam = fam_all or ("ipv6" if any(r.source and ":" in r.source or r.destination and ":" in r.destination
                                   for r in rs.iter_rules()) else "ipv4")
    rs.family = fam
    if fam == "ipv6":
        for c in rs.iter_chains():
            c.rules[:] = [r if r.family == "ipv6" else replace(r, family="ipv6") for r in c.rules]
    _order_chains(rs)
    if approx_any:
        notes.append(f"{source}: counters printed with K/M/G/T are rounded (decimal ×1000 steps); "
                     "those rules/chains have counters_approx=True")
    if unparsed_count and strict:
        notes.append(f"{source}: {unparsed_count} rule(s) have listing text that was not understood, "
                     "kept as -m ? --unparsed (parse with strict=False to list them as problems)")
    if names_resolved:
        notes.append(f"{source}: names resolved to numbers (listing without -n): {', '.join(sorted(names_resolved))}")
    return rs


def _check_trailer(sec: _Section, rules: int, problem) -> None:
    if sec.trailer is None:
        return
    line, n = sec.trailer
    if n != sec.sed_count:
        problem(line, f"trailer says 'Total Number of Rules: {n}' but the listing above has {sec.sed_count} "
                      f"rule line(s) ({rules} parsed): truncated or edited file?", "")


def _rule(raw: str, words: list[str], cols: _Columns | None, chain: Chain, sec: _Section, family: str,
          reflowed: bool, origin: str):
    """One rule line → (Rule, unparsed texts, resolved names, approx) or an error message."""
    if cols is None:  # no column header seen: guess from the first words
        cols = _Columns(num=False, counters=len(words) > 1 and parse_count(words[0]) is not None
                        and parse_count(words[1]) is not None, inout=True)
        if not cols.counters:
            cols.inout = False
    spans = [m for m in re.finditer(r"\S+", raw)]
    toks = [m.group(0) for m in spans]
    i = 0
    n = len(toks)
    position = len(chain.rules) + 1
    if cols.num:
        if not toks[0].isdecimal():
            return f"expected a rule number, got {toks[0]!r}"
        if int(toks[0]) != position:
            return f"rule number {toks[0]} but this is rule {position} of chain {chain.name} (lines missing?)"
        i = 1
    pkts = byts = None
    approx = False
    if cols.counters:
        if n < i + 2:
            return f"not an iptables -L rule line: {raw.strip()[:60]!r}"
        p, b = parse_count(toks[i]), parse_count(toks[i + 1])
        if p is None or b is None:
            return f"bad counters {toks[i]!r} {toks[i + 1]!r}"
        pkts, byts = p[0], b[0]
        approx = p[1] or b[1]
        i += 2
    need = 2 + (2 if cols.inout else 0) + 2
    if n < i + need - 1:
        return f"not an iptables -L rule line: {raw.strip()[:60]!r}"
    if i + 2 < n and toks[i + 2] in _OPTS:
        target, prot, frag = toks[i], toks[i + 1], toks[i + 2]
        i += 3
    elif i + 1 < n and toks[i + 1] in _OPTS:
        target, prot, frag = None, toks[i], toks[i + 1]
        i += 2
    else:
        return f"cannot find the prot/opt columns in {raw.strip()[:60]!r}"
    if n < i + (4 if cols.inout else 2):
        return f"not an iptables -L rule line: {raw.strip()[:60]!r}"
    f: dict = {}
    pneg = prot.startswith("!")
    if pneg:
        prot = prot[1:]
    proto = protocol_name(prot) if prot.isdecimal() or prot == "all" else prot
    if proto == "all":
        proto = None
    if proto is not None:
        f["protocol"] = proto
        f["protocol_negated"] = pneg
    if frag != "--":
        f["fragment"] = frag == "-f"
    if cols.inout:
        iv, ineg = _iface(toks[i])
        ov, oneg = _iface(toks[i + 1])
        if iv is not None:
            f["in_interface"], f["in_interface_negated"] = iv, ineg
        if ov is not None:
            f["out_interface"], f["out_interface_negated"] = ov, oneg
        i += 2
    sv, sneg = _addr(toks[i], family)
    dv, dneg = _addr(toks[i + 1], family)
    if sv is not None:
        f["source"], f["source_negated"] = sv, sneg
    if dv is not None:
        f["destination"], f["destination_negated"] = dv, dneg
    rest = raw[spans[i + 1].end():].strip()
    goto = False
    if rest.startswith("[goto]"):
        goto = True
        rest = rest[6:].strip()
    matches, topts, target2, bad, names = listed_options(rest, target, proto, family=family, reflowed=reflowed)
    if target2:
        sec.targets.add(target2)
    rule = Rule(table="", chain=chain.name, position=position, matches=matches, target=target2, goto=goto,
                target_options=topts, pkts=pkts, bytes=byts, family=family, origin=origin,
                counters_approx=approx, **f)
    return rule, bad, names, approx
