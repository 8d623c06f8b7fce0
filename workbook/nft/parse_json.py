"""Read ``nft -j list ruleset`` (libnftables-json(5)) into the same NftRuleset as the text parser.

Each rule's JSON expressions are rendered into the one-line text ``nft list ruleset`` prints for
them, then split into statements by :mod:`workbook.nft.rule_text` — one statement parser for both.

>>> rs = parse_nft_json('{"nftables": [{"table": {"family": "ip", "name": "t", "handle": 1}},'
...     '{"chain": {"family": "ip", "table": "t", "name": "c", "handle": 1, "type": "nat",'
...     ' "hook": "prerouting", "prio": -100, "policy": "accept"}},'
...     '{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 2, "expr": ['
...     '{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 16384}}, {"jump": {"target": "x"}}]}}]}')
>>> c = rs.table("ip", "t").chain("c"); (c.priority_text, c.rules[0].text, c.rules[0].handle)
('dstnat', 'meta mark 0x00004000 jump x', 2)
"""

from __future__ import annotations

import json
from typing import Any

from ..model import ParseError, Problem
from .iptables_nft import mark_iptables_nft
from .model import Flowtable, NftChain, NftObject, NftRule, NftRuleset, NftSet, NftTable, SetElement, priority_text
from .rule_text import RuleTextError, parse_rule_text

__all__ = ["parse_nft_json", "render_statement", "render_expr", "format_time", "JSON_LOSSES"]

#: What ``nft -j`` (1.0.6, checked on the kitchen-sink fixture) leaves out that the text listing shows.
JSON_LOSSES = ("nft -j leaves out table and chain comments, table flags, netdev chain devices, the dynamic "
               "set flag and typeof declarations, and prints xt compat matches without their translation; "
               "the text listing (nft list ruleset) has them")

_UNQUALIFIED_META = frozenset({"iif", "oif", "iifname", "oifname", "iifgroup", "oifgroup"})
_MARK_KEYS = frozenset({"mark"})
_BINOPS = ("&", "|", "^", "<<", ">>")
_TABLE_FLAGS = frozenset({"dormant", "owner", "persist"})
_QUOTED_KEYS = frozenset({"iifname", "oifname", "iif", "oif", "ibrname", "obrname", "sdifname"})


class _Bad(ValueError):
    pass


def format_time(seconds: float) -> str:
    """nft's time format: ``10800`` → ``3h``, ``3599`` → ``59m59s``, ``90061`` → ``1d1h1m1s``."""
    ms = int(round(seconds * 1000))
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    if ms:
        out.append(f"{ms}ms")
    return "".join(out) or "0s"


def _bytes(n: int) -> str:
    for unit, size in (("gbytes", 1 << 30), ("mbytes", 1 << 20), ("kbytes", 1 << 10)):
        if n and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


def _quote(s: str) -> str:
    return '"' + s.replace('"', '\\"') + '"'


def _is_mark(e: Any) -> bool:
    if isinstance(e, dict):
        if "meta" in e:
            return e["meta"].get("key") in _MARK_KEYS
        if "ct" in e:
            return e["ct"].get("key") in _MARK_KEYS
        for op in _BINOPS:
            if op in e:
                return _is_mark(e[op][0])
    return False


def _quoted_key(e: Any) -> bool:
    return isinstance(e, dict) and "meta" in e and e["meta"].get("key") in _QUOTED_KEYS


