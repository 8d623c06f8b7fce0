"""Hand-written source of datasets/onprem-dup-hostport: the seed's RKE worker as iptables-restore --counters text.

mzctest-w-worker1: RKE1, Kubernetes 1.23.6 with dockershim, Docker, Calico (VXLAN, calico-ipam), CNI portmap
for the ingress controller's hostPort 80/443, kube-proxy 1.23 in iptables mode, iptables-nft on the host.
Chain names are computed the way their owners compute them (kube-proxy, portmap, Calico felix).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from workbook.generate import k8s_hash, probability_text

NODE_IP = "10.10.20.21"
CLUSTER_CIDR = "10.42.0.0/16"
NET_NAME = "k8s-pod-network"          # Calico's CNI network name (portmap hashes it with the container ID)


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    ip: str | None                   # None: hostNetwork

    @property
    def sandbox(self) -> str:
        """The dockershim sandbox (pause container) ID: invented, but stable."""
        return hashlib.sha256(f"mzctest-w-worker1/{self.namespace}/{self.name}".encode()).hexdigest()

    @property
    def veth(self) -> str:
        """Calico's host-side veth name: ``cali`` + sha1("namespace.pod")[:11]."""
        return "cali" + hashlib.sha1(f"{self.namespace}.{self.name}".encode()).hexdigest()[:11]


INGRESS_BEFORE = Pod("ingress-nginx", "nginx-ingress-controller-7xq2k", "10.42.134.75")
INGRESS_AFTER = Pod("ingress-nginx", "nginx-ingress-controller-m9t4z", "10.42.134.83")
COREDNS = Pod("kube-system", "coredns-5d7f8b6c9d-2wq8h", "10.42.134.70")
CALICO_NODE = Pod("kube-system", "calico-node-x8k2f", None)


def cni_dn_chain(container_id: str, net: str = NET_NAME) -> str:
    """portmap's per-container chain: ``CNI-DN-`` + sha512(network name + container ID) hex[:21].

    >>> cni_dn_chain("efa1c24cca6a2f355ad807349d4e4e2fdf17ea5d7af126aedcdd1bfeb7756b21")
    'CNI-DN-93fd5f42fffe1daf6b01f'
    """
    return "CNI-DN-" + hashlib.sha512((net + container_id).encode()).hexdigest()[:21]


def cali_hashes(chain: str, rendered: list[str]) -> list[str]:
    """felix's rule hashes: chained SHA-224 over the chain name and each ``-A <chain> HASH …`` rendering.

    >>> cali_hashes("PREROUTING", ["-A PREROUTING HASH --jump cali-PREROUTING"])
    ['6gwbT8clXdHdC1b1']
    """
    h = hashlib.sha224(chain.encode()).digest()
    out = []
    for r in rendered:
        h = hashlib.sha224(h + r.encode()).digest()
        out.append(base64.urlsafe_b64encode(h).decode().rstrip("=")[:16])
    return out


class Chains:
    """Collects ``[p:b] -A`` lines per table; felix rules get their ``cali:`` hash from (hash text, saved text)."""

    def __init__(self) -> None:
        self.decl: dict[str, list[str]] = {}
        self.lines: dict[str, list[str]] = {}

    def chain(self, table: str, name: str) -> None:
        if name not in self.decl.setdefault(table, []):
            self.decl[table].append(name)

    def add(self, table: str, chain: str, rule: str, counters: tuple[int, int] = (0, 0)) -> None:
        if chain.upper() != chain or chain.startswith(("KUBE-", "CNI-", "DOCKER")):
            self.chain(table, chain)
        self.lines.setdefault(table, []).append(f"[{counters[0]}:{counters[1]}] -A {chain} {rule}")

    def felix(self, table: str, chain: str, rules: list[tuple[str, str]], counters: dict[int, tuple[int, int]] | None = None,
              prefix: str = "") -> None:
        """Felix rules of one chain: (hash rendering after ``HASH ``, saved form with ``{c}`` for the comment)."""
        hashes = cali_hashes(chain, [f"-A {chain} HASH {h}" for h, _ in rules])
        for i, ((_, saved), hsh) in enumerate(zip(rules, hashes)):
            comment = f'-m comment --comment "cali:{hsh}"'
            self.add(table, chain, saved.format(c=comment), (counters or {}).get(i, (0, 0)))

    def text(self, policies: dict[str, dict[str, str]]) -> str:
        out = []
        for table in ("raw", "mangle", "filter", "nat"):
            out.append(f"*{table}")
            for chain, policy in policies[table].items():
                out.append(f":{chain} {policy} [0:0]")
            out += [f":{c} - [0:0]" for c in sorted(self.decl.get(table, []))]
            out += self.lines.get(table, [])
            out.append("COMMIT")
        return "\n".join(out) + "\n"


