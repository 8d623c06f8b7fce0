"""Rule-level, order-aware differences between two rulesets: added, removed, moved, counters, chains, policies."""

from __future__ import annotations

import difflib
import html
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .model import Chain, InputError, Rule, Ruleset
from .i18n import _

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["diff_rulesets", "RulesetDiff", "DIFF_COLUMNS"]

DIFF_COLUMNS = ["change", "table", "chain", "position_a", "position_b", "spec", "pkts_a", "pkts_b", "d_pkts",
                "bytes_a", "bytes_b", "d_bytes", "old", "new", "origin_a", "origin_b"]
_INT_COLUMNS = ["position_a", "position_b", "pkts_a", "pkts_b", "d_pkts", "bytes_a", "bytes_b", "d_bytes"]


@dataclass
class RulesetDiff:
    """What changed from ruleset ``a`` to ruleset ``b``; ``rows`` are dicts with :data:`DIFF_COLUMNS`.

    ``change`` is one of ``added``, ``removed``, ``moved`` (the same rule at another place relative
    to its neighbours), ``counters`` (same rule, packet/byte counters differ), ``chain-added``,
    ``chain-removed``, ``policy``.
    """

    a: Ruleset
    b: Ruleset
    rows: list[dict] = field(default_factory=list)
    _hunks: dict[tuple[str, str], list[str]] = field(default_factory=dict, repr=False)
    label_a: str | None = None
    label_b: str | None = None
    #: between two dumps: their nft rulesets (:func:`workbook.diff_nft.diff_nft` rows) and conntrack
    #: summaries (:func:`workbook.diff_nft.diff_conntrack` rows)
    nft_rows: list[dict] = field(default_factory=list)
    conntrack_rows: list[dict] = field(default_factory=list)

    @property
    def names(self) -> tuple[str, str]:
        """What to call the two sides (the dump folders when diffing NodeDumps, else the sources)."""
        return (self.label_a or self.a.source, self.label_b or self.b.source)

    def __bool__(self) -> bool:
        return any(r["change"] != "counters" for r in self.rows) or bool(self.nft_rows) or bool(self.conntrack_rows)

    def __len__(self) -> int:
        return len(self.rows) + len(self.nft_rows) + len(self.conntrack_rows)

    @property
    def frame(self) -> "pd.DataFrame":
        """One row per change, columns :data:`DIFF_COLUMNS` (positions 1-based, counters ``Int64``)."""
        import pandas as pd
        df = pd.DataFrame(self.rows, columns=DIFF_COLUMNS)
        for c in _INT_COLUMNS:
            df[c] = pd.array(df[c].tolist(), dtype="Int64")
        return df

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r["change"]] = out.get(r["change"], 0) + 1
        for r in self.nft_rows:
            out[f"nft {r['change']}"] = out.get(f"nft {r['change']}", 0) + 1
        if self.conntrack_rows:
            out["conntrack groups changed"] = len(self.conntrack_rows)
        return out

    def summary(self) -> str:
        c = self.counts()
        if not c:
            return _("no differences between {a} and {b}").format(a=self.names[0], b=self.names[1])
        return ", ".join(_("{n} {change}").format(n=n, change=_change_word(k)) for k, n in sorted(c.items()))

    def text(self) -> str:
        """A unified-diff-like text, one hunk group per chain (``@@ table chain @@``), with moved
        rules and counter changes noted after each chain's hunks (the hunks have the ``context``
        that :func:`diff_rulesets` was given)."""
        out = [f"--- {self.names[0]}", f"+++ {self.names[1]}"]
        by_chain: dict[tuple[str, str], list[dict]] = {}
        for r in self.rows:
            by_chain.setdefault((r["table"], r["chain"]), []).append(r)
        for key, rows in by_chain.items():
            table, chain = key
            out.append(f"@@ {table} {chain} @@")
            for r in rows:
                if r["change"] in ("chain-added", "chain-removed", "policy"):
                    out.append(f"# {r['change']}: {r['old'] or ''}{' -> ' if r['change'] == 'policy' else ''}{r['new'] or ''}".rstrip())
            out.extend(self._hunks.get(key, []))
            for r in rows:
                if r["change"] == "moved":
                    out.append(f"# moved: {r['spec']}  (position {r['position_a']} -> {r['position_b']})")
                elif r["change"] == "counters":
                    out.append(f"# counters: {r['spec']}  (position {r['position_b']}: "
                               f"{_signed(r['d_pkts'])} pkts, {_signed(r['d_bytes'])} bytes)")
        out.extend(self._nft_text())
        if self.conntrack_rows:
            out.append("@@ conntrack entries per Service and status @@")
            for r in self.conntrack_rows:
                out.append(f"# {r['service'] or '(no Service)'} {r['status']}: {r['entries_a']} -> {r['entries_b']} "
                           f"({_signed(r['delta'])})")
        return "\n".join(out) + "\n"

    def _nft_text(self) -> list[str]:
        out: list[str] = []
        where = None
        for r in self.nft_rows:
            here = (r["family"], r["table"], r["chain"], r["set"])
            if here != where:
                what = f"chain {r['chain']}" if r["chain"] else f"set {r['set']}" if r["set"] else ""
                out.append(f"@@ nft {r['family']} {r['table']} {what}".rstrip() + " @@")
                where = here
            c = r["change"]
            if c in ("added", "element-added"):
                out.append(f"+{r['text']}")
            elif c in ("removed", "element-removed"):
                out.append(f"-{r['text']}")
            else:
                out.append(f"# {c}")
        return out

    def to_json(self, **kw) -> str:
        return json.dumps({"a": self.names[0], "b": self.names[1], "summary": self.counts(),
                           "changes": json.loads(self.frame.to_json(orient="records")),
                           "nft": self.nft_rows, "conntrack": self.conntrack_rows}, **kw)

    def __repr__(self) -> str:
        return f"<RulesetDiff {self.summary()}>"

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<div><b>{html.escape(self.summary())}</b></div>"
        colours = {"added": "#e6ffec", "removed": "#ffebe9", "moved": "#fff8c5", "counters": "#f6f8fa",
                   "chain-added": "#e6ffec", "chain-removed": "#ffebe9", "policy": "#fff8c5"}
        rows = []
        for r in self.rows:
            rows.append(f"<tr style=\"background:{colours.get(r['change'], '#fff')}\">"
                        + "".join(f"<td>{html.escape('' if r[c] is None else str(r[c]))}</td>"
                                  for c in ("change", "table", "chain", "position_a", "position_b", "spec",
                                            "d_pkts", "d_bytes"))
                        + "</tr>")
        head = "".join(f"<th>{c}</th>" for c in ("change", "table", "chain", "pos a", "pos b", "spec", "Δ pkts", "Δ bytes"))
        return (f"<div><b>{html.escape(self.summary())}</b><br><small>{html.escape(self.names[0])} → "
                f"{html.escape(self.names[1])}</small><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table></div>")