def render_expr(e: Any, mark: bool = False, quote: bool = False) -> str:
    """The nft text of one JSON expression (``mark``: integers print as ``0x%08x``)."""
    if e is None:
        return ""
    if isinstance(e, bool):
        return "1" if e else "0"
    if isinstance(e, int):
        return f"0x{e:08x}" if mark else str(e)
    if isinstance(e, str):
        return _quote(e) if quote and not e.startswith("@") else e
    if isinstance(e, list):
        return ",".join(render_expr(x, mark, quote) for x in e)
    if not isinstance(e, dict) or len(e) != 1:
        raise _Bad(f"unknown JSON expression {json.dumps(e)[:60]}")
    (k, v), = e.items()
    if k == "payload":
        if "protocol" in v:
            return f"{v['protocol']} {v['field']}"
        return f"@{v['base']},{v['offset']},{v['len']}"
    if k == "meta":
        key = v["key"]
        return key if key in _UNQUALIFIED_META else f"meta {key}"
    if k == "ct":
        parts = ["ct"]
        if v.get("dir"):
            parts.append(v["dir"])
        if v.get("family"):
            parts.append(v["family"])
        parts.append(v["key"])
        return " ".join(parts)
    if k == "fib":
        flags = v.get("flags", [])
        flags = [flags] if isinstance(flags, str) else flags
        return f"fib {' . '.join(flags)} {v['result']}"
    if k == "numgen":
        s = f"numgen {v['mode']} mod {v['mod']}"
        return s + (f" offset {v['offset']}" if v.get("offset") else "")
    if k in ("jhash", "symhash"):
        s = k + (" " + render_expr(v["expr"]) if k == "jhash" else "") + f" mod {v['mod']}"
        if v.get("seed"):
            s += f" seed 0x{v['seed']:x}"
        return s + (f" offset {v['offset']}" if v.get("offset") else "")
    if k in _BINOPS:
        a, b = v
        m = mark or _is_mark(a)
        return f"{render_expr(a, m)} {k} {render_expr(b, m)}"
    if k == "concat":
        return " . ".join(render_expr(x, mark, quote) for x in v)
    if k == "set":
        if isinstance(v, str):
            return v
        items = v if isinstance(v, list) else [v]
        return "{ " + ", ".join(_set_item(x, mark, quote) for x in items) + " }"
    if k == "prefix":
        return f"{render_expr(v['addr'])}/{v['len']}"
    if k == "range":
        return f"{render_expr(v[0], mark)}-{render_expr(v[1], mark)}"
    if k == "elem":
        s = render_expr(v["val"], mark, quote)
        if v.get("timeout"):
            s += " timeout " + format_time(v["timeout"])
        if v.get("expires"):
            s += " expires " + format_time(v["expires"])
        if v.get("comment") is not None:
            s += " comment " + _quote(v["comment"])
        return s
    if k == "map":
        return f"{render_expr(v['key'])} map {render_expr(v['data'])}"
    if k in ("accept", "drop", "continue", "return"):
        return k
    if k in ("jump", "goto"):
        return f"{k} {v['target']}"
    if k in ("socket", "rt", "osf", "ipsec"):
        return f"{k} {v.get('key', v.get('name', ''))}".strip()
    if k == "tcp option":
        return f"tcp option {v['name']}" + (f" {v['field']}" if v.get("field") else "")
    if k == "exthdr":
        return f"{v['name']} {v.get('field', '')}".strip()
    raise _Bad(f"unknown JSON expression {k!r}")


def _set_item(x: Any, mark: bool, quote: bool) -> str:
    if isinstance(x, list) and len(x) == 2:
        return f"{render_expr(x[0], mark, quote)} : {render_expr(x[1])}"
    return render_expr(x, mark, quote)


def _nat(kind: str, v: dict | None) -> str:
    v = v or {}
    parts = [kind]
    if v.get("family"):
        parts.append(v["family"])
    if kind in ("dnat", "snat"):
        addr = v.get("addr")
        target = render_expr(addr) if addr is not None else ""
        if addr is not None and ":" in target and not isinstance(addr, dict) and v.get("port") is not None:
            target = f"[{target}]"
        if v.get("port") is not None:
            target += ":" + render_expr(v["port"])
        parts += ["to", target]
    elif v.get("port") is not None:
        parts += ["to", ":" + render_expr(v["port"])]
    flags = v.get("flags")
    if flags:
        parts.append(",".join(flags) if isinstance(flags, list) else flags)
    return " ".join(parts)


