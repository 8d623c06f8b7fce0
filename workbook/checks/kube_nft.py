"""kube-proxy's nftables mode: say it is there (with its Service count), and which ClusterIPs have no endpoints."""

from __future__ import annotations

from typing import Iterator

import pandas as pd

from ..nft.kube_proxy import kube_proxy_nft
from .context import Context
from .finding import Finding
from .kube import endpointslices_line

__all__ = ["find_kube_nft"]


def find_kube_nft(ctx: Context) -> Iterator[Finding]:
    k = kube_proxy_nft(ctx.nft)
    if k is None:
        return
    src = ctx.nft.source if ctx.nft is not None else "?"
    tables = ", ".join(f"{t.family} {t.name}" for t in k.tables)
    ev = pd.DataFrame({
        "family": [t.family for t in k.tables], "table": [t.name for t in k.tables],
        "rules": [sum(len(c) for c in t.chains.values()) for t in k.tables],
        "origin": [f"{src}:{t.line}" if t.line else src for t in k.tables],
    })
    in_save = sum(len(rs) for _, rs in ctx.items())
    expl = (f"This node runs kube-proxy in {k.summary()}. Its Services live only in "
            f"nftables (table {tables}); iptables-save shows none of them"
            + (f" (the iptables view here has {in_save} rules, none of them kube-proxy's Service rules)" if in_save else "")
            + ". Read and trace them in the nft view (nft list ruleset).")
    fix = ["# look at them on the node:", "nft list table ip kube-proxy",
           "nft list map ip kube-proxy service-ips"]
    yield Finding("kube-proxy-nftables-mode", "info",
                  f"kube-proxy nftables mode: {len(k.services)} Service{'' if len(k.services) == 1 else 's'}, "
                  f"{len(k.cluster_ips)} ClusterIP{'' if len(k.cluster_ips) == 1 else 's'}, "
                  f"{len(k.cluster_ips_without_endpoints)} without endpoints",
                  expl, ev, fix, "kube-proxy", "kube-proxy")
    if not k.no_endpoints:
        return
    ev = pd.DataFrame({
        "family": [e.family for e in k.no_endpoints], "set": ["no-endpoint-services"] * len(k.no_endpoints),
        "element": [e.key for e in k.no_endpoints], "verdict": [e.verdict for e in k.no_endpoints],
        "service": pd.Series([e.service for e in k.no_endpoints], dtype=object),
        "origin": [f"{src}:{e.line}" for e in k.no_endpoints],
    })
    services = sorted({e.service for e in k.no_endpoints if e.service})
    n = len(k.no_endpoints)
    expl = (f"{n} ClusterIP service port{'s' if n != 1 else ''} ({len(k.cluster_ips_without_endpoints)} "
            f"ClusterIP{'s' if len(k.cluster_ips_without_endpoints) != 1 else ''}) "
            f"{'have' if n != 1 else 'has'} no endpoints"
            f"{' (' + ', '.join(services[:8]) + (' …' if len(services) > 8 else '') + ')' if services else ''}: "
            "kube-proxy lists them in its no-endpoint-services map, so a new connection to them is rejected "
            "(goto reject-chain: ICMP port unreachable / TCP reset) or dropped, instead of being DNATed. "
            "That is kube-proxy working as designed when a Service has no ready Pods; check the Pods if "
            "it should have some.")
    fix = ["# which Pods should back them, and are they ready?"]
    fix += [endpointslices_line(s) for s in services[:20]]
    yield Finding("nft-service-without-endpoints", "info",
                  f"kube-proxy nftables: {n} service port{'s' if n != 1 else ''} without endpoints",
                  expl, ev, fix, "kube-proxy", "kube-proxy")
