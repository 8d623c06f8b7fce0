"""Parsing what xtables-monitor --trace prints (lines captured from iptables 1.8.9 on kernel 6.18)."""

from workbook.lab import MonitorEvent, nft_handles, parse_monitor

# Captured verbatim from `ip netns exec N xtables-monitor --trace` while one UDP packet went
# through the ruleset of test_kernel_trace.RULES_FORWARD_DROP.
CAPTURED = """\
PACKET: 2 8c676e63 IN=eth0 MACSRC=de:97:32:6b:2f:50 MACDST=5a:3a:42:25:e0:73 MACPROTO=0800 SRC=10.0.0.2 DST=10.96.0.10 LEN=29 TOS=0x0 TTL=64 ID=25689 DF SPORT=40001 DPORT=53 
 TRACE: 2 8c676e63 raw:PREROUTING:rule:0x3:CONTINUE  -4 -t raw -A PREROUTING -s 10.0.0.2/32 -d 10.96.0.10/32 -p udp -m udp --sport 40001 --dport 53 -j TRACE
 TRACE: 2 8c676e63 raw:PREROUTING:policy:ACCEPT 
PACKET: 2 8c676e63 IN=eth0 MACSRC=de:97:32:6b:2f:50 MACDST=5a:3a:42:25:e0:73 MACPROTO=0800 SRC=10.0.0.2 DST=10.96.0.10 LEN=29 TOS=0x0 TTL=64 ID=25689 DF SPORT=40001 DPORT=53 
 TRACE: 2 8c676e63 mangle:PREROUTING:rule:0x7:JUMP:M  -4 -t mangle -A PREROUTING -j M
 TRACE: 2 8c676e63 mangle:M:rule:0x8:CONTINUE  -4 -t mangle -A M -p udp -j MARK --set-xmark 0x10/0x10
 TRACE: 2 8c676e63 mangle:M:rule:0x9:0xfffffffb  -4 -t mangle -A M -j RETURN
 TRACE: 2 8c676e63 mangle:PREROUTING:policy:ACCEPT 
 TRACE: 2 8c676e63 nat:PREROUTING:rule:0x8:GOTO:X  -4 -t nat -A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -g X
 TRACE: 2 8c676e63 nat:X:rule:0xa:ACCEPT  -4 -t nat -A X -p udp -j DNAT --to-destination 10.244.1.5:53
 TRACE: 2 8c676e63 filter:FORWARD:policy:DROP 
"""


def test_parse_captured_monitor_output():
    ev = parse_monitor(CAPTURED)
    # 9 TRACE lines; the 2 PACKET lines are not events
    assert len(ev) == 9
    assert {e.trace_id for e in ev} == {"8c676e63"}
    # (table, chain, kind, handle, verdict) read off the lines above by eye
    assert [(e.table, e.chain, e.kind, e.handle, e.verdict) for e in ev] == [
        ("raw", "PREROUTING", "rule", 3, "CONTINUE"),
        ("raw", "PREROUTING", "policy", None, "ACCEPT"),
        ("mangle", "PREROUTING", "rule", 7, "JUMP:M"),
        ("mangle", "M", "rule", 8, "CONTINUE"),
        ("mangle", "M", "rule", 9, "RETURN"),          # 0xfffffffb is NFT_RETURN (-5)
        ("mangle", "PREROUTING", "policy", None, "ACCEPT"),
        ("nat", "PREROUTING", "rule", 8, "GOTO:X"),
        ("nat", "X", "rule", 10, "ACCEPT"),            # nft's DNAT ends the chain with accept
        ("filter", "FORWARD", "policy", None, "DROP"),
    ]
    assert ev[4].text == "-A M -j RETURN"
    assert ev[-1].text is None


def test_not_a_trace_line():
    assert MonitorEvent.parse("PACKET: 2 8c676e63 IN=eth0") is None
    assert MonitorEvent.parse("") is None


def test_nft_handles_skips_chain_header_and_type_line():
    listing = """table ip filter { # handle 3
	chain INPUT { # handle 1
		type filter hook input priority filter; policy accept;
		counter packets 0 bytes 0 jump KUBE-SERVICES # handle 5
	}

	chain KUBE-SERVICES { # handle 4
		meta l4proto tcp ip daddr 10.96.0.11 tcp dport 80 counter packets 0 bytes 0 reject # handle 7
		meta l4proto udp ip daddr 10.96.0.12 udp dport 53 counter packets 0 bytes 0 reject # handle 9
	}
}"""
    # handles in listing order; the "# handle 1/4" of the chain lines are chain handles, not rules
    assert nft_handles(listing) == {"INPUT": [5], "KUBE-SERVICES": [7, 9]}