def _signed(v) -> str:
    return "?" if v is None else f"{v:+d}"


def _row(change: str, table: str, chain: str, ra: Rule | None = None, rb: Rule | None = None, **kw) -> dict:
    row = dict.fromkeys(DIFF_COLUMNS)
    row.update(change=change, table=table, chain=chain)
    if ra is not None:
        row.update(position_a=ra.position, spec=ra.spec, pkts_a=ra.pkts, bytes_a=ra.bytes, origin_a=ra.origin)
    if rb is not None:
        row.update(position_b=rb.position, spec=rb.spec, pkts_b=rb.pkts, bytes_b=rb.bytes, origin_b=rb.origin)
    if ra is not None and rb is not None:
        if ra.pkts is not None and rb.pkts is not None:
            row["d_pkts"] = rb.pkts - ra.pkts
        if ra.bytes is not None and rb.bytes is not None:
            row["d_bytes"] = rb.bytes - ra.bytes
    row.update(kw)
    return row


def _diff_chain(ca: Chain, cb: Chain, rows: list[dict], hunks: dict, context: int) -> None:
    a = [r.spec for r in ca.rules]
    b = [r.spec for r in cb.rules]
    table, chain = cb.table, cb.name
    if ca.policy != cb.policy and (ca.builtin or cb.builtin):
        rows.append(_row("policy", table, chain, old=ca.policy, new=cb.policy))
    if a == b:
        for ra, rb in zip(ca.rules, cb.rules):
            if _counters_differ(ra, rb):
                rows.append(_row("counters", table, chain, ra, rb))
        return
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    removed: list[Rule] = []
    added: list[Rule] = []
    equal_pairs: list[tuple[Rule, Rule]] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            equal_pairs.extend(zip(ca.rules[i1:i2], cb.rules[j1:j2]))
        else:
            removed.extend(ca.rules[i1:i2])
            added.extend(cb.rules[j1:j2])
    # a rule removed in one place and added in another is the same rule, moved
    pool: dict[str, list[Rule]] = {}
    for r in added:
        pool.setdefault(r.spec, []).append(r)
    moved: list[tuple[Rule, Rule]] = []
    still_removed: list[Rule] = []
    for r in removed:
        lst = pool.get(r.spec)
        if lst:
            moved.append((r, lst.pop(0)))
        else:
            still_removed.append(r)
    moved_b = {id(rb) for _, rb in moved}
    for r in still_removed:
        rows.append(_row("removed", table, chain, r))
    for r in added:
        if id(r) not in moved_b:
            rows.append(_row("added", table, chain, None, r))
    for ra, rb in moved:
        rows.append(_row("moved", table, chain, ra, rb))
    for ra, rb in equal_pairs:
        if _counters_differ(ra, rb):
            rows.append(_row("counters", table, chain, ra, rb))
    hunks[(table, chain)] = [ln for ln in difflib.unified_diff(a, b, lineterm="", n=context)
                             if not ln.startswith(("---", "+++"))]


