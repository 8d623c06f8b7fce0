"""``-m cluster`` (``xt_cluster``: a hash of the connection's source picks the node of a cluster that takes
it) and ``-m rateest`` (``xt_rateest``: the rate a ``-j RATEEST`` estimator measured). Both are assumed:
the cluster's hash seed spreads connections in a way the tracer does not compute, and a rate
estimate is made of past traffic.
"""

from __future__ import annotations

from ..model import Match, Option
from ..parse.listing_words import ListingContext, NotThisReader
from ._assumed import assume_with
from .registry import Extension, OptionSpec

__all__ = ["EXTENSIONS"]

#: cluster's listed words (``node_mask=0x00000001``) and their save flags, in the listed order
_CLUSTER = (("node_mask", "--cluster-local-nodemask"), ("total_nodes", "--cluster-total-nodes"),
            ("hash_seed", "--cluster-hash-seed"))


def _text_cluster(m: Match) -> str:
    """`` cluster !node_mask=0x00000005 total_nodes=4 hash_seed=0x00000001``.

    >>> _text_cluster(Match("cluster", (Option("--cluster-local-nodemask", ("0x00000005",), True),
    ...     Option("--cluster-total-nodes", ("4",)), Option("--cluster-hash-seed", ("0x00000001",)))))
    ' cluster !node_mask=0x00000005 total_nodes=4 hash_seed=0x00000001'
    """
    out = " cluster"
    for word, flag in _CLUSTER:
        o = m.get(flag)
        if o is not None:
            out += f" {'!' if o.negated else ''}{word}={o.value}"
    return out


def _read_cluster(t: list[str], i: int, neg: bool, ctx: ListingContext) -> tuple[Match, int]:
    words = dict(_CLUSTER)
    found: dict[str, Option] = {}
    j = i + 1
    while j < len(t):
        w = t[j]
        inv = w.startswith("!")
        key, eq, value = w.lstrip("!").partition("=")
        if not eq or key not in words:
            break
        found[key] = Option(words[key], (value,), inv or (neg and not found))
        j += 1
    if not found:
        raise NotThisReader
    # iptables-save's order: the node mask, the number of nodes, the seed
    return Match("cluster", tuple(found[w] for w, _ in _CLUSTER if w in found)), j


def _bps(text: str) -> str:
    """A ``--rateest-bps`` value as ``-L`` shows it: bytes per second (``10000bit`` → ``1250``)."""
    digits = text.removesuffix("bit")
    return str(int(float(digits)) // 8) if digits.replace(".", "", 1).isdecimal() else text


def _text_rateest(m: Match) -> str:
    """`` rateest match e1 delta bps 1250 lt e2 bps 625`` (libxt_rateest; rates in bytes per second).

    >>> from workbook.parse import parse_save
    >>> r = next(parse_save("*mangle\\n:PREROUTING ACCEPT [0:0]\\n-A PREROUTING -m rateest --rateest-delta --rateest1 e1 "
    ...     "--rateest-bps1 10000bit --rateest-lt --rateest-bps2 5000bit --rateest2 e2\\nCOMMIT\\n").iter_rules())
    >>> _text_rateest(r.matches[0])
    ' rateest match e1 delta bps 1250 lt e2 bps 625'
    """
    get = m.get
    first = get("--rateest") or get("--rateest1")
    out = f" rateest match {first.value if first else ''}"
    if get("--rateest-delta") is not None:
        out += " delta"
    bps1 = get("--rateest-bps1") or (get("--rateest-bps") if get("--rateest2") is None else None)
    if bps1 is not None:
        out += f" bps {_bps(bps1.value)}"
    for op in ("lt", "gt", "eq"):
        o = get(f"--rateest-{op}")
        if o is not None:
            out += f" {'! ' if o.negated else ''}{op}"
    if get("--rateest2") is not None:
        out += f" {get('--rateest2').value}"
        bps2 = get("--rateest-bps2")
        if bps2 is not None:
            out += f" bps {_bps(bps2.value)}"
    elif get("--rateest-bps") is not None and bps1 is None:
        out += f" bps {_bps(get('--rateest-bps').value)}"
    return out


_RATEEST_FLAGS = ("--rateest", "--rateest1", "--rateest2", "--rateest-delta", "--rateest-bps", "--rateest-pps",
                  "--rateest-bps1", "--rateest-pps1", "--rateest-bps2", "--rateest-pps2", "--rateest-lt",
                  "--rateest-gt", "--rateest-eq")

EXTENSIONS = (
    Extension("cluster", "match", "the node of a cluster that takes the connection (a hash of its source)",
              status="assumed", reason="the cluster hash of the connection is not computed by the tracer",
              options=(OptionSpec("--cluster-total-nodes", negatable=False), OptionSpec("--cluster-local-node"),
                       OptionSpec("--cluster-local-nodemask"), OptionSpec("--cluster-hash-seed", negatable=False)),
              listing_words=("cluster",), read_listing=_read_cluster, listing_text=_text_cluster,
              compile=assume_with("which cluster node takes the connection (a seeded hash) is not computed")),
    Extension("rateest", "match", "the rate a RATEEST estimator measured, against a value or another estimator",
              status="assumed", reason="a rate estimate is made of past traffic, not known to the tracer",
              options=tuple(OptionSpec(f, 0 if f in ("--rateest-delta", "--rateest-lt", "--rateest-gt",
                                                     "--rateest-eq") else 1) for f in _RATEEST_FLAGS),
              tables=None, listing_text=_text_rateest,
              compile=assume_with("the rate the estimator measured (past traffic) is not known")),
)
