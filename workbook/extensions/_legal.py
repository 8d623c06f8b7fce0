"""Where the kernel accepts each target (table and built-in chain), as iptables-nft and
iptables-legacy were seen to accept ``iptables -t T -A C ... -j X`` in a namespace.

PROVENANCE: Linux 6.18, iptables 1.8.9 (Debian), both backends, IPv4 and IPv6 alike (HL is
IPv6 only, TTL and ECN IPv4 only); re-checked by tests/extensions/test_targets.py
(``test_tables_are_the_kernels``). Targets this kernel lacks (SECMARK, LED) are from the kernel
sources' ``checkentry`` (SECMARK: mangle and security; LED: anywhere).
"""

from __future__ import annotations

__all__ = ["PLACES", "ONLY", "OPTION_PLACES", "places", "tables_of", "ALL"]

_CHAINS = {"raw": ("PREROUTING", "OUTPUT"), "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
           "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT"),
           "security": ("INPUT", "FORWARD", "OUTPUT")}
#: every table/chain
ALL = frozenset(f"{t}/{c}" for t, cs in _CHAINS.items() for c in cs)


def _at(tables: tuple[str, ...] = tuple(_CHAINS), hooks: tuple[str, ...] | None = None) -> frozenset[str]:
    return frozenset(f"{t}/{c}" for t in tables for c in _CHAINS[t] if hooks is None or c in hooks)


_MANGLE = _at(("mangle",))
#: target → the table/chain places both backends accept
PLACES: dict[str, frozenset[str]] = {
    "REJECT": _at(("filter",)),
    "TPROXY": frozenset({"mangle/PREROUTING"}),
    "CLASSIFY": _at(hooks=("FORWARD", "OUTPUT", "POSTROUTING")),
    "SYNPROXY": _at(hooks=("INPUT", "FORWARD")),
    "CONNSECMARK": _at(("mangle", "security")),
    "SECMARK": _at(("mangle", "security")),
    "TRACE": _at(("raw",)),
    **{name: _at(("raw",)) for name in ("CT", "NOTRACK")},  # -- ext-stateful -- (xt_CT's .table)
    **{name: _MANGLE for name in ("CHECKSUM", "TOS", "TTL", "HL", "DSCP", "ECN")},
    **{name: ALL for name in ("LOG", "NFLOG", "NFQUEUE", "SET", "TCPMSS", "TEE", "AUDIT", "IDLETIMER", "RATEEST",
                              "HMARK", "LED")},
    "QUEUE": frozenset(),
}
#: places only one backend accepts: (target, backend) → places
ONLY: dict[tuple[str, str], frozenset[str]] = {
    ("TRACE", "nft"): ALL - _at(("raw",)),  # nft_compat skips xt_TRACE's raw-only check
    ("QUEUE", "legacy"): ALL,  # iptables-nft has no QUEUE (ENOENT)
}
#: options that narrow a target's places further: (target, flag) → places
OPTION_PLACES: dict[tuple[str, str], frozenset[str]] = {
    ("TCPMSS", "--clamp-mss-to-pmtu"): _at(hooks=("FORWARD", "OUTPUT", "POSTROUTING")),
}


def places(name: str, backend: str) -> frozenset[str]:
    """Where ``-j name`` is legal with ``backend`` ("nft" or "legacy")."""
    return PLACES[name] | ONLY.get((name, backend), frozenset())


def tables_of(name: str) -> frozenset[str]:
    """The tables where ``-j name`` is legal on at least one backend.

    >>> sorted(tables_of("TPROXY")), sorted(tables_of("CLASSIFY"))
    (['mangle'], ['filter', 'mangle', 'nat', 'raw', 'security'])
    """
    return frozenset(p.split("/")[0] for b in ("nft", "legacy") for p in places(name, b))
