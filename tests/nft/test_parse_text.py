"""`nft list ruleset` text read into the nft model: the kitchen-sink listing nft 1.0.6 printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbook.model import ParseError
from workbook.nft.parse_text import parse_nft_text
from workbook.nft.statements import Match, Nat, Reject, SetField, SetUpdate, Verdict, VerdictMap

DATA = Path(__file__).resolve().parent.parent / "data" / "nft"


def load(name: str, **kw):
    p = DATA / name
    return parse_nft_text(p.read_text(), str(p), **kw)


def test_tables_families_and_counts_as_listed():
    rs = load("kitchen-sink.nft-ruleset")
    # six tables, in the order kitchen-sink.nft made them
    assert list(rs.tables) == [("ip", "kube-proxy"), ("inet", "fw"), ("bridge", "br"), ("netdev", "nd"), ("arp", "a"),
                              ("inet", "t2")]
    kp = rs.table("ip", "kube-proxy")
    assert kp.comment == "rules for kube-proxy"
    assert rs.table("inet", "fw").flags == ("dormant",)
    assert sorted(kp.sets) == ["affinity-X", "cluster-ips", "iv", "service-ips", "withel"]
    assert [(o.kind, o.name, o.body) for o in kp.objects] == [("counter", "cnt1", ["packets 3 bytes 4"]),
                                                              ("quota", "q1", ["over 100 mbytes"])]


def test_base_chains_priority_names_resolved_per_family():
    rs = load("kitchen-sink.nft-ruleset")
    got = {(c.family, c.name): (c.type, c.hook, c.priority_text, c.priority, c.policy, c.device)
           for c in rs.iter_chains() if c.is_base}
    # dstnat = -100 and srcnat = 100 for ip; bridge's dstnat is -300 and out is 100 (nft's
    # bridge_std_prios); "filter + 5" = 5; the netdev chain names its device.
    assert got[("ip", "filter-prerouting-pre-dnat")] == ("filter", "prerouting", "dstnat - 10", -110, "accept", None)
    assert got[("ip", "filter-output-pre-dnat")] == ("filter", "output", "-110", -110, "accept", None)
    assert got[("ip", "nat-postrouting")] == ("nat", "postrouting", "srcnat", 100, "accept", None)
    assert got[("inet", "in")] == ("filter", "input", "filter + 5", 5, "drop", None)
    assert got[("bridge", "pre")] == ("filter", "prerouting", "dstnat", -300, "accept", None)
    assert got[("bridge", "out")] == ("filter", "output", "out", 100, "accept", None)
    assert got[("netdev", "ing")] == ("filter", "ingress", "filter", 0, "accept", "lo")
    assert rs.table("ip", "kube-proxy").chain("firewall-check").comment == "chain comment"


def test_verdict_map_elements_with_comments_and_timeouts():
    rs = load("kitchen-sink.nft-ruleset")
    kp = rs.table("ip", "kube-proxy")
    m = kp.set("service-ips")
    assert (m.kind, m.type, m.data, m.is_vmap) == ("map", "ipv4_addr . inet_proto . inet_service", "verdict", True)
    # elements are printed in hash order, three of them over three lines
    e = m.lookup("172.30.0.41 . tcp . 80")
    assert (e.value, e.comment) == ("goto service-ULMVA6XW-ns1/svc1/tcp/p80", "ns1/svc1:p80")
    assert m.lookup("10.96.0.10 . udp . 53").value == "drop"
    assert [x.key for x in kp.set("cluster-ips").elements] == ["10.96.0.1", "10.96.0.10", "172.30.0.41"]
    w = kp.set("withel").elements[0]
    assert (w.key, w.timeout, w.comment) == ("1.2.3.4", "1h", "x y") and "m" in w.expires
    a = kp.set("affinity-X")
    assert (a.flags, a.timeout, a.size, a.elements) == (("dynamic", "timeout"), "3h", 65535, [])
    assert [x.key for x in kp.set("iv").elements] == ["10.0.0.0/8", "192.168.1.1-192.168.1.9"]


def test_rules_split_into_statements_the_tracer_compiles():
    rs = load("kitchen-sink.nft-ruleset")
    kp = rs.table("ip", "kube-proxy")
    vm = kp.chain("services").rules[0].statements[0]
    assert isinstance(vm, VerdictMap) and vm.map.name == "service-ips"
    assert [p.text for p in vm.key.parts] == ["ip daddr", "meta l4proto", "th dport"]
    fib, vm2 = kp.chain("services").rules[1].statements
    assert (fib.left.kind, fib.left.args, fib.left.key, fib.right.text, fib.implicit) == ("fib", ("daddr",), "type", "local", True)
    ng = kp.chain("service-X").rules[1].statements[0]
    assert (ng.key.kind, ng.key.key, ng.key.modulus) == ("numgen", "random", 2)
    assert [(str(e.key), e.value.kind, e.value.target) for e in ng.map.elements] == [
        ("0", "goto", "endpoint-A"), ("1", "goto", "endpoint-B")]
    ep = kp.chain("endpoint-A").rules
    upd, nat = ep[1].statements[0], ep[2].statements[1]
    assert isinstance(upd, SetUpdate) and (upd.op, upd.set, upd.key.text) == ("update", "affinity-X", "ip saddr")
    assert isinstance(nat, Nat) and (nat.kind, nat.addr, nat.port) == ("dnat", "10.180.0.1", "80")
    masq = kp.chain("masquerading").rules
    mk = masq[0].statements[0]
    assert isinstance(mk, Match) and (mk.left.op, mk.left.right.text, mk.op, mk.right.text) == ("&", "0x00004000", "==", "0x00000000")
    st = masq[1].statements[0]
    assert isinstance(st, SetField) and (st.field.key, st.value.op) == ("mark", "^")
    misc = kp.chain("misc").rules
    assert isinstance(misc[3].statements[0], Reject) and misc[3].statements[0].code == "host-unreachable"
    sn = misc[6].statements[-1]
    assert (sn.kind, sn.addr, sn.port, sn.flags) == ("snat", "1.2.3.4-1.2.3.9", "1000-2000", ("persistent",))
    assert misc[7].statements[-1].port == "15001"
    assert kp.chain("endpoint-B").rules[0].comment == "hi there"
    assert kp.chain("endpoint-B").rules[0].counter == (0, 0)
    assert kp.chain("endpoint-B").rules[0].spec == 'meta l4proto tcp counter dnat to 10.180.0.2:80 comment "hi there"'
    v = misc[-1].statements[-1]
    assert isinstance(v, Verdict) and v.kind == "continue"


def test_handles_and_stateless_forms_give_the_same_rules():
    plain, with_a, stateless = (load(n) for n in ("kitchen-sink.nft-ruleset", "kitchen-sink.nft-ruleset-a",
                                                  "kitchen-sink.nft-ruleset-s"))
    assert [r.text for r in with_a.iter_rules()] == [r.text for r in plain.iter_rules()]
    assert [r.spec for r in stateless.iter_rules()] == [r.spec for r in plain.iter_rules()]
    # nft -a numbers the rules of table ip kube-proxy from 23 (after its 22 objects/sets/chains)
    first = next(with_a.iter_rules())
    assert (first.chain, first.handle, first.text) == ("filter-prerouting-pre-dnat", 23, "ct state new jump firewall-check")
    assert with_a.table("ip", "kube-proxy").handle == 1  # the first table of a fresh namespace


@pytest.mark.parametrize("name", ["kitchen-sink.nft-ruleset", "kitchen-sink.nft-ruleset-a", "kitchen-sink.nft-ruleset-s"])
def test_printer_gives_back_the_listing_byte_for_byte(name):
    text = (DATA / name).read_text()
    rs = parse_nft_text(text)
    assert rs.to_nft(handles=name.endswith("-a"), stateless=name.endswith("-s")) == text


@pytest.mark.parametrize("text, line, why", [
    ("table ip t {\n\tchain c {\n\t\tip daddr 1.2.3.4 accept\n", 2, "unbalanced braces: chain c is not closed"),
    ("table ip t {\n\tchain c {\n\t\tip daddr 1.2.3.4 frobnicate\n\t}\n}\n", 3, "unknown statement 'frobnicate'"),
    ("table ip t {\n\tchain c {\n\t\tiifname \"eth0 accept\n\t}\n}\n", 3, "unterminated quote"),
    ("}\n", 1, "unbalanced braces"),
    ("table ip t {\n\tchain c {\n\t\ttype filter hook input priority bogus; policy accept;\n\t}\n}\n", 3,
     "unknown priority 'bogus'"),
])
def test_bad_input_names_file_and_line(text, line, why):
    with pytest.raises(ParseError) as e:
        parse_nft_text(text, "bad.nft")
    assert str(e.value).startswith(f"bad.nft:{line}: ") and why in str(e.value) and "\n" not in str(e.value)


def test_lenient_keeps_the_rest():
    text = "table ip t {\n\tchain c {\n\t\tip daddr 1.2.3.4 frobnicate\n\t\tip daddr 1.2.3.5 accept\n\t}\n}\n"
    rs = parse_nft_text(text, "bad.nft", strict=False)
    assert [r.text for r in rs.iter_rules()] == ["ip daddr 1.2.3.5 accept"]
    assert [str(p) for p in rs.problems] == ["bad.nft:3: unknown statement 'frobnicate' in rule: ip daddr 1.2.3.4 frobnicate"]


def test_the_common_shapes_read_as_the_full_reader_reads_them(monkeypatch):
    """kube-proxy's most frequent rule shapes are built directly (rule_text._common_shape); every rule of
    a generated kube-proxy listing and near-shape variants give the same statements, or the same error."""
    from workbook.generate import generate_services, kube_proxy_nft
    from workbook.nft import rule_text as rt
    texts = [line.strip() for line in kube_proxy_nft(generate_services(60, seed=5)).splitlines()
             if line.startswith("\t\t") and line.strip()]
    texts += ["ip saddr 10.0.0.1 jump x", "ip saddr != 10.0.0.0/8 goto y", "ip daddr 1.2.3.4 counter jump x",
              "meta l4proto udp dnat to [fd00::1]:53", "dnat to 10.0.0.1", "ip saddr set 1.2.3.4", "ip saddr vmap @m",
              "ip saddr & 0xff == 1 jump x", "ip saddr 10.0.0.1  jump x", "ip saddr == 1.2.3.4 jump x",
              "ip saddr 1.2.3.4 . tcp jump x", "ip saddr", "jump", "goto x y", "meta l4proto tcp dnat to 1.2.3.4:80 random",
              "numgen random mod 2 vmap { 0 : goto a/b__10.0.0.1/80, 1 : jump c }", "numgen random mod 1 vmap { 0 : goto a }",
              "numgen random mod 2 offset 1 vmap { 1 : goto a, 2 : goto b }", "numgen random mod 2 vmap { 0 : goto a,1 : goto b }",
              "numgen random mod 2 vmap {0 : goto a}", "numgen random mod 2 vmap { 0 : goto \"a\" }",
              "numgen random mod 2 vmap { 0 : goto e__fd00::1/80 }", "numgen inc mod 2 vmap { 0 : goto a }",
              "numgen random mod 2 vmap { 0 : accept }", "numgen random mod 2 vmap { 0 : goto a } counter",
              "numgen random mod 2 vmap { 0 - 1 : goto a }", "numgen random mod 2 vmap @m", "numgen random mod 2 vmap { }"]

    def read(text):
        try:
            return rt.parse_rule_text(text)
        except rt.RuleTextError as e:
            return f"error: {e}"
    assert sum(rt._common_shape(t) is not None for t in texts) > len(texts) // 3
    fast = [read(t) for t in texts]
    monkeypatch.setattr(rt, "_common_shape", lambda text: None)
    assert fast == [read(t) for t in texts]
