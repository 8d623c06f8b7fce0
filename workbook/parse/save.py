"""Parse ``iptables-save`` / ``ip6tables-save`` output (with or without ``-c``) and restore input."""

from __future__ import annotations

import re
from dataclasses import replace

from ..gc_pause import paused_gc
from ..limits import fits_count
from ..model import BUILTIN_CHAINS, Chain, ParseError, Problem, Rule, Ruleset, Table
from ..model import Match, Option
from .rule import KNOWN_TABLES, RuleSyntaxError, _norm_addr, build_rule, tokenize

__all__ = ["parse_save", "check_text"]


def check_text(text: str | bytes, source: str) -> str:
    """Refuse binary junk with a file:line error; return the text as str.

    >>> check_text(b"*nat\\n\\x00\\x01", "x.bin")
    Traceback (most recent call last):
    ...
    workbook.model.ParseError: x.bin:2: binary data (NUL byte), not a text dump
    """
    if isinstance(text, bytes):
        nul = text.find(b"\x00")
        if nul >= 0:
            raise ParseError(source, text.count(b"\n", 0, nul) + 1, "binary data (NUL byte), not a text dump")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ParseError(source, e.object.count(b"\n", 0, e.start) + 1, "not UTF-8 text (binary data?)") from None
    else:
        nul = text.find("\x00")
        if nul >= 0:
            raise ParseError(source, text.count("\n", 0, nul) + 1, "binary data (NUL byte), not a text dump")
    return text


def split_lines(text: str) -> list[str]:
    """The lines of dump text as iptables reads them: split on ``\\n`` only. ``str.splitlines``
    also splits on U+2028/U+2029, ``\\x85``, ``\\x0b``, ``\\x0c`` and ``\\x1c``-``\\x1e``, which
    iptables-restore keeps inside a quoted comment (and iptables-save prints back). A ``\\r``
    before the ``\\n`` is dropped; a final newline ends the last line (no empty line after it).

    >>> split_lines('-A X -m comment --comment "a\\u2028b" -j ACCEPT\\r\\nCOMMIT\\n')
    ['-A X -m comment --comment "a\\u2028b" -j ACCEPT', 'COMMIT']
    """
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()
    if "\r" in text:
        lines = [ln[:-1] if ln[-1:] == "\r" else ln for ln in lines]
    return lines


# -- the fast path ---------------------------------------------------------------------
# A rule line this regex accepts is one build_rule() is known to accept (plain iptables-save
# grammar: basic fields, "-m NAME --opt args", "-j TARGET --opt args", double-quoted args).
# Such lines are checked here, at parse time, but turned into fields only when the rule is
# first looked at (Rule._lazy); every other line goes through tokenize()/build_rule() at once,
# so bad lines are still reported by parse_save. Keep the two in step: anything the regex
# lets through must be a line build_rule() parses without error.
_V = r"""(?:[^\s"'!\-][^\s"']*|-\d[^\s"']*)"""
_Q = r'''"[^"\\]*"'''
_OPT = (r"(?:! )?--(?!(?:fragment|set-counters|source|src|destination|dst|protocol|in-interface|out-interface"
        rf"|match|jump|goto)(?![\w-]))[A-Za-z][\w-]*(?: +(?:{_Q}|{_V}))*")
_ITEM = rf"(?:(?:! )?-[sdpio] {_V}|(?:! )?-f|-m {_V}(?: +{_OPT})*)"
_TARGET = rf"-[jg] {_V}(?: +{_OPT})*"
# the target (and -j/-g) is captured, so a lazily created rule answers .target/.goto (and its
# counters) without being filled: chain graphs and jump indexes of a 10,000-Service dump read
# only those
_TARGET_CAPTURED = rf"-([jg]) ({_V})(?: +{_OPT})*"
_BODY = rf"(?:{_ITEM}(?: +{_ITEM})*(?: +{_TARGET_CAPTURED})?|{_TARGET})"
_FAST_LINE = re.compile(rf"(?:\[(\d+):(\d+)\] )?-A ([^\s\"'\[]+)(?: +({_BODY}))? *").fullmatch

