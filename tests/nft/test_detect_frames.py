"""`workbook.parse` / `nfwb parse` on nft dumps, and the rules frame of an nft ruleset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.realparts import RULESETS
from workbook.nft.model import NftRuleset
from workbook.parse import parse

DATA = Path(__file__).resolve().parent.parent / "data" / "nft"
ROOT = Path(__file__).resolve().parents[2]
SOS = ROOT / "tests" / "data" / "dumps" / "sosreport-master1-2019-07-01-kzqtnrm" / "sos_commands" / "networking"


@pytest.mark.parametrize("path, fmt, rules", [
    # rule counts: ../shared/rulesets/PROVENANCE.md (#12: 23, #20: 7, #30: 19)
    (RULESETS / "ongy-flat-share-2015.nft-ruleset", "nft", 23),
    (RULESETS / "ocp4-master-sosreport-2019.nft-ruleset", "nft", 7),
    (RULESETS / "moby-bridge-portmap-wsl2.nft", "nft", 19),
    (RULESETS / "calico-issue13263-nixos.nft-ip-nat.json", "nft-json", 22),
    (SOS / "nft_list_ruleset", "nft", 7),
])
def test_parse_detects_nft_text_and_json(path, fmt, rules):
    rs = parse(path)
    assert isinstance(rs, NftRuleset) and rs.format == fmt and len(rs) == rules and rs.problems == []


def test_old_listing_syntax_of_2015_and_2019():
    rs = parse(RULESETS / "ongy-flat-share-2015.nft-ruleset")
    post = rs.table("ip", "nat").chain("post")
    # 2015: "type nat hook postrouting priority 0;" with no policy (the kernel's default: accept)
    assert (post.hook, post.priority, post.policy) == ("postrouting", 0, "accept")
    snat = post.rules[0].statements[-1]
    assert (snat.kind, snat.addr) == ("snat", "10.149.107.130-10.149.107.135")  # old "snat ADDR" without "to"
    pre = rs.table("ip", "nat").chain("pre").rules[0].statements
    assert [type(s).__name__ for s in pre] == ["Match", "Match", "Match", "Nat"] and pre[1].right.text == "{ 5050, 8080}"
    ocp = parse(RULESETS / "ocp4-master-sosreport-2019.nft-ruleset")
    mm = ocp.table("ip", "nat").chain("KUBE-MARK-MASQ").rules[0]
    st = mm.statements[-1]
    # 2019: "meta mark set mark or 0x4000" (bare "mark", "or")
    assert (st.field.key, st.value.op, st.value.right.text) == ("mark", "|", "0x4000")
    assert mm.text == "counter packets 0 bytes 0 meta mark set mark or 0x4000"
    assert all(t.iptables_nft for t in ocp.tables.values())


def test_rules_frame_owner_verdict_handle():
    rs = parse(DATA / "kitchen-sink.nft-ruleset-a")
    df = rs.rules
    row = df[(df.chain == "services") & (df.position == 1)].iloc[0]
    assert (row.family, row.table, int(row.handle), row.verdict, row.owner, row.iptables_nft) == \
           ("ip", "kube-proxy", 33, "vmap @service-ips", "kube-proxy", False)  # handle as nft -a printed it
    ep = df[df.chain == "endpoint-B"].iloc[0]
    # nft printed "counter packets 0 bytes 0": the frame has the counters, spec leaves them out
    assert (ep.verdict, int(ep.pkts), ep.comment, ep.spec) == ("dnat", 0, "hi there",
                                                                 'meta l4proto tcp counter dnat to 10.180.0.2:80 comment "hi there"')
    assert len(df) == len(rs)
    ch = rs.chains
    nat = ch[ch.chain == "nat-prerouting"].iloc[0]
    assert (nat.hook, int(nat.priority), nat.priority_text) == ("prerouting", -100, "dstnat")


def test_rules_frame_owners_for_iptables_nft_and_docker():
    ocp = parse(RULESETS / "ocp4-master-sosreport-2019.nft-ruleset").rules
    # POSTROUTING jumps to KUBE-POSTROUTING (kube-proxy's chain); KUBE-FIREWALL is kubelet's
    got = dict(zip(ocp.chain + ":" + ocp.position.astype(str), ocp.owner))
    assert got["POSTROUTING:1"] == "kube-proxy" and got["KUBE-FIREWALL:1"] == "kubelet"
    moby = parse(RULESETS / "moby-bridge-portmap-wsl2.nft").rules
    assert set(moby.owner) == {"Docker"}


def test_cli_parse_nft_prints_back_and_frames(tmp_path):
    r = subprocess.run([sys.executable, "-m", "workbook", "parse", "--nft", str(DATA / "kitchen-sink.nft-ruleset")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == (DATA / "kitchen-sink.nft-ruleset").read_text()
    r = subprocess.run([sys.executable, "-m", "workbook", "parse", "--csv", str(RULESETS / "moby-bridge-portmap-wsl2.nft")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.count("\n") == 1 + 19
    assert r.stdout.splitlines()[0].startswith("family,table,chain,position,handle,spec,verdict")


def test_elements_frame_of_kube_proxy_maps():
    rs = parse(ROOT / "tests" / "data" / "dumps" / "nfwb-kube-proxy-nft" / "kernel" / "nft-ruleset.txt")
    el = rs.elements
    ne = el[el.set == "no-endpoint-services"]
    # the two no-endpoint elements on lines 28 and 29 of the listing
    assert ne[["key", "value", "comment", "line"]].values.tolist() == [
        ["10.96.46.248 . tcp . 5432", "goto reject-chain", "ns11/svc11:http", 28],
        ["10.103.182.81 . tcp . 3000", "goto reject-chain", "ns6/svc6:web", 29]]
    # cluster-ips holds one element per generated Service (12)
    assert (el.set == "cluster-ips").sum() == 12
