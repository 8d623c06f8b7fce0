"""Which mode kube-proxy runs in, as the node's own evidence says (its metrics answer, its config), and
which views of the rules hold its Services."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .context import Context

__all__ = ["ProxyMode", "proxy_mode", "MODE_FILES", "iptables_service_rules", "KUBE_PROXY_IPTABLES_CHAINS",
           "KUBELET_CHAINS", "is_kube_proxy_iptables_chain"]

#: Our collector's files that say kube-proxy's mode: ``curl 127.0.0.1:10249/proxyMode`` and a copy of
#: its configuration (``mode: nftables``).
MODE_FILES = ("kubelet/kube-proxy-mode.txt", "kubelet/kube-proxy/config.conf")
_MODES = ("iptables", "ipvs", "nftables", "kernelspace")
_CONFIG_MODE = re.compile(r'^\s*mode:\s*["\']?([a-z]*)["\']?\s*$', re.M)

#: Chains only kube-proxy's iptables (and ipvs) mode writes (reference/CHAINS.md §1): what stays
#: behind when a node moves to nftables mode without ``kube-proxy --cleanup``.
KUBE_PROXY_IPTABLES_CHAINS = frozenset({
    "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL",
    "KUBE-PROXY-CANARY", "KUBE-POSTROUTING", "KUBE-MARK-MASQ", "KUBE-MARK-DROP", "KUBE-LOAD-BALANCER",
    "KUBE-NODE-PORT", "KUBE-LOOP-BACK"})
_KUBE_PROXY_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-SEP-", "KUBE-EXT-", "KUBE-FW-", "KUBE-XLB-")
#: kubelet's own chains: never suggested for deletion (kubelet recreates them and relies on them).
KUBELET_CHAINS = frozenset({"KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT", "KUBE-FIREWALL"})


def is_kube_proxy_iptables_chain(name: str) -> bool:
    """Is ``name`` a chain only kube-proxy's iptables/ipvs mode writes?

    >>> [is_kube_proxy_iptables_chain(c) for c in ("KUBE-SEP-ABC", "KUBE-SERVICES", "KUBE-KUBELET-CANARY")]
    [True, True, False]
    """
    return name in KUBE_PROXY_IPTABLES_CHAINS or name.startswith(_KUBE_PROXY_PREFIXES)


@dataclass(frozen=True)
class ProxyMode:
    """kube-proxy's mode and the file:line that says so."""

    mode: str
    origin: str


def proxy_mode(ctx: Context) -> ProxyMode | None:
    """kube-proxy's mode from the dump's own files; None when the dump does not say."""
    for rel in MODE_FILES:
        text = ctx.text(rel)
        if not text:
            continue
        if rel.endswith("proxy-mode.txt"):
            word = text.strip().split("\n", 1)[0].strip().strip('"')
            if word in _MODES:
                return ProxyMode(word, f"{ctx.origin_of(rel)}:1")
            continue
        m = _CONFIG_MODE.search(text)
        if m:
            line = text.count("\n", 0, m.start()) + 1
            # an empty mode means the platform default: iptables on Linux
            return ProxyMode(m.group(1) or "iptables", f"{ctx.origin_of(rel)}:{line}")
    return None


def iptables_service_rules(ctx: Context) -> dict[str, int]:
    """Per iptables view: how many rules kube-proxy's Service chains hold (KUBE-SERVICES and the
    per-Service chains); views without any are left out."""
    out: dict[str, int] = {}
    for name, rs in ctx.items():
        n = sum(len(c.rules) for t in rs.tables.values() for c in t.chains.values()
                if c.name == "KUBE-SERVICES" or c.name.startswith(("KUBE-SVC-", "KUBE-SEP-")))
        if n:
            out[name] = n
    return out
