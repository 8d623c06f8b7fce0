"""owner_of: chain names, jump targets, comments and interfaces (CHAINS.md §1–§7)."""

from workbook.owners import chain_owner, owner_of
from workbook.parse import parse_save

# Each line is a saved-form rule quoted in CHAINS.md, with the owner that section names.
CASES = [
    ("nat", '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES', "kube-proxy"),      # §1.2
    ("nat", '-A KUBE-SEP-LNMZPQ2U2A5TEEGP -s 10.42.0.8/32 -m comment --comment "default/nginx-service" -j KUBE-MARK-MASQ', "kube-proxy"),  # §1.4
    ("filter", '-A INPUT -j KUBE-FIREWALL', "kubelet"),                                                             # §1.11
    ("nat", '-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT', "CNI portmap"),                      # §2.2
    ("nat", '-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ', "CNI portmap"),
    ("nat", '-A PREROUTING -m comment --comment "kube hostport portals" -m addrtype --dst-type LOCAL -j KUBE-HOSTPORTS', "kubelet"),  # §3.1
    ("nat", '-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0', "AWS VPC CNI"),  # §4.1
    ("mangle", '-A PREROUTING -i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL --limit-iface-in -j CONNMARK --set-xmark 0x80/0x80', "AWS VPC CNI"),
    ("nat", '-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING', "Calico"),            # §5.4
    ("nat", '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE', "Docker"),                               # §6.1
    ("filter", '-A FORWARD -j DOCKER-USER', "Docker"),
    ("nat", '-A OUTPUT -j ISTIO_OUTPUT', "Istio"),                                                                 # §7.2
    ("filter", '-A ufw-before-input -i lo -j ACCEPT', "ufw"),
    ("filter", '-A IN_public_allow -p tcp -m tcp --dport 22 -j ACCEPT', "firewalld"),
    ("nat", '-A POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN', "flannel"),
    ("filter", '-A INPUT -i lo -j ACCEPT', None),
]


def _rule(table, line):
    chain = line.split()[1]
    builtin = chain in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
    decl = f":{chain} ACCEPT [0:0]" if builtin else f":{chain} - [0:0]"
    return next(parse_save(f"*{table}\n{decl}\n{line}\nCOMMIT\n").iter_rules())


def test_owner_of_known_shapes():
    got = [(line, owner_of(_rule(t, line))) for t, line, _ in CASES]
    assert got == [(line, want) for _, line, want in CASES]


def test_chain_owner_does_not_claim_builtins_or_strangers():
    # built-in chains and a TUM-style 'filter_0' chain belong to nobody we know
    assert [chain_owner(n) for n in ("INPUT", "PREROUTING", "filter_0", "LOG_DROP")] == [None] * 4


def test_frames_fill_owner_column():
    rs = parse_save('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\nCOMMIT\n')
    assert rs.rules["owner"].tolist() == ["Docker"]   # §6.1: the DOCKER jump is Docker's
