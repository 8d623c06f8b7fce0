"""Split one nft rule's text (as ``nft list ruleset`` prints it) into typed statements.

>>> stmts, comment = parse_rule_text('ip daddr . meta l4proto . th dport vmap @service-ips')
>>> stmts[0].key.text, stmts[0].map.name
('ip daddr . meta l4proto . th dport', 'service-ips')
>>> [type(s).__name__ for s in parse_rule_text('tcp dport { 22, 80 } ct state established,related counter packets 1 bytes 60 accept')[0]]
['Match', 'Match', 'Counter', 'Verdict']
>>> stmts, comment = parse_rule_text('meta l4proto tcp dnat to 10.180.0.1:80 comment "ns1/svc1"')
>>> stmts[1].kind, stmts[1].addr, stmts[1].port, comment
('dnat', '10.180.0.1', '80', 'ns1/svc1')
"""

from __future__ import annotations

import re

from .statements import (
    AnonSet, Binop, Concat, Counter, Expr, Field, Limit, Literal, Log, MapEntry, MapLookup, Match, Nat,
    Notrack, Other, Reject, SetField, SetRef, SetUpdate, Statement, Verdict, VerdictMap, Xt,
)

__all__ = ["parse_rule_text", "RuleTextError", "tokenize_rule", "stateless", "KNOWN_STATEMENTS"]


class RuleTextError(ValueError):
    """The rule text is not something nft prints (message names the word where it went wrong)."""


_SPECIAL = re.compile(r'["{}(),]')
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}(),]|[^\s{}(),"]+|(")')