#: The ``reject`` nft prints bare, per family (its default).
_DEFAULT_REJECT = {"ip": ("icmp", "port-unreachable"), "ip6": ("icmpv6", "port-unreachable"),
                   "inet": ("icmpx", "port-unreachable"), "bridge": ("icmpx", "port-unreachable"),
                   "netdev": ("icmpx", "port-unreachable")}


def render_statement(s: dict, family: str = "ip") -> str:
    """The nft text of one JSON statement (``family`` of its table: it decides how ``reject`` prints)."""
    if not isinstance(s, dict) or len(s) != 1:
        raise _Bad(f"not a statement: {json.dumps(s)[:60]}")
    (k, v), = s.items()
    if k == "match":
        left, right, op = v["left"], v["right"], v.get("op", "==")
        m = _is_mark(left)
        ls = render_expr(left, m)
        rs = render_expr(right, m, _quoted_key(left))
        binop = isinstance(left, dict) and any(b in left for b in _BINOPS)
        if binop and op == "==" and "&" in left and isinstance(left["&"][1], list) and isinstance(right, (str, list)):
            # nft prints a flag test against a mask as ``tcp flags syn / fin,syn,rst,ack``
            return f"{render_expr(left['&'][0])} {rs} / {render_expr(left['&'][1])}"
        if op == "in" or (op == "==" and not binop):
            return f"{ls} {rs}"
        return f"{ls} {op} {rs}"
    if k in ("accept", "drop", "continue", "return", "jump", "goto"):
        return render_expr(s)
    if k == "counter":
        if isinstance(v, str):
            return f"counter name {_quote(v)}"
        if v is None or "packets" not in v:
            return "counter"
        return f"counter packets {v['packets']} bytes {v['bytes']}"
    if k == "vmap":
        return f"{render_expr(v['key'])} vmap {render_expr(v['data'], _is_mark(v['key']))}"
    if k in ("dnat", "snat", "masquerade", "redirect"):
        return _nat(k, v)
    if k == "mangle":
        m = _is_mark(v["key"])
        return f"{render_expr(v['key'])} set {render_expr(v['value'], m, _quoted_key(v['key']))}"
    if k == "notrack":
        return "notrack"
    if k == "reject":
        if not v:
            return "reject"
        if v.get("type") == "tcp reset":
            return "reject with tcp reset"
        if (v.get("type"), v.get("expr")) == _DEFAULT_REJECT.get(family):
            return "reject"
        return f"reject with {v['type']} {v['expr']}" if v.get("expr") else "reject"
    if k == "log":
        parts = ["log"]
        v = v or {}
        if "prefix" in v:
            parts.append("prefix " + _quote(v["prefix"]))
        for opt in ("group", "snaplen", "queue-threshold"):
            if opt in v:
                parts.append(f"{opt} {v[opt]}")
        if v.get("level") and v["level"] != "warn":
            parts.append(f"level {v['level']}")
        if v.get("flags"):
            f = v["flags"]
            parts.append("flags " + (",".join(f) if isinstance(f, list) else f))
        return " ".join(parts)
    if k == "limit":
        unit = v.get("rate_unit", "packets")
        rate = f"{v['rate']}/{v.get('per', 'second')}" if unit == "packets" else f"{v['rate']} {unit}/{v.get('per', 'second')}"
        s_ = "limit rate " + ("over " if v.get("inv") else "") + rate
        burst = v.get("burst", 5 if unit == "packets" else 0)
        if burst and not (unit == "packets" and burst == 5):
            s_ += f" burst {burst} {v.get('burst_unit', 'packets')}"
        return s_
    if k == "quota":
        if isinstance(v, str):
            return f"quota name {_quote(v)}"
        s_ = "quota " + ("over " if v.get("inv") else "") + f"{v['val']} {v.get('val_unit', 'bytes')}"
        if v.get("used"):
            s_ += f" used {v['used']} {v.get('used_unit', 'bytes')}"
        return s_
    if k == "xt":
        return f'xt {v["type"]} "{v["name"]}"'
    if k == "set":
        return f"{v['op']} {v['set']} {{ {render_expr(v['elem'])} }}"
    if k == "flow":
        return f"flow {v['op']} {v['flowtable']}"
    if k == "queue":
        parts = ["queue"]
        if v and v.get("flags"):
            f = v["flags"]
            parts.append("flags " + (",".join(f) if isinstance(f, list) else f))
        if v and "num" in v:
            parts.append(f"to {render_expr(v['num'])}")
        return " ".join(parts)
    if k in ("tproxy", "dup", "fwd"):
        parts = [k]
        if v.get("family"):
            parts.append(v["family"])
        parts.append("to")
        addr = render_expr(v.get("addr")) if v.get("addr") is not None else ""
        if k == "tproxy" and v.get("port") is not None:
            addr += ":" + render_expr(v["port"])
        if k == "fwd" and v.get("dev") is not None and not addr:
            addr = render_expr(v["dev"], quote=True)
        parts.append(addr)
        if k != "tproxy" and v.get("dev") is not None and v.get("addr") is not None:
            parts += ["device", render_expr(v["dev"], quote=True)]
        return " ".join(parts)
    raise _Bad(f"unknown statement {k!r}")


