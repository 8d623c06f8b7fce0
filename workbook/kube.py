"""The kube-proxy view of a ruleset: Service → KUBE-SVC → KUBE-SEP → endpoint, with each endpoint's share.

Reads the chains kube-proxy (iptables mode) writes, across its layouts: KUBE-SVC/KUBE-SEP
(all versions), KUBE-SVL (internalTrafficPolicy/externalTrafficPolicy Local, 1.24+), KUBE-EXT
(external destinations, 1.24+), KUBE-FW (loadBalancerSourceRanges), KUBE-XLB (Local policy,
up to 1.23), and the filter table's "has no endpoints" REJECT rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import Rule, Ruleset

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["services", "service_endpoints", "SERVICE_COLUMNS", "ENDPOINT_COLUMNS"]

SERVICE_COLUMNS = ["service", "protocol", "cluster_ip", "port", "chain", "endpoints", "probabilities",
                   "node_port", "external_ips", "load_balancer_ips", "local_chain", "local_endpoints",
                   "ext_chain", "fw_chain", "source_ranges", "affinity", "no_endpoints",
                   "health_check_node_port"]
ENDPOINT_COLUMNS = ["chain", "position", "sep_chain", "endpoint", "rule_probability", "probability", "affinity"]

_KINDS = (" cluster IP", " external IP", " loadbalancer IP", " has no endpoints", " has no local endpoints")


def _host(addr: str | None) -> str | None:
    if addr is None:
        return None
    if addr.endswith("/32") or addr.endswith("/128"):
        return addr.rsplit("/", 1)[0]
    return addr


def _dport(rule: Rule) -> int | None:
    o = rule.option("--dport") or rule.option("--destination-port")
    if o is None or not o.value.isdigit():
        return None
    return int(o.value)


def _comment_kind(rule: Rule) -> tuple[str | None, str | None]:
    """("ns/svc:port", " cluster IP") from a kube-proxy comment, or (name, None) / (None, None)."""
    c = rule.comment
    if not c:
        return None, None
    for kind in _KINDS:
        if c.endswith(kind):
            return c[: -len(kind)], kind.strip()
    first = c.split(" ", 1)[0]
    if "/" in first:
        return first.rstrip(":"), None
    return None, None


def _probability(rule: Rule) -> float | None:
    for m in rule.matches:
        if m.module == "statistic":
            mode = m.get("--mode")
            p = m.get("--probability")
            if mode is not None and mode.value == "random" and p is not None:
                v = float(p.value)
                return 1.0 - v if p.negated else v
    return None


def _endpoint_rows(nat, chain: str) -> list[dict]:
    """Rules of ``chain`` that lead to a KUBE-SEP chain, with each endpoint's effective share."""
    c = nat.chains.get(chain)
    if c is None:
        return []
    rows: list[dict] = []
    remaining = 1.0
    for r in c.rules:
        t = r.target or ""
        if not t.startswith("KUBE-SEP-"):
            continue
        is_affinity = r.match("recent") is not None
        endpoint = _sep_destination(nat, t)
        if endpoint is None and r.comment and " -> " in r.comment:
            endpoint = r.comment.rsplit(" -> ", 1)[1]
        if is_affinity:
            rows.append({"chain": chain, "position": r.position, "sep_chain": t, "endpoint": endpoint,
                         "rule_probability": None, "probability": None, "affinity": True})
            continue
        p = _probability(r)
        share = remaining * (1.0 if p is None else p)
        remaining -= share
        rows.append({"chain": chain, "position": r.position, "sep_chain": t, "endpoint": endpoint,
                     "rule_probability": p, "probability": share, "affinity": False})
    return rows


def _sep_destination(nat, sep: str) -> str | None:
    c = nat.chains.get(sep)
    if c is None:
        return None
    for r in c.rules:
        if r.target == "DNAT":
            o = r.target_option("--to-destination")
            if o is not None:
                return o.value
    return None


