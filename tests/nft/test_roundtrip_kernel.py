"""Round trip with the kernel as the oracle: parse → print → ``nft -f`` in a throw-away namespace →
``nft list ruleset`` gives back the listing we started from."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.realparts import need, public_ruleset
from workbook.generate import generate_services, kube_proxy_nft
from workbook.nft.kube_proxy import kube_proxy_nft as kube_proxy_state
from workbook.nft.parse_json import parse_nft_json
from workbook.nft.parse_text import parse_nft_text

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "nft"


def nft(ns: str, *args: str, stdin: str | None = None) -> str:
    p = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=stdin, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def roundtrip(netns, text: str) -> tuple[str, str, str]:
    """(nft's listing of ``text``, our print of that listing, nft's listing of our print)."""
    a, b = netns("rta"), netns("rtb")
    nft(a, "-f", "-", stdin=text)
    listing = nft(a, "list", "ruleset")
    printed = parse_nft_text(listing, "listing").to_nft()
    nft(b, "-f", "-", stdin=printed)
    return listing, printed, nft(b, "list", "ruleset")


def untimed(listing: str) -> str:
    """The listing without element ``expires`` values: their timers run between two listings."""
    return re.sub(r" expires \w+", "", listing)


FIXTURES = {
    "kitchen-sink": DATA / "kitchen-sink.nft-ruleset",
    "moby-docker-bridges": public_ruleset("moby-bridge-portmap-wsl2.nft"),
    "ongy-2015": public_ruleset("ongy-flat-share-2015.nft-ruleset"),
    "ocp4-iptables-nft-2019": public_ruleset("ocp4-master-sosreport-2019.nft-ruleset"),
    "kube-proxy-nft-dump": ROOT / "tests" / "data" / "dumps" / "nfwb-kube-proxy-nft" / "kernel" / "nft-ruleset.txt",
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_parse_print_load_list_gives_the_same_listing(netns, name):
    need(subprocess.run(["which", "nft"], capture_output=True).returncode == 0, "nft not installed")
    original = FIXTURES[name].read_text()
    # older/newer listings are loaded through our printer (portable: moby's golden names dstnat at
    # hook output, which nft 1.0.6 refuses); nft's own listing of it is the text to give back
    source = parse_nft_text(original, name)
    listing, printed, relisted = roundtrip(netns, source.to_nft(portable=True))
    assert printed == listing                           # our printer reproduces nft's listing byte for byte
    assert untimed(relisted) == untimed(listing)        # and nft reads it back into the same ruleset
    again = parse_nft_text(listing, name)
    # nothing lost on the way: same tables, chains, rule count as the fixture
    assert [(f, n, list(t.chains)) for (f, n), t in again.tables.items()] == \
           [(f, n, list(t.chains)) for (f, n), t in source.tables.items()]
    assert len(again) == len(source)


def test_kitchen_sink_listing_is_nfts_own(netns):
    # kitchen-sink.nft-ruleset is nft 1.0.6's listing of kitchen-sink.nft: loading the script gives it again
    a = netns("ks")
    nft(a, "-f", str(DATA / "kitchen-sink.nft"))
    listing = nft(a, "list", "ruleset")
    assert untimed(listing) == untimed((DATA / "kitchen-sink.nft-ruleset").read_text())


def test_generated_kube_proxy_ruleset_of_1000_services_round_trips(netns):
    script = kube_proxy_nft(generate_services(1000, seed=5, features=True))
    listing, printed, relisted = roundtrip(netns, script)
    assert printed == listing and untimed(relisted) == untimed(listing)
    rs = parse_nft_text(listing, "kube-proxy-1k")
    # every generated service port is in kube-proxy's maps (1000 of them, as generated)
    assert len(kube_proxy_state(rs).service_ports) == 1000


def test_json_listing_of_a_generated_kube_proxy_ruleset_reads_as_the_text(netns):
    # nft -j and nft list of the same kernel ruleset: the same rules, sets and elements
    a = netns("json")
    nft(a, "-f", "-", stdin=kube_proxy_nft(generate_services(60, seed=9, features=True)))
    text = parse_nft_text(nft(a, "list", "ruleset"), "text")
    js = parse_nft_json(nft(a, "-j", "list", "ruleset"), "json")
    assert [(r.chain, r.spec) for r in js.iter_rules()] == [(r.chain, r.spec) for r in text.iter_rules()]
    assert [(s.name, [(e.key, e.value, e.comment) for e in s.elements]) for s in js.iter_sets()] == \
           [(s.name, [(e.key, e.value, e.comment) for e in s.elements]) for s in text.iter_sets()]


IP6 = """table ip6 kube-proxy {
	comment "rules for kube-proxy"
	set cluster-ips {
		type ipv6_addr
		elements = { fd00:10:96::1, fd00:10:96::a }
	}
	map service-ips {
		type ipv6_addr . inet_proto . inet_service : verdict
		elements = { fd00:10:96::1 . tcp . 443 : goto service-42NFTM6N-default/kubernetes/tcp/https }
	}
	map no-endpoint-services {
		type ipv6_addr . inet_proto . inet_service : verdict
		elements = { fd00:10:96::a . udp . 53 comment "kube-system/kube-dns:dns" : goto reject-chain }
	}
	chain reject-chain {
		reject
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip6 daddr . meta l4proto . th dport vmap @service-ips
	}
	chain service-42NFTM6N-default/kubernetes/tcp/https {
		numgen random mod 2 vmap { 0 : goto endpoint-A, 1 : goto endpoint-B }
	}
	chain endpoint-A {
		ip6 saddr fd00:10:244::5 jump mark-for-masquerade
		meta l4proto tcp dnat to [fd00:10:244::5]:6443
	}
	chain endpoint-B {
		meta l4proto tcp dnat to [fd00:10:244::6]:6443
	}
	chain mark-for-masquerade {
		meta mark set meta mark | 0x4000
	}
}
"""


def test_ipv6_kube_proxy_table_round_trips(netns):
    # IPv6 keys hold "::" (not " : "), DNAT targets are bracketed [addr]:port
    listing, printed, relisted = roundtrip(netns, IP6)
    assert printed == listing and relisted == listing
    rs = parse_nft_text(listing)
    nat = rs.table("ip6", "kube-proxy").chain("endpoint-A").rules[1].statements[-1]
    assert (nat.kind, nat.addr, nat.port) == ("dnat", "fd00:10:244::5", "6443")
    k = kube_proxy_state(rs)
    assert (sorted(k.services), sorted(k.cluster_ips_without_endpoints)) == (
        ["default/kubernetes", "kube-system/kube-dns"], ["fd00:10:96::a"])
    assert [c.name for c in rs.base_chains("ip6", "prerouting")] == ["nat-prerouting"]


def test_element_wrapping_of_every_common_type(netns):
    # nft wraps named set elements by type (5 a line, 2 a line, or 1 a line): its listing is the oracle
    sets = {"ipv4_addr": [f"10.0.0.{i}" for i in range(1, 8)], "ipv6_addr": [f"fd00::{i}" for i in range(1, 5)],
            "inet_service": [str(p) for p in range(80, 92)], "inet_proto": ["tcp", "udp", "sctp", "icmp", "gre", "esp"],
            "mark": [hex(i) for i in range(1, 8)], "ifname": [f'"eth{i}"' for i in range(4)],
            "ether_addr": [f"02:00:00:00:00:0{i}" for i in range(1, 4)], "ct_state": ["new", "established", "related"],
            "ipv4_addr . inet_service": [f"10.0.0.{i} . {80 + i}" for i in range(1, 4)]}
    body = "".join(f"\tset s{i} {{\n\t\ttype {t}\n\t\telements = {{ {', '.join(v)} }}\n\t}}\n"
                   for i, (t, v) in enumerate(sets.items()))
    body += ("\tmap m {\n\t\ttype ipv4_addr : verdict\n\t\telements = { "
             + ", ".join(f"10.1.0.{i} : drop" for i in range(1, 6)) + " }\n\t}\n")
    listing, printed, relisted = roundtrip(netns, "table inet t {\n" + body + "}\n")
    assert printed == listing and relisted == listing