def _counters_differ(ra: Rule, rb: Rule) -> bool:
    return (ra.pkts is not None and rb.pkts is not None and (ra.pkts != rb.pkts or ra.bytes != rb.bytes))


def _main_ruleset(x) -> Ruleset:
    """``x`` itself, or the main IPv4 ruleset of a NodeDump (InputError when it has none)."""
    if isinstance(x, Ruleset):
        return x
    rs = getattr(x, "ruleset", None)
    if rs is None and getattr(x, "nft", None) is not None:
        return Ruleset(source="<no iptables rules>")   # an nftables-only dump: its nft view is compared
    if rs is None:
        raise InputError(f"{getattr(x, 'path', x)}: no IPv4 ruleset in this dump to compare")
    return rs


def diff_rulesets(a: Ruleset, b: Ruleset, *, context: int = 2) -> RulesetDiff:
    """Order-aware differences from ``a`` to ``b`` (a NodeDump is taken by its main ruleset).

    Per chain, the two lists of rule specs are aligned with difflib (longest matching blocks);
    what is left over is added or removed, unless the same spec is left over on both sides,
    which makes it ``moved``.

    >>> from workbook.parse import parse_save
    >>> before = parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n[5:300] -A PREROUTING -j KUBE-SERVICES\\nCOMMIT\\n', 'before')
    >>> after = parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n[9:540] -A PREROUTING -j KUBE-SERVICES\\n-A PREROUTING -j DOCKER\\nCOMMIT\\n', 'after')
    >>> d = diff_rulesets(before, after)
    >>> d.frame[["change", "position_b", "spec", "d_pkts"]].values.tolist()
    [['added', 2, '-A PREROUTING -j DOCKER', <NA>], ['counters', 1, '-A PREROUTING -j KUBE-SERVICES', 4]]
    """
    def label(x) -> str | None:
        path = getattr(x, "path", None)
        rs = getattr(x, "ruleset", None)
        return f"{path}/{rs.source}" if path is not None and rs is not None and not str(rs.source).startswith("/") else None

    label_a, label_b = label(a), label(b)
    dumps = (a, b)
    a, b = _main_ruleset(a), _main_ruleset(b)
    rows: list[dict] = []
    hunks: dict[tuple[str, str], list[str]] = {}
    tables = list(a.tables) + [t for t in b.tables if t not in a.tables]
    for t in tables:
        ta, tb = a.tables.get(t), b.tables.get(t)
        chains_a = ta.chains if ta else {}
        chains_b = tb.chains if tb else {}
        for name in list(chains_a) + [c for c in chains_b if c not in chains_a]:
            ca, cb = chains_a.get(name), chains_b.get(name)
            if ca is None:
                assert cb is not None  # the name comes from one of the two tables
                rows.append(_row("chain-added", t, name, new=cb.policy or "-", origin_b=cb.origin))
                rows.extend(_row("added", t, name, None, r) for r in cb.rules)
                hunks[(t, name)] = [f"@@ -0,0 +1,{len(cb.rules)} @@"] + ["+" + r.spec for r in cb.rules] if cb.rules else []
            elif cb is None:
                rows.append(_row("chain-removed", t, name, old=ca.policy or "-", origin_a=ca.origin))
                rows.extend(_row("removed", t, name, r) for r in ca.rules)
                hunks[(t, name)] = [f"@@ -1,{len(ca.rules)} +0,0 @@"] + ["-" + r.spec for r in ca.rules] if ca.rules else []
            else:
                _diff_chain(ca, cb, rows, hunks, context)
    from .diff_nft import diff_conntrack, diff_nft
    nft = [getattr(x, "nft", None) for x in dumps]
    # iptables-nft tables both dumps also hold as iptables-save are compared there (with comments)
    both = {("ip", t) for t in a.tables if t in b.tables}
    covered = {k for n in nft if n is not None for k, t in n.tables.items() if t.iptables_nft and k in both}
    nft_rows = diff_nft(*nft, skip=covered) if any(n is not None for n in nft) else []
    frames = [getattr(x, "conntrack", None) if getattr(x, "conntrack_table", None) is not None else None
              for x in dumps]
    ct_rows = diff_conntrack(*frames) if any(f is not None for f in frames) else []
    return RulesetDiff(a, b, rows, hunks, label_a, label_b, nft_rows, ct_rows)


def _change_word(change: str) -> str:
    """A change kind (``added``, ``moved``…) as the summary says it, in the current language."""
    words = {"added": _("added"), "removed": _("removed"), "moved": _("moved"), "counters": _("counters"),
             "chain-added": _("chain-added"), "chain-removed": _("chain-removed"), "policy": _("policy")}
    return words.get(change, change)
