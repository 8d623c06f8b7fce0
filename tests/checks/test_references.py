"""jump-to-missing-chain and unreferenced-chain: firing cases and near misses."""

from workbook.checks import check
from workbook.parse import parse_save


def refs(text, source="<text>"):
    return check(parse_save(text, source, strict=False), families=["references"])


MISSING = '''*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.5:80
COMMIT
'''


def test_jump_to_missing_chain_fires():
    fs = refs(MISSING, "cut.rules")
    assert [(f.id, f.severity) for f in fs] == [("jump-to-missing-chain", "error")]
    f = fs[0]
    # line 3 of the text above is the jump; DNAT is an extension target, not a chain
    assert f.evidence["origin"].tolist() == ["cut.rules:3"]
    assert "iptables -t nat -N KUBE-SERVICES" in f.fix
    assert f.owner == "kube-proxy"


def test_jump_to_existing_chain_and_extensions_do_not_fire():
    text = MISSING.replace(":PREROUTING ACCEPT [0:0]\n", ":PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n")
    text = text.replace("COMMIT", "-A KUBE-SERVICES -j RETURN\nCOMMIT")
    assert refs(text) == []


UNREF = '''*filter
:INPUT ACCEPT [0:0]
:KUBE-KUBELET-CANARY - [0:0]
:KUBE-PROXY-CANARY - [0:0]
:OLD-AGENT - [0:0]
:USED - [0:0]
-A INPUT -j USED
-A OLD-AGENT -j DROP
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:KUBE-IPTABLES-HINT - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
COMMIT
'''


def test_unreferenced_chain_fires_but_not_for_canaries_and_hint():
    fs = refs(UNREF)
    assert [(f.id, f.table) for f in fs] == [("unreferenced-chain", "filter")]
    # OLD-AGENT is the only user chain with no -j naming it; canaries/hint are expected (CHAINS.md §1.9, §1.11)
    assert fs[0].evidence["chain"].tolist() == ["OLD-AGENT"]
    assert fs[0].fix[-2:] == ["iptables -t filter -F OLD-AGENT", "iptables -t filter -X OLD-AGENT"]
    assert fs[0].severity == "info"


def test_only_canaries_do_not_fire():
    text = UNREF.replace(":OLD-AGENT - [0:0]\n", "").replace("-A OLD-AGENT -j DROP\n", "")
    assert refs(text) == []
