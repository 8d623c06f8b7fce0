"""A comment holding a Unicode line separator stays in its rule, as in iptables: the real
iptables-restore accepts it, iptables-save/-S/-L print it back inside the one rule line, and
our parsers read one rule with that comment (str.splitlines would cut the rule in two)."""

from __future__ import annotations

import subprocess

import pytest

from workbook.parse import parse

pytestmark = pytest.mark.root

# every character str.splitlines() splits on besides \n and \r
SEPARATORS = ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]


def _ns(ns: str, *cmd: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["ip", "netns", "exec", ns, *cmd], input=data, capture_output=True, check=True).stdout


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
def test_comment_with_a_line_separator_is_one_rule(netns, sep):
    ns = netns("sep")
    comment = f"before{sep}after"
    rules = (f'*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.1/32 -m comment --comment "{comment}" -j DROP\n'
             "-A INPUT -j ACCEPT\nCOMMIT\n")
    _ns(ns, "iptables-restore", data=rules.encode())   # the kernel accepts it (check=True)
    outputs = {
        "save": _ns(ns, "iptables-save"),
        "spec": _ns(ns, "iptables", "-S"),
        "listing": _ns(ns, "iptables", "-L", "-n", "-v"),
    }
    # the kernel gives the separator back inside the rule's line
    for fmt, out in outputs.items():
        lines = [ln for ln in out.split(b"\n") if b"before" in ln]
        assert len(lines) == 1 and comment.encode() in lines[0], (fmt, out)
    # and our parsers read the same two INPUT rules, the first with the whole comment
    for fmt, out in outputs.items():
        rs = parse(out, format=fmt, **({"table": "filter"} if fmt != "save" else {}))
        chain = rs.chain("filter", "INPUT")
        assert [r.target for r in chain.rules] == ["DROP", "ACCEPT"], (fmt, [r.spec for r in chain.rules])
        assert chain.rules[0].option("--comment").value == comment, fmt
    # and what we print back, the kernel loads again unchanged
    again = parse(outputs["save"]).to_save()
    _ns(ns, "iptables-restore", data=again.encode())
    assert _ns(ns, "iptables-save").count(comment.encode()) == 1


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
def test_nft_comment_with_a_line_separator_is_one_rule(netns, sep):
    ns = netns("nftsep")
    comment = f"before{sep}after"
    _ns(ns, "nft", "-f", "-", data=("table ip t {\n chain c {\n  type filter hook input priority 0; policy accept;\n"
                                    f'  ip saddr 10.0.0.1 drop comment "{comment}"\n  ip saddr 10.0.0.2 accept\n'
                                    " }\n}\n").encode())
    listed = _ns(ns, "nft", "list", "ruleset")
    assert comment.encode() in listed   # the kernel gives it back
    rs = parse(listed, format="nft")
    rules = list(rs.iter_rules())
    assert [r.verdict for r in rules] == ["drop", "accept"], [r.text for r in rules]
    assert rules[0].comment == comment
