"""Which nft tables iptables-nft manages: its warning line, ``xt`` compat expressions, classic shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import BUILTIN_CHAINS

if TYPE_CHECKING:  # pragma: no cover
    from .model import NftRuleset, NftTable

__all__ = ["mark_iptables_nft", "iptables_nft_evidence"]

_CLASSIC_PRIORITY = {"raw": -300, "mangle": -150, "filter": 0, "security": 50}


def iptables_nft_evidence(table: "NftTable", warned: bool = False) -> str | None:
    """Why ``table`` is iptables-nft's (None when nothing says so).

    Evidence, strongest first: the ``# Warning: table … is managed by iptables-nft`` line;
    an ``xt match``/``xt target`` expression; an ``ip``/``ip6`` table named raw, mangle, nat,
    filter or security whose base chains all carry iptables' built-in names at its priorities.
    """
    if warned:
        return "nft printed 'managed by iptables-nft'"
    for rule in table.rules():
        if "xt " in rule.text and any(type(s).__name__ == "Xt" for s in rule.statements):
            return "xt compat expression"
    if table.family not in ("ip", "ip6") or table.name not in BUILTIN_CHAINS:
        return None
    base = [c for c in table.chains.values() if c.is_base]
    if not base:
        return None
    for c in base:
        if c.name not in BUILTIN_CHAINS[table.name] or c.hook != c.name.lower():
            return None
        if table.name == "nat":
            want = -100 if c.hook in ("prerouting", "output") else 100
        else:
            want = _CLASSIC_PRIORITY[table.name]
        if c.priority != want:
            return None
    return "iptables built-in chains at iptables priorities"


def mark_iptables_nft(rs: "NftRuleset") -> None:
    """Set ``table.iptables_nft`` on every table of ``rs`` and note why in ``rs.notes``."""
    warned = set()
    for w in rs.warnings:
        parts = w.split()
        if len(parts) >= 5:
            warned.add((parts[3], parts[4]))
    for (fam, name), t in rs.tables.items():
        why = iptables_nft_evidence(t, (fam, name) in warned)
        t.iptables_nft = why is not None
        if why:
            rs.notes.append(f"table {fam} {name} is managed by iptables-nft ({why}); "
                            "iptables-save shows its comments and matches that nft cannot translate")
