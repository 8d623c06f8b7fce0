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
