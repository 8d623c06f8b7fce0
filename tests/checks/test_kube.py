"""kube-proxy shapes: service without endpoints, stale KUBE-SEP, KUBE-NODEPORTS not last, stale hostports."""

from workbook.checks import check
from workbook.generate import generate_services, kube_proxy_save
from workbook.parse import parse_save

HEAD = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
# kube-dns:dns from the seed's EKS listing, in saved form (CHAINS.md §1.4)
DNS = '''-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.100.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 192.168.1.77:53" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-4JJWD7DPDSPAPXRS
-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 192.168.2.64:53" -j KUBE-SEP-CMUTYLZJRO6PLWPI
-A KUBE-SEP-4JJWD7DPDSPAPXRS -s 192.168.1.77/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A KUBE-SEP-4JJWD7DPDSPAPXRS -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.1.77:53
-A KUBE-SEP-CMUTYLZJRO6PLWPI -s 192.168.2.64/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A KUBE-SEP-CMUTYLZJRO6PLWPI -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.2.64:53
'''
DECL = ":KUBE-SVC-TCOU7JCQXEZGVUNU - [0:0]\n:KUBE-SEP-4JJWD7DPDSPAPXRS - [0:0]\n:KUBE-SEP-CMUTYLZJRO6PLWPI - [0:0]\n"


def kube(text):
    return check(parse_save(text, "k.rules"), families=["kube"])


def test_healthy_service_fires_nothing():
    assert kube(HEAD + DECL + DNS + "COMMIT\n") == []


def test_generated_kube_proxy_dump_fires_nothing():
    # workbook.generate writes kube-proxy 1.28's shape: no finding may fire on it
    assert check(parse_save(kube_proxy_save(generate_services(200, seed=3))), families=["kube", "references", "duplicates", "shadowing"]) == []


def test_service_without_endpoints():
    text = HEAD + DECL + "\n".join(l for l in DNS.splitlines() if not l.startswith("-A KUBE-SVC-")) + "\nCOMMIT\n"
    fs = kube(text)
    ids = sorted(f.id for f in fs)
    # the SVC chain lost both SEP jumps, so both SEP chains are stale too
    assert ids == ["service-without-endpoints", "stale-endpoint-chain"]
    f = fs.by_id("service-without-endpoints")[0]
    assert f.evidence["service"].unique().tolist() == ["kube-system/kube-dns:dns"]
    assert "kubectl get endpointslices -n kube-system -l kubernetes.io/service-name=kube-dns" in f.fix
    s = fs.by_id("stale-endpoint-chain")[0]
    assert sorted(set(s.evidence["chain"])) == ["KUBE-SEP-4JJWD7DPDSPAPXRS", "KUBE-SEP-CMUTYLZJRO6PLWPI"]
    assert sorted(e for e in s.evidence["endpoint"] if e) == ["192.168.1.77:53", "192.168.2.64:53"]


def test_stale_sep_alone():
    text = HEAD + DECL + ":KUBE-SEP-OLDOLDOLDOLDOLD1 - [0:0]\n" + DNS + \
        '-A KUBE-SEP-OLDOLDOLDOLDOLD1 -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.9.9:53\nCOMMIT\n'
    fs = kube(text)
    assert [f.id for f in fs] == ["stale-endpoint-chain"]
    assert "iptables -t nat -F KUBE-SEP-OLDOLDOLDOLDOLD1 && iptables -t nat -X KUBE-SEP-OLDOLDOLDOLDOLD1" in fs[0].fix


def test_nodeports_not_last():
    extra = '-A KUBE-SERVICES -d 10.0.0.9/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.1.1.1:80\n'
    fs = kube(HEAD + DECL + DNS + extra + "COMMIT\n")
    assert [f.id for f in fs] == ["nodeports-not-last"]
    f = fs[0]
    assert f.evidence["position"].tolist() == [2, 3]   # the nodeports jump is rule 2, the stray rule 3
    assert f.fix[-1].startswith("iptables -t nat -A KUBE-SERVICES -m comment --comment 'kubernetes service nodeports")


