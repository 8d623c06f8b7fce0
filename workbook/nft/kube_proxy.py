"""What kube-proxy's nftables mode holds in a listing: its tables, Services, ClusterIPs, and those without endpoints.

kube-proxy (``pkg/proxy/nftables/proxier.go``) writes, per family, ``table ip kube-proxy`` /
``table ip6 kube-proxy`` with a ``cluster-ips`` set (every ClusterIP), a ``service-ips`` verdict
map (``ip . proto . port : goto service-…`` for each service port that has endpoints), a
``no-endpoint-services`` verdict map (the same key, ``goto reject-chain`` or ``drop``, with
``comment "ns/svc:port"``, for a ClusterIP with no endpoints: it writes no service chain for
those), and chains ``service-HASH-ns/svc/proto/port``, ``external-…``, ``endpoint-HASH-…__ip/port``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .model import NftRuleset, NftTable

__all__ = ["KubeProxyNft", "kube_proxy_nft", "service_port_of_chain"]

_CHAIN = re.compile(r"^(?:service|local|external|endpoint|firewall)-[A-Z2-7]{8}-(?P<ns>[^/]+)/(?P<svc>[^/]+)/"
                    r"(?P<proto>[a-z]+)/(?P<port>[^_/]*)(?:__.*)?$")


def service_port_of_chain(name: str) -> tuple[str, str] | None:
    """``(ns/svc:port, proto)`` of a kube-proxy nftables chain name (None for other chains).

    >>> service_port_of_chain("service-ULMVA6XW-ns1/svc1/tcp/p80")
    ('ns1/svc1:p80', 'tcp')
    >>> service_port_of_chain("endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"), service_port_of_chain("services")
    (('ns1/svc1:p80', 'tcp'), None)
    """
    m = _CHAIN.match(name)
    if not m:
        return None
    base = f"{m.group('ns')}/{m.group('svc')}"
    return (f"{base}:{m.group('port')}" if m.group("port") else base, m.group("proto"))


@dataclass
class NoEndpoint:
    """One element of ``no-endpoint-services``: the ClusterIP key, its verdict and its Service."""

    family: str
    key: str
    verdict: str | None
    service: str | None
    line: int


@dataclass
class KubeProxyNft:
    """kube-proxy's nftables-mode state in one listing (all its tables together)."""

    tables: list[NftTable] = field(default_factory=list)
    #: ``(ns/svc:port, proto)`` of every service port kube-proxy wrote a chain or a no-endpoint entry for.
    service_ports: set[tuple[str, str]] = field(default_factory=set)
    cluster_ips: set[str] = field(default_factory=set)
    no_endpoints: list[NoEndpoint] = field(default_factory=list)
    rules: int = 0

    @property
    def services(self) -> set[str]:
        """``ns/svc`` of every Service (a Service with several ports counts once)."""
        return {sp.split(":", 1)[0] for sp, _ in self.service_ports}

    @property
    def cluster_ips_without_endpoints(self) -> set[str]:
        return {e.key.split(" . ", 1)[0] for e in self.no_endpoints} & self.cluster_ips

    def summary(self) -> str:
        where = ", ".join(f"table {t.family} {t.name}" for t in self.tables)
        return (f"kube-proxy nftables mode ({where}): {_n(len(self.services), 'Service')} ({_n(len(self.service_ports), 'service port')}), "
                f"{_n(len(self.cluster_ips), 'ClusterIP')}, {len(self.cluster_ips_without_endpoints)} without endpoints "
                f"({_n(len(self.no_endpoints), 'service port')}), {_n(self.rules, 'rule')}")


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def kube_proxy_nft(rs: NftRuleset | None) -> KubeProxyNft | None:
    """kube-proxy's nftables-mode state in ``rs``, or None when it has no kube-proxy table.

    >>> from workbook.nft.parse_text import parse_nft_text
    >>> k = kube_proxy_nft(parse_nft_text('''table ip kube-proxy {
    ... \\tset cluster-ips {
    ... \\t\\ttype ipv4_addr
    ... \\t\\telements = { 10.96.0.1, 10.96.0.9 }
    ... \\t}
    ... \\tmap no-endpoint-services {
    ... \\t\\ttype ipv4_addr . inet_proto . inet_service : verdict
    ... \\t\\telements = { 10.96.0.9 . tcp . 80 comment "ns/web:http" : goto reject-chain }
    ... \\t}
    ... \\tchain service-42NFTM6N-default/kubernetes/tcp/https {
    ... \\t}
    ... }
    ... '''))
    >>> (sorted(k.services), len(k.cluster_ips), sorted(k.cluster_ips_without_endpoints))
    (['default/kubernetes', 'ns/web'], 2, ['10.96.0.9'])
    """
    if rs is None:
        return None
    tables = [t for t in rs.tables.values() if t.name == "kube-proxy" and not t.iptables_nft]
    if not tables:
        return None
    # the checks, the conntrack join and the CLI all ask for the same listing: read it once per shape
    key = (id(rs), tuple((id(t), len(t.chains), sum(len(c.rules) for c in t.chains.values()),
                          tuple(len(s.elements) for s in t.sets.values())) for t in tables))
    if _LAST and _LAST[0] == key and _LAST[1] is rs:
        return _LAST[2]
    k = _read(tables)
    _LAST[:] = [key, rs, k]
    return k


#: The last ``(key, ruleset, result)`` of :func:`kube_proxy_nft` (the ruleset kept so its id stays its own).
_LAST: list = []


def _read(tables: list[NftTable]) -> KubeProxyNft:
    k = KubeProxyNft(tables=tables)
    for t in tables:
        k.rules += sum(len(c) for c in t.chains.values())
        for c in t.chains.values():
            sp = service_port_of_chain(c.name)
            if sp:
                k.service_ports.add(sp)
        ips = t.sets.get("cluster-ips")
        if ips is not None:
            k.cluster_ips.update(e.key for e in ips.elements)
        ne = t.sets.get("no-endpoint-services")
        if ne is not None:
            for e in ne.elements:
                parts = e.key.split(" . ")
                proto = parts[1] if len(parts) > 1 else "?"
                k.no_endpoints.append(NoEndpoint(t.family, e.key, e.value, e.comment, e.line or ne.line))
                if e.comment:
                    k.service_ports.add((e.comment, proto))
    return k
