"""Differences between two dumps' nftables rulesets (rules per chain, set and map elements) and conntrack summaries (entries per Service and status)."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .nft.model import NftRuleset

__all__ = ["diff_nft", "diff_conntrack", "NFT_DIFF_COLUMNS", "CONNTRACK_DIFF_COLUMNS", "comparable_rule_text"]

NFT_DIFF_COLUMNS = ["change", "family", "table", "chain", "set", "position_a", "position_b", "text"]
CONNTRACK_DIFF_COLUMNS = ["service", "status", "entries_a", "entries_b", "delta"]
_COUNTER = re.compile(r"\bcounter packets \d+ bytes \d+")


def comparable_rule_text(text: str | None) -> str:
    """A rule's text as two listings (or a listing and a trace) of the same rule agree on it:
    whitespace collapsed, counter values dropped (handles are not part of a rule's text).

    >>> comparable_rule_text(' counter packets 4 bytes 240  jump AWS-SNAT-CHAIN-0')
    'counter jump AWS-SNAT-CHAIN-0'
    """
    return " ".join(_COUNTER.sub("counter", text or "").split())


def _row(change: str, family: str, table: str, *, chain: str | None = None, set: str | None = None,
         position_a: int | None = None, position_b: int | None = None, text: str | None = None) -> dict:
    return {"change": change, "family": family, "table": table, "chain": chain, "set": set,
            "position_a": position_a, "position_b": position_b, "text": text}


def diff_nft(a: "NftRuleset | None", b: "NftRuleset | None", *, skip: set[tuple[str, str]] | frozenset = frozenset()) -> list[dict]:
    """Rows (:data:`NFT_DIFF_COLUMNS`) for what changed from ``a`` to ``b``: ``table-added``/``-removed``,
    ``chain-added``/``-removed``, rule ``added``/``removed`` (per chain, aligned in order, counters and
    handles ignored), ``set-added``/``-removed``, ``element-added``/``-removed`` (a map element with its
    value; a changed value is one removed and one added). ``skip``: (family, table) left out (the
    iptables-nft tables whose iptables-save view is compared instead: it keeps comments).

    >>> from workbook.nft.parse_text import parse_nft_text
    >>> a = parse_nft_text('table ip t {\\n set s {\\n  type ipv4_addr\\n  elements = { 10.0.0.1, 10.0.0.2 }\\n }\\n'
    ...                    ' chain c {\\n  ip daddr @s accept\\n }\\n}\\n')
    >>> b = parse_nft_text('table ip t {\\n set s {\\n  type ipv4_addr\\n  elements = { 10.0.0.2, 10.0.0.3 }\\n }\\n'
    ...                    ' chain c {\\n  ip daddr @s accept\\n  drop\\n }\\n}\\n')
    >>> [(r["change"], r["chain"] or r["set"], r["text"]) for r in diff_nft(a, b)]
    [('added', 'c', 'drop'), ('element-removed', 's', '10.0.0.1'), ('element-added', 's', '10.0.0.3')]
    """
    ta = dict(a.tables) if a is not None else {}
    tb = dict(b.tables) if b is not None else {}
    rows: list[dict] = []
    for key, x, y in _paired(ta, tb):
        if key in skip:
            continue
        fam, name = key
        if x is None or y is None:
            rows.append(_row("table-added" if x is None else "table-removed", fam, name))
        for kind, attr in (("chain", "chains"), ("set", "sets")):
            for item, ia, ib in _paired(getattr(x, attr, {}), getattr(y, attr, {})):
                if (ia is None) != (ib is None) and x is not None and y is not None:
                    rows.append(_row(f"{kind}-{'added' if ia is None else 'removed'}", fam, name, **{kind: item}))
                if kind == "chain":
                    rows.extend(_rules(fam, name, item, ia.rules if ia else [], ib.rules if ib else []))
                else:
                    rows.extend(_elements(fam, name, item, ia, ib))
    return rows


def _paired(a: dict, b: dict):
    """(key, a's value or None, b's value or None) for every key of either, a's order first."""
    for key in list(a) + [k for k in b if k not in a]:
        yield key, a.get(key), b.get(key)


def _rules(fam: str, table: str, chain: str, ra: list, rb: list) -> list[dict]:
    a = [comparable_rule_text(r.text) for r in ra]
    b = [comparable_rule_text(r.text) for r in rb]
    if a == b:
        return []
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        out += [_row("removed", fam, table, chain=chain, position_a=r.position, text=r.text) for r in ra[i1:i2]]
        out += [_row("added", fam, table, chain=chain, position_b=r.position, text=r.text) for r in rb[j1:j2]]
    return out


def _element_texts(s) -> list[str]:
    if s is None:
        return []
    return [e.key if e.value is None else f"{e.key} : {e.value}" for e in s.elements]


def _elements(fam: str, table: str, name: str, sa, sb) -> list[dict]:
    a, b = _element_texts(sa), _element_texts(sb)
    in_a, in_b = set(a), set(b)
    return ([_row("element-removed", fam, table, set=name, text=t) for t in a if t not in in_b] +
            [_row("element-added", fam, table, set=name, text=t) for t in b if t not in in_a])


def diff_conntrack(a: "pd.DataFrame | None", b: "pd.DataFrame | None") -> list[dict]:
    """Entries per (Service, status) in two dumps' ``dump.conntrack`` frames, where the counts differ
    (rows :data:`CONNTRACK_DIFF_COLUMNS`; entries of no Service are counted under ``service`` None)."""
    def counts(frame) -> dict[tuple, int]:
        if frame is None or not len(frame):
            return {}
        out: dict[tuple, int] = {}
        for svc, status in zip(frame["service"], frame["status"]):
            key = (svc if isinstance(svc, str) and svc else None, status if isinstance(status, str) else None)
            out[key] = out.get(key, 0) + 1
        return out

    ca, cb = counts(a), counts(b)
    rows = []
    for key in sorted(set(ca) | set(cb), key=lambda k: (k[0] or "", k[1] or "")):
        na, nb = ca.get(key, 0), cb.get(key, 0)
        if na != nb:
            rows.append({"service": key[0], "status": key[1], "entries_a": na, "entries_b": nb, "delta": nb - na})
    return rows
