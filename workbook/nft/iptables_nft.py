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
    """Set ``table.iptables_nft`` on every table of ``rs`` and say why in ``rs.notes`` (idempotent:
    call it again after adding warning lines read from elsewhere, e.g. a dump's stderr)."""
    warned = set()
    for w in rs.warnings:
        parts = w.split()
        if len(parts) >= 5:
            warned.add((parts[3], parts[4]))
    rs.notes[:] = [n for n in rs.notes if not n.endswith(_NOTE_TAIL)]
    found: dict[tuple[str, str], str] = {}
    for (fam, name), t in rs.tables.items():
        why = iptables_nft_evidence(t, (fam, name) in warned)
        if why:
            found[(fam, name)] = why
    # a classic table with only user chains (iptables-nft makes base chains on first use), beside
    # iptables-nft tables of the same family, is iptables-nft's too
    fams = {f for f, _ in found}
    for (fam, name), t in rs.tables.items():
        if (fam, name) not in found and fam in fams and name in BUILTIN_CHAINS \
                and not any(c.is_base for c in t.chains.values()):
            found[(fam, name)] = "an iptables table without base chains beside iptables-nft tables"
    for (fam, name), t in rs.tables.items():
        why = found.get((fam, name))
        t.iptables_nft = why is not None
        if why:
            rs.notes.append(f"table {fam} {name} is managed by iptables-nft ({why}){_NOTE_TAIL}")


_NOTE_TAIL = "; iptables-save shows its comments and matches that nft cannot translate"