def _elements(s: NftSet, items: list, mark: bool) -> None:
    for it in items:
        value = None
        if isinstance(it, list) and len(it) == 2:
            it, value = it
            value = render_expr(value)
        if isinstance(it, dict) and "elem" in it:
            v = it["elem"]
            s.elements.append(SetElement(render_expr(v["val"], mark), value, v.get("comment"),
                                         format_time(v["timeout"]) if v.get("timeout") else None,
                                         format_time(v["expires"]) if v.get("expires") else None,
                                         _counter_text(v.get("counter"))))
        else:
            s.elements.append(SetElement(render_expr(it, mark), value))


def _counter_text(c: Any) -> str | None:
    if not c:
        return None
    return f"counter packets {c.get('packets', 0)} bytes {c.get('bytes', 0)}"


def _type_text(t: Any) -> str:
    return " . ".join(t) if isinstance(t, list) else str(t)


class _Builder:
    def __init__(self, source: str, strict: bool):
        self.source, self.strict = source, strict
        self.rs = NftRuleset(source=source, format="nft-json")

    def fail(self, where: int, message: str) -> None:
        if self.strict:
            raise ParseError(self.source, where, message)
        self.rs.problems.append(Problem(self.source, where, message))

    def table_of(self, o: dict) -> NftTable:
        key = (o["family"], o["table"])
        t = self.rs.tables.get(key)
        if t is None:
            t = NftTable(*key)
            self.rs.tables[key] = t
        return t

    def add(self, kind: str, o: dict) -> None:
        if kind == "metainfo":
            self.rs.notes.append(f"nft {o.get('version', '?')} JSON schema {o.get('json_schema_version', '?')}")
            return
        if kind == "table":
            key = (o["family"], o["name"])
            t = self.rs.tables.setdefault(key, NftTable(*key))
            t.handle = o.get("handle")
            t.comment = o.get("comment")
            flags = o.get("flags")
            flags = [flags] if isinstance(flags, str) else flags or []
            # nft 1.0.6 prints the family here instead of the flags: keep only real table flags
            t.flags = tuple(f for f in flags if f in _TABLE_FLAGS)
            return
        t = self.table_of(o)
        if kind == "chain":
            c = NftChain(t.family, t.name, o["name"], o.get("handle"), comment=o.get("comment"))
            if o.get("hook"):
                c.type, c.hook, c.priority = o.get("type"), o["hook"], int(o.get("prio", 0))
                c.priority_text = priority_text(c.priority, t.family, c.hook)
                c.policy = o.get("policy", "accept")
                dev = o.get("dev")
                if dev:
                    c.device = ", ".join(dev) if isinstance(dev, list) else dev
            t.chains[c.name] = c
        elif kind == "rule":
            chain = t.chains.get(o["chain"])
            if chain is None:
                chain = t.chains[o["chain"]] = NftChain(t.family, t.name, o["chain"])
            text = " ".join(render_statement(s, t.family) for s in o.get("expr", []))
            if o.get("comment") is not None:
                text += " comment " + _quote(o["comment"])
            rule = NftRule(t.family, t.name, chain.name, len(chain.rules) + 1, text, o.get("handle"))
            rule._statements, rule._comment = parse_rule_text(text)
            chain.rules.append(rule)
        elif kind in ("set", "map"):
            s = NftSet(t.family, t.name, o["name"], kind, o.get("handle"), _type_text(o.get("type", "")))
            if kind == "map":
                s.data = _type_text(o.get("map"))
            flags = o.get("flags")
            if flags:
                s.flags = tuple(flags) if isinstance(flags, list) else (flags,)
            if o.get("timeout"):
                s.timeout = format_time(o["timeout"])
            if o.get("size"):
                s.size = int(o["size"])
            if o.get("policy"):
                s.policy = o["policy"]
            for st in o.get("stmt", []):
                if isinstance(st, dict) and "counter" in st:
                    s.extra.append("counter")
            if "gc-interval" in o:
                s.extra.append("gc-interval " + format_time(o["gc-interval"]))
            s.comment = o.get("comment")
            _elements(s, o.get("elem", []), s.type == "mark")
            t.sets[s.name] = s
            t.order.append((kind, s.name))
        elif kind == "flowtable":
            dev = o.get("dev", [])
            f = Flowtable(t.family, t.name, o["name"], o.get("handle"), o.get("hook"),
                          priority_text(int(o.get("prio", 0)), t.family, None),
                          tuple([dev] if isinstance(dev, str) else dev))
            t.flowtables[f.name] = f
            t.order.append((kind, f.name))
        else:
            body: list[str] = []
            if kind == "counter":
                body = [f"packets {o.get('packets', 0)} bytes {o.get('bytes', 0)}"]
            elif kind == "quota":
                q = ("over " if o.get("inv") else "") + _bytes(int(o.get("bytes", 0)))
                if o.get("used"):
                    q += " used " + _bytes(int(o["used"]))
                body = [q]
            t.objects.append(NftObject(t.family, t.name, kind, o.get("name", ""), o.get("handle"), body))
            t.order.append((kind, o.get("name", "")))


