"""Join conntrack entries to the Services kube-proxy programmed: which entry belongs to which
Service, and which still points at an endpoint the rules no longer have."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .model import Ruleset
    from .nft.model import NftRuleset
    from .parse.conntrack import Conntrack, ConntrackEntry

__all__ = ["Frontend", "service_frontends", "nft_service_frontends", "join_services", "entry_services",
           "NO_SERVICE", "CONNTRACK_SERVICE_COLUMNS"]

#: Columns :func:`join_services` adds to :attr:`Conntrack.frame`.
CONNTRACK_SERVICE_COLUMNS = ["service", "frontend", "endpoint", "status"]


@dataclass(frozen=True, slots=True)
class Frontend:
    """An address a Service answers on (ClusterIP, external or load-balancer IP, or a NodePort on
    any node address when ``ip`` is None), and the endpoints behind it."""

    service: str
    protocol: str
    ip: str | None
    port: int
    endpoints: frozenset[str]


def service_frontends(ruleset: "Ruleset | None") -> list[Frontend]:
    """Every frontend of every Service in ``ruleset`` (kube-proxy's iptables mode).

    >>> from workbook.generate import Service, kube_proxy_save
    >>> from workbook.parse import parse_save
    >>> svc = Service("kube-system", "kube-dns", "dns", "udp", "10.96.0.10", 53, [("10.244.1.5", 53)])
    >>> service_frontends(parse_save(kube_proxy_save([svc])))
    [Frontend(service='kube-system/kube-dns:dns', protocol='udp', ip='10.96.0.10', port=53, endpoints=frozenset({'10.244.1.5:53'}))]
    """
    if ruleset is None:
        return []
    from .kube import services
    out: list[Frontend] = []
    r: Any  # a row of kube.services' frame (pandas types its named tuples' fields as any scalar)
    for r in services(ruleset).itertuples(index=False):
        eps = frozenset(list(r.endpoints) + list(r.local_endpoints))
        port = None if r.port is None or str(r.port) == "<NA>" else int(r.port)
        if port is not None:
            for ip in [r.cluster_ip, *r.external_ips, *r.load_balancer_ips]:
                if ip:
                    out.append(Frontend(r.service, r.protocol, ip, port, eps))
        if r.node_port is not None and str(r.node_port) != "<NA>":
            out.append(Frontend(r.service, r.protocol, None, int(r.node_port), eps))
    return out


def nft_service_frontends(nft: "NftRuleset | None") -> list[Frontend]:
    """Every frontend of kube-proxy's nftables mode: the ``service-ips`` and ``service-nodeports``
    verdict maps name each frontend's service chain; its endpoints are the ``endpoint-…__ip/port``
    chains of the same service port.

    >>> from workbook.nft.parse_text import parse_nft_text
    >>> nft = parse_nft_text(
    ...     "table ip kube-proxy {\\n"
    ...     "\\tmap service-ips {\\n"
    ...     "\\t\\ttype ipv4_addr . inet_proto . inet_service : verdict\\n"
    ...     "\\t\\telements = { 10.96.0.10 . udp . 53 : goto service-AAAAAAAA-kube-system/kube-dns/udp/dns }\\n"
    ...     "\\t}\\n"
    ...     "\\tchain service-AAAAAAAA-kube-system/kube-dns/udp/dns {\\n\\t}\\n"
    ...     "\\tchain endpoint-BBBBBBBB-kube-system/kube-dns/udp/dns__10.244.1.5/53 {\\n\\t}\\n"
    ...     "}\\n")
    >>> nft_service_frontends(nft)
    [Frontend(service='kube-system/kube-dns:dns', protocol='udp', ip='10.96.0.10', port=53, endpoints=frozenset({'10.244.1.5:53'}))]
    """
    from .nft.kube_proxy import kube_proxy_nft, service_port_of_chain
    k = kube_proxy_nft(nft)
    if k is None:
        return []
    out: list[Frontend] = []
    for t in k.tables:
        endpoints: dict[tuple[str, str], set[str]] = {}
        for c in t.chains.values():
            if c.name.startswith("endpoint-") and "__" in c.name:
                sp = service_port_of_chain(c.name)
                ip, _, port = c.name.rsplit("__", 1)[1].rpartition("/")
                if sp and ip and port.isdigit():
                    endpoints.setdefault(sp, set()).add(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
        for map_name, has_ip in (("service-ips", True), ("service-nodeports", False)):
            vmap = t.sets.get(map_name)
            for e in (vmap.elements if vmap is not None else []):
                parts = [p.strip() for p in e.key.split(" . ")]
                target = (e.value or "").split()[-1] if e.value else ""
                sp = service_port_of_chain(target)
                if sp is None or len(parts) != (3 if has_ip else 2) or not parts[-1].isdigit():
                    continue
                out.append(Frontend(sp[0], parts[-2], parts[0] if has_ip else None, int(parts[-1]),
                                    frozenset(endpoints.get(sp, ()))))
    return out


def _status(e: "ConntrackEntry", f: Frontend) -> tuple[str | None, str]:
    dest = e.dnat
    if dest is None:
        # the first packet was not DNATed: the Service had no endpoints then (kube-dns's classic
        # stale UDP entry) — packets of this flow keep going to the ClusterIP itself
        return None, "not-dnat"
    return (dest, "live") if dest in f.endpoints else (dest, "stale-endpoint")


#: What :func:`entry_services` gives an entry that is not to a Service.
NO_SERVICE: tuple[None, None, None, None] = (None, None, None, None)


def entry_services(conntrack: "Conntrack", ruleset: "Ruleset | None", node_ips: Iterable[str] = (),
                   nft: "NftRuleset | None" = None) -> list[tuple[str | None, str | None, str | None, str | None]]:
    """For each entry, in order: ``(service, frontend, endpoint, status)`` as :func:`join_services`
    puts them in its columns (:data:`NO_SERVICE` for an entry that is not to a Service), without
    building a frame."""
    by_key: dict[tuple[str, str | None, int], Frontend] = {}
    for fe in [*service_frontends(ruleset), *nft_service_frontends(nft)]:
        by_key.setdefault((fe.protocol, fe.ip, fe.port), fe)
    local = set(node_ips)
    out: list[tuple[str | None, str | None, str | None, str | None]] = []
    append, get = out.append, by_key.get
    for e in conntrack.entries:
        o = e.original
        f: Frontend | None = None
        if o.dport is not None:
            f = get((e.protocol, o.dst, o.dport))
            if f is None and o.dst in local:   # a NodePort: only on the node's own addresses
                f = get((e.protocol, None, o.dport))
        if f is None:
            append(NO_SERVICE)
            continue
        dest, status = _status(e, f)
        append((f.service, f"{f.ip or '*'}:{f.port}/{f.protocol}", dest, status))
    return out


def join_services(conntrack: "Conntrack", ruleset: "Ruleset | None",
                  node_ips: Iterable[str] = (), nft: "NftRuleset | None" = None) -> "pd.DataFrame":
    """:attr:`Conntrack.frame` plus ``service``, ``frontend`` (``ip:port/proto``), ``endpoint`` (where
    the entry was DNATed) and ``status``: ``live`` (an endpoint the rules still have),
    ``stale-endpoint`` (one they no longer have), ``not-dnat`` (to a Service but never DNATed), or
    None for entries that are not to a Service. Services come from kube-proxy's iptables rules in
    ``ruleset`` and from its nftables table in ``nft``."""
    frame = conntrack.frame
    joined = entry_services(conntrack, ruleset, node_ips, nft)
    for k, col in enumerate(CONNTRACK_SERVICE_COLUMNS):
        frame[col] = [j[k] for j in joined]
    return frame
