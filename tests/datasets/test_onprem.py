"""datasets/onprem-dup-hostport: the seed's RKE worker before/after the duplicated CNI-HOSTPORT-DNAT jump."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from datasets.netns import load_rules, run_in
from workbook.parse import parse

from tests.datasets.seedtext import DATASETS, names_for_numbers, output_lines, rstrip_lines

ONPREM = DATASETS / "onprem-dup-hostport"
DELETE = ["iptables", "-t", "nat", "-D", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "CNI-HOSTPORT-DNAT"]


def load(netns, state: str) -> str:
    """A fresh namespace holding ``state``'s dump exactly as saved (ipsets from network/ipset.txt first)."""
    ns = netns(state[:2])
    run_in(ns, "ipset", "restore", input=(ONPREM / state / "network" / "ipset.txt").read_text())
    load_rules(ns, (ONPREM / state / "iptables" / "iptables-save.txt").read_text(), "nft")
    return ns


def seed_lines(state: str) -> list[str]:
    lines = output_lines((ONPREM / state / "notes" / "seed-nat-PREROUTING-nv.txt").read_text())
    # paste artefacts of the post's second listing: the author's "#### 중복" ("duplicate") marker line
    # and the duplicate's shortened indentation ("  0   0 CNI-…" where iptables prints "    0     0 CNI-…")
    return [l for l in lines if not l.lstrip().startswith("####")]


@pytest.mark.root
@pytest.mark.parametrize("state", ["before", "after"])
def test_kernel_prerouting_equals_seed(netns, state):
    ns = load(netns, state)
    got = rstrip_lines(names_for_numbers(run_in(ns, "iptables", "-t", "nat", "-L", "PREROUTING", "-nv").stdout))
    expected = seed_lines(state)
    assert len(got) == len(expected) == (7 if state == "after" else 6)
    for g, e in zip(got, expected):
        if e.startswith("  0   0 "):            # the re-indented duplicate: same fields, other spacing
            assert g.split() == e.split()
        else:
            assert g == e


@pytest.mark.root
def test_one_delete_turns_after_into_before(netns):
    ns = load(netns, "after")
    run_in(ns, *DELETE)          # the post's fix, run exactly once
    got = run_in(ns, "iptables", "-t", "nat", "-S", "PREROUTING").stdout.splitlines()
    before = [l for l in (ONPREM / "before" / "iptables" / "iptables-S-nat.txt").read_text().splitlines()
              if l in ("-P PREROUTING ACCEPT",) or l.startswith("-A PREROUTING ")]
    assert got == before
    # -D with a rule spec removes the FIRST rule that matches: the copy that carried the counters.
    # What stays is the late copy, counting from zero (delete by number, -D PREROUTING 5, to keep them).
    saved = [l for l in run_in(ns, "iptables-save", "-c", "-t", "nat").stdout.splitlines() if " -A PREROUTING " in l]
    assert saved[-1] == "[0:0] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"


@pytest.mark.root
def test_delete_on_before_would_remove_the_only_jump(netns):
    # why the command is run once: on a node without the duplicate it deletes hostPort forwarding itself
    ns = load(netns, "before")
    run_in(ns, *DELETE)
    pre = run_in(ns, "iptables", "-t", "nat", "-S", "PREROUTING").stdout
    assert "CNI-HOSTPORT-DNAT" not in pre
    assert run_in(ns, *DELETE, check=False).returncode == 1   # nothing left to delete: iptables says so


def _rules(state):
    return parse(ONPREM / state / "iptables" / "iptables-save.txt")


def test_duplicates_and_leak_are_where_the_readme_says():
    before, after = _rules("before"), _rules("after")
    jump = "-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"
    assert [r.spec for r in before.chain("nat", "PREROUTING")].count(jump) == 1
    assert [r.spec for r in after.chain("nat", "PREROUTING")].count(jump) == 2
    assert [r.spec for r in after.chain("nat", "OUTPUT")].count(jump.replace("PREROUTING", "OUTPUT")) == 2
    # CNI-HOSTPORT-DNAT: before one entry; after the leaked (old) entry first, the new one second
    ids = lambda rs: [re.search(r'id: "([0-9a-f]{64})"', r.comment).group(1) for r in rs.chain("nat", "CNI-HOSTPORT-DNAT")]
    assert len(ids(before)) == 1 and len(ids(after)) == 2
    assert ids(after)[0] == ids(before)[0] != ids(after)[1]


@pytest.mark.parametrize("state", ["before", "after"])
def test_cni_dn_chain_names_are_portmaps_hash(state):
    # CHAINS.md §2.1: CNI-DN- + sha512(network name + container ID) hex[:21]
    rs = _rules(state)
    for r in rs.chain("nat", "CNI-HOSTPORT-DNAT"):
        net, cid = re.fullmatch(r'dnat name: "(.*)" id: "(.*)"', r.comment).groups()
        assert r.target == "CNI-DN-" + hashlib.sha512((net + cid).encode()).hexdigest()[:21]
        dnat = [x for x in rs.chain("nat", r.target) if x.target == "DNAT"]
        assert [x.target_option("--to-destination").value.rsplit(":", 1)[1] for x in dnat] == ["80", "443"]


