"""nft expressions compiled for the tracer: what a selector reads from a packet, and what a value matches.

A selector (``ip daddr``, ``th dport``, ``meta mark & 0x4000``, ``fib daddr type``,
``ct state``…) becomes a *getter* ``f(state, ctx) -> value``; a constant, anonymous set or
named set becomes a *test* on such a value. Values are normalised: an IPv4/IPv6 address is
``(version, int)``, ports, protocols and marks are ints, interface names are strings, and
flag-like values (``ct state``, ``fib … type``) are frozensets of lowercase words. A getter
returns :data:`ABSENT` when the packet has no such header (``tcp dport`` of a UDP packet:
the rule does not match) and raises :class:`Unknown` when the tracer cannot know the value
(the rule is then *assumed*, never silently matched).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

from ..addr import parse_ip as _ip
from ..trace.state import addr_types as _addr_types
from ..vocab import PORT_PROTOCOLS, PROTOCOLS
from .statements import AnonSet, Binop, Concat, Field, Literal, MapEntry, SetRef

__all__ = ["ABSENT", "Unknown", "getter", "kind_of", "value_test", "SetIndex", "split_list", "parse_value"]


class Unknown(Exception):
    """The tracer cannot know this value (the text says why)."""


#: The packet has no such field (e.g. ``tcp dport`` of a UDP packet): no match.
ABSENT = object()


#: set type word → value kind
_TYPE_KIND = {"ipv4_addr": "addr", "ipv6_addr": "addr", "inet_proto": "proto", "inet_service": "port",
              "mark": "int", "ifname": "iface", "ct_state": "flags", "ct_status": "flags", "iface_index": "int",
              "ether_addr": "str", "integer": "int", "verdict": "verdict"}


def kind_of(expr: Any) -> str:
    """The value kind an expression yields (``addr``, ``port``, ``proto``, ``int``, ``iface``, ``flags``, ``str``)."""
    if isinstance(expr, Binop):
        return "int"
    if isinstance(expr, Concat):
        return "concat"
    if not isinstance(expr, Field):
        return "str"
    k, key = expr.kind, expr.key
    if k == "payload":
        name = expr.name
        if name in ("saddr", "daddr"):
            return "addr"
        if name in ("sport", "dport"):
            return "port"
        if name in ("protocol", "nexthdr"):
            return "proto"
        return "int"
    if k == "meta":
        if key in ("l4proto", "protocol"):
            return "proto"
        if key in ("iifname", "oifname", "iif", "oif"):
            return "iface"
        return "int"
    if k == "ct":
        if key in ("state", "status"):
            return "flags"
        if key.endswith(("saddr", "daddr", "ip saddr", "ip daddr")):
            return "addr"
        if key.endswith(("proto-src", "proto-dst")):
            return "port"
        return "int"
    if k == "fib":
        return "flags" if key == "type" else "iface"
    if k == "numgen":
        return "int"
    return "str"


def split_list(text: str) -> list[str]:
    """``"22, 80-90"`` → ``["22", "80-90"]`` (a flag list ``established,related`` stays one value)."""
    return [p.strip() for p in text.split(", ")] if ", " in text else [text.strip()]


def parse_value(kind: str, text: str) -> tuple[Any, ...]:
    """A constant as ``("eq", value)``, ``("range", lo, hi)`` (addresses: as ints with version),
    ``("net", v, base, mask)``, ``("glob", stem)`` or ``("flags", frozenset)``."""
    t = text.strip()
    if len(t) >= 2 and t[0] == '"' and t[-1] == '"':
        t = t[1:-1]
    if kind == "addr":
        if "/" in t:
            n = ipaddress.ip_network(t, strict=False)
            mask = int(n.netmask)
            return ("net", n.version, int(n.network_address) & mask, mask)
        if "-" in t and ":" not in t:
            a, b = t.split("-", 1)
            return ("range", _ip(a.strip()), _ip(b.strip()))
        return ("eq", _ip(t))
    if kind in ("port", "proto", "int"):
        if "-" in t and not t.startswith("-"):
            a, b = t.split("-", 1)
            return ("range", _int(a, kind), _int(b, kind))
        return ("eq", _int(t, kind))
    if kind == "iface":
        return ("glob", t[:-1]) if t.endswith("*") else ("eq", t)
    if kind == "flags":
        return ("flags", frozenset(w.strip().lower() for w in t.split(",")))
    return ("eq", t)


def _int(t: str, kind: str) -> int:
    t = t.strip()
    if kind == "proto" and not t[:1].isdigit():
        if t not in PROTOCOLS:
            raise Unknown(f"protocol name {t!r} not known to the tracer")
        return PROTOCOLS[t]
    try:
        return int(t, 0)
    except ValueError:
        raise Unknown(f"{t!r} is not a number the tracer can read (a service or type name?)") from None


def _holds(spec: tuple, value: Any) -> bool:
    k = spec[0]
    if k == "eq":
        return value == spec[1]
    if k == "net":
        return isinstance(value, tuple) and value[0] == spec[1] and (value[1] & spec[3]) == spec[2]
    if k == "range":
        lo, hi = spec[1], spec[2]
        if isinstance(lo, tuple):
            return isinstance(value, tuple) and value[0] == lo[0] and lo[1] <= value[1] <= hi[1]
        return isinstance(value, int) and lo <= value <= hi
    if k == "glob":
        return isinstance(value, str) and value.startswith(spec[1])
    if k == "flags":
        return bool(value & spec[1]) if isinstance(value, frozenset) else value in spec[1]
    return False


def value_test(kind: str, texts: list[str]) -> Callable[[Any], bool]:
    """A test: does a value (of ``kind``) equal / fall in one of these constants?"""
    specs = [parse_value(kind, t) for t in texts]
    if len(specs) == 1 and specs[0][0] == "net":  # the common `ip saddr 10.0.0.0/8`: one closure
        _, v, base, mask = specs[0]
        return lambda x: type(x) is tuple and x[0] == v and (x[1] & mask) == base
    exact = {s[1] for s in specs if s[0] == "eq"}
    rest = [s for s in specs if s[0] != "eq"]
    if not rest:
        if kind == "flags":
            return lambda v: bool(v & exact) if isinstance(v, frozenset) else v in exact
        return lambda v: v in exact
    return lambda v: v in exact or any(_holds(s, v) for s in rest)


class SetIndex:
    """A named or anonymous set/map compiled for lookups: exact keys in a dict, ranges and
    prefixes (``flags interval``) scanned in order. ``get(key)`` → the element's value text
    (a map's data; ``""`` for a plain set) or None."""

    __slots__ = ("kinds", "exact", "ranges", "name")

    def __init__(self, name: str, kinds: list[str], elements: list[tuple[str, str | None]]):
        self.name = name
        self.kinds = kinds
        self.exact: dict = {}
        self.ranges: list = []
        for key_text, value in elements:
            parts = [p.strip() for p in key_text.split(" . ")] if len(kinds) > 1 else [key_text.strip()]
            if len(parts) != len(kinds):
                continue
            specs = [parse_value(k, p) for k, p in zip(kinds, parts)]
            if all(s[0] == "eq" for s in specs):
                key = tuple(s[1] for s in specs) if len(specs) > 1 else specs[0][1]
                self.exact.setdefault(key, value or "")
            else:
                self.ranges.append((specs, value or ""))

    def get(self, key: Any) -> str | None:
        hit = self.exact.get(key)
        if hit is not None:
            return hit
        if self.ranges:
            parts = key if len(self.kinds) > 1 else (key,)
            for specs, value in self.ranges:
                if all(_holds(sp, v) for sp, v in zip(specs, parts)):
                    return value
        return None

    def __len__(self) -> int:
        return len(self.exact) + len(self.ranges)


def set_kinds(type_text: str | None, key_expr: Any) -> list[str]:
    """Value kinds of a set's key components: from its declared type, else from the lookup key."""
    if type_text:
        words = [w.strip() for w in type_text.split(" . ")]
        if all(w in _TYPE_KIND for w in words):
            return [_TYPE_KIND[w] for w in words]
    if isinstance(key_expr, Concat):
        return [kind_of(p) for p in key_expr.parts]
    return [kind_of(key_expr)]


def anon_elements(node: AnonSet) -> list[tuple[str, str | None]]:
    """(key text, value text) of an anonymous set's elements (a comma list literal is split)."""
    out: list[tuple[str, str | None]] = []
    for e in node.elements:
        if isinstance(e, MapEntry):
            out.append((str(e.key), str(e.value)))
        elif isinstance(e, Literal):
            out.extend((t, None) for t in split_list(e.text))
        else:
            out.append((str(e), None))
    return out


def getter(expr: Any, ctx_ref: list) -> Callable:
    """``f(state) -> value`` for a selector (raises :class:`Unknown`; returns :data:`ABSENT`)."""
    if isinstance(expr, Concat):
        parts = [getter(p, ctx_ref) for p in expr.parts]

        def concat(s):
            out = []
            for g in parts:
                v = g(s)
                if v is ABSENT:
                    return ABSENT
                out.append(v)
            return tuple(out)
        return concat
    if isinstance(expr, Binop):
        left = getter(expr.left, ctx_ref)
        right = expr.right
        if not isinstance(right, Literal):
            raise Unknown(f"{expr.text or expr}: the tracer reads only a constant on the right")
        r = int(right.text, 0)
        op = expr.op
        fn = {"&": lambda a: a & r, "|": lambda a: a | r, "^": lambda a: a ^ r,
              "<<": lambda a: (a << r) & 0xFFFFFFFF, ">>": lambda a: a >> r}.get(op)
        if fn is None:
            raise Unknown(f"operator {op!r} not evaluated")

        def binop(s):
            v = left(s)
            return v if v is ABSENT else fn(v)
        return binop
    if isinstance(expr, Literal):
        t = expr.text
        return lambda s, t=t: t
    if not isinstance(expr, Field):
        raise Unknown(f"{expr}: not a selector the tracer evaluates")
    k, key = expr.kind, expr.key
    text = expr.text or key
    if k == "payload":
        proto, name = expr.proto, expr.name
        if proto in ("ip", "ip6"):
            want = 4 if proto == "ip" else 6
            if name == "saddr":
                return lambda s: s.src_i if s.src_i[0] == want else ABSENT
            if name == "daddr":
                return lambda s: s.dst_i if s.dst_i[0] == want else ABSENT
            if name in ("protocol", "nexthdr"):
                return lambda s: s.proto_num if s.src_i[0] == want else ABSENT
        if name in ("sport", "dport") and proto in ("th", "tcp", "udp", "sctp", "udplite", "dccp"):
            need = None if proto == "th" else PROTOCOLS[proto]
            if name == "dport":
                return lambda s: s.dport if (s.proto_num == need if need else s.proto_num in PORT_PROTOCOLS) else ABSENT
            return lambda s: s.sport if (s.proto_num == need if need else s.proto_num in PORT_PROTOCOLS) else ABSENT
        raise Unknown(f"{text}: payload field not evaluated by the tracer")
    if k == "meta":
        if key in ("l4proto", "protocol"):
            return lambda s: s.proto_num
        if key in ("iifname", "iif"):
            return lambda s: s.hook_in or ""
        if key in ("oifname", "oif"):
            def oif(s):
                if s.hook_out is None:
                    if s.hook in ("FORWARD", "POSTROUTING", "OUTPUT"):
                        raise Unknown(f"{text}: the output interface is not known (give the node's routes)")
                    return ""
                return s.hook_out
            return oif
        if key == "mark":
            return lambda s: s.mark
        if key == "nfproto":
            return lambda s: "ipv4" if s.src_i[0] == 4 else "ipv6"
        raise Unknown(f"{text}: not evaluated by the tracer")
    if k == "ct":
        if key == "state":
            return lambda s: frozenset(x.lower() for x in s.ctstates() if x not in ("DNAT", "SNAT"))
        if key == "status":
            def status(s):
                out = set()
                if s.ct_dnat:
                    out.add("dnat")
                if s.ct_snat:
                    out.add("snat")
                if s.ctstate not in ("NEW", "UNTRACKED", "INVALID"):
                    out |= {"seen-reply", "confirmed"}
                return frozenset(out)
            return status
        if key == "mark":
            return lambda s: s.ctmark
        if key == "direction":
            return lambda s: "original"
        raise Unknown(f"{text}: conntrack field not evaluated by the tracer")
    if k == "fib" and key == "type":
        args = set(expr.args)
        which = "src_i" if "saddr" in args else "dst_i"
        extra = args - {"saddr", "daddr"}

        def fib_type(s):
            ctx = ctx_ref[0]
            types = frozenset(t.lower() for t in _addr_types(ctx, *getattr(s, which)))
            if extra:
                raise Unknown(f"{text}: the lookup restricted to the {'/'.join(sorted(extra))} interface is "
                              f"taken as the global one ({','.join(sorted(types))})")
            return types
        return fib_type
    raise Unknown(f"{text}: not evaluated by the tracer")


def set_or_values(right: Any) -> tuple[str, Any]:
    """Classify a match's right side: ("set", name), ("anon", AnonSet) or ("lit", text)."""
    if isinstance(right, SetRef):
        return "set", right.name
    if isinstance(right, AnonSet):
        return "anon", right
    if isinstance(right, Literal):
        return "lit", right.text
    return "other", right