def service_endpoints(ruleset: Ruleset, chain: str) -> "pd.DataFrame":
    """The endpoints a KUBE-SVC/KUBE-SVL/KUBE-XLB chain balances to, in rule order.

    ``probability`` is each endpoint's effective share of new connections (kube-proxy's
    ``1/n, 1/(n-1), …, 1`` rule probabilities give ``1/n`` each); ``rule_probability`` is the
    rule's own ``--probability`` (None on the last, unconditional rule). Session-affinity
    rules (``-m recent --rcheck``) are listed with ``affinity`` True and no share.

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('''*nat
    ... :KUBE-SVC-A - [0:0]
    ... :KUBE-SEP-1 - [0:0]
    ... :KUBE-SEP-2 - [0:0]
    ... :KUBE-SEP-3 - [0:0]
    ... -A KUBE-SVC-A -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-1
    ... -A KUBE-SVC-A -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-2
    ... -A KUBE-SVC-A -j KUBE-SEP-3
    ... -A KUBE-SEP-1 -p tcp -m tcp -j DNAT --to-destination 10.244.1.2:8080
    ... -A KUBE-SEP-2 -p tcp -m tcp -j DNAT --to-destination 10.244.2.3:8080
    ... -A KUBE-SEP-3 -p tcp -m tcp -j DNAT --to-destination 10.244.3.4:8080
    ... COMMIT
    ... ''')
    >>> df = service_endpoints(rs, "KUBE-SVC-A")
    >>> list(df.endpoint), [round(p, 6) for p in df.probability]
    (['10.244.1.2:8080', '10.244.2.3:8080', '10.244.3.4:8080'], [0.333333, 0.333333, 0.333333])
    """
    import pandas as pd
    nat = ruleset.tables.get("nat")
    rows = _endpoint_rows(nat, chain) if nat is not None else []
    return pd.DataFrame(rows, columns=ENDPOINT_COLUMNS)


def _suffix(chain: str) -> str | None:
    for pre in ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-XLB-", "KUBE-FW-"):
        if chain.startswith(pre):
            return chain[len(pre):]
    return None


#: the row list an address goes to, by the kind of KUBE-SERVICES rule (its comment's last words)
_IP_LISTS = {"external IP": "external_ips", "loadbalancer IP": "load_balancer_ips"}
#: the row field a service rule's jump target fills, by the target's prefix
_TARGET_FIELDS = (("KUBE-SVC-", "chain"), ("KUBE-SVL-", "local_chain"), ("KUBE-XLB-", "local_chain"),
                  ("KUBE-EXT-", "ext_chain"), ("KUBE-FW-", "fw_chain"))


def _take_target(row: dict, target: str) -> None:
    """Put a service rule's jump target in the row field its prefix names (the cluster chain once)."""
    for prefix, name in _TARGET_FIELDS:
        if target.startswith(prefix):
            if name != "chain" or row["chain"] is None:
                row[name] = target
            return


