"""Kernel vs simulator on a hand-written nft ruleset that uses every statement the tracer decides.

jump, goto (the end of the goto target returns to the caller's caller; a goto from a base chain
ends in its policy), return, continue, verdict maps over concatenations, interval sets, address
ranges, ``iifname`` wildcards, ``meta mark set`` with binops, ``ct mark set``, ``ct status``,
``ct state``, ``notrack``, ``counter``, ``log``, ``limit``, ``reject``, ``dnat``/``snat``/
``masquerade`` with ports/``redirect`` in an inet table, base-chain policies, and two base
chains of different tables at the same hook and priority. Each packet's kernel path (nft
monitor trace) must be one of the simulator's branches with the same DNAT.
"""

from __future__ import annotations

import json

import pytest

from tests.lab.conftest import need_lab
from tests.nft.differential_nft import NODE_IP, NftCase, run_case
from workbook.packet import Packet

ZOO = """table inet zoo {
	set allowed {
		type ipv4_addr
		flags interval
		elements = { 10.1.0.0/16, 192.0.2.10-192.0.2.20 }
	}
	map ports {
		type inet_proto . inet_service : verdict
		elements = { tcp . 8080 : jump web, udp . 53 : goto dns }
	}
	chain prefilter {
		type filter hook prerouting priority raw; policy accept;
		iifname "eth*" meta mark set 0x00000010
		ip saddr @allowed counter jump check
		meta l4proto . th dport vmap @ports
		tcp dport 9999 notrack
		log prefix "zoo " continue
	}
	chain check {
		ip saddr 10.1.2.0/24 return
		meta mark set meta mark | 0x00000100
	}
	chain web {
		ip daddr 192.168.0.2 goto inner
		meta mark set meta mark | 0x00000001
	}
	chain inner {
		tcp sport < 1024 drop
	}
	chain dns {
		ct mark set 0x00000005
	}
	chain natpre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 192.168.0.2 tcp dport 8080 dnat ip to 10.244.3.3:80
		udp dport 5353 redirect to :53
	}
	chain forwarding {
		type filter hook forward priority filter; policy drop;
		ct status dnat accept
		meta mark & 0x00000100 == 0x00000100 accept
		ip daddr 10.99.0.0/16 reject with icmp host-unreachable
		ct state untracked accept
		ip saddr { 10.2.0.0/16, 10.3.0.0/16 } accept
	}
	chain postnat {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.2.0.0/16 oifname "nfwb-sink" snat ip to 192.168.0.2
		ip saddr 10.3.0.0/16 meta l4proto tcp masquerade to :20000-20100
	}
	chain inbound {
		type filter hook input priority filter; policy accept;
		tcp dport 22 limit rate 10/second accept
		tcp dport 23 drop
	}
	chain outbound {
		type filter hook output priority filter; policy accept;
		ip daddr 10.50.0.0/16 tcp dport 81 drop
	}
}
table ip zoo2 {
	chain fwd2 {
		type filter hook forward priority filter; policy accept;
		counter
	}
}
"""

FLOWS = [
    ("return-then-jump-goto-end-returns-to-pre, dnat", Packet("10.1.2.5", NODE_IP, "tcp", 40000, 8080)),
    ("mark-then-web-end, forward by mark", Packet("10.1.5.5", "10.50.0.1", "tcp", 40001, 8080)),
    ("range-set, goto from base chain ends in its policy", Packet("192.0.2.15", "10.50.0.1", "udp", 40002, 53)),
    ("reject", Packet("10.7.0.1", "10.99.1.1", "tcp", 40003, 80)),
    ("forward policy drop", Packet("10.7.0.1", "10.50.0.1", "tcp", 40004, 80)),
    ("input limit accept", Packet("10.7.0.1", NODE_IP, "tcp", 40005, 22)),
    ("input drop", Packet("10.7.0.1", NODE_IP, "tcp", 40006, 23)),
    ("notrack", Packet("10.2.0.5", "10.50.0.1", "tcp", 40007, 9999)),
    ("redirect", Packet("10.2.0.5", "10.50.0.1", "udp", 40008, 5353)),
    ("snat", Packet("10.2.0.5", "10.50.0.1", "tcp", 40009, 80)),
    ("masquerade to ports", Packet("10.3.0.5", "10.50.0.1", "tcp", 40010, 80)),
    ("node output drop", Packet(NODE_IP, "10.50.0.1", "tcp", 40011, 81, None, True)),
    ("node output accept", Packet(NODE_IP, "10.50.0.1", "tcp", 40012, 80, None, True)),
]


def test_every_statement_as_the_kernel_runs_it():
    need_lab("nft")
    case = NftCase("zoo", ZOO, None, (NODE_IP,), [p for _, p in FLOWS], [k for k, _ in FLOWS])
    results = run_case(case)
    bad = [r for r in results if not r["agree"]]
    assert not bad, json.dumps(bad, indent=1, default=str)[:8000]
    verdicts = {r["kind"]: r["kernel_verdict"] for r in results}
    # by hand from the rules above (and what the kernel did)
    assert verdicts["reject"] == "REJECT" and verdicts["forward policy drop"] == "DROP"
    assert verdicts["input drop"] == "DROP" and verdicts["node output drop"] == "DROP"
    assert verdicts["snat"] == verdicts["notrack"] == verdicts["redirect"] == "ACCEPT"