def test_several_nodeports_rules_at_the_end_are_fine():
    # --nodeport-addresses: one '-d <nodeIP> -j KUBE-NODEPORTS' per address, all last (CHAINS.md §1.3)
    tail = ('-A KUBE-SERVICES -d 192.168.3.215/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS\n')
    assert kube(HEAD + DECL + DNS + tail + "COMMIT\n") == []


HOSTPORT = '''*nat
:PREROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-DN-a07f9dd15b9a28dd35dd9 - [0:0]
:CNI-DN-29d62401cedb198cb7b6f - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"7ad6a8ce\\"" -m multiport --dports 80,443 -j CNI-DN-a07f9dd15b9a28dd35dd9
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"7452a2e1\\"" -m multiport --dports 80,443 -j CNI-DN-29d62401cedb198cb7b6f
-A CNI-DN-a07f9dd15b9a28dd35dd9 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.7:80
-A CNI-DN-29d62401cedb198cb7b6f -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.244.1.9:80
COMMIT
'''


def test_stale_hostport_entry_is_an_error():
    fs = kube(HOSTPORT)
    assert [(f.id, f.severity) for f in fs] == [("stale-hostport-entry", "error")]
    f = fs[0]
    assert f.evidence["dnat_to"].tolist() == ["10.244.1.7:80", "10.244.1.9:80"]
    # the FIRST (older) entry wins and is the one to delete, with its chain
    assert "iptables -t nat -F CNI-DN-a07f9dd15b9a28dd35dd9 && iptables -t nat -X CNI-DN-a07f9dd15b9a28dd35dd9" in f.fix


def test_hostport_entries_for_different_ports_are_fine():
    assert kube(HOSTPORT.replace("--dports 80,443 -j CNI-DN-29d", "--dports 8080 -j CNI-DN-29d")) == []


KUBENET = '''*nat
:PREROUTING ACCEPT [0:0]
:KUBE-HOSTPORTS - [0:0]
:KUBE-HP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-HP-BBBBBBBBBBBBBBBB - [0:0]
-A PREROUTING -m comment --comment "kube hostport portals" -m addrtype --dst-type LOCAL -j KUBE-HOSTPORTS
-A KUBE-HOSTPORTS -p tcp -m comment --comment "nginx-new_default hostport 8080" -m tcp --dport 8080 -j KUBE-HP-AAAAAAAAAAAAAAAA
-A KUBE-HOSTPORTS -p tcp -m comment --comment "nginx-old_default hostport 8080" -m tcp --dport 8080 -j KUBE-HP-BBBBBBBBBBBBBBBB
-A KUBE-HP-AAAAAAAAAAAAAAAA -p tcp -m comment --comment "nginx-new_default hostport 8080" -m tcp -j DNAT --to-destination 10.244.1.9:80
-A KUBE-HP-BBBBBBBBBBBBBBBB -p tcp -m comment --comment "nginx-old_default hostport 8080" -m tcp -j DNAT --to-destination 10.244.1.5:80
COMMIT
'''


def test_kubenet_hostports_leak_is_a_warning_about_the_later_entry():
    # CHAINS.md §3.1/§3.3: dockershim inserts new KUBE-HOSTPORTS entries on top, so the later one leaked
    fs = kube(KUBENET)
    assert [(f.id, f.severity, f.owner) for f in fs] == [("stale-hostport-entry", "warning", "kubelet")]
    assert "iptables -t nat -F KUBE-HP-BBBBBBBBBBBBBBBB && iptables -t nat -X KUBE-HP-BBBBBBBBBBBBBBBB" in fs[0].fix


def test_ip6tables_dump_gets_ip6tables_commands():
    text = ("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s fd00::/8 -p tcp -m tcp --dport 22 -j ACCEPT\n"
            "-A INPUT -s fd00::/8 -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n")
    rs = parse_save(text, family="ipv6")
    f = check(rs, families=["duplicates"])[0]
    assert "ip6tables -t filter -D INPUT 2" in f.fix
