"""conntrack-to-stale-hostport on real entries: portmap's leaked CNI-HOSTPORT-DNAT entry (the old pod's,
first in the chain) DNATs clients' connections to the old pod's address after that address is gone;
the kernel's own conntrack table shows them. Near miss: the same traffic with only the live pod's entry."""

from __future__ import annotations

import shlex

from tests.realparts import nsexec, veth_link
from workbook import check
from workbook.dump import load_dump, save_dump
from workbook.parse.conntrack import parse_conntrack

NODE, CLIENT = "10.0.0.1", "10.0.0.2"
OLD_POD, NEW_POD = "10.244.1.7", "10.244.1.9"

# portmap's chains as the seed's RKE node had them (tests/checks/test_kube.py HOSTPORT: the older
# sandbox's entry, left by a CNI DEL without portMappings, before the new pod's)
_ENTRY = ('-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"{id}\\"" '
          '-m multiport --dports 80,443 -j CNI-DN-{chain}\n'
          '-A CNI-DN-{chain} -p tcp -m tcp --dport 80 -j DNAT --to-destination {pod}:80\n')
OLD = {"id": "7ad6a8ce", "chain": "a07f9dd15b9a28dd35dd9", "pod": OLD_POD}
NEW = {"id": "7452a2e1", "chain": "29d62401cedb198cb7b6f", "pod": NEW_POD}


def _rules(*entries: dict) -> str:
    decl = "".join(f":CNI-DN-{e['chain']} - [0:0]\n" for e in entries)
    return ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            ":CNI-HOSTPORT-DNAT - [0:0]\n" + decl +
            "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n" +
            "".join(_ENTRY.format(**e) for e in entries) + "COMMIT\n")


def _node(netns, rules: str) -> tuple[str, str]:
    """The node (rules loaded, forwarding on, pods routed to the pod host) and a client/pod-host peer."""
    node, peer = netns("hpnode"), netns("hppeer")
    veth_link((node, "hpn0", f"{NODE}/24"), (peer, "hpn1", f"{CLIENT}/24"))
    nsexec(node, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    nsexec(node, "ip", "route", "add", "10.244.0.0/16", "via", CLIENT)
    nsexec(node, "iptables-restore", input=rules)
    return node, peer


def _connect(peer: str, n: int) -> None:
    """``n`` TCP connections from the client to the node's port 80 (hostPort), distinct source ports."""
    nsexec(peer, "python3", "-c",
           "import socket\n"
           f"for i in range({n}):\n"
           "    s = socket.socket()\n"
           "    s.bind(('', 42000 + i))\n"
           "    s.setblocking(False)\n"
           f"    s.connect_ex(('{NODE}', 80))\n", check=False)


def _found(tmp_path, node: str, name: str):
    files = {"iptables/iptables-save.txt": nsexec(node, "iptables-save", "-c").stdout,
             "kernel/conntrack.txt": nsexec(node, "conntrack", "-L", "-o", "extended").stdout,
             "network/ip-addr.txt": f"2: hpn0    inet {NODE}/24 scope global hpn0\n"}
    return [f for f in check(load_dump(save_dump(files, tmp_path / name))) if f.id == "conntrack-to-stale-hostport"]


def test_clients_caught_by_the_leaked_entry_after_the_old_pod_is_gone(netns, tmp_path):
    node, peer = _node(netns, _rules(OLD, NEW))
    nsexec(peer, "ip", "addr", "add", f"{OLD_POD}/32", "dev", "lo")     # the old pod, alive
    nsexec(peer, "ip", "addr", "del", f"{OLD_POD}/32", "dev", "lo")     # ... and deleted
    _connect(peer, 5)
    real = parse_conntrack(nsexec(node, "conntrack", "-L", "-o", "extended").stdout)
    caught = [e for e in real if e.original.dst == NODE and e.original.dport == 80]
    assert len(caught) == 5 and {e.dnat for e in caught} == {f"{OLD_POD}:80"}   # the kernel: all to the old pod

    found = _found(tmp_path, node, "after")
    assert len(found) == 1
    f = found[0]
    assert f.severity == "error" and len(f.evidence) == 5 and set(f.evidence.orig_dst) == {NODE}
    assert f.fix == [f"conntrack -D -p tcp --orig-port-dst 80 --reply-src {OLD_POD} --reply-port-src 80"]
    nsexec(node, *shlex.split(f.fix[0]), check=False)     # conntrack -D exits 0 with entries deleted
    left = parse_conntrack(nsexec(node, "conntrack", "-L", "-o", "extended").stdout)
    assert not [e for e in left if e.dnat == f"{OLD_POD}:80"]


def test_near_miss_only_the_live_pods_entry(netns, tmp_path):
    node, peer = _node(netns, _rules(NEW))
    _connect(peer, 5)
    real = parse_conntrack(nsexec(node, "conntrack", "-L", "-o", "extended").stdout)
    assert {e.dnat for e in real if e.original.dst == NODE} == {f"{NEW_POD}:80"}
    assert _found(tmp_path, node, "before") == []


def test_with_calicos_blackhole_route_the_caught_clients_leave_no_entry(netns, tmp_path):
    """On the seed's node (datasets/onprem-dup-hostport/after/network/ip-route.txt) calico-ipam's
    ``blackhole 10.42.134.64/26`` covers the deleted pod's address: the DNATed SYN is dropped by the
    routing decision, before conntrack confirms the entry, so ``conntrack -L`` lists nothing for these
    clients and the finding (rightly) stays silent: there the conntrack table is NOT where it shows."""
    node, peer = _node(netns, _rules(OLD, NEW))
    nsexec(node, "ip", "route", "add", "blackhole", "10.244.1.0/26")          # the node's IPAM block
    nsexec(node, "ip", "route", "add", f"{NEW_POD}/32", "via", CLIENT)       # the live pod's own route
    _connect(peer, 5)
    real = parse_conntrack(nsexec(node, "conntrack", "-L", "-o", "extended").stdout)
    assert [e for e in real if e.original.dst == NODE] == []
    assert _found(tmp_path, node, "blackholed") == []
