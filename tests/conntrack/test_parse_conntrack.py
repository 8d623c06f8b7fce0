"""conntrack listings read back: hand-written lines in conntrack-tools' formats, and real entries
made by real packets in a namespace."""

from __future__ import annotations

import subprocess

import pytest

from tests.realparts import nsexec, veth_link
from workbook.model import ParseError
from workbook.parse.conntrack import looks_like_conntrack, parse_conntrack

# conntrack -L -o extended, as conntrack-tools 1.4.7 prints it (the UDP line is the one this
# machine's kernel printed for a DNATed DNS query; TCP and ICMP in the same shape).
EXTENDED = """\
ipv4     2 udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=34195 dport=53 [UNREPLIED] src=10.0.0.5 dst=10.0.0.1 sport=53 dport=34195 mark=0 use=1
ipv4     2 tcp      6 431999 ESTABLISHED src=192.168.3.98 dst=10.100.0.1 sport=51234 dport=443 src=192.168.1.20 dst=192.168.3.98 sport=443 dport=51234 [ASSURED] mark=0 zone=3 use=1
ipv4     2 icmp     1 29 src=10.0.0.1 dst=10.0.0.5 type=8 code=0 id=4 src=10.0.0.5 dst=10.0.0.1 type=0 code=0 id=4 mark=0 use=1
ipv6     10 udp      17 25 src=fd00::1 dst=fd00::a sport=5353 dport=53 src=fd00::a dst=fd00::1 sport=53 dport=5353 mark=16384 use=1
conntrack v1.4.7 (conntrack-tools): 4 flow entries have been shown.
"""


def test_extended_listing_reads_each_field():
    ct = parse_conntrack(EXTENDED, "ct.txt")
    udp, tcp, icmp, v6 = ct.entries
    # udp: sent to the ClusterIP 10.96.0.10:53, the reply comes from 10.0.0.5:53 → DNATed there
    assert (udp.family, udp.protocol, udp.timeout, udp.state) == ("ipv4", "udp", 29, None)
    assert (udp.original.dst, udp.original.dport, udp.dnat, udp.unreplied) == ("10.96.0.10", 53, "10.0.0.5:53", True)
    # tcp: ESTABLISHED, assured, zone 3, DNATed from 10.100.0.1:443 to 192.168.1.20:443
    assert (tcp.state, tcp.flags, tcp.zone, tcp.dnat) == ("ESTABLISHED", ("ASSURED",), 3, "192.168.1.20:443")
    # icmp echo with no rewrite: no DNAT
    assert (icmp.protocol, icmp.original.icmp, icmp.dnat) == ("icmp", (8, 0, 4), None)
    assert (v6.family, v6.mark, v6.dnat) == ("ipv6", 16384, None)
    df = ct.frame
    assert list(df.orig_dst) == ["10.96.0.10", "10.100.0.1", "10.0.0.5", "fd00::a"]
    assert list(df.origin) == ["ct.txt:1", "ct.txt:2", "ct.txt:3", "ct.txt:4"]


def test_plain_listing_and_proc_file_read_the_same():
    plain = "udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=34195 dport=53 [UNREPLIED] src=10.0.0.5 dst=10.0.0.1 sport=53 dport=34195 mark=0 use=1\n"
    proc = "ipv4     2 udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=34195 dport=53 [UNREPLIED] src=10.0.0.5 dst=10.0.0.1 sport=53 dport=34195 mark=0 zone=0 use=2\n"
    a, b = parse_conntrack(plain).entries[0], parse_conntrack(proc).entries[0]
    assert (a.original, a.reply, a.flags) == (b.original, b.reply, b.flags)
    assert looks_like_conntrack(plain) and looks_like_conntrack(proc) and not looks_like_conntrack("*nat\n")


