"""ext-core's matches and targets through the REAL iptables: ``iptables -L -n -v`` read back by our
listing reader gives the rules iptables-save prints, and our printer prints what iptables lists
(both backends; IPv4 and, for icmp6/tcp/addrtype/iprange, IPv6). Expected values are what iptables
prints, never what the code under test produced."""

from __future__ import annotations

import sys

import pytest

from tests.parse.kernel import restore, run, save
from tests.realparts import nsexec
from workbook.lab import _NFACCT
from workbook.listing_print import format_rule
from workbook.parse import parse_save
from workbook.parse.listing import parse_listing

pytestmark = [pytest.mark.root]

_PORTS = """
-p tcp -m tcp --sport 80
-p tcp -m tcp ! --dport 1000:2000
-p tcp -m tcp --sport 1024: --dport :1023
-p tcp -m tcp --tcp-flags SYN,ACK,FIN,RST SYN
-p tcp -m tcp ! --tcp-flags ALL NONE
-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG FIN,PSH,URG
-p tcp -m tcp --syn
-p tcp -m tcp ! --syn
-p tcp -m tcp --tcp-option 2
-p tcp -m tcp ! --tcp-option 8
-p tcp -m tcp --dport 22 --tcp-flags SYN,RST SYN
-p udp -m udp --dport 53
-p udp -m udp ! --sport 67:68
-p udp -m udp --sport 1000 ! --dport 2000:
-p sctp -m sctp --dport 80 ! --sport 1000
-p sctp -m sctp --chunk-types any INIT,DATA
-p sctp -m sctp ! --chunk-types only INIT
-p sctp -m sctp --chunk-types all INIT,SACK,ABORT
-p dccp -m dccp --dport 5000 --dccp-types REQUEST,RESPONSE
-p dccp -m dccp ! --dccp-types INVALID --dccp-option 4
-p tcp -m multiport --dports 80,443,8000:8080
-p udp -m multiport ! --sports 53,67
-p tcp -m multiport --ports 22
-p sctp -m multiport --dports 1000:2000
-p icmp -m icmp --icmp-type 8
-p icmp -m icmp ! --icmp-type 3/3
-p icmp -m icmp --icmp-type any
-p icmp -m icmp --icmp-type 11
-p icmp -m icmp --icmp-type 5/1
-p icmp -m icmp --icmp-type echo-request
-p icmp -m icmp ! --icmp-type port-unreachable
-p tcp -m tcp --source-port 80 --destination-port 8080:8090
-p tcp -m multiport --destination-ports 80,443
-p udp -m multiport --source-ports 53:54
"""
_ADDRESSES = """
-m addrtype --src-type LOCAL
-m addrtype ! --dst-type BROADCAST,MULTICAST --limit-iface-in
-m addrtype --src-type UNICAST ! --dst-type LOCAL
-m iprange --src-range 10.0.0.1-10.0.0.9
-m iprange ! --src-range 10.0.0.1-10.0.0.9 --dst-range 192.168.0.1-192.168.0.2
-m iprange ! --dst-range 10.1.0.0-10.1.255.255
-m mark --mark 0x1
-m mark ! --mark 0x4000/0x4000
-m connmark --mark 0x2/0xff
-m connmark ! --mark 0x10
-m nfacct --nfacct-name acct1
-m pkttype --pkt-type broadcast
-m pkttype ! --pkt-type multicast
-m policy --dir in --pol none
-m policy --dir in --pol ipsec --strict --reqid 5 --spi 0x10 --proto esp --mode tunnel --tunnel-src 10.0.0.1 --tunnel-dst 10.0.0.2
-m policy --dir in --pol ipsec --strict ! --proto ah --next --mode transport
"""
_OUTPUT = """
-m owner --uid-owner 1337
-m owner ! --uid-owner 1000-2000
-m owner --gid-owner 5 --suppl-groups
-m owner --socket-exists
-m owner ! --socket-exists
-m owner --uid-owner 0 ! --gid-owner 7
-m addrtype --src-type LOCAL --limit-iface-out
-m policy --dir out --pol none
"""
_RPFILTER = """
-m rpfilter
-m rpfilter --loose --validmark --accept-local --invert
-m rpfilter --invert
"""
_MARKS = """
-j MARK --set-xmark 0x4000/0x4000
-j MARK --set-mark 0x5
-j MARK --and-mark 0xff
-j MARK --or-mark 0x10
-j MARK --xor-mark 0x3
-j MARK --set-xmark 0x5/0xff
-j CONNMARK --save-mark
-j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff00
-j CONNMARK --save-mark --mask 0xff
-j CONNMARK --set-xmark 0x1/0x1
-j CONNMARK --set-mark 0x2
-j CONNMARK --and-mark 0xf0
"""
_DNAT = """
-p tcp -j DNAT --to-destination 10.0.0.1
-p tcp -j DNAT --to-destination 10.0.0.1:8080
-p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.9:8000-8009 --random --persistent
-p tcp -j DNAT --to-destination :8080
-p tcp -j REDIRECT
-p tcp -j REDIRECT --to-ports 15001
-p tcp -j REDIRECT --to-ports 15000-15010 --random
-j NETMAP --to 10.5.0.0/16
"""
_SNAT = """
-j MASQUERADE
-p tcp -j MASQUERADE --to-ports 20000-30000 --random-fully
-j MASQUERADE --random
-j SNAT --to-source 10.0.0.1
-p udp -j SNAT --to-source 10.0.0.1-10.0.0.5:1000-2000 --random-fully
-j NETMAP --to 10.6.0.0/16
"""
_IPV6 = """
-p ipv6-icmp -m icmp6 --icmpv6-type 128
-p ipv6-icmp -m icmp6 ! --icmpv6-type 1/4
-p ipv6-icmp -m icmp6 --icmpv6-type 2
-p tcp -m tcp --dport 22 ! --sport 1:1023
-p udp -m multiport --dports 53,5353
-m addrtype --dst-type LOCAL
-m iprange --src-range fd00::1-fd00::9
-m mark ! --mark 0x1/0x1
"""
_IPV6_NAT = """
-p tcp -j DNAT --to-destination [fd00::1]:8080
-p tcp -j REDIRECT --to-ports 15001
"""
#: (family, table, chain) -> rules
RULES = {("ipv4", "filter", "INPUT"): _PORTS, ("ipv4", "filter", "FORWARD"): _ADDRESSES,
         ("ipv4", "filter", "OUTPUT"): _OUTPUT, ("ipv4", "raw", "PREROUTING"): _RPFILTER,
         ("ipv4", "mangle", "PREROUTING"): _MARKS, ("ipv4", "nat", "PREROUTING"): _DNAT,
         ("ipv4", "nat", "POSTROUTING"): _SNAT, ("ipv6", "filter", "INPUT"): _IPV6,
         ("ipv6", "nat", "PREROUTING"): _IPV6_NAT}


