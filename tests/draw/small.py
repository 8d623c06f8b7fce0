"""A small hand-written nat table shared by the draw tests (its graph is counted by hand below)."""

SMALL_NAT = """*nat
:PREROUTING ACCEPT [10:600]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
:KUBE-SEP-2 - [0:0]
:KUBE-MARK-MASQ - [0:0]
[5:300] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[3:180] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
[0:0] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
[0:0] -A OUTPUT -g KUBE-SERVICES
[2:120] -A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-A
[1:60] -A KUBE-SVC-A -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-1
[1:60] -A KUBE-SVC-A -j KUBE-SEP-2
[0:0] -A KUBE-SEP-1 -s 10.244.0.2/32 -j KUBE-MARK-MASQ
[1:60] -A KUBE-SEP-1 -p udp -m udp -j DNAT --to-destination 10.244.0.2:53
[1:60] -A KUBE-SEP-2 -p udp -m udp -j DNAT --to-destination 10.244.1.2:53
[0:0] -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
COMMIT
"""
