"""kube-proxy's nftables mode: say it is there (with its Service count), and which ClusterIPs have no endpoints."""

from __future__ import annotations

from typing import Iterator

from ._lazy import pd

from ..nft.kube_proxy import kube_proxy_nft
from .context import Context
from .finding import Finding
from ..i18n import msg, nmsg
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
    expl = (msg("This node runs kube-proxy in {summary}. Its Services live only in nftables (table {tables}); "
                "iptables-save shows none of them", summary=k.summary(), tables=tables)
            + (msg(" (the iptables view here has {n} rules, none of them kube-proxy's Service rules)", n=in_save)
               if in_save else "")
            + msg(". Read and trace them in the nft view (nft list ruleset)."))
    fix = ["# look at them on the node:", "nft list table ip kube-proxy",
           "nft list map ip kube-proxy service-ips"]
    yield Finding("kube-proxy-nftables-mode", "info",
                  msg("kube-proxy nftables mode: {services}, {cluster_ips}, {without} without endpoints",
                      services=nmsg("{n} Service", "{n} Services", len(k.services)),
                      cluster_ips=nmsg("{n} ClusterIP", "{n} ClusterIPs", len(k.cluster_ips)),
                      without=len(k.cluster_ips_without_endpoints)),
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
    listed = (" (" + ", ".join(services[:8]) + (" …" if len(services) > 8 else "") + ")") if services else ""
    expl = msg("{ports} ({ips}) {have} no endpoints{listed}: kube-proxy lists them in its no-endpoint-services "
               "map, so a new connection to them is rejected (goto reject-chain: ICMP port unreachable / TCP "
               "reset) or dropped, instead of being DNATed. That is kube-proxy working as designed when a "
               "Service has no ready Pods; check the Pods if it should have some.",
               ports=nmsg("{n} ClusterIP service port", "{n} ClusterIP service ports", n),
               ips=nmsg("{n} ClusterIP", "{n} ClusterIPs", len(k.cluster_ips_without_endpoints)),
               have="have" if n != 1 else "has", listed=listed)
    fix = ["# which Pods should back them, and are they ready?"]
    fix += [endpointslices_line(s) for s in services[:20]]
    yield Finding("nft-service-without-endpoints", "info",
                  nmsg("kube-proxy nftables: {n} service port without endpoints",
                       "kube-proxy nftables: {n} service ports without endpoints", n),
                  expl, ev, fix, "kube-proxy", "kube-proxy")