def _rules(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("backend", ["nft", "legacy"])
@pytest.mark.parametrize("family,table,chain", list(RULES), ids=["-".join(k) for k in RULES])
def test_core_listing_reads_back_and_prints(netns, family, table, chain, backend):
    rules = _rules(RULES[family, table, chain])
    ns = netns("core")
    nsexec(ns, sys.executable, "-I", "-S", "-c", _NFACCT, "acct1")  # -m nfacct needs its object
    text = f"*{table}\n" + "".join(f"-A {chain} {r} -j ACCEPT\n" if " -j " not in f" {r}" else f"-A {chain} {r}\n"
                                   for r in rules) + "COMMIT\n"
    r = restore(ns, text, family=family, backend=backend)
    assert r.returncode == 0, r.stderr
    kept = parse_save(save(ns, family=family, backend=backend), "iptables-save")
    saved = kept.chain(table, chain).rules
    assert len(saved) == len(rules)
    listing = run(ns, "-t", table, "-L", chain, "-n", "-v", family=family, backend=backend)
    # the reader: iptables' listing gives back iptables-save's rules
    read = parse_listing(listing, f"-L {chain}", table=table, family=family).chain(table, chain).rules
    listed = [line for line in listing.splitlines()[2:] if line.strip()]
    bad = [(line, s.to_save(), x.to_save()) for line, s, x in zip(listed, saved, read) if s.to_save() != x.to_save()]
    assert not bad and len(read) == len(saved), bad
    # the printer: our rendering of iptables-save's rules is iptables' listing, line by line
    bad = [(line, format_rule(s, numeric_proto=True)) for line, s in zip(listed, saved)
           if format_rule(s, numeric_proto=True).rstrip() != line.rstrip()]
    assert not bad, bad
    # and of the rules as written (names, aliases, defaults the printer must resolve as iptables does)
    mine = parse_save(text, family=family).chain(table, chain).rules
    bad = [(line, format_rule(m, numeric_proto=True)) for line, m in zip(listed, mine)
           if format_rule(m, numeric_proto=True).rstrip() != line.rstrip()]
    assert not bad, bad
    print(f"{family} {table} {chain} ({backend}): {len(rules)}/{len(rules)} rules read back and printed")
