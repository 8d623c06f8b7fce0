"""datasets/eks-node: the seed's EKS worker, checked against the seed's real listings through the real kernel."""

from __future__ import annotations

import os
import subprocess

import pytest

from datasets.netns import load_rules, run_in
from workbook.generate import k8s_hash
from workbook.parse import parse

from tests.datasets.seedtext import DATASETS, column, names_for_numbers, output_lines, rstrip_lines
from tests.realparts import have_root_netns, need

EKS = DATASETS / "eks-node"

# (chain listed, column arguments, seed note) — the four commands the seed post ran on ip-192-168-3-215
SEED_LISTINGS = [
    ("PREROUTING", ("-t",), "seed-nat-PREROUTING-column-t.txt"),
    ("KUBE-SERVICES", (), "seed-nat-KUBE-SERVICES-column.txt"),
    ("KUBE-SVC-TCOU7JCQXEZGVUNU", (), "seed-nat-KUBE-SVC-TCOU7JCQXEZGVUNU-column.txt"),
    ("KUBE-SEP-4JJWD7DPDSPAPXRS", (), "seed-nat-KUBE-SEP-4JJWD7DPDSPAPXRS-column.txt"),
]


@pytest.fixture(scope="module")
def eks_ns():
    """The dataset's iptables-save.txt loaded into a fresh namespace (module-scoped: loaded once, deleted after)."""
    ok, why = have_root_netns()
    need(ok, why)
    name = f"nfwbt-{os.getpid()}-eks"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        load_rules(name, (EKS / "iptables" / "iptables-save.txt").read_text(), "nft")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.mark.root
@pytest.mark.parametrize("chain,args,note", SEED_LISTINGS)
def test_kernel_listing_through_column_equals_seed(eks_ns, chain, args, note):
    # the exact command of the seed, run by the real kernel/iptables, piped through real `column`
    listing = run_in(eks_ns, "iptables", "-v", "--numeric", "--table", "nat", "--list", chain).stdout
    got = rstrip_lines(column(names_for_numbers(listing), *args))
    expected = output_lines((EKS / "notes" / note).read_text())   # the seed's pasted output
    assert got == expected


@pytest.mark.root
def test_filter_S_equals_seed(eks_ns):
    got = run_in(eks_ns, "iptables", "-t", "filter", "-S").stdout.splitlines()
    assert got == output_lines((EKS / "notes" / "seed-filter-S.txt").read_text())


@pytest.mark.root
def test_nat_S_starts_like_seed(eks_ns):
    got = run_in(eks_ns, "iptables", "-t", "nat", "-S").stdout.splitlines()
    head = output_lines((EKS / "notes" / "seed-nat-S-head.txt").read_text())
    assert got[: len(head)] == head == ["-P PREROUTING ACCEPT", "-P INPUT ACCEPT", "-P OUTPUT ACCEPT",
                                        "-P POSTROUTING ACCEPT"]


def test_seed_chain_names_are_kube_proxy_hashes():
    # expected names are the seed's real ones (KUBE-SERVICES / KUBE-SVC listings of the post)
    assert "KUBE-SEP-" + k8s_hash("kube-system/kube-dns:dns", "udp", "192.168.1.77:53") == "KUBE-SEP-4JJWD7DPDSPAPXRS"
    assert "KUBE-SEP-" + k8s_hash("kube-system/kube-dns:dns", "udp", "192.168.2.64:53") == "KUBE-SEP-CMUTYLZJRO6PLWPI"
    seed_svc = {"kube-system/kube-dns:dns-tcp": "ERIFXISQEP7F7OF4", "kube-system/kube-dns:metrics": "JD5MR3NA4I4DYORP",
                "kube-system/metrics-server:https": "Z4ANX4WAEWEBLCTM", "default/kubernetes:https": "NPX46M4PTMTKRN6Y",
                "kube-system/eks-extension-metrics-api:metrics-api": "I7SKRZYQ7PWYV5X7",
                "kube-system/kube-ops-view:http": "7EJNTS7AENER2WX5",
                "kube-system/aws-load-balancer-webhook-service:webhook-server": "UAGC4PYEYZJJEW6D"}
    for name, suffix in seed_svc.items():
        assert k8s_hash(name, "tcp") == suffix, name
    assert k8s_hash("kube-system/kube-dns:dns", "udp") == "TCOU7JCQXEZGVUNU"


def test_every_kube_chain_name_matches_its_comments():
    # every SVC -> SEP jump says "<svc> -> ip:port"; the SEP's DNAT says the protocol
    rs = parse(EKS / "iptables" / "iptables-save.txt")
    nat = rs.table("nat")
    jumps = [r for c in nat for r in c if c.name.startswith("KUBE-SVC-")]
    assert len(jumps) == 14   # 6 services x 2 endpoints + 2 services x 1 endpoint (README table)
    for r in jumps:
        svc, ep = r.comment.split(" -> ")
        dnat = [x for x in nat.chain(r.target) if x.target == "DNAT"][0]
        assert r.chain == "KUBE-SVC-" + k8s_hash(svc, dnat.protocol)
        assert r.target == "KUBE-SEP-" + k8s_hash(svc, dnat.protocol, ep)
        assert dnat.target_option("--to-destination").value == ep


def test_kube_services_order_is_the_seeds():
    rs = parse(EKS / "iptables" / "iptables-save.txt")
    targets = [r.target for r in rs.chain("nat", "KUBE-SERVICES")]
    seed = [l.split()[2] for l in output_lines((EKS / "notes" / "seed-nat-KUBE-SERVICES-column.txt").read_text())[2:]]
    assert targets == seed


def test_lsmod_keeps_the_seeds_lines():
    lsmod = (EKS / "kernel" / "lsmod.txt").read_text().splitlines()
    seed = DATASETS / "istio-missing-modules" / "notes"
    before = [l for l in output_lines((seed / "seed-lsmod-before.txt").read_text())[1:] if l]
    after = [l for l in output_lines((seed / "seed-lsmod-after.txt").read_text())[1:] if l]
    # the seed's second lsmod (after modprobe) verbatim, at the top, in the same order
    assert lsmod[: len(after) + 1] == ["Module                  Size  Used by"] + after
    for line in before:
        if line.startswith("nf_nat "):
            # iptable_nat, loaded by the fix, is one more user of nf_nat (3 -> 4)
            assert "nf_nat                 57344  4 iptable_nat,xt_nat,nft_chain_nat,xt_MASQUERADE" in lsmod
        else:
            assert line in lsmod