PAYLOAD_PROTOS = frozenset({
    "ether", "vlan", "arp", "ip", "ip6", "icmp", "icmpv6", "igmp", "tcp", "udp", "udplite", "sctp",
    "dccp", "th", "ah", "esp", "comp", "gre", "geneve", "vxlan", "hbh", "frag", "dst", "mh", "srh",
    "cfi", "pcp", "auth",
})
META_BARE = frozenset({
    "iifname", "oifname", "iif", "oif", "mark", "skuid", "skgid", "iiftype", "oiftype", "iifgroup",
    "oifgroup", "cgroup", "rtclassid", "ibrname", "obrname", "ibriport", "obriport", "pkttype", "cpu",
    "nfproto", "l4proto",
})
_CT_DIR = frozenset({"original", "reply"})
_ONE_KEY = frozenset({"socket", "rt", "osf", "ipsec", "exthdr", "tunnel", "dccp", "xfrm"})
SELECTORS = PAYLOAD_PROTOS | META_BARE | _ONE_KEY | {"meta", "ct", "fib", "numgen", "jhash", "symhash"}
_VERDICT_WORDS = frozenset({"accept", "drop", "continue", "return", "jump", "goto"})
#: Statement keywords this module reads (besides selectors, which start matches and ``set``s).
KNOWN_STATEMENTS = frozenset({
    "accept", "drop", "continue", "return", "jump", "goto", "queue", "counter", "log", "limit", "notrack",
    "reject", "dnat", "snat", "masquerade", "redirect", "xt", "update", "add", "delete", "quota", "tproxy",
    "dup", "fwd", "flow", "meter", "synproxy", "comment", "last", "secmark",
})
_STARTS = SELECTORS | KNOWN_STATEMENTS
_OPS = {"==": "==", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=",
        "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}
_BINOPS = {"&": "&", "|": "|", "^": "^", "<<": "<<", ">>": ">>", "and": "&", "or": "|", "xor": "^"}
_NAT_FLAGS = frozenset({"random", "persistent", "fully-random", "netmap", "prefix"})
_LOG_OPTS = frozenset({"prefix", "level", "group", "snaplen", "queue-threshold", "flags"})


def tokenize_rule(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` for every token; quotes kept; ``{ } ( ) ,`` stand alone."""
    if not _SPECIAL.search(text):
        # the common case (no quotes, braces or commas): whitespace-separated words
        out = []
        pos = 0
        find = text.find
        for w in text.split():
            i = find(w, pos)
            pos = i + len(w)
            out.append((w, i, pos))
        return out
    out = []
    for m in _TOKEN.finditer(text):
        if m.group(1):
            raise RuleTextError(f"unterminated quote at column {m.start() + 1}")
        a, b = m.span()
        out.append((text[a:b], a, b))
    return out


class _Parser:
    __slots__ = ("text", "toks", "i", "n")

    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize_rule(text)
        self.i = 0
        self.n = len(self.toks)

    # -- helpers -------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.toks[j][0] if j < self.n else None

    def take(self) -> str:
        if self.i >= self.n:
            raise RuleTextError(f"rule ends too early: {self.text!r}")
        t = self.toks[self.i][0]
        self.i += 1
        return t

    def expect(self, word: str) -> None:
        t = self.take()
        if t != word:
            raise RuleTextError(f"expected {word!r}, found {t!r}")

    def start(self) -> int:
        return self.toks[self.i][1] if self.i < self.n else len(self.text)

    def span(self, start: int) -> str:
        end = self.toks[self.i - 1][2] if self.i else 0
        return self.text[start:end]

    def at_statement_start(self) -> bool:
        t = self.peek()
        return t is None or t in _STARTS

    # -- expressions ---------------------------------------------------------------------
    def selector(self) -> Field:
        s = self.start()
        t = self.take()
        if t == "meta":
            key = self.take()
            return Field("meta", key, (), self.span(s))
        if t in META_BARE:
            return Field("meta", t, (), self.span(s))
        if t == "ct":
            k = self.take()
            if k in _CT_DIR:
                k2 = self.take()
                if k2 in ("ip", "ip6") and self.peek() in ("saddr", "daddr"):
                    k2 = k2 + " " + self.take()
                k = k + " " + k2
            return Field("ct", k, (), self.span(s))
        if t == "fib":
            flags = [self.take()]
            while self.peek() == ".":
                self.take()
                flags.append(self.take())
            return Field("fib", self.take(), tuple(flags), self.span(s))
        if t == "numgen":
            mode = self.take()
            self.expect("mod")
            mod = self.take()
            off = "0"
            if self.peek() == "offset":
                self.take()
                off = self.take()
            return Field("numgen", mode, (mod, off), self.span(s))
        if t in ("jhash", "symhash"):
            over = None
            if t == "jhash":
                over = self.expr(allow_binop=False)
            self.expect("mod")
            mod = self.take()
            off = "0"
            while self.peek() in ("seed", "offset"):
                w = self.take()
                v = self.take()
                if w == "offset":
                    off = v
            return Field(t, t, (mod, off), self.span(s), over)
        if t in PAYLOAD_PROTOS:
            key = self.take()
            if t == "tcp" and key == "option":
                key = "option " + self.take()
                if self.peek() not in _OPS and self.peek() not in _BINOPS \
                        and self.peek() not in ("set", "exists", "missing") and self.peek(1) is not None:
                    key += " " + self.take()
            return Field("payload", f"{t} {key}", (), self.span(s))
        if t.startswith("@") and self.peek() == ",":
            while self.peek() == ",":
                self.take()
                self.take()
            return Field("raw", self.span(s), (), self.span(s))
        if t in _ONE_KEY:
            return Field(t, self.take(), (), self.span(s))
        raise RuleTextError(f"unknown expression {t!r}")

    def value(self) -> Expr:
        """The right side of a match: constants, concatenated with ``.``."""
        s = self.start()
        parts = [self.constant()]
        while self.peek() == ".":
            self.take()
            parts.append(self.constant())
        return parts[0] if len(parts) == 1 else Concat(tuple(parts), self.span(s))

    def expr(self, allow_binop: bool = True) -> Expr:
        """A selector or constant with binary operators and concatenation (``a . b``)."""
        s = self.start()
        parts = [self._binop_chain(allow_binop)]
        while self.peek() == ".":
            self.take()
            parts.append(self._binop_chain(allow_binop))
        if len(parts) == 1:
            return parts[0]
        return Concat(tuple(parts), self.span(s))

    def _binop_chain(self, allow_binop: bool) -> Expr:
        s = self.start()
        t = self.peek()
        left: Expr = self.selector() if t in SELECTORS or (t and t.startswith("@") and self.peek(1) == ",") \
            else self.constant()
        while allow_binop and self.peek() in _BINOPS:
            op = _BINOPS[self.take()]
            right = self.constant() if self.peek() not in SELECTORS else self.selector()
            left = Binop(left, op, right, self.span(s))
        return left

    def constant(self) -> Expr:
        """A constant: literal (comma lists and ``a / b`` joined), ``@set``, ``{ … }``, ``( … )``."""
        t = self.peek()
        if t is None:
            raise RuleTextError(f"rule ends where a value was expected: {self.text!r}")
        if t == "{":
            return self.anon_set()
        if t.startswith("@"):
            self.take()
            return SetRef(t[1:])
        s = self.start()
        if t == "(":
            depth = 0
            while True:
                w = self.take()
                depth += (w == "(") - (w == ")")
                if depth == 0:
                    break
        elif t in ("}", ",", ")"):
            raise RuleTextError(f"unexpected {t!r}")
        else:
            self.take()
        while self.peek() == "," or self.peek() == "/":
            self.take()
            if self.peek() == "(":
                self.constant()
            else:
                self.take()
        return Literal(self.span(s))

    def anon_set(self) -> AnonSet:
        s = self.start()
        self.expect("{")
        elems: list = []
        while self.peek() != "}":
            es = self.start()
            key = self.value()
            while self.peek() in ("comment", "timeout", "expires", "counter"):
                w = self.take()
                if w == "counter" and self.peek() == "packets":
                    self.take(), self.take(), self.take(), self.take()
                elif w != "counter":
                    self.take()
            if self.peek() == ":":
                self.take()
                value = self.verdict() if self.peek() in _VERDICT_WORDS else self.value()
                elems.append(MapEntry(key, value, self.span(es)))
            else:
                elems.append(key)
            if self.peek() == ",":
                self.take()
            elif self.peek() != "}":
                raise RuleTextError(f"expected ',' or '}}' in a set, found {self.peek()!r}")
        self.take()
        return AnonSet(tuple(elems), self.span(s))

    def verdict(self) -> Verdict:
        s = self.start()
        k = self.take()
        target = self.take() if k in ("jump", "goto") else None
        if target is not None and target.startswith('"'):
            target = target[1:-1]
        return Verdict(k, target, self.span(s))

    # -- statements ----------------------------------------------------------------------
    def statement(self) -> Statement:
        t = self.peek()
        s = self.start()
        if t in _VERDICT_WORDS:
            return self.verdict()
        if t in SELECTORS or (t and t.startswith("@") and self.peek(1) == ","):
            if t == "ct" and self.peek(1) == "count":
                self.take(), self.take()
                self._words_until_statement()
                return Other("ct count", self.span(s))
            left = self.expr()
            nxt = self.peek()
            if nxt == "set":
                self.take()
                if not isinstance(left, Field):
                    raise RuleTextError(f"cannot set {left}")
                return SetField(left, self.expr(), self.span(s))
            if nxt == "vmap":
                self.take()
                m = self.constant()
                if not isinstance(m, (SetRef, AnonSet)):
                    raise RuleTextError(f"vmap needs a map, found {m}")
                return VerdictMap(left, m, self.span(s))
            if nxt in _OPS:
                op = _OPS[self.take()]
                return Match(left, op, self.value(), self.span(s))
            if nxt is None or nxt == "comment":
                raise RuleTextError(f"{left} is not followed by a value")
            return Match(left, "==", self.value(), self.span(s), implicit=True)
        self.take()
        if t == "counter":
            if self.peek() == "name":
                self.take()
                name = self.take()
                return Counter(name=name.strip('"'), text=self.span(s))
            if self.peek() == "packets":
                self.take()
                p = int(self.take())
                self.expect("bytes")
                b = int(self.take())
                return Counter(p, b, text=self.span(s))
            return Counter(text=self.span(s))
        if t in ("dnat", "snat", "masquerade", "redirect"):
            return self.nat(t, s)
        if t == "reject":
            kind = code = None
            if self.peek() == "with":
                self.take()
                kind = self.take()
                if kind == "tcp":
                    self.expect("reset")
                    kind = "tcp reset"
                else:
                    if self.peek() == "type":
                        self.take()
                    code = self.take()
            return Reject(kind, code, self.span(s))
        if t == "notrack":
            return Notrack(self.span(s))
        if t == "log":
            opts = []
            while self.peek() in _LOG_OPTS:
                w = self.take()
                v = self.take()
                if w == "flags" and v in ("tcp", "ip", "ip6") or w == "flags" and self.peek() == ",":
                    while self.peek() == ",":
                        self.take()
                        v += "," + self.take()
                    if v in ("tcp", "ip", "ip6"):
                        v += " " + self.take()
                        while self.peek() == ",":
                            self.take()
                            v += "," + self.take()
                opts.append((w, v))
            return Log(tuple(opts), self.span(s))
        if t == "limit":
            self.expect("rate")
            over = False
            if self.peek() in ("over", "until"):
                over = self.take() == "over"
            rate = self.take()
            if "/" not in rate:
                rate += " " + self.take()
            burst = None
            if self.peek() == "burst":
                self.take()
                burst = self.take() + " " + self.take()
            return Limit(over, rate, burst, self.span(s))
        if t == "xt":
            kind = self.take()
            name = self.take()
            return Xt(kind, name.strip('"'), self.span(s))
        if t in ("update", "add", "delete") and (self.peek() or "").startswith("@"):
            name = self.take()[1:]
            self.expect("{")
            key = self.expr()
            while self.peek() not in ("}", None):
                self.take()
            self.expect("}")
            return SetUpdate(t, name, key, self.span(s))
        if t == "flow":
            op = self.take()
            target = self.take()
            return Other("flow", self.span(s)) if op in ("add", "offload") and target.startswith("@") \
                else self._bad(f"flow {op} {target}")
        if t == "queue":
            self._words_until_statement()
            return Verdict("queue", None, self.span(s))
        if t in ("tproxy", "dup", "fwd"):
            if self.peek() in ("ip", "ip6"):
                self.take()
            self._words_until_statement(allow_selectors=t != "tproxy")
            return Other(t, self.span(s))
        if t in KNOWN_STATEMENTS and t != "comment":
            self._words_until_statement()
            return Other(t, self.span(s))
        raise RuleTextError(f"unknown statement {t!r}")

    def _bad(self, what: str) -> Statement:
        raise RuleTextError(f"not a statement nft prints: {what!r}")

    def _words_until_statement(self, allow_selectors: bool = False) -> None:
        while self.peek() is not None:
            t = self.peek()
            if t in KNOWN_STATEMENTS or (not allow_selectors and t in SELECTORS):
                break
            if t == "{":
                self.anon_set()
            else:
                self.take()

    def nat(self, kind: str, s: int) -> Nat:
        family = None
        if self.peek() in ("ip", "ip6") and self.peek(1) in ("to", "addr", "prefix"):
            family = self.take()
        addr = port = None
        to_map = None
        if kind in ("dnat", "snat"):
            if self.peek() == "to":
                self.take()
            t = self.peek()
            if t is None:
                raise RuleTextError(f"{kind} without an address")
            if t in SELECTORS:
                ms = self.start()
                key = self.expr()
                self.expect("map")
                m = self.constant()
                if not isinstance(m, (SetRef, AnonSet)):
                    raise RuleTextError(f"{kind} map needs a map, found {m}")
                to_map = MapLookup(key, m, self.span(ms))
            else:
                addr, port = _split_addr_port(self.take())
        elif self.peek() == "to":
            self.take()
            _, port = _split_addr_port(self.take())
        flags: list[str] = []
        while self.peek() in _NAT_FLAGS:
            flags.append(self.take())
            while self.peek() == ",":
                self.take()
                flags.append(self.take())
        return Nat(kind, family, addr, port, tuple(flags), to_map, self.span(s))


def _split_addr_port(text: str) -> tuple[str | None, str | None]:
    """``10.0.0.1:80`` → (``10.0.0.1``, ``80``); ``[fd00::1]:80``; ``:15001``; ``fd00::1``."""
    if text.startswith("["):
        addr, _, rest = text[1:].partition("]")
        return addr, rest[1:] if rest.startswith(":") else None
    if text.startswith(":"):
        return None, text[1:]
    if text.count(":") == 1:
        a, p = text.split(":")
        return a, p
    return text, None


def parse_rule_text(text: str) -> tuple[tuple[Statement, ...], str | None]:
    """``(statements, comment)`` for one rule's text (without ``# handle N``).

    Raises :class:`RuleTextError` for text nft would not print (unknown statements, unbalanced
    braces, a selector with no value).
    """
    fast = _common_shape(text)
    if fast is not None:
        return fast, None
    if text.count("{") > _MAX_NESTING and _nesting(text) > _MAX_NESTING:
        raise RuleTextError(f"sets nested more than {_MAX_NESTING} deep")
    p = _Parser(text)
    out: list[Statement] = []
    comment = None
    try:
        while p.i < p.n:
            if p.peek() == "comment":
                p.take()
                c = p.take()
                comment = c[1:-1].replace('\\"', '"') if c.startswith('"') else c
                if p.i < p.n:
                    raise RuleTextError(f"text after the comment: {p.peek()!r}")
                break
            out.append(p.statement())
    except RuleTextError:
        raise
    except (ValueError, ArithmeticError, IndexError) as e:  # a number that is not one, a value missing
        raise RuleTextError(f"cannot read {text[:60]!r}: {e}") from None
    return tuple(out), comment


_MAX_NESTING = 64

_ADDR_FIELDS = {f"{p} {k}": Field("payload", f"{p} {k}", (), f"{p} {k}") for p in ("ip", "ip6") for k in ("saddr", "daddr")}
_NOT_VALUES = frozenset({"set", "vmap", "map", ".", "and", "or", "xor", "&", "|", "^", "<<", ">>", "/"})
_L4PROTO = Field("meta", "l4proto", (), "meta l4proto")
_PLAIN = re.compile(r"[^\s\\\[\]{}(),\"@$]+")   # a value word with nothing the reader would look into


def _common_shape(text: str) -> tuple[Statement, ...] | None:
    """The statements of a rule made only of the shapes kube-proxy writes by the thousand
    (``ip saddr A``, ``ip daddr != A``, ``meta l4proto tcp``, ``dnat to A:P``, ``jump/goto C``), built
    directly; None for anything else (the full reader decides). Equal to the reader's result (tested)."""
    if text.startswith("numgen "):
        return _numgen_vmap(text)
    words = text.split(" ")
    n, i = len(words), 0
    out: list[Statement] = []
    pos = 0
    while i < n:
        w = words[i]
        start = pos
        if w in ("ip", "ip6") and i + 2 < n:
            f = _ADDR_FIELDS.get(f"{w} {words[i + 1]}")
            if f is None:
                return None
            neg = words[i + 2] == "!="
            j = i + 3 if neg else i + 2
            if j >= n or not _PLAIN.fullmatch(words[j]) or words[j] in _STARTS or words[j] in _OPS \
                    or words[j] in _NOT_VALUES:
                return None
            end = start + len(" ".join(words[i:j + 1]))
            out.append(Match(f, "!=" if neg else "==", Literal(words[j]), text[start:end], not neg))
            i = j + 1
        elif w == "meta" and i + 2 < n and words[i + 1] == "l4proto" and words[i + 2] in ("tcp", "udp", "sctp"):
            end = start + len(w) + 9 + len(words[i + 2])
            out.append(Match(_L4PROTO, "==", Literal(words[i + 2]), text[start:end], True))
            i += 3
        elif w == "dnat" and i + 2 < n and words[i + 1] == "to" and i + 3 == n:
            addr, _, port = words[i + 2].rpartition(":")
            if not addr or ":" in addr or not port.isdigit() or not _PLAIN.fullmatch(words[i + 2]):
                return None
            end = len(text)
            out.append(Nat("dnat", None, addr, port, (), None, text[start:end]))
            i += 3
        elif w in ("jump", "goto") and i + 2 == n and _PLAIN.fullmatch(words[i + 1]):
            out.append(Verdict(w, words[i + 1], text[start:]))
            i += 2
            end = len(text)
        else:
            return None
        pos = end + 1
    return tuple(out) if out else None


_NUMGEN_ENTRY = r"[0-9]+ : (?:goto|jump) [A-Za-z0-9_./-]+"
_NUMGEN_VMAP = re.compile(f"(numgen random mod [0-9]+) vmap (\\{{ {_NUMGEN_ENTRY}(?:, {_NUMGEN_ENTRY})* \\}})")


def _numgen_vmap(text: str) -> tuple[Statement, ...] | None:
    """kube-proxy's endpoint choice, ``numgen random mod N vmap { 0 : goto C0, 1 : goto C1 }``, built
    directly as the full reader builds it; None for any other text."""
    m = _NUMGEN_VMAP.fullmatch(text)
    if m is None:
        return None
    key = Field("numgen", "random", (m.group(1).rsplit(" ", 1)[1], "0"), m.group(1))
    entries = []
    for e in m.group(2)[2:-2].split(", "):
        k, _, kind, target = e.split(" ")
        entries.append(MapEntry(Literal(k), Verdict(kind, target, f"{kind} {target}"), e))
    return (VerdictMap(key, AnonSet(tuple(entries), m.group(2)), text),)


def _nesting(text: str) -> int:
    depth = top = 0
    for ch in text:
        if ch in "{(":
            depth += 1
            top = max(top, depth)
        elif ch in "})":
            depth -= 1
    return top


_COUNTER_VALUES = re.compile(r"\bcounter packets \d+ bytes \d+")
_QUOTA_USED = re.compile(r"( quota (?:over |until )?\d+ \w+) used \d+ \w+")


def stateless(text: str) -> str:
    """The rule text as ``nft -s`` prints it: counter values and quota usage left out.

    >>> stateless('ip saddr 1.1.1.1 counter packets 3 bytes 180 accept')
    'ip saddr 1.1.1.1 counter accept'
    """
    if "counter packets" not in text and " used " not in text:
        return text
    head, sep, tail = text.partition(' comment "')
    head = _QUOTA_USED.sub(r"\1", _COUNTER_VALUES.sub("counter", head))
    return head + sep + tail