_new_rule = object.__new__
_set_lazy = Rule.__dict__["_lazy"].__set__
_get_lazy = Rule.__dict__["_lazy"].__get__


_FIELD_OF = {"-s": "source", "-d": "destination", "-p": "protocol", "-i": "in_interface", "-o": "out_interface"}
_NEG_OF = {"-s": "source_negated", "-d": "destination_negated", "-p": "protocol_negated",
           "-i": "in_interface_negated", "-o": "out_interface_negated"}
_S = {name: Rule.__dict__[name].__set__ for name in Rule.__dataclass_fields__}
_S_table, _S_chain, _S_position, _S_pkts, _S_bytes = _S["table"], _S["chain"], _S["position"], _S["pkts"], _S["bytes"]
_S_family, _S_origin, _S_approx, _S_matches = _S["family"], _S["origin"], _S["counters_approx"], _S["matches"]
_S_target, _S_goto, _S_topts, _S_frag = _S["target"], _S["goto"], _S["target_options"], _S["fragment"]
_BASIC_SETTERS = [(_S[name], _S[name + "_negated"], flag) for flag, name in _FIELD_OF.items()]


def _shared_match(cache: dict, module: str, opts: list, keys: list) -> Match:
    """``Match(module, opts)``, the same object for equal matches (they are immutable); looked up
    by the options' ``(flag, args, negated)`` keys, which hash in C (an Option's hash does not)."""
    key = (module, *keys)
    m = cache.get(key)
    if m is None:
        m = cache[key] = Match(module, tuple(opts))
    return m


def _fast_fields(toks: list[str], quoted: list[bool] | None, family: str, cache: dict):
    """rule_fields() for a line _FAST_LINE accepted (same result, less work): options only
    after ``-m``/``-j``, arguments never start with ``!`` or ``-x``. Equal Option/Match
    objects are shared through ``cache`` (they are immutable)."""
    basic: dict[str, tuple[str, bool]] = {}
    frag = None
    matches: list = []
    target = None
    goto = False
    topts: tuple = ()
    opts: list = []
    keys: list = []
    module = None
    in_target = False
    neg = False
    n = len(toks)
    i = 0
    while i < n:
        t = toks[i]
        if t == "!" and not (quoted and quoted[i]):
            neg = True
            i += 1
            continue
        if len(t) == 2:  # -s -d -p -i -o -f -m -j -g (the regex allows nothing else with one dash)
            if t == "-m" or t == "-j" or t == "-g":
                if module is not None:
                    matches.append(_shared_match(cache, module, opts, keys))
                    module = None
                opts = []
                keys = []
                if t == "-m":
                    module = toks[i + 1]
                else:
                    target = toks[i + 1]
                    goto = t == "-g"
                    in_target = True
                i += 2
                continue
            if t == "-f":
                frag = not neg
                neg = False
                i += 1
                continue
            value = toks[i + 1]
            if t == "-s" or t == "-d":
                value = _norm_addr(value, family)
            basic[t] = (value, neg)
            neg = False
            i += 2
            continue
        j = i + 1
        while j < n:
            a = toks[j]
            if quoted and quoted[j]:
                j += 1
                continue
            if a == "!" or (len(a) > 1 and a[0] == "-" and not a[1].isdecimal()):
                break
            j += 1
        key = (t, tuple(toks[i + 1:j]), neg)
        o = cache.get(key)
        if o is None:
            o = cache[key] = Option(*key)
        opts.append(o)
        keys.append(key)
        neg = False
        i = j
    if module is not None:
        matches.append(_shared_match(cache, module, opts, keys))
    if in_target:
        topts = tuple(opts)
    return basic, frag, tuple(matches), target, goto, topts


