"""Which rule was hit: captures of `nft monitor trace` and `xtables-monitor --trace` recorded from the real
kernel by the lab, mapped back onto a dump's rules. The lab's own Trace of the same packet (built from the
same events with the rules it loaded itself) is the expected answer; the dump's side must find the same
rules by handle (`nft -a`) and by rule text (no handles)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.datasets.seedtext import DATASETS
from tests.lab.conftest import need_lab
from workbook.dump import load_dump, save_dump
from workbook.lab import Lab
from workbook.nft.lab import NftLab
from workbook.nft.parse_text import parse_nft_text
from workbook.packet import Packet
from workbook.trace_capture import capture_ids, trace_from_capture

NFT_NODE = DATASETS / "nft-mode-node"
EKS = DATASETS / "eks-node"
#: the client pod of nft-mode-node asks kube-dns (datasets/sources/nftnode.py)
DNS_QUERY = Packet("192.168.7.101", "10.100.0.10", "udp", 40000, 53, "eni3f1c0a77b21")
#: a pod of the eks-node (192.168.3.98, behind eni5d1d36193a1) asks kube-dns at 10.100.0.10
EKS_QUERY = Packet("192.168.3.98", "10.100.0.10", "udp", 40000, 53, "eni5d1d36193a1")


def _steps(trace):
    (b,) = trace.branches
    return [(s.hook, s.table, s.chain, s.position, s.spec, s.action) for s in b.steps]


def _strip_handles(listing: str) -> str:
    return re.sub(r"\s*# handle \d+", "", listing)


@pytest.fixture(scope="module")
def nft_capture():
    """The nft-mode-node's rules in an nft lab, one DNS query traced: (lab trace, capture, lab's nft -a listing)."""
    need_lab("nft")
    dump = load_dump(NFT_NODE)
    listing = (NFT_NODE / "kernel" / "nft-ruleset.txt").read_text()
    kube_proxy = _strip_handles(listing[listing.index("table ip kube-proxy"):])
    with NftLab(dump.ruleset, ("192.168.7.42",), nft_text=kube_proxy) as lab:
        trace = lab.trace(DNS_QUERY)
        capture = "\n".join(lab.last_capture) + "\n"
        listed = lab._ns(lab.node, "nft", "-a", "list", "ruleset").stdout
    return dump, trace, capture, listed


@pytest.fixture(scope="module")
def xt_capture():
    """The eks-node's iptables-nft rules in a lab, one DNS query traced with xtables-monitor --trace."""
    need_lab("nft")
    dump = load_dump(EKS)
    with Lab(dump.ruleset, ("192.168.3.215",)) as lab:
        trace = lab.trace(EKS_QUERY)
        capture = "\n".join(lab.last_capture) + "\n"
        listed = lab._ns(lab.node, "nft", "-a", "list", "ruleset").stdout
    return dump, trace, capture, listed


def test_nft_capture_maps_by_handle_onto_the_listing_it_came_from(nft_capture):
    dump, trace, capture, listed = nft_capture
    assert "trace id" in capture and " packet: " in capture
    got = trace_from_capture(capture, dump.ruleset, parse_nft_text(listed))
    assert _steps(got) == _steps(trace)                      # the lab's own reading of the same events
    assert got.branches[0].verdict == "ACCEPT"
    assert got.branches[0].dnat == trace.branches[0].dnat in ("192.168.7.183:53", "192.168.7.205:53")
    notes = got.branches[0].notes
    assert any(re.search(r"\b[1-9]\d* rule\(s\) by handle, 0 by rule text", n) for n in notes)
    assert any("nfwb-trace" in n and "nftrace" in n for n in notes)   # the tracing switch left out, said so
    # every kube-proxy step names its rule's position and handle, as the dump lists it
    kp = [s for s in got.branches[0].steps if s.table == "kube-proxy" and s.position is not None]
    assert kp and all(s.family == "ip" and s.handle is not None for s in kp)


def test_nft_capture_maps_by_text_when_the_dump_has_no_handles(nft_capture):
    dump, trace, capture, listed = nft_capture
    got = trace_from_capture(capture, dump.ruleset, parse_nft_text(_strip_handles(listed)))
    assert _steps(got) == _steps(trace)
    assert any(re.search(r"0 rule\(s\) by handle, [1-9]\d* by rule text", n) for n in got.branches[0].notes)


def test_a_handle_that_names_another_rule_is_not_trusted(nft_capture):
    # the dump's filter-forward lists its two rules with each other's handles (another load of the rules):
    # a handle-only mapping would name the wrong rule; the rule text decides
    dump, trace, capture, listed = nft_capture
    block = re.search(r"chain filter-forward \{.*?\n\t\}", listed, re.S).group(0)
    handles = re.findall(r"jump (?:service-endpoints-check|cluster-ips-check) # handle (\d+)", block)
    assert len(handles) == 2
    swapped = block.replace(f"# handle {handles[0]}", "# handle X").replace(
        f"# handle {handles[1]}", f"# handle {handles[0]}").replace("# handle X", f"# handle {handles[1]}")
    got = trace_from_capture(capture, dump.ruleset, parse_nft_text(listed.replace(block, swapped)))
    assert _steps(got) == _steps(trace)


def test_xtables_capture_maps_by_handle_and_by_text(xt_capture):
    dump, trace, capture, listed = xt_capture
    assert " TRACE: " in capture and "PACKET: " in capture
    by_handle = trace_from_capture(capture, dump.ruleset, parse_nft_text(listed))
    assert _steps(by_handle) == _steps(trace)
    assert any(re.search(r"\b[1-9]\d* rule\(s\) by handle, 0 by rule text", n) for n in by_handle.branches[0].notes)
    # the dataset itself: iptables-save and `nft list ruleset` without -a -> by the rule's text
    by_text = trace_from_capture(capture, dump.ruleset, dump.nft)
    assert _steps(by_text) == _steps(trace)
    assert any(re.search(r"0 rule\(s\) by handle, [1-9]\d* by rule text", n) for n in by_text.branches[0].notes)
    assert by_text.branches[0].dnat == trace.branches[0].dnat
    assert by_text.packet.proto == "udp" and by_text.packet.in_iface == "eni5d1d36193a1"


def test_cli_prints_the_same_trace_and_picks_a_trace_id(nft_capture, tmp_path):
    dump, trace, capture, listed = nft_capture
    folder = save_dump({"iptables/iptables-save.txt": (NFT_NODE / "iptables" / "iptables-save.txt").read_text(),
                        "kernel/nft-ruleset.txt": listed}, tmp_path / "node")
    # two captures in one file: the second packet's events renamed to another trace id
    (tid,) = capture_ids(capture)
    other = capture.replace(f"trace id {tid} ", "trace id 0badcafe ")
    (tmp_path / "cap.txt").write_text(capture + other)
    cmd = [sys.executable, "-m", "workbook", "trace", str(folder), "--capture", str(tmp_path / "cap.txt"), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)
    assert [(s["table"], s["chain"], s["position"], s["action"]) for s in first["branches"][0]["steps"]] == \
        [(t, c, p, a) for _, t, c, p, _, a in _steps(trace)]
    second = subprocess.run(cmd + ["--trace-id", "0badcafe"], capture_output=True, text=True)
    assert second.returncode == 0 and json.loads(second.stdout)["branches"][0]["steps"] == first["branches"][0]["steps"]
    bad = subprocess.run(cmd + ["--trace-id", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "nope" in bad.stderr
