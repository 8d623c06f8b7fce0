"""``nfwb check`` reports a loop a packet can reach as tampering or corruption (issue 8 §3), and
only such loops: the real iptables-restore refuses the first kind and loads a loop among chains
no built-in chain reaches (both backends, checked in a throw-away namespace)."""

from __future__ import annotations

import json

import pytest

from tests.adversarial.test_walk_ends import GOTO_LOOP, JUMP_LOOP, SELF_GOTO, _rs
from tests.realparts import nsexec
from workbook.cli import main

UNREACHED_LOOP = _rs(["A", "B"], "-A A -j B\n-A B -j A\n")
# a loop two chains down, closed by a goto: INPUT -> P -> Q -> R -g Q
DEEP_LOOP = _rs(["P", "Q", "R"], "-A INPUT -j P\n-A P -j Q\n-A Q -s 10.0.0.0/8 -j R\n-A R -m comment "
                "--comment \"back $(id)\" -g Q\n")


@pytest.mark.parametrize("text,cycle,closing", [
    (GOTO_LOOP, "A -> B -> A", "-A B -g A"),
    (JUMP_LOOP, "A -> B -> A", "-A B -j A"),
    (SELF_GOTO, "A -> A", "-A A -g A"),
    (DEEP_LOOP, "Q -> R -> Q", '-A R -m comment --comment "back $(id)" -g Q'),
])
def test_a_reachable_loop_is_an_error_finding(tmp_path, capsys, text, cycle, closing):
    p = tmp_path / "loop.rules"
    p.write_text(text)
    assert main(["check", str(p), "--json"]) == 1
    found = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["id"] == "chain-loop"]
    assert [f["title"] for f in found] == [f"filter: loop {cycle}"]
    assert "evidence of tampering or corruption" in found[0]["explanation"]
    assert found[0]["evidence"][-1]["spec"] == closing
    assert found[0]["fix"][-1].startswith(f"iptables -t filter -D {closing.split()[1]} ")
    assert main(["check", str(p)]) == 1
    assert f"[ERROR] chain-loop: filter: loop {cycle}" in capsys.readouterr().out


def test_a_loop_no_packet_reaches_is_not_reported(tmp_path, capsys):
    p = tmp_path / "loop.rules"
    p.write_text(UNREACHED_LOOP)
    main(["check", str(p), "--json"])
    assert [f for f in json.loads(capsys.readouterr().out)["findings"] if f["id"] == "chain-loop"] == []


@pytest.mark.parametrize("tool", ["iptables-nft-restore", "iptables-legacy-restore"])
def test_the_kernel_draws_the_same_line(netns, tool):
    ns = netns("loopf")
    assert nsexec(ns, tool, input=DEEP_LOOP, check=False).returncode != 0
    assert nsexec(ns, tool, input=UNREACHED_LOOP, check=False).returncode == 0
