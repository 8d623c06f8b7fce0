"""Blind dumps and mode-switch leftovers: each finding on its own case and not on a near miss; the
leftover cleanup printed for a node switched from iptables to nftables mode, run on the real kernel,
removes kube-proxy's iptables chains and nothing of kubelet's or of the nft table."""

from __future__ import annotations

import shlex

from tests.realparts import nsexec
from workbook import check
from workbook.dump import load_dump, save_dump
from workbook.generate import generate_services, kube_proxy_nft, kube_proxy_save

LSMOD_NFT = "Module                  Size  Used by\nnft_chain_nat          16384  7\nnf_tables             311296  1 nft_chain_nat\n"
EMPTY_FILTER = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
KUBELET_ONLY = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:KUBE-IPTABLES-HINT - [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n"
                "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n" + EMPTY_FILTER)
SERVICES = generate_services(6, seed=7)


def _ids(files: dict[str, str], tmp_path, name: str) -> list[tuple[str, str]]:
    dump = load_dump(save_dump(files, tmp_path / name))
    return [(f.id, f.severity) for f in check(dump) if f.id in ("blind-dump", "mode-switch-leftovers")]


def test_an_nf_tables_node_without_an_nft_listing(tmp_path):
    assert _ids({"iptables/iptables-save.txt": EMPTY_FILTER, "kernel/lsmod.txt": LSMOD_NFT}, tmp_path, "a") == \
        [("blind-dump", "warning")]
    # near miss: the same node with its nft listing collected
    assert _ids({"iptables/iptables-save.txt": EMPTY_FILTER, "kernel/lsmod.txt": LSMOD_NFT,
                 "kernel/nft-ruleset.txt": "table ip filter {\n}\n"}, tmp_path, "b") == []


def test_nftables_mode_said_by_kube_proxy_but_no_listing_is_an_error(tmp_path):
    assert ("blind-dump", "error") in _ids({"iptables/iptables-save.txt": KUBELET_ONLY,
                                           "kubelet/kube-proxy-mode.txt": "nftables"}, tmp_path, "a")


def test_a_kubernetes_node_with_no_service_rules_in_any_view(tmp_path):
    assert _ids({"iptables/iptables-save.txt": KUBELET_ONLY}, tmp_path, "a") == [("blind-dump", "warning")]
    # near misses: kube-proxy's iptables rules are there; or ipvs mode (Services live in IPVS)
    assert _ids({"iptables/iptables-save.txt": kube_proxy_save(SERVICES)}, tmp_path, "b") == []
    assert _ids({"iptables/iptables-save.txt": KUBELET_ONLY, "kubelet/kube-proxy-mode.txt": "ipvs"},
                tmp_path, "c") == []


def test_no_rules_at_all(tmp_path):
    assert _ids({"kernel/lsmod.txt": LSMOD_NFT}, tmp_path, "a") == [("blind-dump", "error")]


def test_a_blind_finding_never_suggests_deleting_kubelets_chains(tmp_path):
    dump = load_dump(save_dump({"iptables/iptables-save.txt": KUBELET_ONLY}, tmp_path / "a"))
    for f in check(dump):
        if f.id == "blind-dump":
            assert not any(c in line for line in f.fix for c in ("KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT", "-X", "-F"))


def test_iptables_leftovers_beside_the_nft_table_are_cleaned_on_the_real_kernel(netns, tmp_path):
    """The same cluster in both modes: the node moved to nftables mode and kept its iptables chains."""
    node = netns("switch")
    nsexec(node, "iptables-restore", input=kube_proxy_save(SERVICES))
    nsexec(node, "nft", "-f", "-", input=kube_proxy_nft(SERVICES))
    save = nsexec(node, "iptables-save", "-c").stdout
    listing = nsexec(node, "nft", "-a", "list", "table", "ip", "kube-proxy").stdout
    files = {"iptables/iptables-save.txt": save, "kernel/nft-ruleset.txt": listing,
             "kubelet/kube-proxy-mode.txt": "nftables\n"}
    dump = load_dump(save_dump(files, tmp_path / "switched"))
    found = [f for f in check(dump) if f.id == "mode-switch-leftovers"]
    assert len(found) == 1 and found[0].severity == "warning"
    fix = [line for line in found[0].fix if not line.startswith("#")]
    assert not any(c in line for line in fix for c in ("KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT", "KUBE-FIREWALL"))
    for line in fix:
        nsexec(node, *shlex.split(line))
    after = nsexec(node, "iptables-save").stdout
    assert "KUBE-SVC-" not in after and ":KUBE-SERVICES" not in after and "KUBE-SEP-" not in after
    assert ":KUBE-KUBELET-CANARY" in after            # kubelet's canary stays
    assert nsexec(node, "nft", "-a", "list", "table", "ip", "kube-proxy").stdout == listing   # untouched

    # near miss: an iptables-mode node (no nft table): nothing to say
    assert not [f for f in check(load_dump(save_dump({"iptables/iptables-save.txt": save}, tmp_path / "plain")))
                if f.id == "mode-switch-leftovers"]


def test_the_nft_table_left_behind_on_an_iptables_mode_node(netns, tmp_path):
    node = netns("back")
    nsexec(node, "iptables-restore", input=kube_proxy_save(SERVICES))
    nsexec(node, "nft", "-f", "-", input=kube_proxy_nft(SERVICES))
    files = {"iptables/iptables-save.txt": nsexec(node, "iptables-save", "-c").stdout,
             "kernel/nft-ruleset.txt": nsexec(node, "nft", "-a", "list", "table", "ip", "kube-proxy").stdout,
             "kubelet/kube-proxy-mode.txt": "iptables\n"}
    found = [f for f in check(load_dump(save_dump(files, tmp_path / "back"))) if f.id == "mode-switch-leftovers"]
    assert len(found) == 1 and found[0].fix == ["nft delete table ip kube-proxy"]
    nsexec(node, *shlex.split(found[0].fix[0]))
    assert "kube-proxy" not in nsexec(node, "nft", "list", "tables").stdout
    assert "KUBE-SERVICES" in nsexec(node, "iptables-save").stdout