def test_calico_hashes_verified_against_real_dumps():
    # values from reference/CHAINS.md §5.4 (recomputed there and equal to real dumps)
    known = {("PREROUTING", "cali-PREROUTING"): "6gwbT8clXdHdC1b1", ("POSTROUTING", "cali-POSTROUTING"): "O3lYWMrLQYEMJtB5",
             ("OUTPUT", "cali-OUTPUT"): "tVnHkvAo15HuiPy0", ("INPUT", "cali-INPUT"): "Cz_u1IQiXIMmKD4c",
             ("FORWARD", "cali-FORWARD"): "wUHhoiAYhphO9Mso", ("cali-PREROUTING", "cali-fip-dnat"): "r6XmIziWUJsdOK6Z",
             ("cali-POSTROUTING", "cali-fip-snat"): "Z-c7XtVd2Bq7s_hA", ("cali-POSTROUTING", "cali-nat-outgoing"): "nYKhEzDlr11Jccal",
             ("cali-OUTPUT", "cali-fip-dnat"): "GBTAv2p5CwevEyJm", ("cali-nat-outgoing", "MASQUERADE"): "flqWnvo8yq4ULQLa",
             ("cali-POSTROUTING", "MASQUERADE"): "e9dnSgSVNmIcpVhP"}
    seen = set()
    for r in _rules("after").iter_rules():
        key = (r.chain, r.target)
        if key in known and r.comment and r.comment.startswith("cali:"):
            assert r.comment == "cali:" + known[key], (r.table, r.spec)
            seen.add(key)
    assert seen == set(known)


@pytest.mark.parametrize("state,pod", [("before", "nginx-ingress-controller-7xq2k"), ("after", "nginx-ingress-controller-m9t4z")])
def test_checkpoints_and_rules_agree(state, pod):
    folder = ONPREM / state / "kubelet"
    listing = (folder / "dockershim-sandbox.txt").read_text().splitlines()
    files = {l.split()[-1]: int(l.split()[4]) for l in listing if l.startswith("-rw")}
    (path,) = (folder / "dockershim-sandbox").iterdir()
    cp = json.loads(path.read_text())
    assert cp["name"] == pod and files[path.name] == path.stat().st_size
    assert {(m["container_port"], m.get("host_port")) for m in cp["data"]["port_mappings"]} >= {(80, 80), (443, 443)}
    # the newest CNI-HOSTPORT-DNAT entry belongs to this sandbox
    last = list(_rules(state).chain("nat", "CNI-HOSTPORT-DNAT"))[-1]
    assert f'id: "{path.name}"' in last.comment
    if state == "after":
        leaked = list(_rules("after").chain("nat", "CNI-HOSTPORT-DNAT"))[0]
        old = re.search(r'id: "(\w+)"', leaked.comment).group(1)
        assert old not in files           # its checkpoint is gone: that is why CNI DEL removed nothing


def _insert(ns: str, line: str) -> None:
    """``conntrack -I`` the entry a ``conntrack -L -o extended`` line describes (same tuples, state, status)."""
    from workbook.parse.conntrack import parse_conntrack
    (e,) = parse_conntrack(line + "\n").entries
    status = "UNREPLIED" if "UNREPLIED" in e.flags else "SEEN_REPLY,ASSURED"
    run_in(ns, "conntrack", "-I", "-p", e.protocol, "-s", e.original.src, "-d", e.original.dst,
           "--sport", str(e.original.sport), "--dport", str(e.original.dport), "-r", e.reply.src, "-q", e.reply.dst,
           "--reply-port-src", str(e.reply.sport), "--reply-port-dst", str(e.reply.dport),
           "--state", e.state, "-t", str(e.timeout), "-u", status)


@pytest.mark.root
def test_after_conntrack_fix_lines_delete_only_the_stuck_clients(netns):
    """The kernel runs the finding's conntrack -D lines on after/'s table (re-inserted with conntrack -I):
    by hand, the twelve entries to the deleted pod 10.42.134.75 go; kubelet's two probes of the live
    pod 10.42.134.83 stay."""
    from workbook import check
    from workbook.dump import load_dump
    import shlex
    ns = netns("ct")
    for line in (ONPREM / "after" / "kernel" / "conntrack.txt").read_text().splitlines():
        _insert(ns, line)
    assert len(run_in(ns, "conntrack", "-L").stdout.splitlines()) == 14
    (f,) = check(load_dump(ONPREM / "after")).by_id("conntrack-to-stale-hostport")
    for line in f.fix:
        run_in(ns, *shlex.split(line))
    left = [l.split() for l in run_in(ns, "conntrack", "-L").stdout.splitlines()]
    assert sorted((w[4], w[5], w[6], w[7]) for w in left) == [
        ("src=10.10.20.21", "dst=10.42.134.83", "sport=45001", "dport=10254"),
        ("src=10.10.20.21", "dst=10.42.134.83", "sport=45002", "dport=10254")]


@pytest.mark.parametrize("state", ["before", "after"])
def test_conntrack_count_is_the_listings_length(state):
    kernel = ONPREM / state / "kernel"
    lines = (kernel / "conntrack.txt").read_text().splitlines()
    assert int((kernel / "conntrack-count.txt").read_text()) == len(lines) == 14
