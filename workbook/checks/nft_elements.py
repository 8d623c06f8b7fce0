"""Elements of one nft set or map that overlap: the same key twice, or interval keys that cover each other."""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from ..addr import parse_ip, parse_net
from ..i18n import msg, nmsg
from ..shell_command import commands_or_refusal
from .context import Context
from .finding import Finding

__all__ = ["find_nft_shadowed_elements", "key_ranges"]

Range = tuple[str, int, int]          # (kind, low, high): kind "4"/"6" addresses, "n" numbers, "w:<word>" words
#: Pairwise comparison is done for sets of at most this many elements (a sweep on the first field prunes).
MAX_COMPARED = 1000


def _range(part: str) -> Range | None:
    """One field of a key as an inclusive range, or None when it cannot be read (then nothing is claimed).

    >>> _range("10.1.0.0/16"), _range("80-90"), _range("tcp")
    (('4', 167837696, 167903231), ('n', 80, 90), ('w:tcp', 0, 0))
    """
    part = part.strip()
    if not part:
        return None
    lo_text, dash, hi_text = part.partition("-")
    if part[0].isdigit() and part.replace("-", "").isdigit():
        lo = int(lo_text)
        return ("n", lo, int(hi_text) if dash else lo)
    try:
        if "/" in part:
            version, net, mask = parse_net(part)
            ones = (1 << (32 if version == 4 else 128)) - 1
            return (str(version), net, net | (ones & ~mask))
        if dash and ":" not in part:
            (va, a), (vb, b) = parse_ip(lo_text), parse_ip(hi_text)
            return (str(va), a, b) if va == vb else None
        version, a = parse_ip(part)
        return (str(version), a, a)
    except ValueError:          # InputError is one
        pass
    if any(c.isspace() or c in "{}" for c in part):
        return None
    return (f"w:{part}", 0, 0)


def key_ranges(key: str) -> tuple[Range, ...] | None:
    """The fields of an element key (``a . b . c``) as ranges; None when one cannot be read.

    >>> key_ranges("10.0.0.0/8 . tcp . 80-90")
    (('4', 167772160, 184549375), ('w:tcp', 0, 0), ('n', 80, 90))
    """
    out = []
    for part in key.split(" . "):
        r = _range(part)
        if r is None:
            return None
        out.append(r)
    return tuple(out)


def _overlap(a: tuple[Range, ...], b: tuple[Range, ...]) -> bool:
    return len(a) == len(b) and all(x[0] == y[0] and x[1] <= y[2] and y[1] <= x[2] for x, y in zip(a, b))


def _within(a: tuple[Range, ...], b: tuple[Range, ...]) -> bool:
    """Every field of ``a`` inside the same field of ``b``."""
    return all(y[1] <= x[1] and x[2] <= y[2] for x, y in zip(a, b))


def _pairs(elements: list, ranges: list[tuple[Range, ...]]) -> Iterator[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j`` in listing order, whose keys overlap (sweep on the first field)."""
    order = sorted(range(len(elements)), key=lambda i: (ranges[i][0][0], ranges[i][0][1]))
    for pos, i in enumerate(order):
        first = ranges[i][0]
        for j in order[pos + 1:]:
            other = ranges[j][0]
            if other[0] != first[0] or other[1] > first[2]:
                break
            if _overlap(ranges[i], ranges[j]):
                yield (min(i, j), max(i, j))


def find_nft_shadowed_elements(ctx: Context) -> Iterator[Finding]:
    """``nft-shadowed-element``: per set or map, keys listed twice and interval keys that overlap."""
    nft = ctx.nft
    if nft is None:
        return
    src = getattr(nft, "source", "nft")
    for s in nft.iter_sets():
        if len(s.elements) < 2:
            continue
        rows = []
        seen: dict[str, int] = {}
        for i, e in enumerate(s.elements):
            if e.key in seen:
                rows.append(("duplicate", seen[e.key], i))
            else:
                seen[e.key] = i
        if "interval" in s.flags and len(s.elements) <= MAX_COMPARED:
            known = [(i, r) for i, e in enumerate(s.elements) if (r := key_ranges(e.key)) is not None]
            readable = [i for i, _ in known]
            known_ranges = [r for _, r in known]
            sub = [s.elements[i] for i in readable]
            for a, b in _pairs(sub, known_ranges):
                i, j = readable[a], readable[b]
                if s.elements[i].key == s.elements[j].key:
                    continue
                ri, rj = known_ranges[a], known_ranges[b]
                rel = "inside" if _within(rj, ri) or _within(ri, rj) else "overlap"
                if rel == "overlap" and not s.is_map:
                    continue    # a set's overlapping ranges match the same packets either way: harmless
                rows.append((rel, i, j))
        if rows:
            yield _finding(s, rows, src)


def _finding(s, rows: list[tuple[str, int, int]], src: str) -> Finding:
    els = s.elements
    what = "map" if s.is_map else "set"
    ev = pd.DataFrame({
        "family": s.family, "table": s.table, what: s.name,
        "relation": [r for r, _, _ in rows],
        "first": [els[i].key for _, i, _ in rows], "first_value": [els[i].value for _, i, _ in rows],
        "second": [els[j].key for _, _, j in rows], "second_value": [els[j].value for _, _, j in rows],
        "origin": [f"{src}:{els[j].line or s.line}" for _, _, j in rows]})
    differ = any(els[i].value != els[j].value for _, i, j in rows)
    fix: list[str] = []
    for rel, i, j in rows:
        a, b = els[i], els[j]
        if rel == "duplicate" or a.value != b.value or rel == "overlap":
            continue
        narrow = b if _within(key_ranges(b.key) or (), key_ranges(a.key) or ()) else a
        fix.append(commands_or_refusal([["nft", "delete", "element", s.family, s.table, s.name,
                                         "{ " + narrow.key + " }"]]))
    if differ:
        fix.append(msg("# decide which value the overlapping keys should have, then delete or split the other "
                       "element (nft delete element … / nft add element …)"))
    if any(r == "duplicate" for r, _, _ in rows):
        fix.append(msg("# a key listed twice: the kernel holds one element per key, so this listing was edited or "
                       "pieced together; collect `nft -a list ruleset` again from the node"))
    return Finding(
        "nft-shadowed-element", "warning",
        nmsg("{family} {table} {what} {name}: {n} overlapping or repeated element",
             "{family} {table} {what} {name}: {n} overlapping or repeated elements", len(rows), family=s.family,
             table=s.table, what=what, name=s.name),
        msg("Elements of {what} {name} cover the same keys. A key listed twice cannot come from the kernel (it "
            "keeps one element per key): the listing was edited or merged. In an interval {what} nft refuses "
            "elements that cover each other on a single field, but with concatenated fields (a . b) the kernel "
            "accepts overlapping ranges; a packet in the overlap then gets the value of whichever element the "
            "kernel's lookup finds first, which the listing does not show. An element inside another with the "
            "same value is dead weight; with a different value it is shadowed or shadows the other.",
            what=what, name=s.name),
        ev, fix, None, s.table, None)