def parse_nft_json(text: str, source: str = "<text>", *, strict: bool = True, **_: object) -> NftRuleset:
    """Parse ``nft -j list ruleset`` / ``nft -j list table …`` output.

    Truncated or invalid JSON raises :class:`~workbook.model.ParseError` at the line and column
    the JSON decoder stopped; an object nft would not print raises (strict) or is recorded in
    ``problems`` and skipped (lenient).
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        cut = " (the file is truncated)" if not text.rstrip().endswith(("}", "]")) else ""
        raise ParseError(source, e.lineno, f"invalid JSON at column {e.colno}: {e.msg}{cut}") from None
    except RecursionError:
        raise ParseError(source, 1, "JSON nested too deeply") from None
    items = doc.get("nftables") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ParseError(source, 1, 'not nft JSON: no top-level "nftables" list')
    b = _Builder(source, strict)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or len(item) != 1:
            b.fail(1, f"item {i}: not a one-key object")
            continue
        (kind, o), = item.items()
        try:
            if not isinstance(o, dict):
                raise _Bad(f"{kind} is not an object")
            b.add(kind, o)
        except (_Bad, RuleTextError, KeyError, TypeError, ValueError, IndexError, RecursionError) as e:
            what = (f"missing key {e}" if isinstance(e, KeyError) else
                    "expressions nested too deeply" if isinstance(e, RecursionError) else str(e))
            b.fail(1, f"item {i} ({kind}): {what}")
    mark_iptables_nft(b.rs)
    b.rs.notes.append(JSON_LOSSES)
    return b.rs
