"""`nft -j list ruleset` read into the same model as the text listing nft printed for the same rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.realparts import RULESETS
from workbook.model import ParseError
from workbook.nft.parse_json import parse_nft_json
from workbook.nft.parse_text import parse_nft_text

DATA = Path(__file__).resolve().parent.parent / "data" / "nft"
ROOT = Path(__file__).resolve().parents[2]


def test_json_rules_read_as_the_text_listing_prints_them():
    # both files are nft's own output for the same ruleset (tests/data/nft/PROVENANCE.md)
    j = parse_nft_json((DATA / "kitchen-sink.nft.json").read_text(), "ks.json")
    t = parse_nft_text((DATA / "kitchen-sink.nft-ruleset").read_text(), "ks.txt")
    assert [(r.family, r.table, r.chain, r.position, r.spec) for r in j.iter_rules()] == \
           [(r.family, r.table, r.chain, r.position, r.spec) for r in t.iter_rules()]
    for (key, jt), tt in zip(j.tables.items(), t.tables.values()):
        assert [(s.name, s.kind, s.data, [e.key for e in s.elements], [e.value for e in s.elements]) for s in jt.sets.values()] == \
               [(s.name, s.kind, s.data, [e.key for e in s.elements], [e.value for e in s.elements]) for s in tt.sets.values()], key
        assert [(c.name, c.hook, c.priority, c.priority_text, c.policy) for c in jt.chains.values()] == \
               [(c.name, c.hook, c.priority, c.priority_text, c.policy) for c in tt.chains.values()], key
    # element comments and timeouts survive in JSON
    e = j.table("ip", "kube-proxy").set("service-ips").lookup("172.30.0.41 . tcp . 80")
    assert (e.comment, e.value) == ("ns1/svc1:p80", "goto service-ULMVA6XW-ns1/svc1/tcp/p80")
    assert j.table("ip", "kube-proxy").set("affinity-X").timeout == "3h"


def test_what_the_json_view_loses_is_said():
    # the text listing has these; nft 1.0.6's JSON of the same ruleset has not
    j = parse_nft_json((DATA / "kitchen-sink.nft.json").read_text())
    t = parse_nft_text((DATA / "kitchen-sink.nft-ruleset").read_text())
    assert t.table("ip", "kube-proxy").comment == "rules for kube-proxy" and j.table("ip", "kube-proxy").comment is None
    assert t.table("netdev", "nd").chain("ing").device == "lo" and j.table("netdev", "nd").chain("ing").device is None
    assert t.table("inet", "fw").flags == ("dormant",) and j.table("inet", "fw").flags == ()
    assert any("nft -j leaves out" in n for n in j.notes)


@pytest.mark.parametrize("name, chains, rules", [
    # counts from ../shared/rulesets/PROVENANCE.md (#21: 75 rules in 22 chains; #22: 22 in 16)
    ("calico-issue13263-nixos.nft-ip-filter.json", 22, 75),
    ("calico-issue13263-nixos.nft-ip-nat.json", 16, 22),
])
def test_public_calico_json_is_iptables_nft(name, chains, rules):
    rs = parse_nft_json((RULESETS / name).read_text(), name)
    t = rs.table("ip", name.rsplit("-", 1)[1].split(".")[0])
    assert (len(t.chains), len(rs), t.iptables_nft) == (chains, rules, True)
    # iptables-nft's -m comment has no nft translation: it stays an xt match in JSON
    assert any(r.text.startswith('xt match "comment"') for r in rs.iter_rules())


@pytest.mark.parametrize("text, why", [
    ('{"nftables": [{"table": {"family": "ip", "name": "t"', "the file is truncated"),
    ('{"nftables": [{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"frobnicate": null}]}}]}',
     "unknown statement 'frobnicate'"),
    ('{"nftables": 3}', 'no top-level "nftables" list'),
    ('{"nftables": [{"rule": {"family": "ip", "table": "t", "expr": []}}]}', "missing key 'chain'"),
])
def test_bad_json_is_one_line_with_file_and_line(text, why):
    with pytest.raises(ParseError) as e:
        parse_nft_json(text, "bad.json")
    assert str(e.value).startswith("bad.json:1: ") and why in str(e.value), str(e.value)


def test_bad_json_cli_exit_2_and_lenient_keeps_the_rest(tmp_path):
    good = (DATA / "kitchen-sink.nft.json").read_text()
    bad = good.replace('{"notrack": null}', '{"frobnicate": null}', 1)
    assert bad != good
    p = tmp_path / "bad.json"
    p.write_text(bad)
    r = subprocess.run([sys.executable, "-m", "workbook", "parse", str(p)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "unknown statement 'frobnicate'" in r.stderr
    rs = parse_nft_json(bad, str(p), strict=False)
    assert len(rs) == len(parse_nft_json(good)) - 1 and len(rs.problems) == 1
    (tmp_path / "cut.json").write_text(good[: len(good) // 2])
    r = subprocess.run([sys.executable, "-m", "workbook", "parse", str(tmp_path / "cut.json")], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "truncated" in r.stderr
