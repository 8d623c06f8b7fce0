"""Marks and masks as the mark matches and the MARK/CONNMARK targets write, list and apply them."""

from __future__ import annotations

from ..addr import mark_mask, parse_int
from ..model import Option, Rule
from ..parse.listing_words import NotThisReader, hex_text

__all__ = ["mark_mask", "xmark_words", "read_xmark", "xmark_of", "apply_xmark", "MARK_OPS"]

_ALL = 0xFFFFFFFF

#: the target options that set a mark, as (value, mask) of ``--set-xmark`` (libxt_MARK / libxt_CONNMARK)
MARK_OPS = ("--set-xmark", "--set-mark", "--and-mark", "--or-mark", "--xor-mark")


def xmark_of(o: Option) -> tuple[int, int]:
    """(value, mask) of ``--set-xmark``-style arithmetic: new = (old & ~mask) ^ value.

    ``--set-mark V/M`` clears M then sets V (xset V/(M|V)); ``--and-mark`` keeps its bits,
    ``--or-mark`` sets them, ``--xor-mark`` flips them (as iptables-save shows them).

    >>> [xmark_of(Option(f, (v,))) for f, v in (("--set-mark", "0x5"), ("--and-mark", "0xff"), ("--or-mark", "0x10"))]
    [(5, 4294967295), (0, 4294967040), (16, 16)]
    """
    f = o.flag
    if f == "--set-xmark":
        return mark_mask(o.value)
    if f == "--set-mark":
        v, m = mark_mask(o.value)
        return v, m | v
    n = parse_int(o.value)
    if f == "--and-mark":
        return 0, ~n & _ALL
    if f == "--or-mark":
        return n, n
    if f == "--xor-mark":
        return n, 0
    raise ValueError(f"{f} does not set a mark")


def apply_xmark(value: int, rule: Rule) -> int:
    """The mark after the rule's target (MARK or CONNMARK ``--set-*``) changes ``value``.

    >>> from workbook.parse import parse_save
    >>> r = next(parse_save("*mangle\\n:X - [0:0]\\n-A X -j MARK --set-xmark 0x4000/0x4000\\nCOMMIT\\n").iter_rules())
    >>> hex(apply_xmark(0x1, r))
    '0x4001'
    """
    for o in rule.target_options:
        if o.flag in MARK_OPS:
            v, m = xmark_of(o)
            return ((value & ~m) ^ v) & _ALL
    return value


def xmark_words(word: str, value: str) -> str:
    """How libxt_MARK / libxt_CONNMARK list ``--set-xmark V/M`` (`` MARK or 0x4000``).

    >>> xmark_words("MARK", "0x4000/0x4000"), xmark_words("CONNMARK", "0x0/0xffffff00"), xmark_words("MARK", "0x5/0xff")
    (' MARK or 0x4000', ' CONNMARK and 0xff', ' MARK xset 0x5/0xff')
    """
    mark, mask = mark_mask(value)
    if mark == 0:
        return f" {word} and 0x{(~mask) & _ALL:x}"
    if mark == mask:
        return f" {word} or 0x{mark:x}"
    if mask == 0:
        return f" {word} xor 0x{mark:x}"
    if mask == _ALL:
        return f" {word} set 0x{mark:x}"
    return f" {word} xset 0x{mark:x}/0x{mask:x}"


def read_xmark(t: list[str], i: int, word: str) -> tuple[Option, int]:
    """The ``--set-xmark`` option of ``WORD and|or|xor|set|xset ...`` at ``t[i]`` and the next index."""
    if t[i] != word or i + 2 >= len(t):
        raise NotThisReader
    op = t[i + 1]
    if op == "xset":
        return Option("--set-xmark", (t[i + 2],)), i + 3
    v = int(t[i + 2], 16)
    if op == "or":
        val, mask = v, v
    elif op == "xor":
        val, mask = v, 0
    elif op == "set":
        val, mask = v, _ALL
    elif op == "and":
        val, mask = 0, ~v & _ALL
    else:
        raise NotThisReader
    return Option("--set-xmark", (f"{hex_text(val)}/{hex_text(mask)}",)), i + 3