@pytest.mark.parametrize("line, why", [
    ("udp 17 29 src=10.0.0.1 dst=10.96.0.10 sport=99999 dport=53 src=10.0.0.5 dst=10.0.0.1 sport=53 dport=1", "bad port"),
    ("udp 17 29 src=10.0.0.1 dst=10.96.0.10 sport=1 dport=53", "expected an original and a reply"),
    ("udp 17 29 src=10.0.0.999 dst=10.96.0.10 sport=1 dport=53 src=10.0.0.5 dst=10.0.0.1 sport=53 dport=1", "bad address"),
    ("udp 17 " + "9" * 30 + " src=10.0.0.1 dst=10.96.0.10 src=10.0.0.5 dst=10.0.0.1", "bad timeout"),
    ("tcp 6 5 $(reboot) src=10.0.0.1 dst=10.96.0.10 src=10.0.0.5 dst=10.0.0.1", "unknown state"),
])
def test_a_line_that_is_not_an_entry_names_file_and_line(line, why):
    with pytest.raises(ParseError) as e:
        parse_conntrack("\n" + line + "\n", "ct.txt")
    assert str(e.value).startswith("ct.txt:2: ") and why in str(e.value)
    lenient = parse_conntrack("\n" + line + "\n" + EXTENDED, "ct.txt", strict=False)
    assert len(lenient) == 4 and lenient.problems[0].line == 2


def test_real_entries_from_real_packets(netns):
    """A UDP packet to a 'ClusterIP' DNATed by a real nat OUTPUT rule, and a TCP connection that
    completes: the kernel's own listing reads back with the DNAT we configured."""
    node, peer = netns("ct"), netns("peer")
    veth_link((node, "ctv0", "10.0.0.1/24"), (peer, "ctv1", "10.0.0.5/24"))
    nsexec(node, "iptables", "-t", "nat", "-A", "OUTPUT", "-d", "10.96.0.10", "-p", "udp", "--dport", "53",
           "-j", "DNAT", "--to-destination", "10.0.0.5:53")
    nsexec(node, "iptables", "-t", "nat", "-A", "OUTPUT", "-d", "10.100.0.1", "-p", "tcp", "--dport", "443",
           "-j", "DNAT", "--to-destination", "10.0.0.5:8443")
    nsexec(node, "ip", "route", "add", "default", "dev", "ctv0")
    server = subprocess.Popen(["ip", "netns", "exec", peer, "python3", "-c",
                               "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
                               "s.bind(('10.0.0.5',8443)); s.listen(); print('up', flush=True); c,_=s.accept(); c.recv(1); c.close()"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        nsexec(node, "python3", "-c",
               "import socket; u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'q', ('10.96.0.10', 53));"
               "t=socket.create_connection(('10.100.0.1', 443), timeout=5); t.sendall(b'x'); t.recv(1)")
    finally:
        server.wait(timeout=10)
    for args in (["-L", "-o", "extended"], ["-L"]):
        out = nsexec(node, "conntrack", *args)
        ct = parse_conntrack(out.stdout, "conntrack")
        by_proto = {e.protocol: e for e in ct}
        udp, tcp = by_proto["udp"], by_proto["tcp"]
        assert (udp.original.dst, udp.original.dport, udp.dnat, udp.unreplied) == ("10.96.0.10", 53, "10.0.0.5:53", True)
        assert (tcp.original.dst, tcp.original.dport, tcp.dnat) == ("10.100.0.1", 443, "10.0.0.5:8443")
        assert tcp.state in ("TIME_WAIT", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSE", "ESTABLISHED")


def test_the_eks_collectors_file_with_headers_and_counters():
    # networking/conntrack.txt of the EKS log collector: `conntrack -S` then `conntrack -L`, each
    # under a "*** Output of … ***" header (reference/DUMPS_AND_NOTEBOOKS.md). The counters line is
    # the one this machine's conntrack -S printed.
    text = ("*** Output of conntrack -S *** \n"
            "cpu=0   \tfound=0 invalid=3 insert=0 insert_failed=0 drop=0 early_drop=0 error=0 search_restart=0 "
            "clash_resolve=0 chaintoolong=0 \n"
            "*** Output of conntrack -L ***\n"
            "udp      17 29 src=10.0.0.1 dst=10.96.0.10 sport=34195 dport=53 [UNREPLIED] src=10.0.0.5 dst=10.0.0.1 "
            "sport=53 dport=34195 mark=0 use=1\n")
    ct = parse_conntrack(text, "networking/conntrack.txt")
    assert len(ct) == 1 and ct.stats == [{"cpu": 0, "found": 0, "invalid": 3, "insert": 0, "insert_failed": 0,
                                          "drop": 0, "early_drop": 0, "error": 0, "search_restart": 0,
                                          "clash_resolve": 0, "chaintoolong": 0}]
    assert parse_conntrack("4711\n").count == 4711