def _fill(rule: Rule) -> None:
    """Turn a lazily created rule into a complete one (see ``Rule._lazy``)."""
    _, table, chain, position, body, family, source, lineno, pkts, bytes_, cache = _get_lazy(rule)
    if body:
        toks, quoted = tokenize(body)
    else:
        toks, quoted = [], None
    basic, frag, matches, target, goto, topts = _fast_fields(toks, quoted, family, cache)
    # table, chain, position and counters were set when parse_save created the rule
    _S_family(rule, family)
    _S_origin(rule, f"{source}:{lineno}")
    _S_approx(rule, False)
    _S_matches(rule, matches)
    _S_target(rule, target)
    _S_goto(rule, goto)
    _S_topts(rule, topts)
    _S_frag(rule, frag)
    get = basic.get
    for set_value, set_neg, flag in _BASIC_SETTERS:
        v = get(flag)
        if v is None:
            set_value(rule, None)
            set_neg(rule, False)
        else:
            set_value(rule, v[0])
            set_neg(rule, v[1])
    _set_lazy(rule, None)


def _counters(tok: str) -> tuple[int, int] | None:
    """``[123:4567]`` → (123, 4567); None when it is not a pair of counters that fit 63 bits."""
    if len(tok) < 5 or tok[0] != "[" or tok[-1] != "]":
        return None
    p, sep, b = tok[1:-1].partition(":")
    if not sep or not fits_count(p) or not fits_count(b):
        return None
    return int(p), int(b)


def parse_save(text: str | bytes, source: str = "<text>", *, strict: bool = True,
               family: str | None = None, lazy: bool = True) -> Ruleset:
    """Parse iptables-save text into a :class:`~workbook.model.Ruleset`.

    Accepts ``iptables-save``, ``iptables-save -c``, ``ip6tables-save`` and restore input
    (``-N``, ``-I chain [n]``, ``-P``, ``-F``, ``-X``, ``* nat``). Plain iptables-save rule lines
    are checked at once but their fields are filled on first access (``lazy=False`` fills every
    rule immediately; the rules are equal either way). With ``strict`` the first
    bad line raises :class:`~workbook.model.ParseError` naming ``source:line``; otherwise the
    bad lines are skipped and listed in ``ruleset.problems``.

    >>> rs = parse_save("*filter\\n:INPUT ACCEPT [5:300]\\n[2:120] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\\nCOMMIT\\n")
    >>> r = next(rs.iter_rules()); (r.pkts, r.bytes, r.option("--dport").value, r.position)
    (2, 120, '22', 1)
    >>> parse_save("-A INPUT -j DROP\\n", "r.txt")
    Traceback (most recent call last):
    ...
    workbook.model.ParseError: r.txt:1: rule outside a table (no '*table' line before it)
    """
    text = check_text(text, source)
    with paused_gc():  # one tracked object per rule and no cycle: see gc_pause
        return _parse_save(text, source, strict, family, lazy)


