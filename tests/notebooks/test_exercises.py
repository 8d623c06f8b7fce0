"""The self-checks accept the right answers: each notebook is run with hand-derived answers filled in.

Every answer below comes from the seed post's real outputs, the datasets' READMEs or netfilter
facts, by hand (the comment says from where), never from the code under test. ``...`` keeps the
placeholder for exercises whose answer only the data can give (those must still print a hint).
"""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebooks.runner import NB_DIR, errors_in
from tests.realparts import ROOT

P = ...  # keep the placeholder
ANSWERS = {
    "00-start-here": [
        5,      # 0.0: our map sends Istio's error to notebook 05
        4,      # 0.1: the post's `iptables -t nat -S` head has four -P lines
    ],
    "01-netfilter-hooks": [
        ["PREROUTING", "INPUT"],                   # 1.1: local delivery (CHAINS.md §8)
        "raw",                                     # 1.2: raw −300 is the lowest priority in PREROUTING
        4,                                         # 1.3: nat: PREROUTING, INPUT, OUTPUT, POSTROUTING
        ["PREROUTING", "FORWARD", "POSTROUTING"],  # 1.4: forwarded
        False,                                     # 1.5: nat sees only NEW
    ],
    "02-tables-and-chains": [
        8,                                               # 2.1: eight -N lines in the post's filter -S
        ["KUBE-KUBELET-CANARY", "KUBE-PROXY-CANARY"],    # 2.2: declared, no rules, no jumps
        6,                                               # 2.3: the DROP is the 6th -A INPUT line
        "DROP",                                          # 2.4: LOG continues, DROP ends it
        "-",                                             # 2.5: iptables-save prints ":CHAIN - [0:0]"
        17,                                              # 2.6: IANA protocol number of udp
    ],
    "03-service-dnat-path": [
        "KUBE-SVC-TCOU7JCQXEZGVUNU",              # 3.1: the post's KUBE-SERVICES, udp dpt:53 row
        ["192.168.1.77:53", "192.168.2.64:53"],   # 3.2: the post's KUBE-SVC comments "-> ip:port"
        0.5,                                      # 3.3: two endpoints, 1/2 each
        0.5,                                      # 3.4: second of three: 1/(3-1)
        P,                                        # 3.5: depends on the dataset's endpoints
        "kube-system/kube-ops-view:http",         # 3.6: its endpoint is 192.168.3.98:8080, the querying pod
        "10.100.0.10",                            # 3.7: dns, dns-tcp and metrics in the post's KUBE-SERVICES
    ],
    "04-dockershim-duplicate-hostport": [
        2,      # 4.1: the post's PREROUTING shows CNI-HOSTPORT-DNAT twice
        2,      # 4.2: after/ has the copy in PREROUTING (datasets/onprem-dup-hostport/README.md)
        P,      # 4.3: a container id only the dump knows
        False,  # 4.4: the stale entry wins and DNATs to the dead pod (same README, step 4)
        5,      # 4.5: the copy is the 5th line of the post's PREROUTING listing
        False,  # 4.6: a bind mount does not delete rules
    ],
    "05-istio-iptables-modules": [
        ["iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw"],  # 5.1: none in the post's lsmod
        0,      # 5.2: the post's second lsmod: "iptable_nat 16384 0"
        "nft",  # 5.3: datasets/istio-missing-modules/README.md: no legacy table on the host
        5,      # 5.4: same README: the four iptable_* plus ip_tables
        P,      # 5.5: depends on the checks
        0,      # 5.6: the second lsmod has all four iptable_* modules
    ],
    "06-forensics-of-a-node-dump": [
        4,                  # 6.1: eks-node/network/ip-addr.txt: 127.0.0.1, ::1, 192.168.3.215, one fe80::
        "KUBE-SERVICES",    # 6.2: the post's KUBE-SERVICES listing has 9 rules (8 services + nodeports)
        P,                  # 6.3: depends on the checks
        2,                  # 6.4: VPC CNI ≥1.16.2: one RETURN for the VPC CIDR, then the SNAT (CHAINS.md §4.1)
        "MANIFEST.json",    # 6.5: the nfwb-dump/1 layout
    ],
    "07-live-kernel-lab": [
        2,      # 7.1: two kube-dns endpoints in the post's KUBE-SVC chain
        1,      # 7.2: a real packet takes one way
        P,      # 7.3: random
        True,   # 7.4: the simulator must predict every kernel path
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_right_answers_are_accepted(name, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("NFWB_NOTEBOOK_LAB", "0")  # 07 uses its recorded run here (the live lab runs in test_execute)
    nb = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
    slots = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("answer = ...")]
    answers = ANSWERS[name]
    assert len(slots) == len(answers), f"{name} has {len(slots)} exercises, the test knows {len(answers)}"
    for cell, value in zip(slots, answers):
        if value is not P:
            cell.source = f"answer = {value!r}"
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(NB_DIR)}}).execute()
    assert errors_in(nb) == []
    checks = [c for c in nb.cells if c.cell_type == "code" and "check_answer(" in c.source]
    assert len(checks) == len(answers)
    for cell, value in zip(checks, answers):
        said = json.dumps(cell.outputs, ensure_ascii=False)
        want = "✎" if value is P else "✔"
        assert want in said, f"{cell.source.splitlines()[0]} with answer {value!r}: {said[:300]}"
