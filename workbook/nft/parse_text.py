"""Read ``nft list ruleset`` / ``nft list table …`` text (plain, ``-a``, ``-s``) into an NftRuleset.

>>> rs = parse_nft_text('table ip kube-proxy {\\n\\tchain nat-prerouting {\\n'
...                     '\\t\\ttype nat hook prerouting priority dstnat; policy accept;\\n'
...                     '\\t\\tjump services # handle 7\\n\\t}\\n}\\n')
>>> c = rs.table("ip", "kube-proxy").chain("nat-prerouting")
>>> (c.hook, c.priority, c.policy, c.rules[0].text, c.rules[0].handle)
('prerouting', -100, 'accept', 'jump services', 7)
"""

from __future__ import annotations

import re

from ..gc_pause import paused_gc
from ..model import ParseError, Problem
from ..parse.save import split_lines
from .iptables_nft import mark_iptables_nft
from .model import (
    FAMILIES, Flowtable, NftChain, NftObject, NftRule, NftRuleset, NftSet, NftTable, SetElement,
    resolve_priority,
)
from .rule_text import RuleTextError, parse_rule_text

__all__ = ["parse_nft_text", "parse_elements", "split_elements", "WARNING"]

_HANDLE = re.compile(r"\s+# handle (\d+)$")
_TABLE = re.compile(r'^table\s+(\w+)\s+("(?:[^"\\]|\\.)*"|\S+)\s*\{$')
_BLOCK = re.compile(r'^(chain|set|map|flowtable|counter|quota|ct helper|ct timeout|ct expectation|limit|secmark|synproxy|tunnel)'
                    r'\s+("(?:[^"\\]|\\.)*"|\S+)\s*\{$')
_CHAIN_TYPE = re.compile(r'^type\s+(\w+)\s+hook\s+(\w+)\s+(?:device\s+("(?:[^"\\]|\\.)*"|\S+)\s+'
                         r'|devices\s*=\s*\{([^}]*)\}\s+)?priority\s+([^;]+?)\s*;\s*(?:policy\s+(\w+)\s*;)?\s*$')
#: The line iptables-nft makes ``nft list`` print (on stderr) for each of its tables.
WARNING = re.compile(r"^# Warning: table (\w+) (\S+) is managed by iptables-nft, do not touch!")
_ELEM = re.compile(r'^(?P<key>.*?)(?: (?P<ctr>counter(?: packets \d+ bytes \d+)?))?'
                   r'(?: timeout (?P<to>\S+))?(?: expires (?P<ex>\S+))?(?: comment (?P<c>"(?:[^"\\]|\\.)*"))?'
                   r'(?: : (?P<val>.*))?$', re.S)
_SPLIT = re.compile(r'"(?:[^"\\]|\\.)*"|[{}]|,|[^",{}]+')


def _unquote(s: str) -> str:
    return s[1:-1].replace('\\"', '"') if len(s) >= 2 and s[0] == '"' and s[-1] == '"' else s


def split_elements(body: str, with_lines: bool = False) -> list:
    """Split the inside of ``{ … }`` at top-level commas (quotes and nested braces respected);
    ``with_lines``: ``(element, newlines before it)`` pairs.

    >>> split_elements(' 10.0.0.1 comment "a, b", 10.0.0.2 ')
    ['10.0.0.1 comment "a, b"', '10.0.0.2']
    """
    out: list = []
    cur: list[str] = []
    depth = 0
    newlines = 0
    start_nl = 0
    for m in _SPLIT.finditer(body):
        t = m.group(0)
        if t == "," and depth == 0:
            out.append(("".join(cur).strip(), start_nl))
            cur = []
            continue
        if not cur or not "".join(cur).strip():
            start_nl = newlines + t[:len(t) - len(t.lstrip())].count("\n")
        newlines += t.count("\n")
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
        cur.append(t)
    last = "".join(cur).strip()
    if last:
        out.append((last, start_nl))
    elems = [(" ".join(e.split()) if "\n" in e or "\t" in e else e, n) for e, n in out if e]
    return elems if with_lines else [e for e, _ in elems]


def parse_elements(body: str, first_line: int = 0) -> list[SetElement]:
    """Elements of ``elements = { … }`` (the text between the braces; ``first_line``: its line)."""
    out = []
    for e, nl in split_elements(body, with_lines=True):
        line = first_line + nl if first_line else 0
        if " " not in e:
            out.append(SetElement(e, line=line))
            continue
        m = _ELEM.match(e)
        assert m is not None  # the pattern matches any text
        c = m.group("c")
        out.append(SetElement(m.group("key"), m.group("val"), _unquote(c) if c else None,
                              m.group("to"), m.group("ex"), m.group("ctr"), line))
    return out


