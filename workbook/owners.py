"""Which component wrote a rule or chain (kube-proxy, kubelet, CNI portmap, Calico, Docker, …)."""

from __future__ import annotations

import re
from functools import lru_cache

from .model import BUILTIN_CHAINS, Rule

__all__ = ["owner_of", "chain_owner", "nft_table_owner", "nft_owner_of", "OWNERS"]

#: Every owner name this module can return, with the evidence it goes by (CHAINS.md sections).
OWNERS: dict[str, str] = {
    "kube-proxy": "KUBE-SERVICES/NODEPORTS/SVC-/SVL-/SEP-/EXT-/FW-/XLB-/POSTROUTING/MARK-MASQ/FORWARD/"
                  "PROXY-FIREWALL/PROXY-CANARY chains, 'kubernetes … portals' comments (§1)",
    "kubelet": "KUBE-FIREWALL, KUBE-MARK-DROP, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT; dockershim's "
               "KUBE-HOSTPORTS/KUBE-HP- chains (§1.11, §3)",
    "CNI portmap": "CNI-HOSTPORT-DNAT/SETMARK/MASQ/SNAT, CNI-DN-<21 hex>, 'CNI portfwd' comments (§2)",
    "CNI bridge": "CNI-<24 hex> ipMasq chains, 'name: … id: …' comments (§2.4)",
    "CNI firewall": "CNI-FORWARD, CNI-ADMIN (firewall plugin)",
    "Calico": "cali-* chains, 'cali:<hash>' comments, cali+ interfaces (§5)",
    "AWS VPC CNI": "AWS-SNAT-CHAIN-n, AWS-CONNMARK-CHAIN-n, 'AWS, …' comments, eni+ interfaces (§4)",
    "Docker": "DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-n, DOCKER-FORWARD…, docker0 rules (§6)",
    "Istio": "ISTIO_* chains (pod netns, §7)",
    "flannel": "FLANNEL-POSTRTG, FLANNEL-FWD, 'flanneld …' comments, flannel.1 / cni0 interfaces",
    "firewalld": "*_direct, *_ZONES(_SOURCE), IN_/FWDI_/FWDO_/PRE_/POST_<zone>[_allow|_deny|_log] chains",
    "ufw": "ufw-* / ufw6-* chains",
    "kube-router": "KUBE-ROUTER-*, KUBE-POD-FW-*, KUBE-NWPLCY-* chains",
    "Cilium": "CILIUM_* chains",
    "Weave Net": "WEAVE, WEAVE-NPC* chains",
    "Antrea": "ANTREA-* chains",
    "OpenShift SDN": "OPENSHIFT-* chains",
    "libvirt": "LIBVIRT_* chains, virbr interfaces",
    "fail2ban": "f2b-* chains",
    # native nftables tables (nft list ruleset)
    "Calico-nft": "Calico's nftables dataplane: table ip/ip6 calico, cali-* chains in a native table",
    "Cilium-nft": "native nft tables named cilium*, or cilium_* / CILIUM_* chains in one",
    "iptables-nft": "a rule of an iptables-nft table whose chain names no other owner",
}

# Native nft table name → owner (checked on the table name, family aside).
_NFT_TABLES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^kube-proxy$"), "kube-proxy"),
    (re.compile(r"^firewalld(_policy_drop)?$"), "firewalld"),
    (re.compile(r"^docker(-bridges)?$"), "Docker"),
    (re.compile(r"^calico"), "Calico-nft"),
    (re.compile(r"^cilium", re.I), "Cilium-nft"),
    (re.compile(r"^istio-"), "Istio"),
    (re.compile(r"^libvirt_network$"), "libvirt"),
    (re.compile(r"^kube-router"), "kube-router"),
)

