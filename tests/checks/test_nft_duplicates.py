"""Duplicated rules in a native nft chain (portmap's nft backend appending its hostport jump twice):
found from the kernel's own listing, and the printed `nft delete rule … handle N` leaves one copy."""

from __future__ import annotations

import shlex

from tests.realparts import nsexec
from workbook import check
from workbook.dump import load_dump, save_dump

PORTMAP = """table ip cni_hostport {
\tchain hostports {
\t\ttcp dport 80 dnat to 10.42.0.5:80
\t}
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat - 1; policy accept;
\t\tfib daddr type local jump hostports
\t}
}
"""
JUMP = ["nft", "add", "rule", "ip", "cni_hostport", "prerouting", "fib", "daddr", "type", "local", "jump", "hostports"]


def _found(tmp_path, listing: str, name: str):
    dump = load_dump(save_dump({"kernel/nft-ruleset.txt": listing}, tmp_path / name))
    return [f for f in check(dump) if f.id == "nft-duplicate-rule"]


def test_the_appended_hostport_jump_is_found_and_its_fix_leaves_one(netns, tmp_path):
    node = netns("nftdup")
    nsexec(node, "nft", "-f", "-", input=PORTMAP)
    assert _found(tmp_path, nsexec(node, "nft", "-a", "list", "ruleset").stdout, "once") == []   # near miss
    nsexec(node, *JUMP)                      # the agent appends its jump again instead of checking
    listing = nsexec(node, "nft", "-a", "list", "ruleset").stdout
    found = _found(tmp_path, listing, "twice")
    assert len(found) == 1
    f = found[0]
    assert list(f.evidence.action) == ["keep", "remove"] and list(f.evidence.position) == [1, 2]
    assert f.fix[0].startswith("nft delete rule ip cni_hostport prerouting handle ")
    nsexec(node, *shlex.split(f.fix[0]))
    after = nsexec(node, "nft", "list", "chain", "ip", "cni_hostport", "prerouting").stdout
    assert after.count("fib daddr type local jump hostports") == 1


def test_without_handles_the_fix_says_how_to_get_them(netns, tmp_path):
    node = netns("nftdup2")
    nsexec(node, "nft", "-f", "-", input=PORTMAP)
    nsexec(node, *JUMP)
    f = _found(tmp_path, nsexec(node, "nft", "list", "ruleset").stdout, "nohandles")[0]
    assert f.fix == ["# no handle in this listing: collect `nft -a list ruleset` to delete by handle"]
