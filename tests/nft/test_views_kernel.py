"""The same iptables-nft rules through iptables-save and nft list ruleset, from a real kernel: what each view loses."""

from __future__ import annotations

import subprocess

from tests.realparts import nsexec
from workbook.nft.parse_text import parse_nft_text
from workbook.nft.views import compare_views
from workbook.parse import parse_save

RULES = """*mangle
:PREROUTING ACCEPT [0:0]
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SVC-X - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SVC-X
-A KUBE-SVC-X -m comment --comment "ns/svc:p" -m statistic --mode random --probability 0.50000000000 -j RETURN
COMMIT
*filter
:INPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
-A INPUT -j KUBE-FIREWALL
-A INPUT -m recent --name x --set
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FIREWALL -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
"""


def test_each_view_of_iptables_nft_rules_loses_something(netns):
    ns = netns("views")
    nsexec(ns, "iptables-nft-restore", input=RULES)
    # a native nft rule added by another tool into iptables-nft's chain (the Calico #13263 shape)
    nsexec(ns, "nft", "add", "rule", "ip", "filter", "KUBE-FIREWALL", "meta", "pkttype", "host", "accept")
    save = parse_save(nsexec(ns, "iptables-nft-save").stdout, "iptables-nft-save")
    p = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"], capture_output=True, text=True, check=True)
    nft = parse_nft_text(p.stdout, "nft list ruleset")
    assert all(t.iptables_nft for t in nft.tables.values())
    df = compare_views(save, nft)
    got = {(r.table, r.chain, r.position): (r.lost_in_nft, r.lost_in_iptables) for r in df.itertuples()}
    # what nft printed for each (see the listing): comments gone, statistic as a meta random
    # threshold, CONNMARK's two masks as one "and", recent as "xt match recent", and the negated
    # ctstate list as "ct status dnat"
    assert got[("nat", "PREROUTING", 1)] == (["comment 'kubernetes service portals'"], [])
    assert got[("nat", "KUBE-SVC-X", 1)] == (["comment 'ns/svc:p'",
                                             "-m statistic: probability shown only as a meta random threshold"], [])
    assert got[("mangle", "PREROUTING", 1)] == (["-j CONNMARK: CONNMARK masks shown as one 'and' mask"], [])
    assert got[("filter", "INPUT", 2)] == (["-m recent (nft prints it as an xt compat match)"], [])
    assert got[("filter", "KUBE-FIREWALL", 1)] == (["comment 'block incoming localnet connections'",
                                                    "! --ctstate RELATED,ESTABLISHED,DNAT: nft shows only 'ct status dnat'"], [])
    assert got[("filter", "KUBE-FIREWALL", 2)] == ([], [])
    # iptables-nft-save prints the native pkttype rule as -m pkttype: both views have it
    assert df[(df.chain == "KUBE-FIREWALL") & (df.position == 3)].iptables.tolist() == \
           ["-A KUBE-FIREWALL -m pkttype --pkt-type unicast -j ACCEPT"]