_KUBE_PROXY = frozenset({
    "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-POSTROUTING",
    "KUBE-MARK-MASQ", "KUBE-PROXY-FIREWALL", "KUBE-PROXY-CANARY",
    # IPVS mode
    "KUBE-LOAD-BALANCER", "KUBE-LOOP-BACK", "KUBE-NODE-PORT", "KUBE-FIRE-WALL", "KUBE-MARK-DROP-IPVS",
})
_KUBELET = frozenset({"KUBE-FIREWALL", "KUBE-MARK-DROP", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT",
                      "KUBE-HOSTPORTS"})
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("KUBE-SVC-", "kube-proxy"), ("KUBE-SVL-", "kube-proxy"), ("KUBE-SEP-", "kube-proxy"),
    ("KUBE-EXT-", "kube-proxy"), ("KUBE-FW-", "kube-proxy"), ("KUBE-XLB-", "kube-proxy"),
    ("KUBE-HP-", "kubelet"),
    ("KUBE-ROUTER-", "kube-router"), ("KUBE-POD-FW-", "kube-router"), ("KUBE-NWPLCY-", "kube-router"),
    ("KUBE-SRC-", "kube-router"), ("KUBE-DST-", "kube-router"),
    ("CNI-HOSTPORT-", "CNI portmap"), ("CNI-DN-", "CNI portmap"), ("CNI-SN-", "CNI portmap"),
    ("CNI-FORWARD", "CNI firewall"), ("CNI-ADMIN", "CNI firewall"),
    ("cali-", "Calico"), ("felix-", "Calico"),
    ("AWS-SNAT-CHAIN", "AWS VPC CNI"), ("AWS-CONNMARK-CHAIN", "AWS VPC CNI"),
    ("DOCKER", "Docker"),
    ("ISTIO_", "Istio"),
    ("FLANNEL", "flannel"),
    ("ufw-", "ufw"), ("ufw6-", "ufw"),
    ("CILIUM_", "Cilium"), ("OLD_CILIUM_", "Cilium"),
    ("WEAVE", "Weave Net"),
    ("ANTREA-", "Antrea"),
    ("OPENSHIFT-", "OpenShift SDN"),
    ("LIBVIRT_", "libvirt"),
    ("f2b-", "fail2ban"),
)
_CNI_BRIDGE = re.compile(r"^CNI-[0-9a-f]{24}$")
_FIREWALLD = re.compile(
    r"^(?:(?:INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING)_direct"
    r"|(?:INPUT|PREROUTING|POSTROUTING|FORWARD_IN|FORWARD_OUT)_ZONES(?:_SOURCE)?"
    r"|(?:IN|FWDI|FWDO|FWD|PRE|POST|OUT)_[A-Za-z0-9_-]+?(?:_allow|_deny|_log|_pre|_post)?)$")

# Comment text → owner (checked in order, on the rule's comment).
_COMMENTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^cali:"), "Calico"),
    (re.compile(r"^kube hostport |_\S+ hostport \d+$|^SNAT for localhost access to hostports"), "kubelet"),
    (re.compile(r"^kubernetes "), "kube-proxy"),
    (re.compile(r"^CNI portfwd|^dnat name: "), "CNI portmap"),
    (re.compile(r'^name: ".*" id: "'), "CNI bridge"),
    (re.compile(r"^AWS[ ,]"), "AWS VPC CNI"),
    (re.compile(r"^flanneld "), "flannel"),
)
_IFACES: tuple[tuple[str, str], ...] = (
    ("docker0", "Docker"), ("br-", "Docker"), ("cali", "Calico"), ("eni", "AWS VPC CNI"),
    ("vlan", "AWS VPC CNI"), ("flannel", "flannel"), ("virbr", "libvirt"), ("cilium_", "Cilium"),
    ("weave", "Weave Net"), ("antrea-", "Antrea"), ("kube-bridge", "kube-router"),
)


