"""diff_rulesets / nfwb diff: the seed's before/after PREROUTING and hand-made cases."""

import json

from workbook.cli import main
from workbook.diff import diff_rulesets
from workbook.parse import parse, parse_save

from tests.checks.shared import CHECKS_DATA

BEFORE = CHECKS_DATA / "seed-prerouting-before.iptables-save"
AFTER = CHECKS_DATA / "seed-prerouting-after.iptables-save"


def test_seed_duplicate_is_one_added_rule_at_position_5():
    d = diff_rulesets(parse(BEFORE), parse(AFTER))
    # the seed's second listing has one more line, the 5th: '… ADDRTYPE match dst-type LOCAL' → CNI-HOSTPORT-DNAT
    assert d.frame[["change", "table", "chain", "position_b", "spec"]].values.tolist() == [
        ["added", "nat", "PREROUTING", 5, "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"]]
    text = d.text()
    assert "@@ nat PREROUTING @@" in text
    assert "\n+-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n" in text


def test_seed_cli_exit_codes_and_json(capsys):
    assert main(["diff", str(BEFORE), str(AFTER), "--json"]) == 1     # they differ, like diff(1)
    doc = json.loads(capsys.readouterr().out)
    assert [(c["change"], c["position_b"]) for c in doc["changes"]] == [("added", 5)]
    assert main(["diff", str(BEFORE), str(BEFORE)]) == 0
    assert "no differences" in capsys.readouterr().out


A = '''*filter
:INPUT ACCEPT [10:1000]
:FORWARD ACCEPT [0:0]
:OLD - [0:0]
[1:60] -A INPUT -i lo -j ACCEPT
[2:120] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
[3:180] -A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
[0:0] -A INPUT -p tcp -m tcp --dport 443 -j ACCEPT
[4:240] -A INPUT -j DROP
[0:0] -A OLD -j RETURN
COMMIT
'''
B = '''*filter
:INPUT DROP [10:1000]
:FORWARD ACCEPT [0:0]
:NEW - [0:0]
[1:60] -A INPUT -i lo -j ACCEPT
[3:180] -A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
[0:0] -A INPUT -p tcp -m tcp --dport 443 -j ACCEPT
[7:420] -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
[4:240] -A INPUT -p udp -m udp --dport 53 -j ACCEPT
COMMIT
'''


def test_moved_removed_added_counters_chains_policy():
    d = diff_rulesets(parse_save(A, "a"), parse_save(B, "b"))
    got = sorted((r["change"], r["chain"], r["position_a"], r["position_b"], r["spec"], r["d_pkts"]) for r in d.rows)
    # by hand: lo, 80, 443 keep their order (the longest common run); dport 22 went from 2nd to 4th
    # (below 80 and 443) = moved, counter 2 → 7 (+5) shown on the moved row; DROP (5th) removed;
    # udp 53 added at 5; policy ACCEPT → DROP;
    # chain OLD removed with its rule, NEW added (empty); dport 80 and lo unchanged with equal counters.
    assert got == sorted([
        ("policy", "INPUT", None, None, None, None),
        ("moved", "INPUT", 2, 4, "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT", 5),
        ("removed", "INPUT", 5, None, "-A INPUT -j DROP", None),
        ("added", "INPUT", None, 5, "-A INPUT -p udp -m udp --dport 53 -j ACCEPT", None),
        ("chain-removed", "OLD", None, None, None, None),
        ("removed", "OLD", 1, None, "-A OLD -j RETURN", None),
        ("chain-added", "NEW", None, None, None, None),
    ], key=str)
    pol = [r for r in d.rows if r["change"] == "policy"][0]
    assert (pol["old"], pol["new"]) == ("ACCEPT", "DROP")
    assert "# moved: -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT  (position 2 -> 4)" in d.text()


def test_counter_only_change():
    a = parse_save("*nat\n:P ACCEPT [0:0]\n[5:300] -A P -j RETURN\nCOMMIT\n", "a")
    b = parse_save("*nat\n:P ACCEPT [0:0]\n[8:480] -A P -j RETURN\nCOMMIT\n", "b")
    d = diff_rulesets(a, b)
    assert [(r["change"], r["d_pkts"], r["d_bytes"]) for r in d.rows] == [("counters", 3, 180)]
    assert not d   # counters alone do not make the rules differ


def test_seed_listings_diff():
    d = diff_rulesets(parse(CHECKS_DATA / "seed-prerouting-before.iptables-Lnv"),
                      parse(CHECKS_DATA / "seed-prerouting-after.iptables-Lnv"))
    assert [(r["change"], r["position_b"], r["pkts_b"]) for r in d.rows] == [("added", 5, 0)]
