"""Typed expressions and statements of one nft rule, each keeping the text nft prints for it.

A rule such as ``ip daddr . meta l4proto . th dport vmap @service-ips`` becomes::

    (VerdictMap(key=Concat((Field('payload', 'ip daddr'), Field('meta', 'l4proto'),
                            Field('payload', 'th dport'))), map=SetRef('service-ips')),)

Expressions (what a packet is looked at by, and constants):

- :class:`Field` — a selector: ``kind`` is ``payload`` (``key`` ``"ip daddr"``, ``"th dport"``,
  ``"tcp flags"``; ``proto``/``name`` split it), ``meta`` (``iifname``, ``l4proto``, ``mark``;
  bare ``mark``/``iifname`` are meta), ``ct`` (``state``, ``status``, ``mark``, ``zone``,
  ``original saddr``…), ``fib`` (``key`` is the result: ``type``/``oif``/``oifname``,
  ``args`` the flags, e.g. ``("daddr",)`` or ``("saddr", "iif")``), ``numgen`` (``key``
  ``random``/``inc``, ``args`` ``(mod, offset)`` as ints-as-text), ``jhash``/``symhash``
  (``args`` ``(mod, offset)``, ``over`` the hashed expression), ``raw`` (``@nh,16,16``),
  or any other keyword with one key (``socket``, ``rt``, ``osf``, ``ipsec``…).
- :class:`Literal` — a constant exactly as printed (``10.0.0.0/8``, ``tcp``, ``0x00004000``,
  ``established,related``, ``"eth0"`` keeps its quotes, ``1.2.3.4-1.2.3.9``); ``value`` strips quotes.
- :class:`Binop` — ``left op right`` with ``op`` one of ``& | ^ << >>`` (``and``/``or``/``xor``
  of old listings are normalised into ``op`` but the text keeps what was printed).
- :class:`Concat` — ``a . b . c``; :class:`SetRef` — ``@name``; :class:`AnonSet` — ``{ a, b }``
  whose elements are expressions or :class:`MapEntry` (``key : value``, value may be a
  :class:`Verdict`); :class:`MapLookup` — ``expr map { … }`` / ``expr map @m`` (used by nat).

Statements (the rule is a tuple of them, in order):

- :class:`Match` — ``left op right``; ``op`` is ``==``, ``!=``, ``<``, ``>``, ``<=``, ``>=``;
  ``implicit`` is True when nft printed no operator (a plain value, a set, a flag list: for
  ``ct state established,related`` or a set, implicit means "is one of").
- :class:`VerdictMap` — ``key vmap @m`` / ``key vmap { … }``.
- :class:`Verdict` — ``kind`` ``accept drop continue return jump goto queue``, ``target``.
- :class:`Nat` — ``kind`` ``dnat snat masquerade redirect``, ``family`` (``ip``/``ip6`` in
  inet tables or None), ``addr``/``port`` as text (None when absent; ``to_map`` holds a
  :class:`MapLookup` when the address comes from a map), ``flags``.
- :class:`SetField` — ``meta mark set …``, ``ct mark set …``, ``meta nftrace set 1``,
  ``ct zone set 1``: ``field`` and ``value`` (an expression).
- :class:`SetUpdate` — ``update @s { ip saddr }`` / ``add @s { … }`` (``op``, ``set``, ``key``).
- :class:`Counter` (``packets``, ``bytes``, or ``name``), :class:`Reject` (``kind``
  ``icmp``/``icmpv6``/``icmpx``/``tcp reset``/None, ``code``), :class:`Notrack`,
  :class:`Log`, :class:`Limit`, :class:`Xt` (iptables-nft compat: ``kind`` match/target,
  ``name``), and :class:`Other` for every other statement nft knows (``quota``, ``queue``,
  ``tproxy``, ``dup``, ``fwd``, ``flow``, ``meter``, ``synproxy``, ``ct count``…): the tracer
  must treat an :class:`Other` it does not know as *assumed*, never as matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

__all__ = [
    "Field", "Literal", "Binop", "Concat", "SetRef", "AnonSet", "MapEntry", "MapLookup", "Expr",
    "Match", "VerdictMap", "Verdict", "Nat", "SetField", "SetUpdate", "Counter", "Reject", "Notrack",
    "Log", "Limit", "Xt", "Other", "Statement", "VERDICTS",
]

class _Printed:
    """``str()`` of an expression or statement is its text as nft prints it."""

    __slots__ = ()
    text: str

    def __str__(self) -> str:
        return self.text


#: Verdict keywords.
VERDICTS = ("accept", "drop", "continue", "return", "jump", "goto", "queue")


@dataclass(frozen=True, slots=True)
class Field(_Printed):
    """A selector: ``Field("payload", "ip daddr")``, ``Field("meta", "mark")``,
    ``Field("fib", "type", ("daddr",))``, ``Field("numgen", "random", ("2", "0"))``."""

    kind: str
    key: str
    args: tuple[str, ...] = ()
    text: str = ""
    over: "Expr | None" = None

    @property
    def proto(self) -> str | None:
        """For payload fields the protocol (``ip``, ``th``, ``tcp``…), else None."""
        return self.key.split(" ", 1)[0] if self.kind == "payload" else None

    @property
    def name(self) -> str:
        """The last word of the key (``daddr`` for ``ip daddr``)."""
        return self.key.rsplit(" ", 1)[-1]

    @property
    def modulus(self) -> int | None:
        """``N`` of ``numgen … mod N`` / ``jhash … mod N``."""
        return int(self.args[0]) if self.kind in ("numgen", "jhash", "symhash") and self.args else None

    @property
    def offset(self) -> int:
        return int(self.args[1]) if self.kind in ("numgen", "jhash", "symhash") and len(self.args) > 1 else 0


@dataclass(frozen=True, slots=True)
class Literal(_Printed):
    """A constant as printed (quotes kept in ``text``)."""

    text: str

    @property
    def value(self) -> str:
        t = self.text
        return t[1:-1] if len(t) >= 2 and t[0] == '"' and t[-1] == '"' else t


@dataclass(frozen=True, slots=True)
class Binop(_Printed):
    """``left op right`` (``op``: ``& | ^ << >> /``)."""

    left: "Expr"
    op: str
    right: "Expr"
    text: str = ""


@dataclass(frozen=True, slots=True)
class Concat(_Printed):
    """``a . b . c``."""

    parts: tuple["Expr", ...]
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetRef(_Printed):
    """``@name`` (a named set or map of the same table)."""

    name: str

    @property
    def text(self) -> str:  # type: ignore[override]  # derived from the name; every other node stores its text
        return "@" + self.name


@dataclass(frozen=True, slots=True)
class MapEntry(_Printed):
    """``key : value`` inside an anonymous map (value is an expression or a :class:`Verdict`)."""

    key: "Expr"
    value: "Expr | Verdict"
    text: str = ""


@dataclass(frozen=True, slots=True)
class AnonSet(_Printed):
    """``{ a, b }`` — an anonymous set (or map, when the elements are :class:`MapEntry`)."""

    elements: tuple["Expr | MapEntry", ...]
    text: str = ""


@dataclass(frozen=True, slots=True)
class MapLookup(_Printed):
    """``key map @m`` / ``key map { … }`` as an expression (nat addresses from a map)."""

    key: "Expr"
    map: "SetRef | AnonSet"
    text: str = ""


Expr = Union[Field, Literal, Binop, Concat, SetRef, AnonSet, MapLookup]


@dataclass(frozen=True, slots=True)
class Match(_Printed):
    """``left op right``; ``implicit`` when nft printed no operator."""

    left: Expr
    op: str
    right: Expr
    text: str = ""
    implicit: bool = False


@dataclass(frozen=True, slots=True)
class VerdictMap(_Printed):
    """``key vmap @m`` / ``key vmap { k : verdict, … }``."""

    key: Expr
    map: "SetRef | AnonSet"
    text: str = ""


@dataclass(frozen=True, slots=True)
class Verdict(_Printed):
    """``accept``, ``drop``, ``jump X``, ``goto X``, ``return``, ``continue``, ``queue …``."""

    kind: str
    target: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Nat(_Printed):
    """``dnat [ip|ip6] to ADDR[:PORT] [flags]``, ``snat …``, ``masquerade [to :P] [flags]``,
    ``redirect [to :P]``."""

    kind: str
    family: str | None = None
    addr: str | None = None
    port: str | None = None
    flags: tuple[str, ...] = ()
    to_map: MapLookup | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetField(_Printed):
    """``field set value`` (``meta mark set meta mark | 0x00004000``)."""

    field: Field
    value: Expr
    text: str = ""


@dataclass(frozen=True, slots=True)
class SetUpdate(_Printed):
    """``update @set { key }`` / ``add @set { key }`` / ``delete @set { key }``."""

    op: str
    set: str
    key: Expr
    text: str = ""


@dataclass(frozen=True, slots=True)
class Counter(_Printed):
    """``counter [packets N bytes M]`` or ``counter name "x"``."""

    packets: int | None = None
    bytes: int | None = None
    name: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Reject(_Printed):
    """``reject [with icmp|icmpv6|icmpx CODE | with tcp reset]``."""

    kind: str | None = None
    code: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Notrack(_Printed):
    text: str = "notrack"


@dataclass(frozen=True, slots=True)
class Log(_Printed):
    """``log [prefix "…"] [level L] [group N] [flags F]``; ``options`` as (word, value) pairs."""

    options: tuple[tuple[str, str], ...] = ()
    text: str = "log"

    @property
    def prefix(self) -> str | None:
        for k, v in self.options:
            if k == "prefix":
                return v[1:-1] if v.startswith('"') else v
        return None


@dataclass(frozen=True, slots=True)
class Limit(_Printed):
    """``limit rate [over] N/unit [burst N packets]`` (``over`` inverts it)."""

    over: bool = False
    rate: str = ""
    burst: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Xt(_Printed):
    """An iptables-nft compat expression nft cannot translate: ``xt match "name"`` / ``xt target "NAME"``."""

    kind: str
    name: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Other(_Printed):
    """Any other statement (``quota``, ``queue``, ``tproxy``, ``flow add``…): ``keyword`` and text."""

    keyword: str
    text: str = ""


Statement = Union[Match, VerdictMap, Verdict, Nat, SetField, SetUpdate, Counter, Reject, Notrack,
                  Log, Limit, Xt, Other]
