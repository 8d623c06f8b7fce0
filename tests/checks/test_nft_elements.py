"""nft-shadowed-element: overlapping keys in a concatenated interval map, from the listing of a real nft
in a namespace (the kernel accepts them), and keys listed twice or inside another in hostile listings."""

from __future__ import annotations

import shlex

from tests.realparts import nsexec
from workbook import check
from workbook.dump import load_dump, save_dump

# nft 1.0.6 on this machine's kernel: refuses "10.0.0.0/8 . 80-90" beside "10.1.0.0/16 . 85" (one inside
# the other: "File exists") and any overlap in a single-field interval set ("conflicting intervals"), but
# accepts the partial overlap of `svc` (10.1.0.0/16 . 85 is in both elements).
OVERLAP = """\
table inet filter {
  map svc {
    type ipv4_addr . inet_service : verdict; flags interval
    elements = { 10.1.0.0/16 . 80-90 : accept, 10.0.0.0/8 . 85 : drop, 192.168.0.0/16 . 443 : accept }
  }
  chain input { type filter hook input priority 0; ip daddr . tcp dport vmap @svc; }
}
"""
# near misses: the same map without the overlap (ports 91-100 start after 90), and a set whose ranges
# overlap (a set matches the same packets whichever element the lookup finds: harmless)
NEAR = """\
table inet filter {
  map svc {
    type ipv4_addr . inet_service : verdict; flags interval
    elements = { 10.1.0.0/16 . 80-90 : accept, 10.0.0.0/8 . 91-100 : drop }
  }
  set same {
    type ipv4_addr . inet_service; flags interval
    elements = { 10.0.0.0/8 . 80-90, 10.1.0.0/16 . 70-100 }
  }
}
"""


def _found(tmp_path, listing: str, name: str):
    dump = load_dump(save_dump({"kernel/nft-ruleset.txt": listing}, tmp_path / name))
    return [f for f in check(dump) if f.id == "nft-shadowed-element"]


def _listing(node: str, text: str) -> str:
    nsexec(node, "nft", "-f", "-", input=text)
    out = nsexec(node, "nft", "-a", "list", "ruleset").stdout
    nsexec(node, "nft", "flush", "ruleset")
    return out


def test_overlapping_concatenated_interval_keys_from_the_kernel(netns, tmp_path):
    node = netns("nftel")
    found = _found(tmp_path, _listing(node, OVERLAP), "overlap")
    assert len(found) == 1
    ev = found[0].evidence
    assert list(ev.relation) == ["overlap"] and list(ev["map"]) == ["svc"]
    assert (ev["first"][0], ev["second"][0]) == ("10.1.0.0/16 . 80-90", "10.0.0.0/8 . 85")
    assert (ev.first_value[0], ev.second_value[0]) == ("accept", "drop")
    assert all(line.startswith("#") for line in found[0].fix)      # which verdict is right is the user's call
    assert _found(tmp_path, _listing(node, NEAR), "near") == []


HOSTILE = """\
table ip t {
\tset s {
\t\ttype ipv4_addr
\t\telements = { 10.0.0.1, 10.0.0.1 }
\t}
\tmap m {
\t\ttype ipv4_addr . inet_service : verdict
\t\tflags interval
\t\telements = { 10.0.0.0/8 . 80-90 : accept, 10.1.0.0/16 . 85 : accept }
\t}
}
"""


def test_a_key_twice_and_a_key_inside_another_in_a_hostile_listing(netns, tmp_path):
    found = {f.evidence[f.evidence.columns[2]][0]: f for f in _found(tmp_path, HOSTILE, "hostile")}
    assert sorted(found) == ["m", "s"]
    assert list(found["s"].evidence.relation) == ["duplicate"]
    assert list(found["m"].evidence.relation) == ["inside"]
    fix = found["m"].fix[0]
    assert shlex.split(fix) == ["nft", "delete", "element", "ip", "t", "m", "{ 10.1.0.0/16 . 85 }"]
    # the fix line is what nft runs: the narrower element goes, the wider (same verdict) stays
    node = netns("nftel2")
    nsexec(node, "nft", "-f", "-", input="table ip t {\n map m {\n  type ipv4_addr . inet_service : verdict\n"
                                         "  flags interval\n  elements = { 10.1.0.0/16 . 85 : accept }\n }\n}\n")
    nsexec(node, *shlex.split(fix))
    assert "10.1.0.0/16" not in nsexec(node, "nft", "list", "map", "ip", "t", "m").stdout
    near = HOSTILE.replace("10.0.0.1, 10.0.0.1", "10.0.0.1, 10.0.0.2").replace("10.1.0.0/16 . 85", "11.1.0.0/16 . 85")
    assert _found(tmp_path, near, "hostile-near") == []
