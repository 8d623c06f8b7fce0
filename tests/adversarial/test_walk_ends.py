"""Every walk ends (issue 8 §3): goto loops, jump loops and chains that fan out stop quickly, with
bounded memory, in ``workbook.trace_packet`` and in ``nfwb trace``. A loop is refused the way the
kernel refuses it (the real iptables-restore in a throw-away namespace is the oracle), and a walk
that grows past the caps stops with one line saying "narrow the flow".

Each case runs in a child process with a time limit, so that a walk that never ends fails the test
instead of hanging it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.realparts import nsexec

HEAD = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def _rs(chains: list[str], body: str) -> str:
    return HEAD + "".join(f":{c} - [0:0]\n" for c in chains) + body + "COMMIT\n"


GOTO_LOOP = _rs(["A", "B"], "-A INPUT -j A\n-A A -g B\n-A B -g A\n")
JUMP_LOOP = _rs(["A", "B"], "-A INPUT -j A\n-A A -j B\n-A B -j A\n")
SELF_GOTO = _rs(["A"], "-A INPUT -g A\n-A A -g A\n")
# chain k jumps twice to chain k+1, 30 deep: 2^30 chain entries if each is walked again
FAN_OUT = _rs([f"C{k}" for k in range(31)],
              "-A INPUT -j C0\n" + "".join(f"-A C{k} -j C{k + 1}\n-A C{k} -j C{k + 1}\n" for k in range(30)))
# the same fan-out, but between the two jumps chain k flips mark bit k: C(k+1) is entered in 2^(k+1)
# different packet states, so no walk can be shared and only the step cap ends it
FAN_OUT_MARKS = _rs([f"C{k}" for k in range(31)], "-A INPUT -j C0\n" + "".join(
    f"-A C{k} -j C{k + 1}\n-A C{k} -j MARK --xor-mark {hex(1 << k)}\n-A C{k} -j C{k + 1}\n" for k in range(30)))
# 200 chains in a row, joined by gotos: no loop, but deeper than the tracer follows
GOTO_CHAIN = _rs([f"G{k}" for k in range(201)],
                 "-A INPUT -j G0\n" + "".join(f"-A G{k} -g G{k + 1}\n" for k in range(200)))

LIMIT_S = 60


def _run(argv: list[str], stdin: str) -> dict:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the walk did not end within {LIMIT_S} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("text,cycle", [(GOTO_LOOP, "A -> B -> A"), (JUMP_LOOP, "A -> B -> A"),
                                        (SELF_GOTO, "A -> A")])
def test_a_loop_is_one_error_naming_it(text, cycle):
    out = _run([sys.executable, "-c", _CODE], text)
    assert out["error"].startswith(f"loop in table filter: {cycle} ")
    assert "tampering or corruption" in out["error"] and "walk.rules:" in out["error"]
    assert out["cpu"] < 5


_CODE = textwrap.dedent("""
    import json, resource, sys, time, tracemalloc
    from workbook.model import InputError
    from workbook.packet import Packet
    from workbook.parse import parse_save
    from workbook.trace import trace_packet
    rs = parse_save(sys.stdin.read(), "walk.rules")
    p = Packet("10.0.0.9", "10.0.0.1", "tcp", 40000, 22)
    exact = "--tracemalloc" in sys.argv   # exact Python memory (slow), else the process's peak RSS
    if exact:
        tracemalloc.start()
    t0 = time.process_time()
    out = {}
    try:
        t = trace_packet(rs, p, ["10.0.0.1"])
        out["verdicts"] = t.verdicts
        out["steps"] = sum(len(b.steps) for b in t.branches)
    except InputError as e:
        out["error"] = str(e)
    out["cpu"] = time.process_time() - t0
    out["peak_mib"] = (tracemalloc.get_traced_memory()[1] / 2**20 if exact
                       else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))
""")


def test_fan_out_is_walked_once_per_state():
    out = _run([sys.executable, "-c", _CODE, "--tracemalloc"], FAN_OUT)
    # by hand: every chain only jumps and returns, so the packet ends at INPUT's policy, DROP
    assert out.get("verdicts") == {"DROP": 1.0}, out
    assert out["steps"] < 5000 and out["cpu"] < 5 and out["peak_mib"] < 100, out


def test_fan_out_in_changing_states_stops_at_the_step_cap():
    out = _run([sys.executable, "-c", _CODE], FAN_OUT_MARKS)
    assert out["error"].startswith("too many steps (more than 500,000); narrow the flow"), out
    assert out["cpu"] < 30 and out["peak_mib"] < 1024, out   # the whole process, pandas included


def test_gotos_count_in_the_depth_limit():
    out = _run([sys.executable, "-c", _CODE], GOTO_CHAIN)
    # INPUT is level 1, G0 level 2, …, G126 level 128: its goto to G127 would be level 129
    assert out["error"].startswith("chains nested deeper than 128 (jumps and gotos) at filter G126 rule 1 "
                                   "(walk.rules:"), out


@pytest.mark.parametrize("text,want", [(GOTO_LOOP, "loop in table filter: A -> B -> A"),
                                       (FAN_OUT_MARKS, "too many steps")])
def test_nfwb_trace_exits_2_with_one_line(tmp_path, text, want):
    p = tmp_path / "walk.rules"
    p.write_text(text)
    try:
        done = subprocess.run([sys.executable, "-m", "workbook", "trace", str(p), "--src", "10.0.0.9",
                               "--dst", "10.0.0.1", "--proto", "tcp", "--dport", "22", "--node-ip", "10.0.0.1"],
                              capture_output=True, text=True, timeout=LIMIT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"nfwb trace did not end within {LIMIT_S} s")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and want in done.stderr, done.stderr


def test_nfwb_trace_fan_out_ends(tmp_path):
    p = tmp_path / "walk.rules"
    p.write_text(FAN_OUT)
    done = subprocess.run([sys.executable, "-m", "workbook", "trace", str(p), "--src", "10.0.0.9", "--dst",
                           "10.0.0.1", "--proto", "tcp", "--dport", "22", "--node-ip", "10.0.0.1", "--json"],
                          capture_output=True, text=True, timeout=LIMIT_S)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["branches"][0]["verdict"] == "DROP"


@pytest.mark.parametrize("text", [GOTO_LOOP, JUMP_LOOP, SELF_GOTO])
@pytest.mark.parametrize("tool", ["iptables-nft-restore", "iptables-legacy-restore"])
def test_the_kernel_refuses_the_same_loops(netns, text, tool):
    ns = netns("loop")
    done = nsexec(ns, tool, input=text, check=False)
    assert done.returncode != 0, f"{tool} loaded a loop"
    # and the loop-free fan-out loads (iptables-legacy: iptables-nft limits nesting to 16 levels)
    if tool == "iptables-legacy-restore":
        assert nsexec(ns, tool, input=FAN_OUT, check=False).returncode == 0