def services(ruleset: Ruleset) -> "pd.DataFrame":
    """One row per Service port kube-proxy programmed (columns :data:`SERVICE_COLUMNS`).

    ``endpoints`` and ``probabilities`` come from the cluster chain (KUBE-SVC); with a Local
    traffic policy the local endpoints are in ``local_endpoints`` (KUBE-SVL or, up to 1.23,
    KUBE-XLB). Services without endpoints appear through the filter table's REJECT rules
    with ``no_endpoints`` True.

    >>> from workbook.generate import Service, kube_proxy_save
    >>> from workbook.parse import parse_save
    >>> svc = Service("kube-system", "kube-dns", "dns", "udp", "10.96.0.10", 53,
    ...               [("10.244.1.5", 53), ("10.244.2.7", 53)])
    >>> df = services(parse_save(kube_proxy_save([svc])))
    >>> r = df.iloc[0]
    >>> r.service, r.protocol, r.cluster_ip, int(r.port)
    ('kube-system/kube-dns:dns', 'udp', '10.96.0.10', 53)
    >>> df.loc[0, "endpoints"], df.loc[0, "probabilities"]
    (['10.244.1.5:53', '10.244.2.7:53'], [0.5, 0.5])
    """
    import pandas as pd
    nat = ruleset.tables.get("nat")
    flt = ruleset.tables.get("filter")
    rows: dict[tuple[str, str], dict] = {}

    def row(name: str, proto: str | None) -> dict:
        key = (name, proto or "tcp")
        r = rows.get(key)
        if r is None:
            r = rows[key] = {"service": name, "protocol": proto or "tcp", "cluster_ip": None, "port": None,
                             "chain": None, "endpoints": [], "probabilities": [], "node_port": None,
                             "external_ips": [], "load_balancer_ips": [], "local_chain": None,
                             "local_endpoints": [], "ext_chain": None, "fw_chain": None, "source_ranges": [],
                             "affinity": False, "no_endpoints": False, "health_check_node_port": None}
        return r

    by_suffix: dict[str, dict] = {}
    if nat is not None:
        ks = nat.chains.get("KUBE-SERVICES")
        for rule in (ks.rules if ks else []):
            name, kind = _comment_kind(rule)
            t = rule.target or ""
            if name is None or t == "KUBE-MARK-MASQ" or t == "KUBE-NODEPORTS":
                continue
            r = row(name, rule.protocol)
            ip = _host(rule.destination)
            if kind == "cluster IP":
                r["cluster_ip"] = ip
                r["port"] = _dport(rule)
            elif kind in _IP_LISTS and ip and ip not in r[_IP_LISTS[kind]]:
                r[_IP_LISTS[kind]].append(ip)
            if kind in ("cluster IP", *_IP_LISTS):
                _take_target(r, t)
            sfx = _suffix(t)
            if sfx:
                by_suffix[sfx] = r
        kn = nat.chains.get("KUBE-NODEPORTS")
        for rule in (kn.rules if kn else []):
            name, _ = _comment_kind(rule)
            t = rule.target or ""
            if name is None or t == "KUBE-MARK-MASQ":
                continue
            sfx = _suffix(t)
            known = by_suffix.get(sfx) if sfx else None
            r = known if known is not None else row(name, rule.protocol)
            r["node_port"] = _dport(rule)
            _take_target(r, t)
            if sfx:
                by_suffix.setdefault(sfx, r)
        # fill in the chains that share the service's hash
        for sfx, r in by_suffix.items():
            for pre, key in (("KUBE-SVC-", "chain"), ("KUBE-SVL-", "local_chain"), ("KUBE-EXT-", "ext_chain"),
                             ("KUBE-FW-", "fw_chain")):
                if r[key] is None and pre + sfx in nat.chains:
                    r[key] = pre + sfx
            if r["local_chain"] is None and "KUBE-XLB-" + sfx in nat.chains:
                r["local_chain"] = "KUBE-XLB-" + sfx
            if r["fw_chain"]:
                for fr in nat.chains[r["fw_chain"]].rules:
                    if fr.source and not fr.source_negated and fr.target and fr.target != "KUBE-MARK-DROP":
                        s = fr.source
                        if s not in r["source_ranges"]:
                            r["source_ranges"].append(s)
        for r in rows.values():
            if r["chain"]:
                eps = _endpoint_rows(nat, r["chain"])
                r["endpoints"] = [e["endpoint"] for e in eps if not e["affinity"]]
                r["probabilities"] = [e["probability"] for e in eps if not e["affinity"]]
                r["affinity"] = any(e["affinity"] for e in eps)
            if r["local_chain"]:
                eps = _endpoint_rows(nat, r["local_chain"])
                r["local_endpoints"] = [e["endpoint"] for e in eps if not e["affinity"]]
                if r["chain"] is None:
                    r["probabilities"] = [e["probability"] for e in eps if not e["affinity"]]
                    r["endpoints"] = list(r["local_endpoints"])
    if flt is not None:
        hc = flt.chains.get("KUBE-NODEPORTS")
        for rule in (hc.rules if hc else []):
            c = rule.comment or ""
            if c.endswith(" health check node port") and rule.target == "ACCEPT":
                name = c[: -len(" health check node port")]
                match = [r for (n, _), r in rows.items() if n == name]
                r = match[0] if match else row(name, rule.protocol)
                r["health_check_node_port"] = _dport(rule)
        for cname in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"):
            chain = flt.chains.get(cname)
            for rule in (chain.rules if chain else []):
                name, kind = _comment_kind(rule)
                if name is None or kind not in ("has no endpoints", "has no local endpoints"):
                    continue
                r = row(name, rule.protocol)
                ip = _host(rule.destination)
                addrtype = rule.option("--dst-type")
                if kind == "has no endpoints":
                    r["no_endpoints"] = True
                if addrtype is not None and addrtype.value == "LOCAL":
                    r["node_port"] = r["node_port"] or _dport(rule)
                elif cname == "KUBE-SERVICES" and kind == "has no endpoints" and r["cluster_ip"] in (None, ip):
                    r["cluster_ip"] = ip
                    r["port"] = r["port"] or _dport(rule)
                elif ip and ip != r["cluster_ip"] and ip not in r["external_ips"] + r["load_balancer_ips"]:
                    r["external_ips"].append(ip)
    frame = pd.DataFrame(list(rows.values()), columns=SERVICE_COLUMNS)
    if len(frame):
        frame["port"] = frame["port"].astype("Int64")
        frame["node_port"] = frame["node_port"].astype("Int64")
        frame["health_check_node_port"] = frame["health_check_node_port"].astype("Int64")
    return frame
