"""iptables-nft's tables seen twice (iptables-save and nft list ruleset): pair their rules, say what each view loses.

iptables-nft keeps one set of rules in the kernel; ``iptables-save`` and ``nft list ruleset`` print
them in two languages. Rules pair one to one by table, chain and position. What a view loses:

- nft: ``-m comment`` text (gone); matches and targets nft has no words for (``xt match "recent"``,
  ``xt target "MARK"``); a negated multi-value match printed without its negation (iptables 1.8.9
  prints ``! --ctstate RELATED,ESTABLISHED,DNAT`` as ``ct status dnat``); ``-m statistic
  --probability p`` only as ``meta random & 2147483647 < N``; ``CONNMARK --restore-mark`` masks as
  one ``and``.
- iptables: rules with native nft expressions ``iptables-nft-save`` cannot print (a chain longer in
  the nft view), e.g. ``fib`` / ``pkttype`` added by another tool (Calico issue 13263).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from ..model import Rule, Ruleset
    from .model import NftRule, NftRuleset

__all__ = ["compare_views", "VIEW_COLUMNS"]

VIEW_COLUMNS = ["family", "table", "chain", "position", "iptables", "nft", "lost_in_nft", "lost_in_iptables",
                "iptables_origin", "nft_line"]

# match/target → what the nft view prints for it when it has a translation
_TRANSLATED = {
    "statistic": ("meta random", "probability shown only as a meta random threshold"),
    "CONNMARK": ("ct mark", "CONNMARK masks shown as one 'and' mask"),
}


def _losses(r: "Rule | None", n: "NftRule | None") -> tuple[list[str], list[str]]:
    lost_nft: list[str] = []
    lost_ipt: list[str] = []
    if r is None and n is not None:
        return [], [f"rule not printed by iptables-save: {n.text}"]
    if n is None and r is not None:
        return [f"rule not in the nft view: {r.spec}"], []
    assert r is not None and n is not None
    text = n.text
    if r.comment and ' comment "' not in text:
        lost_nft.append(f"comment {r.comment!r}")
    for m in r.matches:
        if m.module == "comment":
            continue
        if f'xt match "{m.module}"' in text or f"xt match {m.module}" in text:
            lost_nft.append(f"-m {m.module} (nft prints it as an xt compat match)")
        elif m.module in _TRANSLATED and _TRANSLATED[m.module][0] in text:
            lost_nft.append(f"-m {m.module}: {_TRANSLATED[m.module][1]}")
        for o in m.options:
            if not o.negated or "," not in o.value:
                continue
            if o.flag == "--ctstate" and "ct state !=" not in text:
                shown = next((w for w in ("ct status", "ct state") if w in text), None)
                lost_nft.append(f"! --ctstate {o.value}: nft shows "
                                + (f"only '{text[text.index(shown):].split(' counter')[0].split(' drop')[0]}'"
                                   if shown else "no ct state test"))
            elif o.flag != "--ctstate" and "!=" not in text:
                lost_nft.append(f"negation of ! {o.flag} {o.value} (nft shows no '!=')")
    t = r.target
    if t and (f'xt target "{t}"' in text or f"xt target {t}" in text):
        lost_nft.append(f"-j {t} (nft prints it as an xt compat target)")
    elif t in _TRANSLATED and _TRANSLATED[t][0] in text:
        lost_nft.append(f"-j {t}: {_TRANSLATED[t][1]}")
    return lost_nft, lost_ipt


def compare_views(save: "Ruleset", nft: "NftRuleset") -> pd.DataFrame:
    """One row per rule of every iptables table present in both views (paired by table, chain,
    position), columns :data:`VIEW_COLUMNS`; ``lost_in_nft`` / ``lost_in_iptables`` list what that
    view does not show of the rule (empty lists when both show all of it).

    >>> from workbook.parse import parse_save
    >>> from workbook.nft.parse_text import parse_nft_text
    >>> save = parse_save('*nat\\n:KUBE-X - [0:0]\\n-A KUBE-X -m comment --comment "hi" -j RETURN\\nCOMMIT\\n')
    >>> nft = parse_nft_text('table ip nat {\\n\\tchain KUBE-X {\\n\\t\\t counter packets 0 bytes 0 return\\n\\t}\\n}\\n')
    >>> compare_views(save, nft).lost_in_nft.tolist()
    [["comment 'hi'"]]
    """
    fam = "ip6" if save.family == "ipv6" else "ip"
    rows = []
    for tname, table in save.tables.items():
        nt = nft.tables.get((fam, tname))
        if nt is None:
            continue
        names = list(table.chains) + [c for c in nt.chains if c not in table.chains]
        for cname in names:
            ic = table.chains.get(cname)
            ncn = nt.chains.get(cname)
            irules = ic.rules if ic is not None else []
            nrules = ncn.rules if ncn is not None else []
            for i in range(max(len(irules), len(nrules))):
                r = irules[i] if i < len(irules) else None
                n = nrules[i] if i < len(nrules) else None
                lost_nft, lost_ipt = _losses(r, n)
                rows.append((fam, tname, cname, i + 1, r.spec if r else None, n.text if n else None,
                             lost_nft, lost_ipt, r.origin if r else None, n.line if n else None))
    return pd.DataFrame(rows, columns=VIEW_COLUMNS)
