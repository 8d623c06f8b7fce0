"""check on the datasets helper's node dumps (datasets/): the seed's two incidents, before and after."""

import json

from workbook.checks import check
from workbook.cli import main
from workbook.dump import load_dump

from tests.realparts import ROOT

DATASETS = ROOT / "datasets"


def _load(rel):
    return load_dump(DATASETS / rel)


def test_onprem_after_has_the_duplicate_and_the_stale_entry(capsys):
    d = _load("onprem-dup-hostport/after")
    fs = check(d)
    dup = {f.chain: f for f in fs.by_id("duplicate-rule")}
    # The seed's second listing: CNI-HOSTPORT-DNAT jumped to from PREROUTING at 4 and again at 5
    # (the dataset has portmap's OUTPUT jump duplicated the same way).
    assert sorted(dup) == ["OUTPUT", "PREROUTING"]
    assert dup["PREROUTING"].evidence["position"].tolist() == [4, 5]
    assert "iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT" in dup["PREROUTING"].fix
    assert "iptables -t nat -D PREROUTING 5" in dup["PREROUTING"].fix
    # the old ingress pod's entry for 80/443 still sits first in CNI-HOSTPORT-DNAT: an error
    stale = fs.by_id("stale-hostport-entry")
    assert len(stale) == 1 and stale[0].severity == "error"
    assert main(["check", str(DATASETS / "onprem-dup-hostport/after"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {"duplicate-rule", "stale-hostport-entry"} <= {f["id"] for f in doc["findings"]}


def test_onprem_before_has_neither():
    fs = check(_load("onprem-dup-hostport/before"))
    assert not fs.by_id("duplicate-rule") and not fs.by_id("stale-hostport-entry")
    assert not fs.has_errors


def test_istio_before_fires_after_does_not():
    before = check(_load("istio-missing-modules/before"))
    f = before.by_id("missing-kernel-modules")
    assert len(f) == 1
    # before/kernel/lsmod.txt has no iptable_* and notes/ holds istio-init's
    # "unable to initialize table 'nat'": an error
    assert f[0].severity == "error"
    assert not check(_load("istio-missing-modules/after")).by_id("missing-kernel-modules")


def test_diff_of_onprem_before_after():
    from workbook.diff import diff_rulesets
    d = diff_rulesets(_load("onprem-dup-hostport/before"), _load("onprem-dup-hostport/after"))
    added = [(r["chain"], r["position_b"]) for r in d.rows if r["change"] == "added"]
    assert ("PREROUTING", 5) in added


def test_onprem_after_names_the_entry_whose_checkpoint_is_gone():
    d = _load("onprem-dup-hostport/after")
    f = check(d).by_id("stale-hostport-entry")[0]
    ev = f.evidence.set_index("position")
    # kubelet/dockershim-sandbox.txt (ls -la of /var/lib/dockershim/sandbox) lists 4ec72be6… but not
    # 15541f38…, the sandbox id in the first CNI-HOSTPORT-DNAT entry's comment
    assert ev.loc[1, "checkpoint"] == "MISSING"
    assert ev.loc[2, "checkpoint"].startswith("present (") and "dockershim-sandbox.txt:5" in ev.loc[2, "checkpoint"]
    delete = [c for c in f.fix if " -D CNI-HOSTPORT-DNAT " in c]
    assert len(delete) == 1 and "15541f38534d5690770c02a604e3340d688db14b0c311092fce43c44260310e8" in delete[0]


def test_each_finding_once_though_the_dump_has_save_L_and_S():
    d = _load("onprem-dup-hostport/after")
    # the dump holds iptables-save, iptables -L -n -v and iptables -S of the same rules: three views
    assert {"iptables", "iptables-L", "iptables-S"} <= set(d.rulesets)
    keys = sorted((f.id, f.table or "", f.chain or "") for f in check(d))
    # each problem once (from the save): the two duplicated CNI-HOSTPORT-DNAT jumps and the stale entry,
    # and once the conntrack entries that stale entry sent to the deleted pod
    assert keys == [("conntrack-to-stale-hostport", "", ""), ("duplicate-rule", "nat", "OUTPUT"),
                    ("duplicate-rule", "nat", "PREROUTING"), ("stale-hostport-entry", "nat", "CNI-HOSTPORT-DNAT")]


# By hand, from datasets/onprem-dup-hostport/README.md ("Clients stuck on the deleted pod"): six clients,
# 10.10.20.51 … .56, each tried hostPort 80 (source port 43080) and 443 (43443) of the node 10.10.20.21
# after the restart; the leaked first CNI-HOSTPORT-DNAT entry sent all twelve to the old pod 10.42.134.75.
# kubelet's two probes (source ports 45001, 45002) went to the live pod 10.42.134.83:10254 directly.
CLIENTS = [f"10.10.20.{n}" for n in range(51, 57)]
OLD_POD, NEW_POD, NODE = "10.42.134.75", "10.42.134.83", "10.10.20.21"


def test_onprem_after_conntrack_names_the_clients_stuck_on_the_deleted_pod(capsys):
    (f,) = check(_load("onprem-dup-hostport/after")).by_id("conntrack-to-stale-hostport")
    assert f.severity == "error" and len(f.evidence) == 12
    ev = f.evidence
    assert sorted(zip(ev.orig_src, ev.orig_dport)) == sorted((c, p) for c in CLIENTS for p in (80, 443))
    assert set(ev.orig_dst) == {NODE} and set(ev.reply_src) == {OLD_POD} and set(ev.state) == {"SYN_SENT"}
    assert all("UNREPLIED" in flags for flags in ev["flags"])
    # one line per hostPort, each naming the stale destination as the reply source (and its port), so
    # the probes' entries to the live pod and any later flow to it are never touched
    assert f.fix == [f"conntrack -D -p tcp --orig-port-dst 80 --reply-src {OLD_POD} --reply-port-src 80",
                     f"conntrack -D -p tcp --orig-port-dst 443 --reply-src {OLD_POD} --reply-port-src 443"]
    assert main(["check", str(DATASETS / "onprem-dup-hostport/after"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    (j,) = [x for x in doc["findings"] if x["id"] == "conntrack-to-stale-hostport"]
    assert j["fix"] == f.fix


def test_onprem_before_conntrack_is_live_flows_only():
    d = _load("onprem-dup-hostport/before")
    # six clients x (443 kept open, 80 closed) through the one hostPort entry to the live pod .75, two probes
    ct = d.conntrack
    assert len(ct) == 14
    hostport = ct[ct.orig_dst == NODE]
    assert sorted(zip(hostport.orig_src, hostport.orig_dport, hostport.state)) == sorted(
        [(c, 443, "ESTABLISHED") for c in CLIENTS] + [(c, 80, "TIME_WAIT") for c in CLIENTS])
    assert set(hostport.dnat) == {f"{OLD_POD}:80", f"{OLD_POD}:443"}
    fs = check(d)
    assert not [f for f in fs if f.id.startswith(("conntrack", "stale-conntrack"))]
