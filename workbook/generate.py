"""Generate realistic kube-proxy rulesets of any size: iptables mode (v1.28 saved form) and nftables mode."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import random
from dataclasses import dataclass, field

__all__ = ["k8s_hash", "probability_text", "Service", "generate_services", "kube_proxy_save", "kube_proxy_nft",
           "nft_chain_base"]


def k8s_hash(*parts: str) -> str:
    """kube-proxy's chain-name hash: base32(sha256(concatenation))[:16].

    >>> "KUBE-SVC-" + k8s_hash("default/kubernetes:https", "tcp")
    'KUBE-SVC-NPX46M4PTMTKRN6Y'
    >>> "KUBE-SEP-" + k8s_hash("ns1/svc1:p80", "tcp", "10.180.0.1:80")
    'KUBE-SEP-SXIVWICOYRO3J4NJ'
    """
    return base64.b32encode(hashlib.sha256("".join(parts).encode()).digest()).decode()[:16]


def probability_text(n: int) -> str:
    """How iptables prints kube-proxy's ``1/n`` after storing it as ``lround(2^31·p)``.

    >>> [probability_text(n) for n in (2, 3, 5)]
    ['0.50000000000', '0.33333333349', '0.20000000019']
    """
    p = float("%0.10f" % (1.0 / n))
    stored = int(0x80000000 * p + 0.5)
    return "%.11f" % (stored / 0x80000000)


@dataclass
class Service:
    """One service port: ``namespace/name:port`` with its cluster IP and endpoints."""

    namespace: str
    name: str
    port_name: str
    protocol: str
    cluster_ip: str
    port: int
    endpoints: list[tuple[str, int]] = field(default_factory=list)
    node_port: int | None = None
    #: nftables-mode extras (the iptables-mode writer ignores them): external IPs, LoadBalancer
    #: ingress IPs and source ranges, externalTrafficPolicy Local, ClientIP affinity timeout (s),
    #: and which endpoints run on this node
    external_ips: list[str] = field(default_factory=list)
    lb_ips: list[str] = field(default_factory=list)
    source_ranges: list[str] = field(default_factory=list)
    etp_local: bool = False
    affinity: int | None = None
    local_endpoints: list[tuple[str, int]] = field(default_factory=list)

    @property
    def svc_port_name(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def svc_chain(self) -> str:
        return "KUBE-SVC-" + k8s_hash(self.svc_port_name, self.protocol)

    @property
    def ext_chain(self) -> str:
        return "KUBE-EXT-" + k8s_hash(self.svc_port_name, self.protocol)

    def sep_chain(self, ip: str, port: int) -> str:
        return "KUBE-SEP-" + k8s_hash(self.svc_port_name, self.protocol, f"{ip}:{port}")


def generate_services(n: int, seed: int = 0, *, max_endpoints: int = 4, empty_ratio: float = 0.05,
                      nodeport_ratio: float = 0.1, service_cidr: str = "10.96.0.0/12",
                      pod_cidr: str = "10.244.0.0/16", features: bool = False) -> list[Service]:
    """``n`` service ports with 0..max_endpoints endpoints each (deterministic for a seed).

    ``features`` also draws (from a second random stream, so the basic services stay the same)
    LoadBalancer IPs with and without source ranges, external IPs, externalTrafficPolicy Local,
    ClientIP session affinity and node-local endpoints: what the nftables-mode writer uses.
    """
    rnd = random.Random(seed)
    svc_net = ipaddress.ip_network(service_cidr)
    pod_net = ipaddress.ip_network(pod_cidr)
    used_ips: set[int] = set()
    out: list[Service] = []
    next_np = 30000
    for i in range(n):
        while True:
            off = rnd.randrange(10, svc_net.num_addresses - 1)
            if off not in used_ips:
                used_ips.add(off)
                break
        proto = "udp" if rnd.random() < 0.1 else "tcp"
        port = rnd.choice([80, 443, 8080, 53, 9090, 5432, 6379, 3000])
        k = 0 if rnd.random() < empty_ratio else rnd.randint(1, max_endpoints)
        eps = []
        for _ in range(k):
            ip = str(pod_net.network_address + rnd.randrange(2, pod_net.num_addresses - 2))
            eps.append((ip, rnd.choice([8080, 80, 53, 9000])))
        eps = sorted(set(eps))
        np_ = None
        if rnd.random() < nodeport_ratio and next_np < 32768:
            np_ = next_np
            next_np += 1
        out.append(Service(f"ns{i % 97}", f"svc{i}", rnd.choice(["", "http", "p80", "web"]), proto,
                           str(svc_net.network_address + off), port, eps, np_))
    if features:
        _add_features(out, random.Random(f"features-{seed}"), next_np)
    return out


def _add_features(services: list[Service], rnd: random.Random, next_np: int) -> None:
    """Decorate services with LB IPs, source ranges, external IPs, eTP Local, affinity, local endpoints."""
    lb_net = ipaddress.ip_network("198.18.0.0/15")  # benchmarking range: room for any number of Services
    ext_net = ipaddress.ip_network("100.64.0.0/16")
    used: set[str] = set()

    def fresh(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
        while True:  # a pool of 65k+ addresses: a free one turns up at once
            ip = str(net.network_address + rnd.randrange(2, net.num_addresses - 1))
            if ip not in used:
                used.add(ip)
                return ip
    for s in services:
        r = rnd.random()
        if r < 0.15:
            s.lb_ips = [fresh(lb_net)]
            if rnd.random() < 0.5:
                s.source_ranges = rnd.choice([["203.0.113.0/25"], ["203.0.113.0/25", "192.168.0.0/24"]])
        elif r < 0.22:
            s.external_ips = [fresh(ext_net)]
        if (s.lb_ips or r < 0.3) and s.node_port is None and next_np < 32768:
            s.node_port = next_np
            next_np += 1
        if (s.lb_ips or s.external_ips or s.node_port) and rnd.random() < 0.35:
            s.etp_local = True
        if rnd.random() < 0.12:
            s.affinity = 10800
        s.local_endpoints = [ep for ep in s.endpoints if rnd.random() < 0.35]


def kube_proxy_save(services: list[Service], *, pod_cidr: str = "10.244.0.0/16", counters: bool = False,
                    header: bool = True) -> str:
    """An ``iptables-save`` text of the filter and nat tables kube-proxy 1.28 writes for ``services``.

    >>> text = kube_proxy_save(generate_services(3, seed=1))
    >>> text.count("*nat"), "-A KUBE-SERVICES -m comment --comment \\"kubernetes service nodeports" in text
    (1, True)
    """
    c = "[0:0] " if counters else ""
    f: list[str] = []
    nat_decl: list[str] = []
    nat: list[str] = []
    if header:
        f.append("# Generated by netfilter-workbook kube_proxy_save")
    f += ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
          ":KUBE-EXTERNAL-SERVICES - [0:0]", ":KUBE-FIREWALL - [0:0]", ":KUBE-FORWARD - [0:0]",
          ":KUBE-KUBELET-CANARY - [0:0]", ":KUBE-NODEPORTS - [0:0]", ":KUBE-PROXY-CANARY - [0:0]",
          ":KUBE-PROXY-FIREWALL - [0:0]", ":KUBE-SERVICES - [0:0]"]
    f += [c + x for x in (
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A INPUT -j KUBE-FIREWALL',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -j KUBE-FIREWALL',
        '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
        '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    )]
    for s in services:
        if not s.endpoints:
            f.append(f'{c}-A KUBE-SERVICES -d {s.cluster_ip}/32 -p {s.protocol} -m comment --comment "{s.svc_port_name} has no endpoints" -m {s.protocol} --dport {s.port} -j REJECT --reject-with icmp-port-unreachable')
            if s.node_port:
                f.append(f'{c}-A KUBE-EXTERNAL-SERVICES -p {s.protocol} -m comment --comment "{s.svc_port_name} has no endpoints" -m addrtype --dst-type LOCAL -m {s.protocol} --dport {s.node_port} -j REJECT --reject-with icmp-port-unreachable')
    f.append("COMMIT")

    nat_decl += ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                 ":POSTROUTING ACCEPT [0:0]", ":KUBE-KUBELET-CANARY - [0:0]", ":KUBE-MARK-MASQ - [0:0]",
                 ":KUBE-NODEPORTS - [0:0]", ":KUBE-POSTROUTING - [0:0]", ":KUBE-PROXY-CANARY - [0:0]",
                 ":KUBE-SERVICES - [0:0]"]
    nat += [c + x for x in (
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
        '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
    )]
    for s in services:
        if s.endpoints and s.node_port:
            nat.append(f'{c}-A KUBE-NODEPORTS -p {s.protocol} -m comment --comment "{s.svc_port_name}" -m {s.protocol} --dport {s.node_port} -j {s.ext_chain}')
    nat += [c + x for x in (
        '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
        '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    )]
    svc_rules: list[str] = []
    chain_rules: list[str] = []
    for s in services:
        if not s.endpoints:
            continue
        svc_rules.append(f'{c}-A KUBE-SERVICES -d {s.cluster_ip}/32 -p {s.protocol} -m comment --comment "{s.svc_port_name} cluster IP" -m {s.protocol} --dport {s.port} -j {s.svc_chain}')
        nat_decl.append(f":{s.svc_chain} - [0:0]")
        if s.node_port:
            nat_decl.append(f":{s.ext_chain} - [0:0]")
            chain_rules.append(f'{c}-A {s.ext_chain} -m comment --comment "masquerade traffic for {s.svc_port_name} external destinations" -j KUBE-MARK-MASQ')
            chain_rules.append(f'{c}-A {s.ext_chain} -j {s.svc_chain}')
        chain_rules.append(f'{c}-A {s.svc_chain} ! -s {pod_cidr} -d {s.cluster_ip}/32 -p {s.protocol} -m comment --comment "{s.svc_port_name} cluster IP" -m {s.protocol} --dport {s.port} -j KUBE-MARK-MASQ')
        n = len(s.endpoints)
        for k, (ip, port) in enumerate(s.endpoints):
            sep = s.sep_chain(ip, port)
            prob = f" -m statistic --mode random --probability {probability_text(n - k)}" if k < n - 1 else ""
            chain_rules.append(f'{c}-A {s.svc_chain} -m comment --comment "{s.svc_port_name} -> {ip}:{port}"{prob} -j {sep}')
        for ip, port in s.endpoints:
            sep = s.sep_chain(ip, port)
            nat_decl.append(f":{sep} - [0:0]")
            chain_rules.append(f'{c}-A {sep} -s {ip}/32 -m comment --comment "{s.svc_port_name}" -j KUBE-MARK-MASQ')
            chain_rules.append(f'{c}-A {sep} -p {s.protocol} -m comment --comment "{s.svc_port_name}" -m {s.protocol} -j DNAT --to-destination {ip}:{port}')
    svc_rules.append(f'{c}-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS')
    out = f + nat_decl + nat + svc_rules + chain_rules + ["COMMIT"]
    return "\n".join(out) + "\n"


# -- nftables mode ------------------------------------------------------------------------------

def nft_chain_base(name: str) -> str:
    """kube-proxy's nftables chain-name base: 8 characters of base32(sha256(name)), a dash, the name.

    ``name`` is ``ns/svc/proto/portname`` (service chains) or ``…__ip/port`` (endpoint chains);
    the names below are the ones in kube-proxy's own expected output (proxier_test.go).

    >>> "service-" + nft_chain_base("ns1/svc1/tcp/p80")
    'service-ULMVA6XW-ns1/svc1/tcp/p80'
    >>> "endpoint-" + nft_chain_base("ns1/svc1/tcp/p80__10.180.0.1/80")
    'endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80'
    """
    return k8s_hash(name)[:8] + "-" + name


def _nft_names(s: Service) -> dict[str, str]:
    base = nft_chain_base(f"{s.namespace}/{s.name}/{s.protocol}/{s.port_name}")
    return {k: f"{k}-{base}" for k in ("service", "local", "external", "firewall")}


def _nft_ep(s: Service, ip: str, port: int) -> tuple[str, str]:
    base = nft_chain_base(f"{s.namespace}/{s.name}/{s.protocol}/{s.port_name}__{ip}/{port}")
    return "endpoint-" + base, "affinity-" + base


def kube_proxy_nft(services: list[Service], *, pod_cidr: str = "10.244.0.0/16",
                   service_cidr: str = "10.96.0.0/12", nodeport_ips: list[str] | None = None,
                   masquerade_mark: int = 0x4000, node_ip: str | None = None) -> str:
    """The ``table ip kube-proxy`` kube-proxy's nftables mode writes for ``services`` (``nft -f`` input).

    Follows kube-proxy's proxier (kubernetes/kubernetes ``pkg/proxy/nftables/proxier.go``, the
    layout with ``filter-prerouting-pre-dnat``/``filter-output-pre-dnat`` at dstnat-10 and
    ``filter-input/forward/output`` at priority filter, see its ``proxier_test.go`` baseRules):
    the ``service-ips``/``service-nodeports`` verdict maps, ``numgen random mod N`` over
    endpoint chains, ``no-endpoint-*`` maps (``goto reject-chain``, or ``drop`` for
    externalTrafficPolicy Local without local endpoints), the ``firewall-ips`` map for
    LoadBalancer source ranges, per-endpoint affinity sets, ``cluster-ips-check`` (reject to a
    ClusterIP's other ports, drop to unallocated ClusterIPs). ``nodeport_ips``: the addresses
    accepting NodePorts (``--nodeport-addresses``); None = all local addresses (``fib daddr
    type local``). ``node_ip``: the node's primary address (default: the first of ``nodeport_ips``);
    when a LoadBalancer source range contains it, the LoadBalancer IPs are allowed as sources too
    (a node reaching its own LB VIP is SNATed to it). Written in the declarative form
    ``nft list ruleset`` prints.

    >>> text = kube_proxy_nft(generate_services(3, seed=1))
    >>> "ip daddr . meta l4proto . th dport vmap @service-ips" in text, text.count("table ip kube-proxy")
    (True, 1)
    """
    mark = f"0x{masquerade_mark:08x}"
    if node_ip is None and nodeport_ips:
        node_ip = nodeport_ips[0]
    sets: dict[str, list[str]] = {k: [] for k in ("cluster-ips", "service-ips", "service-nodeports", "firewall-ips",
                                                  "no-endpoint-services", "no-endpoint-nodeports")}
    affinity_sets: list[tuple[str, int]] = []
    chains: list[tuple[str, list[str]]] = []
    for s in services:
        n = _nft_names(s)
        proto, port = s.protocol, s.port
        comment = f' comment "{s.svc_port_name}"'
        local_eps = [ep for ep in s.endpoints if ep in s.local_endpoints]
        has_eps = bool(s.endpoints)
        ext_access = bool(s.node_port or s.external_ips or s.lb_ips)
        has_ext_eps = has_eps and (not s.etp_local or bool(local_eps))
        uses_local = s.etp_local and bool(local_eps)
        int_verdict = "goto reject-chain" if not has_eps else None
        ext_verdict = "goto reject-chain" if not has_eps else ("drop" if not has_ext_eps else None)
        sets["cluster-ips"].append(s.cluster_ip)
        if has_eps:
            sets["service-ips"].append(f"{s.cluster_ip} . {proto} . {port} : goto {n['service']}")
        else:
            sets["no-endpoint-services"].append(f"{s.cluster_ip} . {proto} . {port}{comment} : {int_verdict}")
        for ip in s.external_ips + s.lb_ips:
            if has_eps:
                sets["service-ips"].append(f"{ip} . {proto} . {port} : goto {n['external']}")
            if ext_verdict:
                sets["no-endpoint-services"].append(f"{ip} . {proto} . {port}{comment} : {ext_verdict}")
        uses_fw = bool(s.lb_ips and s.source_ranges)
        if uses_fw:
            for ip in s.lb_ips:
                sets["firewall-ips"].append(f"{ip} . {proto} . {port} : goto {n['firewall']}")
        if s.node_port:
            if has_eps:
                sets["service-nodeports"].append(f"{proto} . {s.node_port} : goto {n['external']}")
            if ext_verdict:
                sets["no-endpoint-nodeports"].append(f"{proto} . {s.node_port}{comment} : {ext_verdict}")
        if uses_fw:
            sources = list(s.source_ranges)
            if node_ip and any(ipaddress.ip_address(node_ip) in ipaddress.ip_network(r, strict=False)
                               for r in s.source_ranges):
                sources += s.lb_ips
            chains.append((n["firewall"], [f"ip saddr != {{ {', '.join(sources)} }} drop"]))
        if not has_eps:
            continue
        if s.affinity:
            for ip, p in s.endpoints:
                affinity_sets.append((_nft_ep(s, ip, p)[1], s.affinity))
        for chain, eps in ((n["service"], s.endpoints), (n["local"], local_eps if uses_local else [])):
            if not eps:
                continue
            rules = [f"ip daddr {s.cluster_ip} ip saddr != {pod_cidr} jump mark-for-masquerade"] if chain == n["service"] else []
            if s.affinity:
                for ip, p in eps:
                    ep_chain, aff = _nft_ep(s, ip, p)
                    rules.append(f"ip saddr @{aff} goto {ep_chain}")
            vmap = ", ".join(f"{i} : goto {_nft_ep(s, ip, p)[0]}" for i, (ip, p) in enumerate(eps))
            rules.append(f"numgen random mod {len(eps)} vmap {{ {vmap} }}")
            chains.append((chain, rules))
        if ext_access:
            if not s.etp_local:
                ext = ["jump mark-for-masquerade", f"goto {n['service']}"]
            else:
                ext = [f'ip saddr {pod_cidr} goto {n["service"]} comment "short-circuit pod traffic"',
                       'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
                       f'fib saddr type local goto {n["service"]} comment "short-circuit local traffic"']
                if has_ext_eps:
                    ext.append(f"goto {n['local']}")
            chains.append((n["external"], ext))
        for ip, p in s.endpoints:
            ep_chain, aff = _nft_ep(s, ip, p)
            rules = [f"ip saddr {ip} jump mark-for-masquerade"]
            if s.affinity:
                rules.append(f"update @{aff} {{ ip saddr }}")
            rules.append(f"meta l4proto {proto} dnat to {ip}:{p}")
            chains.append((ep_chain, rules))

    def elements(name: str) -> str:
        items = sets[name]
        return f"\n\t\telements = {{ {(',' + chr(10) + chr(9) * 3).join(items)} }}" if items else ""

    out = ["table ip kube-proxy {", '\tcomment "rules for kube-proxy"']
    out.append(f'\tset cluster-ips {{\n\t\ttype ipv4_addr\n\t\tcomment "Active ClusterIPs"{elements("cluster-ips")}\n\t}}')
    if nodeport_ips is not None:
        els = f"\n\t\telements = {{ {', '.join(nodeport_ips)} }}" if nodeport_ips else ""
        out.append(f'\tset nodeport-ips {{\n\t\ttype ipv4_addr\n\t\tcomment "IPs that accept NodePort traffic"{els}\n\t}}')
    for name, key, comment in (
            ("firewall-ips", "ipv4_addr . inet_proto . inet_service", "destinations that are subject to LoadBalancerSourceRanges"),
            ("no-endpoint-nodeports", "inet_proto . inet_service", "vmap to drop or reject packets to service nodeports with no endpoints"),
            ("no-endpoint-services", "ipv4_addr . inet_proto . inet_service", "vmap to drop or reject packets to services with no endpoints"),
            ("service-ips", "ipv4_addr . inet_proto . inet_service", "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
            ("service-nodeports", "inet_proto . inet_service", "NodePort traffic")):
        out.append(f'\tmap {name} {{\n\t\ttype {key} : verdict\n\t\tcomment "{comment}"{elements(name)}\n\t}}')
    for name, timeout in affinity_sets:
        out.append(f"\tset {name} {{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout {timeout}s\n\t}}")
    np_match = ("ip daddr @nodeport-ips" if nodeport_ips is not None else "fib daddr type local ip daddr != 127.0.0.0/8")
    fixed: list[tuple[str, str | None, list[str]]] = [
        ("cluster-ips-check", None, ['ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
                                     f'ip daddr {{ {service_cidr} }} drop comment "Drop traffic to unallocated ClusterIPs"']),
        ("filter-prerouting-pre-dnat", "type filter hook prerouting priority dstnat - 10; policy accept;",
         ["ct state new jump firewall-check"]),
        ("filter-output-pre-dnat", "type filter hook output priority -110; policy accept;",
         ["ct state new jump firewall-check"]),
        ("filter-forward", "type filter hook forward priority filter; policy accept;",
         ["ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]),
        ("filter-input", "type filter hook input priority filter; policy accept;",
         ["ct state new jump nodeport-endpoints-check", "ct state new jump service-endpoints-check"]),
        ("filter-output", "type filter hook output priority filter; policy accept;",
         ["ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]),
        ("firewall-check", None, ["ip daddr . meta l4proto . th dport vmap @firewall-ips"]),
        ("mark-for-masquerade", None, [f"meta mark set meta mark | {mark}"]),
        ("masquerading", None, [f"meta mark & {mark} == 0x00000000 return",
                                f"meta mark set meta mark ^ {mark}", "masquerade fully-random"]),
        ("nat-output", "type nat hook output priority -100; policy accept;", ["jump services"]),
        ("nat-postrouting", "type nat hook postrouting priority srcnat; policy accept;", ["jump masquerading"]),
        ("nat-prerouting", "type nat hook prerouting priority dstnat; policy accept;", ["jump services"]),
        ("nodeport-endpoints-check", None, [f"{np_match} meta l4proto . th dport vmap @no-endpoint-nodeports"]),
        ("reject-chain", None, ["reject"]),
        ("services", None, ["ip daddr . meta l4proto . th dport vmap @service-ips",
                            f"{np_match} meta l4proto . th dport vmap @service-nodeports"]),
        ("service-endpoints-check", None, ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"]),
    ]
    for name, base, rules in fixed:
        body = [f"\t\t{base}"] if base else []
        if name == "reject-chain":
            body.insert(0, '\t\tcomment "helper for @no-endpoint-services / @no-endpoint-nodeports"')
        out.append(f"\tchain {name} {{\n" + "\n".join(body + [f"\t\t{r}" for r in rules]) + "\n\t}")
    for name, rules in chains:
        out.append(f"\tchain {name} {{\n" + "\n".join(f"\t\t{r}" for r in rules) + "\n\t}")
    out.append("}")
    return "\n".join(out) + "\n"
