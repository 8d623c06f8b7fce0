"""Rulesets as pandas frames: one row per rule, one row per chain."""

from __future__ import annotations

import pandas as pd

from .model import Ruleset

__all__ = ["RULE_COLUMNS", "CHAIN_COLUMNS", "rules_frame", "chains_frame"]

RULE_COLUMNS = [
    "table", "chain", "position", "family",
    "source", "source_negated", "destination", "destination_negated",
    "protocol", "protocol_negated", "in_interface", "in_interface_negated",
    "out_interface", "out_interface_negated",
    "matches", "target", "goto", "target_args", "comment", "pkts", "bytes", "owner", "spec", "origin",
]
CHAIN_COLUMNS = ["table", "chain", "builtin", "policy", "pkts", "bytes", "references", "rules"]


def _matches(rule) -> list[dict]:
    return [{"module": m.module,
             "options": [{"flag": o.flag, "args": list(o.args), "negated": o.negated} for o in m.options]}
            for m in rule.matches]


def rules_frame(ruleset: Ruleset) -> pd.DataFrame:
    """One row per rule, columns :data:`RULE_COLUMNS` (counters are nullable ``Int64``).

    >>> from workbook.parse import parse_save
    >>> df = rules_frame(parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n[3:180] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\\nCOMMIT\\n'))
    >>> row = df.iloc[0]
    >>> (row.chain, int(row.position), row.target, int(row.pkts))
    ('PREROUTING', 1, 'CNI-HOSTPORT-DNAT', 3)
    """
    try:
        from .owners import owner_of
    except ImportError:  # pragma: no cover - owners arrive with the forensics module
        def owner_of(rule):
            return None
    cols: dict[str, list] = {c: [] for c in RULE_COLUMNS}
    for r in ruleset.iter_rules():
        cols["table"].append(r.table)
        cols["chain"].append(r.chain)
        cols["position"].append(r.position)
        cols["family"].append(r.family)
        cols["source"].append(r.source)
        cols["source_negated"].append(r.source_negated)
        cols["destination"].append(r.destination)
        cols["destination_negated"].append(r.destination_negated)
        cols["protocol"].append(r.protocol)
        cols["protocol_negated"].append(r.protocol_negated)
        cols["in_interface"].append(r.in_interface)
        cols["in_interface_negated"].append(r.in_interface_negated)
        cols["out_interface"].append(r.out_interface)
        cols["out_interface_negated"].append(r.out_interface_negated)
        cols["matches"].append(_matches(r))
        cols["target"].append(r.target)
        cols["goto"].append(r.goto)
        cols["target_args"].append(" ".join(o.to_save() for o in r.target_options))
        cols["comment"].append(r.comment)
        cols["pkts"].append(r.pkts)
        cols["bytes"].append(r.bytes)
        cols["owner"].append(owner_of(r))
        cols["spec"].append(r.spec)
        cols["origin"].append(r.origin)
    df = pd.DataFrame(cols, columns=RULE_COLUMNS)
    df["position"] = df["position"].astype("int64")
    df["pkts"] = pd.array(cols["pkts"], dtype="Int64")
    df["bytes"] = pd.array(cols["bytes"], dtype="Int64")
    return df


def chains_frame(ruleset: Ruleset) -> pd.DataFrame:
    """One row per chain, columns :data:`CHAIN_COLUMNS`; ``references`` counts jumps/gotos to it
    in the ruleset when the dump did not print it (``-L`` headers do).

    >>> from workbook.parse import parse_save
    >>> df = chains_frame(parse_save('*filter\\n:INPUT DROP [1:2]\\n:X - [0:0]\\n-A INPUT -j X\\nCOMMIT\\n'))
    >>> df[["chain", "builtin", "references", "rules"]].values.tolist()
    [['INPUT', True, 0, 1], ['X', False, 1, 0]]
    >>> df.policy.tolist()
    ['DROP', None]
    """
    refs: dict[tuple[str, str], int] = {}
    for r in ruleset.iter_rules():
        if r.target:
            k = (r.table, r.target)
            refs[k] = refs.get(k, 0) + 1
    rows = []
    for c in ruleset.iter_chains():
        rows.append((c.table, c.name, c.builtin, c.policy, c.pkts, c.bytes,
                     c.references if c.references is not None else refs.get((c.table, c.name), 0), len(c.rules)))
    df = pd.DataFrame(rows, columns=CHAIN_COLUMNS)
    df["policy"] = pd.Series([r[3] for r in rows], dtype=object)
    df["pkts"] = pd.array(df["pkts"].tolist(), dtype="Int64")
    df["bytes"] = pd.array(df["bytes"].tolist(), dtype="Int64")
    return df
