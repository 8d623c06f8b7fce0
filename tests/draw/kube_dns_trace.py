"""A hand-built Trace of the seed's kube-dns lookup (what workbook.trace.trace_packet should produce)."""

from workbook.packet import Branch, Packet, Step

SVC = "KUBE-SVC-TCOU7JCQXEZGVUNU"
SEP_A = "KUBE-SEP-4JJWD7DPDSPAPXRS"
SEP_B = "KUBE-SEP-CMUTYLZJRO6PLWPI"

KUBE_DNS_SAVE = f"""*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-ERIFXISQEP7F7OF4 - [0:0]
:{SVC} - [0:0]
:{SEP_A} - [0:0]
:{SEP_B} - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.100.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -m tcp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4
-A KUBE-SERVICES -d 10.100.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j {SVC}
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A {SVC} -m comment --comment "kube-system/kube-dns:dns -> 192.168.1.77:53" -m statistic --mode random --probability 0.50000000000 -j {SEP_A}
-A {SVC} -m comment --comment "kube-system/kube-dns:dns -> 192.168.2.64:53" -j {SEP_B}
-A {SEP_A} -s 192.168.1.77/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A {SEP_A} -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.1.77:53
-A {SEP_B} -s 192.168.2.64/32 -m comment --comment "kube-system/kube-dns:dns" -j KUBE-MARK-MASQ
-A {SEP_B} -p udp -m comment --comment "kube-system/kube-dns:dns" -m udp -j DNAT --to-destination 192.168.2.64:53
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""


def kube_dns_branches():
    """A UDP query from a pod 192.168.3.9 to 10.100.0.10:53 arriving on eni1: two 50 % branches."""
    common = [
        Step("PREROUTING", "nat", "PREROUTING", 1, "-A PREROUTING ... -j KUBE-SERVICES", True, "JUMP:KUBE-SERVICES"),
        Step("PREROUTING", "nat", "KUBE-SERVICES", 1, "-A KUBE-SERVICES ... tcp ... -j KUBE-SVC-ERIFXISQEP7F7OF4",
             False, "JUMP:KUBE-SVC-ERIFXISQEP7F7OF4", why="-p tcp"),
        Step("PREROUTING", "nat", "KUBE-SERVICES", 2, f"-A KUBE-SERVICES ... udp ... -j {SVC}", True, f"JUMP:{SVC}"),
    ]

    def tail(sep, pos, ip):
        return [
            Step("PREROUTING", "nat", SVC, 1, f"-A {SVC} ... -j {SEP_A}", pos == 1, f"JUMP:{SEP_A}",
                 why=None if pos == 1 else "-m statistic"),
        ] + ([Step("PREROUTING", "nat", SVC, 2, f"-A {SVC} ... -j {SEP_B}", True, f"JUMP:{SEP_B}")] if pos == 2 else []) + [
            Step("PREROUTING", "nat", sep, 1, f"-A {sep} -s {ip}/32 ... -j KUBE-MARK-MASQ", False, "JUMP:KUBE-MARK-MASQ", why="-s"),
            Step("PREROUTING", "nat", sep, 2, f"-A {sep} ... -j DNAT --to-destination {ip}:53", True, "DNAT"),
            Step("FORWARD", "filter", "FORWARD", None, None, True, "policy:ACCEPT"),
        ]
    return [Branch(0.5, "ACCEPT", common + tail(SEP_A, 1, "192.168.1.77"), dnat="192.168.1.77:53"),
            Branch(0.5, "ACCEPT", [Step(**{f: getattr(s, f) for f in Step.__slots__}) for s in common]
                   + tail(SEP_B, 2, "192.168.2.64"), dnat="192.168.2.64:53")]


PACKET = Packet("192.168.3.9", "10.100.0.10", "udp", 40000, 53, in_iface="eni1")
