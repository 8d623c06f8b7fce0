"""Lazily filled rules (parse_save's fast path) equal rules built at once, field by field."""

from __future__ import annotations

import copy
import pickle
from dataclasses import asdict, replace

import pytest

from workbook.generate import generate_services, kube_proxy_save
from workbook.model import ParseError, Rule
from workbook.parse import parse_save

from tests.realparts import DATA, need, public_ruleset

SAVES = ["fffuu-parser-test.iptables-save", "fffuu-parser-test.ip6tables-save",
         "iptables-tests-fedora27-firewalld.iptables-save-c", "iptables-tests-wireless.iptables-save",
         "iptables-tests-2003-v1.2.4.iptables-save", "moby-bridge-portmap-wsl2.iptables-save",
         "serverfault-759927-ipset-whitelist.iptables-save", "tum-i8-2016-06-27.iptables-save",
         "tum-i8-2016-06-27.ip6tables-save", "medium-company-2016.iptables-save", "shorewall-sqrl-2014.iptables-save",
         "synology-ds414-2016.ip6tables-save", "docker-dfwfw-topos4.1.iptables-save", "ufw-server1.iptables-save"]


def _text(name):
    path = public_ruleset(name)
    need(path.exists(), f"{path} not present (../shared is only on the project machine)")
    return path.read_text()


def _fields(r: Rule) -> tuple:
    return tuple(getattr(r, f) for f in Rule.__dataclass_fields__ if f != "_lazy")


@pytest.mark.parametrize("name", SAVES + ["generated", "probe"])
def test_lazy_equals_eager(name):
    if name == "generated":
        text = kube_proxy_save(generate_services(300, seed=5), counters=True)
    elif name == "probe":
        text = (DATA / "rulesets" / "probe-extensions.rules").read_text()
    else:
        text = _text(name)
    lazy = list(parse_save(text, name).iter_rules())
    eager = list(parse_save(text, name, lazy=False).iter_rules())
    assert len(lazy) == len(eager)
    # the eager path (tokenize + build_rule for every line) is the reference
    assert [_fields(r) for r in lazy] == [_fields(r) for r in eager]
    assert lazy == eager and [hash(r) for r in lazy] == [hash(r) for r in eager]


def test_lazy_rule_behaves_like_a_rule():
    text = '*nat\n:X - [0:0]\n[3:180] -A X -d 10.0.0.1/32 -p udp -m comment --comment "a b" -m udp --dport 53 -j DNAT --to-destination 10.1.0.5:53\nCOMMIT\n'
    r = parse_save(text, "t.rules").chain("nat", "X").rules[0]
    assert r.spec == ('-A X -d 10.0.0.1/32 -p udp -m comment --comment "a b" -m udp --dport 53 '
                      '-j DNAT --to-destination 10.1.0.5:53')
    r2 = parse_save(text, "t.rules").chain("nat", "X").rules[0]
    assert repr(r2) == repr(r) and "_lazy" not in repr(r)
    r3 = parse_save(text, "t.rules").chain("nat", "X").rules[0]
    assert replace(r3, position=9).position == 9 and replace(r3, position=9).target == "DNAT"
    r4 = parse_save(text, "t.rules").chain("nat", "X").rules[0]
    assert pickle.loads(pickle.dumps(r4)) == r and copy.copy(r4) == r
    assert asdict(parse_save(text, "t.rules").chain("nat", "X").rules[0])["origin"] == "t.rules:3"
    assert (r.pkts, r.bytes, r.comment, r.normalized()) == (3, 180, "a b", r.normalized())
    with pytest.raises(AttributeError):
        r.no_such_field


@pytest.mark.parametrize("line,msg", [
    ('-A INPUT -m comment --comment "x', "unterminated quote"),
    ("-A INPUT -j ACCEPT stray", "unexpected word 'stray'"),
    ("-A INPUT --dport 80 -j ACCEPT", "option --dport outside any -m match"),
    ("-A INPUT -m", "-m without a module name"),
    ('-A INPUT -m comment --comment x"y -j ACCEPT', "unterminated quote"),
])
def test_bad_lines_still_fail_at_parse_time(line, msg):
    # each of these must be reported by parse_save itself, not on first access
    with pytest.raises(ParseError) as e:
        parse_save(f"*filter\n:INPUT ACCEPT [0:0]\n{line}\nCOMMIT\n", "b.rules")
    assert str(e.value) == f"b.rules:3: {msg}"
