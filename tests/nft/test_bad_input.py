"""Hostile and broken nft dumps: one line naming file:line, exit 2, never a traceback; lenient keeps the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.realparts import RULESETS
from workbook.model import ParseError
from workbook.nft.parse_json import parse_nft_json
from workbook.parse import parse

ROOT = Path(__file__).resolve().parents[2]


def nfwb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbook", *args], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("body, line, why", [
    # a rule cut off in the middle of an anonymous set: the braces of the rule do not close
    ("table ip t {\n\tchain c {\n\t\ttcp dport { 22, 80 accept\n\t}\n}\n", 3, "expected ',' or '}' in a set"),
    ("table ip t {\n\tchain c {\n\t\tip daddr 10.0.0.1 frobnicate 3\n\t}\n}\n", 3, "unknown statement 'frobnicate'"),
    ("table ip t {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = { 10.0.0.1,\n", 4, "elements not closed"),
    ("table ip t {\n\tchain c {\n\t\tip saddr " + "{ " * 500 + "1.1.1.1" + " }" * 500 + " accept\n\t}\n}\n", 3,
     "nested more than 64 deep"),
    ("table ipx t {\n}\n", 1, "unknown family 'ipx'"),
])
def test_bad_text_is_one_line_exit_2(tmp_path, body, line, why):
    p = tmp_path / "nft-ruleset.txt"
    p.write_text(body)
    r = nfwb("parse", str(p))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"nfwb parse: error: {p}:{line}: ") and why in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_deeply_nested_json_is_refused_not_a_crash(tmp_path):
    inner = '{"set": [1]}'
    for _ in range(3000):
        inner = '{"&": [' + inner + ", 1]}"
    text = ('{"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"match": '
            '{"op": "==", "left": {"meta": {"key": "mark"}}, "right": ' + inner + "}}]}}]}")
    with pytest.raises(ParseError) as e:
        parse_nft_json(text, "deep.json")
    assert str(e.value) == "deep.json:1: JSON nested too deeply"
    p = tmp_path / "deep.json"
    p.write_text(text)
    r = nfwb("parse", str(p))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_lenient_cli_warns_and_keeps_the_good_rules(tmp_path):
    p = tmp_path / "nft.txt"
    p.write_text("table ip t {\n\tchain c {\n\t\tip daddr 10.0.0.1 frobnicate\n\t\tip daddr 10.0.0.2 drop\n\t}\n}\n")
    r = nfwb("parse", "--lenient", "--csv", str(p))
    assert r.returncode == 0 and r.stderr.startswith(f"warning: {p}:3: unknown statement 'frobnicate'")
    assert r.stdout.count("\n") == 2 and "ip daddr 10.0.0.2 drop" in r.stdout


def test_iptables_nft_warnings_captured_with_the_listing(tmp_path):
    # `nft list ruleset 2>&1` puts iptables-nft's stderr warnings in the file: read, not a problem
    text = ("# Warning: table ip nat is managed by iptables-nft, do not touch!\n"
            "table ip nat {\n\tchain KUBE-X {\n\t}\n}\n"
            "table ip mine {\n\tchain c {\n\t}\n}\n")
    rs = parse(text)
    assert rs.problems == [] and rs.table("ip", "nat").iptables_nft and not rs.table("ip", "mine").iptables_nft
    assert rs.warnings == ["# Warning: table ip nat is managed by iptables-nft, do not touch!"]


def test_flowtables_and_devices_are_kept():
    # nft 1.0.6 layout of a flowtable (hand-written: this kernel has no nf_flow_table module)
    text = ("table inet f {\n\tflowtable ft {\n\t\thook ingress priority filter\n\t\tdevices = { eth0, eth1 }\n\t}\n\n"
            "\tchain fwd {\n\t\ttype filter hook forward priority filter; policy accept;\n"
            "\t\tip protocol tcp flow add @ft\n\t}\n}\n")
    rs = parse(text)
    ft = rs.table("inet", "f").flowtables["ft"]
    assert (ft.hook, ft.priority_text, ft.devices) == ("ingress", "filter", ("eth0", "eth1"))
    assert rs.to_nft() == text
    assert type(next(rs.iter_rules()).statements[-1]).__name__ == "Other"


def test_nft_list_table_output_is_read():
    # moby's golden file is `nft list table ip docker-bridges`: one table
    rs = parse(RULESETS / "moby-bridge-portmap-wsl2.nft")
    assert list(rs.tables) == [("ip", "docker-bridges")] and rs.table("ip", "docker-bridges").set(
        "filter-forward-in-jumps").lookup('"br-dummy"').value == "jump filter-forward-in__br-dummy"