@dataclass
class Svc:
    name: str
    proto: str
    ip: str
    port: int
    endpoints: list[str]

    @property
    def chain(self) -> str:
        return "KUBE-SVC-" + k8s_hash(self.name, self.proto)

    def sep(self, ep: str) -> str:
        return "KUBE-SEP-" + k8s_hash(self.name, self.proto, ep)


def services(ingress: Pod) -> list[Svc]:
    dns = [f"{COREDNS.ip}:53", "10.42.77.5:53"]
    return [
        Svc("default/kubernetes:https", "tcp", "10.43.0.1", 443, ["10.10.20.11:6443", "10.10.20.12:6443", "10.10.20.13:6443"]),
        Svc("kube-system/kube-dns:dns", "udp", "10.43.0.10", 53, dns),
        Svc("ingress-nginx/ingress-nginx-controller-admission:https-webhook", "tcp", "10.43.91.200", 443, [f"{ingress.ip}:8443"]),
        Svc("kube-system/kube-dns:dns-tcp", "tcp", "10.43.0.10", 53, dns),
        Svc("kube-system/metrics-server:https", "tcp", "10.43.163.2", 443, ["10.42.77.9:4443"]),
        Svc("kube-system/kube-dns:metrics", "tcp", "10.43.0.10", 9153, [f"{COREDNS.ip}:9153", "10.42.77.5:9153"]),
    ]


def kube_proxy_123(c: Chains, ingress: Pod) -> None:
    """kube-proxy 1.23 (+ kubelet 1.23) rules: CHAINS.md §1.3, §1.5, §1.11."""
    for t in ("mangle", "filter", "nat"):
        c.chain(t, "KUBE-KUBELET-CANARY")
        c.chain(t, "KUBE-PROXY-CANARY")
    for name in ("KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-SERVICES"):
        c.chain("filter", name)
    c.add("filter", "KUBE-FIREWALL", '-m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP')
    c.add("filter", "KUBE-FIREWALL", '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP')
    c.add("filter", "KUBE-FORWARD", '-m conntrack --ctstate INVALID -j DROP', (41, 2460))
    c.add("filter", "KUBE-FORWARD", '-m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT')
    c.add("filter", "KUBE-FORWARD", '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', (18422, 9201733))
    c.chain("nat", "KUBE-NODEPORTS")
    c.add("nat", "KUBE-MARK-DROP", "-j MARK --set-xmark 0x8000/0x8000")
    c.add("nat", "KUBE-MARK-MASQ", "-j MARK --set-xmark 0x4000/0x4000", (12, 720))
    c.add("nat", "KUBE-POSTROUTING", "-m mark ! --mark 0x4000/0x4000 -j RETURN", (5113, 308412))
    c.add("nat", "KUBE-POSTROUTING", "-j MARK --set-xmark 0x4000/0x0", (12, 720))
    c.add("nat", "KUBE-POSTROUTING", '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully', (12, 720))
    chains: list[tuple[str, str]] = []
    for s in services(ingress):
        c.add("nat", "KUBE-SERVICES", f'-d {s.ip}/32 -p {s.proto} -m comment --comment "{s.name} cluster IP" -m {s.proto} --dport {s.port} -j {s.chain}')
        chains.append((s.chain, f'! -s {CLUSTER_CIDR} -d {s.ip}/32 -p {s.proto} -m comment --comment "{s.name} cluster IP" -m {s.proto} --dport {s.port} -j KUBE-MARK-MASQ'))
        n = len(s.endpoints)
        for k, ep in enumerate(s.endpoints):
            prob = f" -m statistic --mode random --probability {probability_text(n - k)}" if k < n - 1 else ""
            chains.append((s.chain, f'-m comment --comment "{s.name}"{prob} -j {s.sep(ep)}'))
        for ep in s.endpoints:
            ip = ep.rsplit(":", 1)[0]
            chains.append((s.sep(ep), f'-s {ip}/32 -m comment --comment "{s.name}" -j KUBE-MARK-MASQ'))
            chains.append((s.sep(ep), f'-p {s.proto} -m comment --comment "{s.name}" -m {s.proto} -j DNAT --to-destination {ep}'))
    c.add("nat", "KUBE-SERVICES", '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS', (7431, 445860))
    for chain, rule in chains:
        c.add("nat", chain, rule)