@lru_cache(maxsize=65536)
def chain_owner(name: str) -> str | None:
    """The component that creates a chain called ``name`` (None for built-in or unknown chains).

    >>> chain_owner("KUBE-SEP-4JJWD7DPDSPAPXRS"), chain_owner("CNI-HOSTPORT-DNAT"), chain_owner("cali-PREROUTING")
    ('kube-proxy', 'CNI portmap', 'Calico')
    >>> chain_owner("KUBE-IPTABLES-HINT"), chain_owner("IN_public_allow"), chain_owner("PREROUTING")
    ('kubelet', 'firewalld', None)
    """
    if name in _KUBE_PROXY:
        return "kube-proxy"
    if name in _KUBELET:
        return "kubelet"
    for prefix, owner in _PREFIXES:
        if name.startswith(prefix):
            return owner
    if _CNI_BRIDGE.match(name):
        return "CNI bridge"
    if name not in _BUILTIN_NAMES and _FIREWALLD.match(name):
        return "firewalld"
    return None


_BUILTIN_NAMES = frozenset(c for cs in BUILTIN_CHAINS.values() for c in cs)


def owner_of(rule: Rule) -> str | None:
    """Who wrote ``rule``, judged by its chain, its jump target, its comment and its interfaces.

    A rule in a user chain belongs to the chain's owner; a rule in a built-in chain to the
    owner of the chain it jumps to, else to the owner its comment or interfaces point at.

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('''*nat
    ... :PREROUTING ACCEPT [0:0]
    ... :POSTROUTING ACCEPT [0:0]
    ... -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
    ... -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
    ... -A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0
    ... -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
    ... -A POSTROUTING -j ACCEPT
    ... COMMIT
    ... ''')
    >>> [owner_of(r) for r in rs.iter_rules()]
    ['kube-proxy', 'CNI portmap', 'AWS VPC CNI', 'Docker', None]
    """
    chain = rule.chain
    if chain not in _BUILTIN_NAMES or chain in _KUBE_PROXY or chain in _KUBELET:
        owner = chain_owner(chain)
        if owner is not None:
            return owner
    if rule.target and rule.target not in _BUILTIN_NAMES:
        owner = chain_owner(rule.target)
        if owner is not None:
            return owner
    comment = rule.comment
    if comment:
        for pattern, owner in _COMMENTS:
            if pattern.search(comment):
                return owner
    for iface in (rule.in_interface, rule.out_interface):
        if iface:
            for prefix, owner in _IFACES:
                if iface.startswith(prefix):
                    return owner
    return None


def nft_table_owner(name: str, iptables_nft: bool = False) -> str | None:
    """The component a native nft table belongs to, by its name (None when unknown).

    >>> nft_table_owner("kube-proxy"), nft_table_owner("firewalld"), nft_table_owner("docker-bridges")
    ('kube-proxy', 'firewalld', 'Docker')
    >>> nft_table_owner("calico"), nft_table_owner("nat", iptables_nft=True), nft_table_owner("mytable")
    ('Calico-nft', 'iptables-nft', None)
    """
    if iptables_nft:
        return "iptables-nft"
    for pattern, owner in _NFT_TABLES:
        if pattern.search(name):
            return owner
    return None


def nft_owner_of(table: str, chain: str, target: str | None = None, iptables_nft: bool = False) -> str | None:
    """Who wrote an nft rule: the table's owner for native tables (chain prefixes decide in a
    table of unknown name); in an iptables-nft table the owner of its chain (or of the chain it
    jumps to) as for iptables-save, else ``iptables-nft``.

    >>> nft_owner_of("kube-proxy", "services"), nft_owner_of("nat", "KUBE-SERVICES", iptables_nft=True)
    ('kube-proxy', 'kube-proxy')
    >>> nft_owner_of("nat", "POSTROUTING", "KUBE-POSTROUTING", True), nft_owner_of("nat", "POSTROUTING", None, True)
    ('kube-proxy', 'iptables-nft')
    """
    if iptables_nft:
        owner = chain_owner(chain) if chain not in _BUILTIN_NAMES else None
        if owner is None and target and target not in _BUILTIN_NAMES:
            owner = chain_owner(target)
        return owner or "iptables-nft"
    owner = nft_table_owner(table)
    if owner is not None:
        return owner
    low = chain.lower()
    if low.startswith("cali-"):
        return "Calico-nft"
    if low.startswith("cilium"):
        return "Cilium-nft"
    return chain_owner(chain)
