"""The quoted ``-D`` line a finding prints, run through a shell in a throw-away namespace with the
real iptables, deletes exactly the rule it names, even when the rule's comment and chain name are
shell code (issue 8 §2). The rules are made with iptables' own argv (no shell), read back with
iptables-save, checked by nfwb, and the printed line is pasted into ``bash -c`` in the namespace."""

from __future__ import annotations

import subprocess

import pytest

from workbook.checks import check
from workbook.parse import parse_save
from workbook.shell_command import iptables_chain_problem

from tests.realparts import nsexec

CHAIN = "H;$(touch${IFS}M1)`id`"                       # 23 bytes: a valid iptables chain name
COMMENT = "$(touch M2) `touch M3`; \"q\" 'x' \\ end"    # quotes, a backslash, code


def _save(ns: str):
    return parse_save(nsexec(ns, "iptables-save", "-t", "filter").stdout, f"netns:{ns}")


def _rules(rs) -> list[tuple[str | None, str | None]]:
    return [(r.source, r.comment) for r in rs.table("filter").chain(CHAIN).rules]


def test_printed_delete_removes_exactly_the_hostile_rule(netns, tmp_path):
    ns = netns("fixq")
    ipt = ["iptables", "-t", "filter"]
    nsexec(ns, *ipt, "-N", CHAIN)
    nsexec(ns, *ipt, "-A", "INPUT", "-j", CHAIN)
    for src in ("10.9.0.0/16", "10.9.0.0/16", "10.8.0.0/16"):   # two copies and a neighbour
        nsexec(ns, *ipt, "-A", CHAIN, "-s", src, "-m", "comment", "--comment", COMMENT, "-j", "ACCEPT")
    rs = _save(ns)
    a, b = ("10.9.0.0/16", COMMENT), ("10.8.0.0/16", COMMENT)
    assert _rules(rs) == [a, a, b]                         # the parse reads back what iptables stored
    f = [f for f in check(rs, families=["duplicates"]) if f.chain == CHAIN][0]
    by_spec = [ln for ln in f.fix if ln.startswith("iptables") and "--comment" in ln]
    assert len(by_spec) == 1
    done = subprocess.run(["ip", "netns", "exec", ns, "bash", "-c", by_spec[0]], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr               # iptables found a rule with exactly that comment
    assert list(tmp_path.iterdir()) == []                  # nothing in the comment or name ran
    after = _save(ns)
    # iptables -D by spec deletes the first rule equal to the spec: one copy goes, the rest stays
    assert _rules(after) == [a, b]
    # the position form (the bottom copy, position 2 when printed) works on the hostile chain name too;
    # now position 2 holds the neighbour, which is what a by-position delete then removes
    by_pos = [ln for ln in f.fix if ln.startswith("iptables") and ln.endswith(" 2")]
    assert len(by_pos) == 1
    subprocess.run(["ip", "netns", "exec", ns, "bash", "-c", by_pos[0]], cwd=tmp_path, check=True,
                   capture_output=True)
    assert _rules(_save(ns)) == [a]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tool", ["iptables-nft", "iptables-legacy"])
def test_chain_names_refused_exactly_when_iptables_refuses_them(netns, tool):
    # a fix naming a chain iptables -N refuses is not printed (workbook.shell_command); the real
    # iptables draws the same line: 28 bytes pass and 29 do not (é is 2 bytes), nor a leading - or !,
    # nor whitespace; shell metacharacters are fine
    ns = netns("names")
    names = ["A" * 28, "B" * 29, "é" * 14, "é" * 15, "-x", "!x", "a b", "a\tb", "a;$(b)`c`"]
    for name in names:
        refused = nsexec(ns, tool, "-N", name, check=False).returncode != 0
        assert refused == (iptables_chain_problem(name) is not None), name