def _parse_save(text: str, source: str, strict: bool, family: str | None, lazy: bool) -> Ruleset:
    """parse_save() of text check_text() accepted."""
    rs = Ruleset(source=source, format="save")
    problems = rs.problems
    fam = family or "ipv4"
    if family is None and ("ip6tables" in text[:300] or _looks_v6(text)):
        fam = "ipv6"
    rs.family = fam
    table: Table | None = None
    table_line = 0
    inserted: set[tuple[str, str]] = set()
    lineno = 0

    def problem(msg: str, line_text: str) -> None:
        if strict:
            raise ParseError(source, lineno, msg)
        problems.append(Problem(source, lineno, msg, line_text))

    fast = _FAST_LINE if lazy else (lambda line: None)
    shared: dict = {}  # equal Option/Match objects of the lazily filled rules are shared
    for lineno, line in enumerate(split_lines(text), 1):
        c0 = line[:1]
        if c0 == "-" or c0 == "[":
            if table is not None:
                m = fast(line)
                if m is not None:
                    pk, by, cname, body, jg, tgt = m.groups()
                    chain = table.chains.get(cname)
                    if pk is not None and (len(pk) > 18 or len(by) > 18):
                        chain = None  # a counter that may not fit: the slow path checks it
                    if chain is not None:
                        rules = chain.rules
                        rule = _new_rule(Rule)
                        _set_lazy(rule, (_fill, table.name, cname, len(rules) + 1, body, fam, source, lineno, pk, by,
                                         shared))
                        if tgt is None and body and body[:3] in ("-j ", "-g "):  # a body that is only a target
                            jg, tgt = body[1], body[3:].split(" ", 1)[0]
                        _S_target(rule, tgt)
                        _S_goto(rule, jg == "g")
                        _S_table(rule, table.name)
                        _S_chain(rule, cname)
                        _S_position(rule, len(rules) + 1)
                        _S_pkts(rule, int(pk) if pk is not None else None)
                        _S_bytes(rule, int(by) if by is not None else None)
                        rules.append(rule)
                        continue
            if table is None:
                if c0 == "[" and not line[1:2].isdecimal():
                    from .session import prompt_command
                    if prompt_command(line) is not None:  # "[root@node ~]# iptables-save"
                        if "ip6tables" in line and family is None:
                            rs.family = fam = "ipv6"
                        continue
                problem("rule outside a table (no '*table' line before it)", line)
                continue
            try:
                toks, quoted = tokenize(line)
            except RuleSyntaxError as e:
                problem(str(e), line)
                continue
            pkts = byts = None
            k = 0
            if c0 == "[":
                cnt = _counters(toks[0])
                if cnt is None:
                    problem(f"bad counters {toks[0][:60]!r} (two decimal numbers below 2^63)", line)
                    continue
                pkts, byts = cnt
                k = 1
            if len(toks) < k + 2:
                problem(f"incomplete command {line.strip()!r}", line)
                continue
            cmd, cname = toks[k], toks[k + 1]
            chains = table.chains
            if cmd == "-A" or cmd == "--append" or cmd == "-I" or cmd == "--insert":
                chain = chains.get(cname)
                if chain is None:
                    chain = chains[cname] = Chain(table.name, cname, origin=f"{source}:{lineno}")
                    if cname not in BUILTIN_CHAINS.get(table.name, ()):
                        rs.notes.append(f"{source}:{lineno}: chain {cname} used before it was declared")
                    else:
                        chain.policy = "ACCEPT"
                start = k + 2
                at = None
                if cmd[1] == "I" or cmd == "--insert":
                    at = 1
                    if start < len(toks) and toks[start].isdecimal():
                        at = int(toks[start])
                        start += 1
                try:
                    if quoted is None:
                        rule = build_rule(toks[start:], None, table.name, cname, position=len(chain.rules) + 1,
                                          family=fam, origin=f"{source}:{lineno}", pkts=pkts, bytes_=byts)
                    else:
                        rule = build_rule(toks[start:], quoted[start:], table.name, cname,
                                          position=len(chain.rules) + 1, family=fam,
                                          origin=f"{source}:{lineno}", pkts=pkts, bytes_=byts)
                except RuleSyntaxError as e:
                    problem(str(e), line)
                    continue
                if at is None:
                    chain.rules.append(rule)
                else:
                    if at > len(chain.rules) + 1:
                        problem(f"-I {cname} {at}: index past the end of the chain ({len(chain.rules)} rules)", line)
                        continue
                    chain.rules.insert(at - 1, rule)
                    inserted.add((table.name, cname))
            elif cmd == "-N" or cmd == "--new-chain":
                if cname in chains:
                    problem(f"chain {cname} already exists", line)
                    continue
                chains[cname] = Chain(table.name, cname, origin=f"{source}:{lineno}")
            elif cmd == "-P" or cmd == "--policy":
                if len(toks) < k + 3:
                    problem(f"-P {cname} without a policy", line)
                    continue
                ch = chains.get(cname) or chains.setdefault(cname, Chain(table.name, cname, origin=f"{source}:{lineno}"))
                ch.policy = toks[k + 2]
            elif cmd == "-F" or cmd == "--flush":
                if cname in chains:
                    chains[cname].rules.clear()
            elif cmd == "-X" or cmd == "--delete-chain":
                chains.pop(cname, None)
            else:
                problem(f"unknown command {cmd!r}", line)
            continue
        if c0 == ":":
            if table is None:
                problem("chain declaration outside a table", line)
                continue
            parts = line[1:].split()
            if len(parts) == 3 and parts[1] == "-" and parts[2] == "[0:0]":  # the usual user chain line
                name = parts[0]
                if name not in table.chains and name not in BUILTIN_CHAINS.get(table.name, ()):
                    table.chains[name] = Chain(table.name, name, origin=f"{source}:{lineno}")
                    continue
            if not parts:
                problem("empty chain declaration", line)
                continue
            name = parts[0]
            pol = parts[1] if len(parts) > 1 else "-"
            cnt = _counters(parts[2]) if len(parts) > 2 else None
            if len(parts) > 2 and cnt is None:
                problem(f"bad chain counters {parts[2][:60]!r} (two decimal numbers below 2^63)", line)
                continue
            ch = Chain(table.name, name, origin=f"{source}:{lineno}")
            if pol != "-":
                ch.policy = pol
                if cnt:
                    ch.pkts, ch.bytes = cnt
            elif name in BUILTIN_CHAINS.get(table.name, ()):
                ch.policy = "ACCEPT"  # restore input may write ":INPUT - [0:0]"; the policy stays
            old = table.chains.get(name)
            if old is not None:  # restore semantics: re-declaring flushes the chain
                old.rules.clear()
                if pol != "-":
                    old.policy, old.pkts, old.bytes = ch.policy, ch.pkts, ch.bytes
            else:
                table.chains[name] = ch
            continue
        if c0 == "*":
            name = line[1:].strip()
            if table is not None:
                problem(f"table {name!r} starts before table {table.name!r} was committed (missing COMMIT)", line)
            if name not in KNOWN_TABLES:
                if strict:
                    raise ParseError(source, lineno, f"unknown table {name!r} (known: raw, mangle, nat, filter, security)")
                problems.append(Problem(source, lineno, f"unknown table {name!r}", line))
                table = Table(name)  # keep reading so the rest of the file still parses
            else:
                table = rs.tables.get(name) or Table(name)
            table_line = lineno
            rs.tables.setdefault(name, table)
            continue
        if line.startswith("COMMIT"):
            if table is None:
                problem("COMMIT outside a table", line)
            if table is not None and table.name not in KNOWN_TABLES:
                rs.tables.pop(table.name, None)
            table = None
            continue
        if c0 == "#":
            if "Warning:" in line:
                rs.notes.append(line.lstrip("# ").strip())
            elif line.startswith("# Generated by ip6tables-save"):
                rs.family = fam = "ipv6" if family is None else fam
            continue
        if not line.strip():
            continue
        if table is None:
            from .session import prompt_command
            prompt = prompt_command(line)
            if prompt is not None:  # a pasted "[root@node ~]# iptables-save" session
                if prompt.startswith("ip6tables") and family is None:
                    rs.family = fam = "ipv6"
                continue
        problem(f"unexpected line {line.strip()[:60]!r}", line)

    if table is not None:
        msg = f"table {table.name!r} (line {table_line}) has no COMMIT: file truncated?"
        if strict:
            raise ParseError(source, lineno, msg)
        problems.append(Problem(source, lineno, msg, ""))
    for tname, cname in inserted:
        ch = rs.tables[tname].chains[cname]
        ch.rules[:] = [r if r.position == i else replace(r, position=i) for i, r in enumerate(ch.rules, 1)]
    return rs


def _looks_v6(text: str) -> bool:
    # an ip6tables dump has ':'-addresses after -s/-d; sample the first rules cheaply
    seen = 0
    for line in split_lines(text[:400_000]):
        if line.startswith("-A") or line.startswith("["):
            seen += 1
            if " -s " in line or " -d " in line:
                for tok in line.split():
                    if "/" in tok and ":" in tok.split("/")[0] and tok.count(":") >= 2:
                        return True
                    if "/" in tok and tok.count(".") == 3:
                        return False
            if seen > 200:
                break
    return False
