"""iptables -S parsing against the seed's real pastes (prompts, prose) and a real netns."""

from __future__ import annotations

import pytest

from workbook.model import ParseError
from workbook.parse.spec import parse_spec

from tests.realparts import DATA

SEED = DATA / "seed"


def _rule_lines(path):
    return [l for l in path.read_text().splitlines() if l.startswith("-A")]


def test_seed_filter_paste_prints_back_identically():
    path = SEED / "spec-filter-prompt.txt"
    rs = parse_spec(path.read_text(), path.name)
    # table comes from the prompt line "[root@ip-192-168-3-215 modules-load.d]# iptables -t filter -S"
    assert list(rs.tables) == ["filter"] and not rs.problems
    # expected: the paste's own -A lines, in order (iptables -S prints them in iptables-save form)
    assert [r.spec for r in rs.iter_rules()] == _rule_lines(path)
    t = rs.table("filter")
    assert [c.name for c in t][:3] == ["INPUT", "FORWARD", "OUTPUT"]
    assert {c.name for c in t if not c.builtin} == {
        "KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL", "KUBE-FORWARD", "KUBE-KUBELET-CANARY",
        "KUBE-NODEPORTS", "KUBE-PROXY-CANARY", "KUBE-PROXY-FIREWALL", "KUBE-SERVICES"}
    nf = t.chain("KUBE-FORWARD").rules[0]
    # seed: "-m nfacct --nfacct-name  ct_state_invalid_dropped_pkts" (two spaces, libxt_nfacct)
    assert nf.option("--nfacct-name").value == "ct_state_invalid_dropped_pkts"
    assert t.chain("INPUT").rules[4].option("--log-prefix") is None
    assert t.chain("INPUT").rules[4].target_option("--log-prefix").value == "UDP_DROP: "


def test_seed_nat_paste_with_korean_line():
    path = SEED / "spec-nat-prompt.txt"
    with pytest.raises(ParseError) as e:
        parse_spec(path.read_text(), path.name)
    # line 7 of the snippet is "중략" ("omitted") typed by the author
    assert str(e.value) == "spec-nat-prompt.txt:7: not an iptables -S line: '중략'"
    rs = parse_spec(path.read_text(), path.name, strict=False)
    assert list(rs.tables) == ["nat"]  # from "iptables -t nat -S"
    assert [(c.name, c.policy) for c in rs.table("nat")] == [
        ("PREROUTING", "ACCEPT"), ("INPUT", "ACCEPT"), ("OUTPUT", "ACCEPT"), ("POSTROUTING", "ACCEPT")]
    assert [p.line for p in rs.problems] == [7]


def test_seed_session_two_tables():
    path = SEED / "spec-session-with-prose.txt"
    rs = parse_spec(path.read_text(), path.name, strict=False)
    assert list(rs.tables) == ["nat", "filter"]
    assert len(rs) == 17  # the 17 -A lines of the filter paste; nat paste shows only -P lines
    assert len(rs.problems) == 1 and "중략" in rs.problems[0].message


def test_table_inferred_and_noted():
    text = "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-A FORWARD -i docker0 -j ACCEPT\n"
    rs = parse_spec(text, "s.txt")
    assert list(rs.tables) == ["filter"] and rs.chain("filter", "FORWARD").policy == "DROP"
    assert any("inferred" in n for n in rs.notes)
    rs = parse_spec(text, "s.txt", table="filter")
    assert not any("inferred" in n for n in rs.notes)


def test_mangle_inferred_from_five_builtins():
    text = "".join(f"-P {c} ACCEPT\n" for c in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"))
    assert list(parse_spec(text + "-A PREROUTING -j MARK --set-xmark 0x1/0xffffffff\n").tables) == ["mangle"]


def test_bad_lines():
    with pytest.raises(ParseError) as e:
        parse_spec('-P INPUT ACCEPT\n-A INPUT -m comment --comment "x -j DROP\n', "s.txt")
    assert str(e.value) == "s.txt:2: unterminated quote"
    with pytest.raises(ParseError) as e:
        parse_spec("-P INPUT ACCEPT\n", "s.txt", table="nosuch")
    assert "unknown table 'nosuch'" in str(e.value)
    rs = parse_spec('-P INPUT ACCEPT\n-A INPUT -j\n-A INPUT -j DROP\n', "s.txt", strict=False)
    assert len(rs) == 1 and rs.problems[0].line == 2
