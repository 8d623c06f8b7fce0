"""The printed fix commands work on the real kernel: load rules into a throw-away namespace with
iptables-restore, run the -D commands a finding prints (through a shell, as a person would), and
read the result back with iptables-save. Needs root (skips on a laptop, fails under CI=true)."""

import subprocess

from workbook.checks import check
from workbook.parse import parse_save

from tests.realparts import nsexec

SEED_AFTER = '''*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:DOCKER - [0:0]
:KUBE-SERVICES - [0:0]
:cali-PREROUTING - [0:0]
-A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"efa1c24c\\"" -m multiport --dports 80 -j RETURN
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" id: \\"efa1c24c\\"" -m multiport --dports 80 -j RETURN
COMMIT
'''


def _load(ns, text):
    nsexec(ns, "iptables-restore", input=text)
    return parse_save(nsexec(ns, "iptables-save", "-t", "nat").stdout, f"netns:{ns}")


def _run(ns, command):
    assert command.startswith("iptables ")
    subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", command], check=True, capture_output=True, text=True)


def _prerouting(rs):
    return [r.spec for r in rs.table("nat").chain("PREROUTING").rules]


def test_spec_form_removes_one_copy(netns):
    ns = netns("dupspec")
    rs = _load(ns, SEED_AFTER)
    f = [f for f in check(rs, families=["duplicates"]) if f.chain == "PREROUTING"][0]
    spec_cmd = [c for c in f.fix if c.startswith("iptables") and "-m addrtype" in c][0]
    assert spec_cmd == "iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"
    _run(ns, spec_cmd)
    after = _prerouting(parse_save(nsexec(ns, "iptables-save", "-t", "nat").stdout))
    # the kernel now holds the seed's 'before' chain: one CNI-HOSTPORT-DNAT jump, fourth
    assert after == _prerouting(rs)[:4]


def test_position_form_removes_the_last_copy(netns):
    ns = netns("duppos")
    rs = _load(ns, SEED_AFTER)
    f = [f for f in check(rs, families=["duplicates"]) if f.chain == "PREROUTING"][0]
    pos_cmd = [c for c in f.fix if c.startswith("iptables") and c.split()[-1].isdigit()]
    assert pos_cmd == ["iptables -t nat -D PREROUTING 5"]
    _run(ns, pos_cmd[0])
    assert _prerouting(parse_save(nsexec(ns, "iptables-save", "-t", "nat").stdout)) == _prerouting(rs)[:4]


def test_quoted_comment_delete_command_is_accepted_by_iptables(netns):
    ns = netns("dupquote")
    rs = _load(ns, SEED_AFTER)
    f = [f for f in check(rs, families=["duplicates"]) if f.chain == "CNI-HOSTPORT-DNAT"][0]
    spec_cmd = [c for c in f.fix if c.startswith("iptables") and "--comment" in c][0]
    _run(ns, spec_cmd)   # a shell reads iptables-save's quoting back to the same comment
    left = parse_save(nsexec(ns, "iptables-save", "-t", "nat").stdout).table("nat").chain("CNI-HOSTPORT-DNAT").rules
    assert len(left) == 1 and left[0].comment == 'dnat name: "k8s-pod-network" id: "efa1c24c"'


KUBE_NAT = '''*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
'''


def test_split_brain_legacy_and_nft_in_one_namespace(netns, tmp_path):
    """kube-proxy's jump written once by iptables-legacy and once by iptables-nft (CHAINS.md §10.1):
    both kernel subsystems hold it; the dump taken the way collect does it must show an error."""
    from workbook.dump import load_dump, write_manifest
    ns = netns("split")
    nsexec(ns, "iptables-legacy-restore", input=KUBE_NAT)
    nsexec(ns, "iptables-nft-restore", input=KUBE_NAT)
    nft = nsexec(ns, "iptables-nft-save", "-c")
    legacy = nsexec(ns, "iptables-legacy-save", "-c")
    names = nsexec(ns, "cat", "/proc/net/ip_tables_names")
    version = nsexec(ns, "iptables-nft", "-V")
    # the kernel itself says so: iptables-nft-save warns on stderr, /proc lists the legacy table
    assert "iptables-legacy tables present" in nft.stderr
    assert names.stdout.split() == ["nat"]
    dump = tmp_path / "node"
    for rel, text in {"iptables/iptables-save.txt": nft.stdout, "iptables/iptables-nft-save.txt": nft.stdout,
                      "iptables/iptables-legacy-save.txt": legacy.stdout,
                      "iptables/iptables-version.txt": version.stdout,
                      "kernel/ip_tables_names.txt": names.stdout}.items():
        (dump / rel).parent.mkdir(parents=True, exist_ok=True)
        (dump / rel).write_text(text)
    write_manifest(dump, host="split", collected_at="2026-01-01T00:00:00Z")
    fs = check(load_dump(dump))
    f = fs.by_id("legacy-and-nft-tables")
    assert len(f) == 1 and f[0].severity == "error" and f[0].owner == "kube-proxy"
    assert any(o.endswith("kernel/ip_tables_names.txt:1") for o in f[0].evidence["origin"])
    assert "iptables-legacy -t nat -F && iptables-legacy -t nat -X" in f[0].fix
    # the fix removes the legacy half: run it and the kernel agrees nothing legacy is left
    for cmd in f[0].fix:
        if cmd.startswith("iptables-legacy -t"):
            subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", cmd], check=True, capture_output=True)
    left = parse_save(nsexec(ns, "iptables-legacy-save").stdout)
    assert len(left) == 0
    assert len(parse_save(nsexec(ns, "iptables-nft-save").stdout)) == 1   # the nft half is untouched


def test_single_backend_namespace_is_not_split(netns, tmp_path):
    from workbook.dump import load_dump, write_manifest
    ns = netns("single")
    nsexec(ns, "iptables-nft-restore", input=KUBE_NAT)
    dump = tmp_path / "node"
    (dump / "iptables").mkdir(parents=True)
    (dump / "kernel").mkdir()
    (dump / "iptables" / "iptables-save.txt").write_text(nsexec(ns, "iptables-nft-save").stdout)
    (dump / "iptables" / "iptables-version.txt").write_text(nsexec(ns, "iptables-nft", "-V").stdout)
    (dump / "kernel" / "ip_tables_names.txt").write_text(nsexec(ns, "cat", "/proc/net/ip_tables_names").stdout)
    write_manifest(dump, host="single", collected_at="2026-01-01T00:00:00Z")
    assert check(load_dump(dump)).by_id("legacy-and-nft-tables") == []
