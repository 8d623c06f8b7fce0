"""iptables-save parsing against the public dumps: every rule line prints back unchanged."""

from __future__ import annotations

import pytest

from workbook.parse import parse_save
from workbook.model import ParseError

from tests.realparts import RULESETS, need


CANONICAL = ["tum-i8-2016-06-27.iptables-save", "tum-i8-2016-06-27.ip6tables-save",
             "iptables-tests-fedora27-firewalld.iptables-save-c", "ufw-server1.iptables-save",
             "moby-bridge-portmap-wsl2.iptables-save", "shorewall-sqrl-2014.iptables-save"]


@pytest.mark.parametrize("name", CANONICAL)
def test_rule_lines_print_back_identically(name):
    path = RULESETS / name
    need(path.exists(), f"{path} not present (../shared is only on the project machine)")
    text = path.read_text()
    rs = parse_save(text, str(path))
    # expected: the dump's own rule lines, in file order (these files are chain-grouped)
    orig = [l for l in text.splitlines() if l.startswith(("-A", "["))]
    counters = orig[0].startswith("[")
    assert [r.to_save(counters) for r in rs.iter_rules()] == orig


def test_unterminated_quote_names_file_and_line():
    with pytest.raises(ParseError) as e:
        parse_save('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m comment --comment "oops -j ACCEPT\nCOMMIT\n', "bad.rules")
    assert str(e.value) == "bad.rules:3: unterminated quote"