class _Reader:
    """Line-by-line state machine over the listing."""

    def __init__(self, text: str, source: str, strict: bool):
        self.text, self.source, self.strict = text, source, strict
        self.rs = NftRuleset(source=source, format="nft")
        self.table: NftTable | None = None
        self.chain: NftChain | None = None
        self.block: NftSet | Flowtable | NftObject | None = None
        self.pending: list[str] | None = None  # lines of a multi-line "elements = { …"
        self.pending_line = 0
        self.pending_depth = 0  # braces opened and not closed in the pending lines

    def fail(self, lineno: int, message: str, text: str = "") -> None:
        if self.strict:
            raise ParseError(self.source, lineno, message)
        self.rs.problems.append(Problem(self.source, lineno, message, text))

    def run(self) -> NftRuleset:
        lineno = 0
        for lineno, raw in enumerate(split_lines(self.text), 1):
            line = raw.strip()
            if not line:
                continue
            if self.pending is not None:
                self.pending.append(line)
                self.pending_depth += _depth(line)
                if self.pending_depth <= 0:
                    self._elements_done()
                continue
            handle = None
            if "# handle" in line:
                m = _HANDLE.search(line)
                if m:
                    handle = int(m.group(1))
                    line = line[:m.start()].rstrip()
            if self.chain is not None:
                self._in_chain(line, lineno, handle)
            elif self.block is not None:
                self._in_block(line, lineno)
            elif self.table is not None:
                self._in_table(line, lineno, handle)
            else:
                self._top(line, lineno, handle)
        if self.pending is not None:
            self.fail(self.pending_line, "unbalanced braces: elements not closed at end of file")
            self.pending = None
        if self.table is not None:
            where = self.chain.line if self.chain is not None else self.table.line
            what = f"chain {self.chain.name}" if self.chain is not None else f"table {self.table.family} {self.table.name}"
            self.fail(where, f"unbalanced braces: {what} is not closed at end of file")
            self._close_table()
        mark_iptables_nft(self.rs)
        return self.rs

    # -- levels --------------------------------------------------------------------------
    def _top(self, line: str, lineno: int, handle: int | None) -> None:
        if line.startswith("#"):
            m = WARNING.match(line)
            if m:
                self.rs.warnings.append(line)
            return
        m = _TABLE.match(line)
        if m:
            fam, name = m.group(1), _unquote(m.group(2))
            if fam not in FAMILIES:
                self.fail(lineno, f"unknown family {fam!r} (ip, ip6, inet, arp, bridge, netdev)", line)
            if (fam, name) in self.rs.tables:
                self.table = self.rs.tables[(fam, name)]
            else:
                self.table = NftTable(fam, name, handle, line=lineno)
            return
        if line == "}":
            self.fail(lineno, "unbalanced braces: '}' without an open table", line)
            return
        self.fail(lineno, f"not an nft listing line: {line[:60]!r}", line)

    def _close_table(self) -> None:
        t = self.table
        assert t is not None
        self.rs.tables[(t.family, t.name)] = t
        self.table = self.chain = self.block = None

    def _in_table(self, line: str, lineno: int, handle: int | None) -> None:
        t = self.table
        assert t is not None
        if line == "}":
            self._close_table()
            return
        m = _BLOCK.match(line)
        if m:
            kind, name = m.group(1), _unquote(m.group(2))
            if kind == "chain":
                if name in t.chains:
                    self.chain = t.chains[name]
                else:
                    self.chain = NftChain(t.family, t.name, name, handle, line=lineno)
                    t.chains[name] = self.chain
            elif kind in ("set", "map"):
                s = NftSet(t.family, t.name, name, kind, handle, line=lineno)
                t.sets[name] = s
                t.order.append((kind, name))
                self.block = s
            elif kind == "flowtable":
                f = Flowtable(t.family, t.name, name, handle, line=lineno)
                t.flowtables[name] = f
                t.order.append((kind, name))
                self.block = f
            else:
                o = NftObject(t.family, t.name, kind, name, handle, line=lineno)
                t.objects.append(o)
                t.order.append((kind, name))
                self.block = o
            return
        if line.startswith("flags "):
            t.flags = tuple(x.strip() for x in line[6:].split(","))
            return
        if line.startswith("comment "):
            t.comment = _unquote(line[8:].strip())
            return
        if line.startswith("#"):
            return
        self.fail(lineno, f"unknown line in table {t.family} {t.name}: {line[:60]!r}", line)

    def _in_chain(self, line: str, lineno: int, handle: int | None) -> None:
        c = self.chain
        assert c is not None
        if line == "}":
            self.chain = None
            return
        if line.startswith("type ") and not c.rules and c.hook is None:
            m = _CHAIN_TYPE.match(line)
            if m is None:
                self.fail(lineno, f"bad base chain declaration: {line[:80]!r}", line)
                return
            c.type, c.hook = m.group(1), m.group(2)
            if m.group(3):
                c.device = _unquote(m.group(3))
            elif m.group(4):
                c.device = ", ".join(x.strip() for x in m.group(4).split(","))
            c.priority_text = m.group(5).strip()
            try:
                c.priority = resolve_priority(c.priority_text, c.family)
            except ValueError as e:
                self.fail(lineno, str(e), line)
            c.policy = m.group(6) or ("accept" if c.hook else None)
            return
        if line.startswith("comment ") and not c.rules and line.count('"') == 2 and line.endswith('"'):
            c.comment = _unquote(line[8:].strip())
            return
        if line.startswith("#"):
            return
        if "#" in line and not line.count('"'):
            self.fail(lineno, f"stray '#' in rule: {line[:80]!r}", line)
            return
        text = line
        rule = NftRule(c.family, c.table, c.name, len(c.rules) + 1, text, handle, lineno)
        try:
            rule._statements, rule._comment = parse_rule_text(text)
        except RuleTextError as e:
            self.fail(lineno, f"{e} in rule: {text[:80]}", line)
            return
        c.rules.append(rule)

    def _in_block(self, line: str, lineno: int) -> None:
        b = self.block
        if line == "}" or line == "};":
            self.block = None
            return
        if isinstance(b, NftSet):
            if line.startswith("elements = {") or line.startswith("elements={"):
                self.pending = [line]
                self.pending_line = lineno
                self.pending_depth = _depth(line)
                if self.pending_depth <= 0:
                    self._elements_done()
                return
            word, _, rest = line.partition(" ")
            if word == "type" or word == "typeof":
                b.typeof = word == "typeof"
                key, sep, data = rest.partition(" : ")
                b.type = key.strip()
                b.data = data.strip() if sep else None
            elif word == "flags":
                b.flags = tuple(x.strip() for x in rest.split(","))
            elif word == "timeout":
                b.timeout = rest.strip()
            elif word == "size" and rest.strip().isdigit():
                b.size = int(rest)
            elif word == "policy":
                b.policy = rest.strip()
            elif word == "comment":
                b.comment = _unquote(rest.strip())
            else:
                b.extra.append(line)
            return
        if isinstance(b, Flowtable):
            m = re.match(r"^hook\s+(\w+)\s+priority\s+([^;]+?)\s*;?$", line)
            if m:
                b.hook, b.priority_text = m.group(1), m.group(2)
            elif line.startswith("devices = {"):
                inner = line[line.index("{") + 1:line.rindex("}")] if "}" in line else ""
                b.devices = tuple(x.strip() for x in inner.split(",") if x.strip())
            else:
                b.extra.append(line)
            return
        assert isinstance(b, NftObject)
        b.body.append(line)

    def _elements_done(self) -> None:
        assert self.pending is not None and isinstance(self.block, NftSet)
        body = "\n".join(self.pending)
        self.pending = None
        inner = body[body.index("{") + 1:body.rindex("}")]
        self.block.elements.extend(parse_elements(inner, self.pending_line))


def _depth(line: str) -> int:
    """Braces ``line`` opens minus those it closes (quoted text ignored): a multi-line element
    list ends when the running sum is back to 0, counted line by line (linear in its length)."""
    if "{" not in line and "}" not in line:
        return 0
    depth = 0
    for m in _SPLIT.finditer(line):
        t = m.group(0)
        if t == "{":
            depth += 1
        elif t == "}":
            depth -= 1
    return depth


def parse_nft_text(text: str, source: str = "<text>", *, strict: bool = True, **_: object) -> NftRuleset:
    """Parse ``nft list ruleset`` (or ``nft list table …``) output; ``-a`` handles and ``-s``
    stateless listings are read the same way.

    ``strict`` (default) raises :class:`~workbook.model.ParseError` (``file:line: why``) at the
    first bad line; ``strict=False`` records it in ``ruleset.problems`` and keeps the rest.
    """
    with paused_gc():
        return _Reader(text, source, strict).run()