def portmap(c: Chains, pod: Pod, counts: dict[str, tuple[int, int]]) -> None:
    """CNI portmap rules for one container with hostPort 80 and 443 (CHAINS.md §2.2, saved form)."""
    dn = cni_dn_chain(pod.sandbox)
    comment = f'"dnat name: \\"{NET_NAME}\\" id: \\"{pod.sandbox}\\""'
    c.add("nat", "CNI-HOSTPORT-DNAT", f"-p tcp -m comment --comment {comment} -m multiport --dports 80,443 -j {dn}",
          counts.get("entry", (0, 0)))
    for port in (80, 443):
        c.add("nat", dn, f"-s {pod.ip}/32 -p tcp -m tcp --dport {port} -j CNI-HOSTPORT-SETMARK")
        c.add("nat", dn, f"-s 127.0.0.1/32 -p tcp -m tcp --dport {port} -j CNI-HOSTPORT-SETMARK", counts.get(f"lo{port}", (0, 0)))
        c.add("nat", dn, f"-p tcp -m tcp --dport {port} -j DNAT --to-destination {pod.ip}:{port}", counts.get(f"dnat{port}", (0, 0)))


def calico_filter(c: Chains, pods: list[Pod]) -> None:
    """A minimal but real-shaped felix filter table (CHAINS.md §5): static chains, dispatch, two workloads."""
    c.felix("filter", "cali-INPUT", [
        ("--in-interface cali+ --goto cali-wl-to-host", "-i cali+ {c} -g cali-wl-to-host"),
        ("-m mark --mark 0x10000/0x10000 --jump ACCEPT", "{c} -m mark --mark 0x10000/0x10000 -j ACCEPT"),
        ("--jump MARK --set-mark 0x0/0xf0000", "{c} -j MARK --set-xmark 0x0/0xf0000"),
        ("--jump cali-from-host-endpoint", "{c} -j cali-from-host-endpoint"),
        ('-m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
         '{c} -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT'),
    ], {0: (20118, 1683302), 2: (2911840, 1611232950), 3: (2911840, 1611232950)})
    c.felix("filter", "cali-wl-to-host", [
        ("--jump cali-from-wl-dispatch", "{c} -j cali-from-wl-dispatch"),
        ('-m comment --comment "Configured DefaultEndpointToHostAction" --jump ACCEPT',
         '{c} -m comment --comment "Configured DefaultEndpointToHostAction" -j ACCEPT'),
    ], {0: (20118, 1683302), 1: (20118, 1683302)})
    c.felix("filter", "cali-OUTPUT", [
        ("-m mark --mark 0x10000/0x10000 --jump ACCEPT", "{c} -m mark --mark 0x10000/0x10000 -j ACCEPT"),
        ("--out-interface cali+ --jump RETURN", "-o cali+ {c} -j RETURN"),
        ("--jump MARK --set-mark 0x0/0xf0000", "{c} -j MARK --set-xmark 0x0/0xf0000"),
        ("--jump cali-to-host-endpoint", "{c} -j cali-to-host-endpoint"),
        ('-m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
         '{c} -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT'),
    ], {1: (15602, 2201458), 2: (2730511, 1322907661), 3: (2730511, 1322907661)})
    c.felix("filter", "cali-FORWARD", [
        ("--jump MARK --set-mark 0x0/0xe0000", "{c} -j MARK --set-xmark 0x0/0xe0000"),
        ("-m mark --mark 0x0/0x10000 --jump cali-from-hep-forward", "{c} -m mark --mark 0x0/0x10000 -j cali-from-hep-forward"),
        ("--in-interface cali+ --jump cali-from-wl-dispatch", "-i cali+ {c} -j cali-from-wl-dispatch"),
        ("--out-interface cali+ --jump cali-to-wl-dispatch", "-o cali+ {c} -j cali-to-wl-dispatch"),
        ("--jump cali-to-hep-forward", "{c} -j cali-to-hep-forward"),
        ("--jump cali-cidr-block", "{c} -j cali-cidr-block"),
    ], {0: (8821307, 5102774190), 1: (8821307, 5102774190), 2: (4410022, 1208833201), 3: (4408117, 3890431512),
        4: (3170, 190200), 5: (3170, 190200)})
    for name in ("cali-from-host-endpoint", "cali-to-host-endpoint", "cali-from-hep-forward", "cali-to-hep-forward",
                 "cali-cidr-block"):
        c.chain("filter", name)
    from_rules = [(f"--in-interface {p.veth} --goto cali-fw-{p.veth}", f"-i {p.veth} {{c}} -g cali-fw-{p.veth}") for p in pods]
    to_rules = [(f"--out-interface {p.veth} --goto cali-tw-{p.veth}", f"-o {p.veth} {{c}} -g cali-tw-{p.veth}") for p in pods]
    drop = ('-m comment --comment "Unknown interface" --jump DROP', '{c} -m comment --comment "Unknown interface" -j DROP')
    c.felix("filter", "cali-from-wl-dispatch", from_rules + [drop])
    c.felix("filter", "cali-to-wl-dispatch", to_rules + [drop])
    for p in pods:
        ns = f"kns.{p.namespace}"
        common = [
            ("-m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT", "{c} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            ("-m conntrack --ctstate INVALID --jump DROP", "{c} -m conntrack --ctstate INVALID -j DROP"),
            ("--jump MARK --set-mark 0x0/0x10000", "{c} -j MARK --set-xmark 0x0/0x10000"),
        ]
        tail = [
            ('-m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
             '{c} -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN'),
            ('-m comment --comment "Drop if no profiles matched" --jump DROP',
             '{c} -m comment --comment "Drop if no profiles matched" -j DROP'),
        ]
        c.felix("filter", f"cali-fw-{p.veth}", common + [
            ('-p udp -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --destination-ports 4789 --jump DROP',
             '-p udp {c} -m comment --comment "Drop VXLAN encapped packets originating in workloads" -m multiport --dports 4789 -j DROP'),
            ('-p ipencap -m comment --comment "Drop IPinIP encapped packets originating in workloads" --jump DROP',
             '-p ipencap {c} -m comment --comment "Drop IPinIP encapped packets originating in workloads" -j DROP'),
            (f"--jump cali-pro-{ns}", f"{{c}} -j cali-pro-{ns}"),
        ] + tail)
        c.felix("filter", f"cali-tw-{p.veth}", common + [(f"--jump cali-pri-{ns}", f"{{c}} -j cali-pri-{ns}")] + tail)
        for kind in ("pri", "pro"):
            if f"cali-{kind}-{ns}" not in c.decl.get("filter", []):
                c.felix("filter", f"cali-{kind}-{ns}", [
                    ("--jump MARK --set-mark 0x10000/0x10000", "{c} -j MARK --set-xmark 0x10000/0x10000"),
                    ("-m mark --mark 0x10000/0x10000 --jump RETURN", "{c} -m mark --mark 0x10000/0x10000 -j RETURN"),
                ])


def docker(c: Chains) -> None:
    """Docker ≤ 27 with only docker0 (CHAINS.md §6.1)."""
    c.add("nat", "DOCKER", "-i docker0 -j RETURN")
    c.chain("filter", "DOCKER")
    c.add("filter", "DOCKER-ISOLATION-STAGE-1", "-i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2")
    c.add("filter", "DOCKER-ISOLATION-STAGE-1", "-j RETURN", (4412139, 1211023707))
    c.add("filter", "DOCKER-ISOLATION-STAGE-2", "-o docker0 -j DROP")
    c.add("filter", "DOCKER-ISOLATION-STAGE-2", "-j RETURN")
    c.add("filter", "DOCKER-USER", "-j RETURN", (4412139, 1211023707))


def ruleset(state: str, felix_lag: bool = False) -> str:
    """The whole node as iptables-restore --counters input; ``state`` is ``before`` or ``after``.

    ``felix_lag``: felix still has the old ingress workload's filter chains (the moment right after the
    restart that ``onprem_traffic`` replays; never a dump's ruleset)."""
    if state not in ("before", "after"):
        raise ValueError(state)
    after = state == "after"
    ingress = INGRESS_AFTER if after else INGRESS_BEFORE
    c = Chains()
    # ---- raw / mangle: Calico's top-level jumps and small static chains
    c.felix("raw", "PREROUTING", [("--jump cali-PREROUTING", "{c} -j cali-PREROUTING")], {0: (52019337, 6611803123)})
    c.felix("raw", "OUTPUT", [("--jump cali-OUTPUT", "{c} -j cali-OUTPUT")], {0: (2731022, 1323004518)})
    c.felix("raw", "cali-PREROUTING", [
        ("--jump MARK --set-mark 0x0/0xf0000", "{c} -j MARK --set-xmark 0x0/0xf0000"),
        ("--in-interface cali+ --jump MARK --set-mark 0x40000/0x40000", "-i cali+ {c} -j MARK --set-xmark 0x40000/0x40000"),
        ("-m mark --mark 0x0/0x40000 --jump cali-from-host-endpoint", "{c} -m mark --mark 0x0/0x40000 -j cali-from-host-endpoint"),
        ("-m mark --mark 0x10000/0x10000 --jump ACCEPT", "{c} -m mark --mark 0x10000/0x10000 -j ACCEPT"),
    ], {0: (52019337, 6611803123), 1: (4410022, 1208833201), 2: (47609315, 5402969922)})
    c.felix("raw", "cali-OUTPUT", [
        ("--jump MARK --set-mark 0x0/0xf0000", "{c} -j MARK --set-xmark 0x0/0xf0000"),
        ("--jump cali-to-host-endpoint", "{c} -j cali-to-host-endpoint"),
        ("-m mark --mark 0x10000/0x10000 --jump ACCEPT", "{c} -m mark --mark 0x10000/0x10000 -j ACCEPT"),
    ], {0: (2731022, 1323004518), 1: (2731022, 1323004518)})
    c.chain("raw", "cali-from-host-endpoint")
    c.chain("raw", "cali-to-host-endpoint")
    c.felix("mangle", "PREROUTING", [("--jump cali-PREROUTING", "{c} -j cali-PREROUTING")], {0: (52019337, 6611803123)})
    c.felix("mangle", "cali-PREROUTING", [
        ("-m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT", "{c} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        ("-m mark --mark 0x10000/0x10000 --jump ACCEPT", "{c} -m mark --mark 0x10000/0x10000 -j ACCEPT"),
        ("--jump cali-from-host-endpoint", "{c} -j cali-from-host-endpoint"),
        ('-m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
         '{c} -m comment --comment "Host endpoint policy accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT'),
    ], {0: (9991021, 1243773025), 2: (42028316, 5368030098)})
    c.chain("mangle", "cali-from-host-endpoint")
    kube_proxy_123(c, ingress)

    # ---- filter built-ins (felix inserts at the top; kube-proxy -I; Docker appends/ensures)
    c.felix("filter", "INPUT", [("--jump cali-INPUT", "{c} -j cali-INPUT")], {0: (2931958, 1612916252)})
    c.add("filter", "INPUT", '-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS', (2911840, 1611232950))
    c.add("filter", "INPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES', (60314, 3618840))
    c.add("filter", "INPUT", "-j KUBE-FIREWALL", (2911840, 1611232950))
    c.felix("filter", "FORWARD", [("--jump cali-FORWARD", "{c} -j cali-FORWARD")], {0: (8821307, 5102774190)})
    c.add("filter", "FORWARD", '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD', (4412139, 1211023707))
    c.add("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', (4391, 263460))
    c.add("filter", "FORWARD", '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES', (4391, 263460))
    c.add("filter", "FORWARD", "-j DOCKER-USER", (4412139, 1211023707))
    c.add("filter", "FORWARD", "-j DOCKER-ISOLATION-STAGE-1", (4412139, 1211023707))
    c.add("filter", "FORWARD", "-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    c.add("filter", "FORWARD", "-o docker0 -j DOCKER")
    c.add("filter", "FORWARD", "-i docker0 ! -o docker0 -j ACCEPT")
    c.add("filter", "FORWARD", "-i docker0 -o docker0 -j ACCEPT")
    # felix appends these two at the end of FORWARD (CHAINS.md §5.2, StaticFilterForwardAppendRules):
    # a packet that a Calico policy accepted (mark 0x10000) is accepted here, before Docker's DROP policy
    c.felix("filter", "FORWARD", [
        ('-m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 --jump ACCEPT',
         '{c} -m comment --comment "Policy explicitly accepted packet." -m mark --mark 0x10000/0x10000 -j ACCEPT'),
        ("--jump MARK --set-mark 0x10000/0x10000", "{c} -j MARK --set-xmark 0x10000/0x10000"),
    ], {0: (4398120, 1209530112)})
    c.felix("filter", "OUTPUT", [("--jump cali-OUTPUT", "{c} -j cali-OUTPUT")], {0: (2746113, 1325109119)})
    c.add("filter", "OUTPUT", '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', (121044, 7262640))
    c.add("filter", "OUTPUT", "-j KUBE-FIREWALL", (2730511, 1322907661))
    calico_filter(c, [COREDNS, ingress] + ([INGRESS_BEFORE] if after and felix_lag else []))
    docker(c)

    # ---- nat: the seed's PREROUTING, then OUTPUT and POSTROUTING in the order their owners leave them
    if after:
        pre = {"cali": (42015112, 5365183209), "kube": (42014766, 5365149883), "local": (13204581, 2085160310)}
    else:
        pre = {"cali": (42013857, 5365021433), "kube": (42013511, 5364988107), "local": (13204117, 2085113990)}
    c.felix("nat", "PREROUTING", [("--jump cali-PREROUTING", "{c} -j cali-PREROUTING")], {0: pre["cali"]})
    c.add("nat", "PREROUTING", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES', pre["kube"])
    c.add("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j DOCKER", pre["local"])
    c.add("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT", pre["local"])
    if after:   # portmap's ensure did not find the first copy and appended a second one (seed: "#### 중복")
        c.add("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT")
    c.felix("nat", "OUTPUT", [("--jump cali-OUTPUT", "{c} -j cali-OUTPUT")], {0: (121502, 7290120)})
    c.add("nat", "OUTPUT", '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES', (121502, 7290120))
    c.add("nat", "OUTPUT", "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER", (30877, 1852620))
    c.add("nat", "OUTPUT", "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT", (31003, 1860180))
    if after:
        c.add("nat", "OUTPUT", "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT")
    c.add("nat", "POSTROUTING", '-m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ', (5125, 309132))
    c.add("nat", "POSTROUTING", '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING', (5125, 309132))
    c.add("nat", "POSTROUTING", "-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")
    c.felix("nat", "POSTROUTING", [("--jump cali-POSTROUTING", "{c} -j cali-POSTROUTING")], {0: (5113, 308412)})
    c.felix("nat", "cali-PREROUTING", [("--jump cali-fip-dnat", "{c} -j cali-fip-dnat")], {0: pre["cali"]})
    c.felix("nat", "cali-OUTPUT", [("--jump cali-fip-dnat", "{c} -j cali-fip-dnat")], {0: (121502, 7290120)})
    c.felix("nat", "cali-POSTROUTING", [
        ("--jump cali-fip-snat", "{c} -j cali-fip-snat"),
        ("--jump cali-nat-outgoing", "{c} -j cali-nat-outgoing"),
        ("--out-interface vxlan.calico -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL --jump MASQUERADE --random-fully",
         "-o vxlan.calico {c} -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL -j MASQUERADE --random-fully"),
    ], {0: (5113, 308412), 1: (5113, 308412), 2: (2, 120)})
    c.felix("nat", "cali-nat-outgoing", [
        ("-m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst --jump MASQUERADE --random-fully",
         "{c} -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully"),
    ], {0: (1877, 112620)})
    c.chain("nat", "cali-fip-dnat")
    c.chain("nat", "cali-fip-snat")
    # ---- CNI portmap (hostPort 80/443 of the ingress controller)
    if after:
        # the old sandbox's entry leaked (its checkpoint was gone, so CNI DEL had no portMappings: a no-op)
        # and still comes first; the new pod's entry was appended after it and has seen nothing yet
        portmap(c, INGRESS_BEFORE, {"entry": (1843386, 110603160), "lo80": (12, 720), "lo443": (3, 180),
                                    "dnat80": (412390, 24743400), "dnat443": (1430996, 85859760)})
        portmap(c, INGRESS_AFTER, {})
    else:
        portmap(c, INGRESS_BEFORE, {"entry": (1843186, 110591160), "lo80": (12, 720), "lo443": (3, 180),
                                    "dnat80": (412330, 24739800), "dnat443": (1430856, 85851360)})
    c.add("nat", "CNI-HOSTPORT-MASQ", "-m mark --mark 0x2000/0x2000 -j MASQUERADE", (15, 900))
    c.add("nat", "CNI-HOSTPORT-SETMARK", '-m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000', (15, 900))
    header = (f"# generated by datasets/sources/onprem.py ({state}): mzctest-w-worker1, RKE k8s 1.23.6 dockershim,\n"
              "# Calico VXLAN, Docker, CNI portmap hostPort 80/443, kube-proxy 1.23, iptables-nft host.\n")
    return header + c.text({
        "raw": {"PREROUTING": "ACCEPT", "OUTPUT": "ACCEPT"},
        "mangle": {"PREROUTING": "ACCEPT", "INPUT": "ACCEPT", "FORWARD": "ACCEPT", "OUTPUT": "ACCEPT", "POSTROUTING": "ACCEPT"},
        "filter": {"INPUT": "ACCEPT", "FORWARD": "DROP", "OUTPUT": "ACCEPT"},
        "nat": {"PREROUTING": "ACCEPT", "INPUT": "ACCEPT", "OUTPUT": "ACCEPT", "POSTROUTING": "ACCEPT"},
    })


IPSETS = {"cali40masq-ipam-pools": ["10.42.0.0/16"], "cali40all-ipam-pools": ["10.42.0.0/16"]}


# ------------------------------------------------------------------------------ the rest of the dump

SYNTH = "synthesised from the seed post"


def _checkpoint(pod: Pod, data: dict, checksum: int) -> str:
    """A dockershim sandbox checkpoint as dockershim writes it (compact JSON, CHAINS.md §3.2)."""
    import json
    return json.dumps({"version": "v1", "name": pod.name, "namespace": pod.namespace, "data": data,
                       "checksum": checksum}, separators=(",", ":"))


CHECKPOINTS = {
    CALICO_NODE: ({"host_network": True}, 2891166602, "Mar  2 14:06"),
    COREDNS: ({"port_mappings": [{"protocol": "UDP", "container_port": 53}, {"protocol": "TCP", "container_port": 53},
                                 {"protocol": "TCP", "container_port": 9153}]}, 1471390075, "Mar  2 14:07"),
    INGRESS_BEFORE: ({"port_mappings": [{"protocol": "TCP", "container_port": 80, "host_port": 80},
                                        {"protocol": "TCP", "container_port": 443, "host_port": 443},
                                        {"protocol": "TCP", "container_port": 8443}]}, 3650283915, "Mar  2 14:09"),
    INGRESS_AFTER: ({"port_mappings": [{"protocol": "TCP", "container_port": 80, "host_port": 80},
                                       {"protocol": "TCP", "container_port": 443, "host_port": 443},
                                       {"protocol": "TCP", "container_port": 8443}]}, 1902745380, "May 17 10:31"),
}


def node_files(state: str) -> dict[str, tuple[str, str | None, str | None]]:
    """network/, kubelet/ files of the dump (all synthesised, consistent with ``ruleset(state)``)."""
    after = state == "after"
    ingress = INGRESS_AFTER if after else INGRESS_BEFORE
    out: dict[str, tuple[str, str | None, str | None]] = {}
    ll = "fe80::ecee:eeff:feee:eeee/64"          # Calico gives every host-side veth ee:ee:ee:ee:ee:ee
    addr = [
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
        "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever",
        "2: eth0    inet 10.10.20.21/24 brd 10.10.20.255 scope global noprefixroute eth0\\       valid_lft forever preferred_lft forever",
        "2: eth0    inet6 fe80::250:56ff:fe9a:3c21/64 scope link noprefixroute \\       valid_lft forever preferred_lft forever",
        "3: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\\       valid_lft forever preferred_lft forever",
        "4: vxlan.calico    inet 10.42.134.64/32 scope global vxlan.calico\\       valid_lft forever preferred_lft forever",
        "4: vxlan.calico    inet6 fe80::64a3:1bff:fe5e:9c02/64 scope link \\       valid_lft forever preferred_lft forever",
        f"7: {COREDNS.veth}    inet6 {ll} scope link \\       valid_lft forever preferred_lft forever",
        f"{12 if after else 9}: {ingress.veth}    inet6 {ll} scope link \\       valid_lft forever preferred_lft forever",
    ]
    out["network/ip-addr.txt"] = ("\n".join(addr) + "\n", "ip -o addr", SYNTH + " (hand-written generator datasets/sources/onprem.py)")
    local = sorted([COREDNS, ingress], key=lambda p: tuple(int(x) for x in p.ip.split(".")))
    route = [
        "default via 10.10.20.1 dev eth0 proto static metric 100 ",
        "10.10.20.0/24 dev eth0 proto kernel scope link src 10.10.20.21 metric 100 ",
        "10.42.77.0/26 via 10.42.77.0 dev vxlan.calico onlink ",
        "10.42.100.128/26 via 10.42.100.128 dev vxlan.calico onlink ",
        "blackhole 10.42.134.64/26 proto 80 ",
    ] + [f"{p.ip} dev {p.veth} scope link " for p in local] + [
        "172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown ",
    ]
    out["network/ip-route.txt"] = ("\n".join(route) + "\n", "ip route", SYNTH + " (hand-written generator datasets/sources/onprem.py)")
    pods = [CALICO_NODE, COREDNS, ingress]
    files = {p: _checkpoint(p, *CHECKPOINTS[p][:2]) for p in pods}
    newest = CHECKPOINTS[ingress][2]
    lines = [f"total {8 + 4 * len(pods)}",
             f"drwxr-xr-x 2 root root 4096 {'May 17 10:31' if after else 'Mar  2 14:09'} .",
             "drwxr-xr-x 3 root root 4096 Mar  2 14:05 .."]
    for p in sorted(pods, key=lambda p: p.sandbox):
        lines.append(f"-rw------- 1 root root {len(files[p]):4d} {CHECKPOINTS[p][2]} {p.sandbox}")
    how = ("the old ingress pod's checkpoint is gone (deleted, as in the post), the restarted pod has a new one"
           if after else "one checkpoint per pod sandbox; the ingress pod's holds its hostPorts 80/443")
    out["kubelet/dockershim-sandbox.txt"] = ("\n".join(lines) + "\n", "docker exec kubelet ls -la /var/lib/dockershim/sandbox",
                                             f"{SYNTH}: {how}; RKE runs kubelet (and dockershim) in a container named kubelet")
    out[f"kubelet/dockershim-sandbox/{ingress.sandbox}"] = (
        files[ingress], f"docker exec kubelet cat /var/lib/dockershim/sandbox/{ingress.sandbox}",
        f"{SYNTH}: the ingress pod's dockershim checkpoint ({ingress.name})")
    out["kubelet/kubelet-version.txt"] = ("Kubernetes v1.23.6\n", "docker exec kubelet kubelet --version", SYNTH)
    conflist = {
        "name": NET_NAME, "cniVersion": "0.3.1",
        "plugins": [
            {"type": "calico", "log_level": "info", "datastore_type": "kubernetes", "nodename": "mzctest-w-worker1",
             "mtu": 1450, "ipam": {"type": "calico-ipam"}, "policy": {"type": "k8s"},
             "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}},
            {"type": "portmap", "snat": True, "capabilities": {"portMappings": True}},
            {"type": "bandwidth", "capabilities": {"bandwidth": True}},
        ],
    }
    import json
    out["kubelet/10-calico.conflist"] = (json.dumps(conflist, indent=2) + "\n", "cat /etc/cni/net.d/10-calico.conflist",
                                         SYNTH + ": Calico's CNI config with portmap chained (snat on)")
    return out
