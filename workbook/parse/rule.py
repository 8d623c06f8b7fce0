"""Tokenise one rule line and turn its options into a :class:`~workbook.model.Rule`."""

from __future__ import annotations

import re

from ..limits import check_count
from ..model import Match, Option, Rule
from ..vocab import PROTOCOL_MATCHES, TABLES

__all__ = ["tokenize", "build_rule", "rule_fields", "RuleSyntaxError", "KNOWN_TABLES"]

KNOWN_TABLES = frozenset(TABLES)


class RuleSyntaxError(ValueError):
    """A rule line that cannot be read; the message names what is wrong (no location)."""


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|("|\')|(\S+)')
_UNESCAPE = re.compile(r"\\(.)")


def tokenize(line: str) -> tuple[list[str], list[bool] | None]:
    """Split a rule line like iptables-restore does: whitespace, with double/single quotes.

    Returns the tokens and, when the line had quotes, a parallel list saying which tokens
    were quoted (``None`` when nothing was quoted: the fast path).

    >>> tokenize('-A INPUT -m comment --comment "a \\\\"b\\\\" c" -j ACCEPT')
    (['-A', 'INPUT', '-m', 'comment', '--comment', 'a "b" c', '-j', 'ACCEPT'], [False, False, False, False, False, True, False, False])
    >>> tokenize('-A INPUT -j DROP')
    (['-A', 'INPUT', '-j', 'DROP'], None)
    """
    if '"' not in line and "'" not in line:
        return line.split(), None
    if "'" not in line and "\\" not in line:
        fast = _tokenize_dq(line)
        if fast is not None:
            return fast
    toks: list[str] = []
    quoted: list[bool] = []
    for m in _TOKEN.finditer(line):
        dq, sq, lone, bare = m.groups()
        if lone is not None:
            raise RuleSyntaxError("unterminated quote")
        if bare is not None:
            if '"' in bare:
                raise RuleSyntaxError("unterminated quote")
            toks.append(bare)
            quoted.append(False)
        else:
            text = dq if dq is not None else sq
            toks.append(_UNESCAPE.sub(r"\1", text) if "\\" in text else text)
            quoted.append(True)
    return toks, quoted


def _tokenize_dq(line: str) -> tuple[list[str], list[bool]] | None:
    """``tokenize`` for lines whose only quoting is ``"..."`` between blanks (no backslash, no
    single quote): split on the quotes instead of running the regex. None means "use the regex"."""
    parts = line.split('"')
    if len(parts) % 2 == 0:
        return None  # odd number of quotes: let the regex report it
    toks: list[str] = []
    quoted: list[bool] = []
    last = len(parts) - 1
    for k, part in enumerate(parts):
        if k & 1:
            toks.append(part)
            quoted.append(True)
            continue
        # a quoted string must be preceded and followed by a blank (or the line's ends)
        if k > 0 and part and not part[0].isspace():
            return None
        if k < last and part and not part[-1].isspace():
            return None
        words = part.split()
        toks.extend(words)
        quoted.extend([False] * len(words))
    return toks, quoted


_BASIC = {
    "-s": "source", "--source": "source", "--src": "source",
    "-d": "destination", "--destination": "destination", "--dst": "destination",
    "-p": "protocol", "--protocol": "protocol",
    "-i": "in_interface", "--in-interface": "in_interface",
    "-o": "out_interface", "--out-interface": "out_interface",
}


def _is_option(tok: str) -> bool:
    return len(tok) > 1 and tok[0] == "-" and not tok[1].isdecimal()


def _norm_addr(value: str, family: str) -> str:
    if "/" in value or family == "ipv6" and ":" not in value and not value[:1].isdecimal():
        return value
    if ":" in value:
        return value + "/128"
    if value[:1].isdecimal() and value.count(".") == 3:
        return value + "/32"
    return value


def build_rule(tokens: list[str], quoted: list[bool] | None, table: str, chain: str, *,
               position: int = 0, family: str = "ipv4", origin: str | None = None,
               pkts: int | None = None, bytes_: int | None = None) -> Rule:
    """Make a Rule from the tokens after ``-A CHAIN`` (options in any order, code or saved form).

    Options after ``-m X`` belong to X until the next ``-m``/``-j``; ``--dport`` after
    ``-p tcp`` with no ``-m tcp`` gets the implicit ``tcp`` match, as iptables does. Words
    following an option are its arguments (so an unquoted ``--comment a b c`` keeps all three).

    >>> r = build_rule(*tokenize('-m comment --comment "x y" -m tcp -p tcp -d 10.0.0.1 --dport 80 -j ACCEPT'), "filter", "INPUT")
    >>> r.spec
    '-A INPUT -d 10.0.0.1/32 -p tcp -m comment --comment "x y" -m tcp --dport 80 -j ACCEPT'
    """
    f, matches, target, goto, topts, pkts, bytes_ = rule_fields(tokens, quoted, family, pkts, bytes_)
    return Rule(table=table, chain=chain, position=position, matches=matches, target=target, goto=goto,
                target_options=topts, pkts=pkts, bytes=bytes_, family=family, origin=origin, **f)


def rule_fields(tokens: list[str], quoted: list[bool] | None, family: str = "ipv4",
                pkts: int | None = None, bytes_: int | None = None):
    """The work of :func:`build_rule` without making the Rule: ``(basic-field dict, matches,
    target, goto, target_options, pkts, bytes)``."""
    f: dict = {}
    matches: list[tuple[str, list[Option]]] = []
    cur: list[Option] | None = None
    target: str | None = None
    goto = False
    topts: list[Option] = []
    in_target = False
    neg = False
    n = len(tokens)
    i = 0
    while i < n:
        tok = tokens[i]
        if quoted is not None and quoted[i]:
            raise RuleSyntaxError(f"unexpected quoted word {tok!r}")
        if tok == "!":
            neg = True
            i += 1
            continue
        if tok == "-m" or tok == "--match":
            if i + 1 >= n:
                raise RuleSyntaxError(f"{tok} without a module name")
            cur = []
            matches.append((tokens[i + 1], cur))
            in_target = False
            i += 2
            continue
        if tok in ("-j", "--jump", "-g", "--goto"):
            if i + 1 >= n:
                raise RuleSyntaxError(f"{tok} without a target")
            target = tokens[i + 1]
            goto = tok in ("-g", "--goto")
            in_target = True
            i += 2
            continue
        field_name = _BASIC.get(tok)
        if field_name is not None:
            j = i + 1
            if j < n and tokens[j] == "!" and not (quoted and quoted[j]):  # old "-s ! addr" form
                neg = True
                j += 1
            if j >= n:
                raise RuleSyntaxError(f"{tok} without a value")
            value = tokens[j]
            if field_name in ("source", "destination"):
                value = _norm_addr(value, family)
            f[field_name] = value
            if neg:
                f[field_name + "_negated"] = True
            neg = False
            i = j + 1
            continue
        if tok == "-f" or tok == "--fragment":
            f["fragment"] = not neg
            neg = False
            i += 1
            continue
        if tok == "-c" or tok == "--set-counters":
            if i + 2 >= n:
                raise RuleSyntaxError(f"{tok} needs packets and bytes")
            try:
                pkts, bytes_ = check_count(int(tokens[i + 1])), check_count(int(tokens[i + 2]))
            except ValueError:
                raise RuleSyntaxError(f"bad counters {tokens[i + 1]!r} {tokens[i + 2]!r}") from None
            i += 3
            continue
        if _is_option(tok):
            j = i + 1
            if j < n and tokens[j] == "!" and not (quoted and quoted[j]):  # old "--dport ! 80" form
                neg = True
                j += 1
            start = j
            while j < n and ((quoted is not None and quoted[j]) or (tokens[j] != "!" and not _is_option(tokens[j]))):
                j += 1
            opt = Option(tok, tuple(tokens[start:j]), neg)
            neg = False
            if in_target:
                topts.append(opt)
            elif cur is not None:
                cur.append(opt)
            else:
                implicit = PROTOCOL_MATCHES.get(str(f.get("protocol")).lower())
                if implicit is not None:
                    cur = [opt]
                    matches.append((implicit, cur))
                else:
                    raise RuleSyntaxError(f"option {tok} outside any -m match")
            i = j
            continue
        raise RuleSyntaxError(f"unexpected word {tok!r}")
    if neg:
        raise RuleSyntaxError("'!' at the end of the rule")
    return (f, tuple([Match(m, tuple(o)) for m, o in matches]), target, goto, tuple(topts), pkts, bytes_)
