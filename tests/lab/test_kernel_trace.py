"""The kernel's own TRACE for tiny hand-written rulesets, against paths worked out by hand."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.lab.conftest import lab_namespaces, need_lab
from tests.realparts import ROOT
from workbook.lab import Lab, lab_trace
from workbook.model import InputError
from workbook.packet import Packet
from workbook.parse import parse_save

pytestmark = pytest.mark.root

RULES_SPLIT = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:X - [0:0]
-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j X
-A X -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.244.1.5:8080
-A X -p tcp -j DNAT --to-destination 10.244.1.6:8080
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -d 10.244.1.6/32 -j REJECT --reject-with icmp-port-unreachable
COMMIT
"""

RULES_FORWARD_DROP = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:M - [0:0]
-A PREROUTING -j M
-A OUTPUT -j M
-A M -p udp -j MARK --set-xmark 0x10/0x10
-A M -j RETURN
-A M -j MARK --set-xmark 0x20/0x20
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:X - [0:0]
:Y - [0:0]
-A PREROUTING -j Y
-A PREROUTING -d 10.96.0.10/32 -p udp -m udp --dport 53 -g X
-A OUTPUT -d 10.96.0.10/32 -p udp -m udp --dport 53 -g X
-A POSTROUTING -j MASQUERADE
-A X -p udp -j DNAT --to-destination 10.244.1.5:53
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
COMMIT
"""

RULES_LOCAL = """*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -j KUBE-SERVICES
-A INPUT ! -i eni+ -p tcp -m tcp --dport 22 -j DROP
-A INPUT -i eni+ -p tcp -m tcp --dport 22 -j ACCEPT
-A OUTPUT -j KUBE-SERVICES
-A KUBE-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "ns/svc has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
COMMIT
"""


def path(trace):
    """The matched path without implicit returns (iptables-legacy's TRACE shows them, nf_tables' not)."""
    (branch,) = trace.branches
    return [p for p in branch.matched_path() if not (p[2] is None and p[3] == "RETURN")]


BACKENDS = pytest.mark.parametrize("backend", ["nft", "legacy"])


def test_random_split_takes_one_of_two_paths(lab_ok):
    rs = parse_save(RULES_SPLIT, "split.rules")
    t = lab_trace(rs, Packet("10.0.0.2", "10.96.0.10", "tcp", 40000, 80), ["192.168.0.2"])
    assert t.source == "kernel"
    # By hand: nat PREROUTING rule 1 (-d 10.96.0.10 --dport 80) jumps to X. Then either
    #  (a) X rule 1 (p=0.5) DNATs to 10.244.1.5:8080; the DNATed packet is forwarded to the sink:
    #      filter FORWARD rule 1 (-d 10.244.1.6) does not match -> FORWARD policy ACCEPT,
    #      then nat POSTROUTING policy ACCEPT;
    #  (b) X rule 2 DNATs to 10.244.1.6:8080; filter FORWARD rule 1 REJECTs it (no POSTROUTING).
    a = [("nat", "PREROUTING", 1, "JUMP:X"), ("nat", "X", 1, "DNAT"),
         ("filter", "FORWARD", None, "policy:ACCEPT"), ("nat", "POSTROUTING", None, "policy:ACCEPT")]
    b = [("nat", "PREROUTING", 1, "JUMP:X"), ("nat", "X", 2, "DNAT"), ("filter", "FORWARD", 1, "REJECT")]
    got = path(t)
    assert got in (a, b)
    br = t.branches[0]
    if got == a:
        assert (br.verdict, br.dnat) == ("ACCEPT", "10.244.1.5:8080")
    else:
        assert (br.verdict, br.dnat) == ("REJECT", "10.244.1.6:8080")
    # hooks as the kernel names them: nat in PREROUTING, filter in FORWARD
    assert [s.hook for s in br.steps][:2] == ["PREROUTING", "PREROUTING"]
    assert br.steps[2].hook == "FORWARD"


def test_both_endpoints_show_up_over_many_flows(lab_ok):
    # The kernel picks an endpoint at random for each new connection (p=0.5 each). Flushing
    # conntrack between flows makes every send a new connection; 24 tries all landing on one
    # endpoint has probability 2**-23.
    rs = parse_save(RULES_SPLIT, "split.rules")
    seen = set()
    with Lab(rs, ("192.168.0.2",)) as lab:
        for i in range(24):
            t = lab.trace(Packet("10.0.0.2", "10.96.0.10", "tcp", 40000, 80))
            seen.add(t.branches[0].dnat)
            if len(seen) == 2:
                break
    assert seen == {"10.244.1.5:8080", "10.244.1.6:8080"}


@BACKENDS
def test_mark_return_goto_and_forward_policy_drop(lab_ok, backend):
    need_lab(backend)
    rs = parse_save(RULES_FORWARD_DROP, "fwd.rules")
    t = lab_trace(rs, Packet("10.0.0.2", "10.96.0.10", "udp", 40001, 53), backend=backend)
    # By hand, for a UDP packet arriving on eth0:
    #  mangle PREROUTING 1 jumps to M; M 1 (-p udp) MARKs and continues; M 2 RETURNs (so M 3 is
    #  never reached); mangle PREROUTING falls to its policy ACCEPT.
    #  nat PREROUTING 1 jumps to the empty chain Y: the kernel shows no event for falling off Y's
    #  end; nat PREROUTING 2 goes to X; X 1 DNATs to 10.244.1.5:53 (the nat chain ends there).
    #  The DNATed packet is forwarded: mangle FORWARD policy ACCEPT, filter FORWARD policy DROP.
    assert path(t) == [
        ("mangle", "PREROUTING", 1, "JUMP:M"), ("mangle", "M", 1, "MARK"), ("mangle", "M", 2, "RETURN"),
        ("mangle", "PREROUTING", None, "policy:ACCEPT"),
        ("nat", "PREROUTING", 1, "JUMP:Y"), ("nat", "PREROUTING", 2, "GOTO:X"), ("nat", "X", 1, "DNAT"),
        ("mangle", "FORWARD", None, "policy:ACCEPT"), ("filter", "FORWARD", None, "policy:DROP"),
    ]
    br = t.branches[0]
    assert (br.verdict, br.dnat, br.masquerade) == ("DROP", "10.244.1.5:53", False)
    assert [s.hook for s in br.steps][-2:] == ["FORWARD", "FORWARD"]
    # falling off the end of Y: legacy's TRACE says "return", nf_tables' says nothing
    implicit = [(s.table, s.chain) for s in br.steps if s.position is None and s.action == "RETURN"]
    assert implicit == ([("nat", "Y")] if backend == "legacy" else [])


@BACKENDS
def test_from_node_goes_output_then_postrouting(lab_ok, backend):
    need_lab(backend)
    rs = parse_save(RULES_FORWARD_DROP, "fwd.rules")
    t = lab_trace(rs, Packet("192.168.0.2", "10.96.0.10", "udp", 40002, 53, None, True), ["192.168.0.2"],
                  backend=backend)
    # By hand, for a UDP packet the node sends itself:
    #  mangle OUTPUT 1 -> M; M 1 MARK; M 2 RETURN; mangle OUTPUT policy ACCEPT;
    #  nat OUTPUT 1 goes to X, X 1 DNAT; filter OUTPUT policy ACCEPT;
    #  mangle POSTROUTING policy ACCEPT; nat POSTROUTING 1 MASQUERADE (terminal in nat).
    assert path(t) == [
        ("mangle", "OUTPUT", 1, "JUMP:M"), ("mangle", "M", 1, "MARK"), ("mangle", "M", 2, "RETURN"),
        ("mangle", "OUTPUT", None, "policy:ACCEPT"),
        ("nat", "OUTPUT", 1, "GOTO:X"), ("nat", "X", 1, "DNAT"),
        ("filter", "OUTPUT", None, "policy:ACCEPT"),
        ("mangle", "POSTROUTING", None, "policy:ACCEPT"), ("nat", "POSTROUTING", 1, "MASQUERADE"),
    ]
    br = t.branches[0]
    assert (br.verdict, br.dnat, br.masquerade) == ("ACCEPT", "10.244.1.5:53", True)
    assert [s.hook for s in br.steps][-1] == "POSTROUTING"
    assert t.to_json()["packet"]["from_node"] is True


@BACKENDS
def test_input_interface_name_and_local_delivery(lab_ok, backend):
    need_lab(backend)
    rs = parse_save(RULES_LOCAL, "local.rules")
    with Lab(rs, ("192.168.0.2",), backend=backend) as lab:
        # Arriving on eni1a2b3c to the node's own address, port 22 (by hand): filter INPUT 1 jumps to
        # KUBE-SERVICES, whose only rule is for 10.96.0.11 -> back (no event); INPUT 2 (! -i eni+)
        # does not match; INPUT 3 (-i eni+ --dport 22) ACCEPTs.
        t1 = lab.trace(Packet("10.0.7.9", "192.168.0.2", "tcp", 40000, 22, "eni1a2b3c"))
        # The same on eth0: INPUT 2 (! -i eni+ --dport 22) DROPs.
        t2 = lab.trace(Packet("10.0.7.9", "192.168.0.2", "tcp", 40000, 22, "eth0"))
        # Port 23 on eth0: nothing matches after the jump: INPUT policy DROP.
        t3 = lab.trace(Packet("10.0.7.9", "192.168.0.2", "tcp", 40000, 23, "eth0"))
        # From the node to the service without endpoints: OUTPUT 1 -> KUBE-SERVICES 1 REJECT.
        t4 = lab.trace(Packet("192.168.0.2", "10.96.0.11", "tcp", 40000, 80, None, True))
    assert path(t1) == [("filter", "INPUT", 1, "JUMP:KUBE-SERVICES"), ("filter", "INPUT", 3, "ACCEPT")]
    assert t1.branches[0].steps[0].hook == "INPUT"
    assert (t1.branches[0].verdict, t1.branches[0].dnat) == ("ACCEPT", None)
    assert path(t2) == [("filter", "INPUT", 1, "JUMP:KUBE-SERVICES"), ("filter", "INPUT", 2, "DROP")]
    assert path(t3) == [("filter", "INPUT", 1, "JUMP:KUBE-SERVICES"), ("filter", "INPUT", None, "policy:DROP")]
    assert t3.branches[0].verdict == "DROP"
    assert path(t4) == [("filter", "OUTPUT", 1, "JUMP:KUBE-SERVICES"), ("filter", "KUBE-SERVICES", 1, "REJECT")]
    assert t4.branches[0].verdict == "REJECT"
    # the spec of a step is the rule as the ruleset wrote it
    assert t4.branches[0].steps[1].spec.startswith('-A KUBE-SERVICES -d 10.96.0.11/32 -p tcp -m comment --comment "ns/svc')


def test_namespaces_are_gone_afterwards_even_on_interrupt(lab_ok):
    rs = parse_save(RULES_LOCAL, "local.rules")
    lab = Lab(rs, ("192.168.0.2",))
    mine = lambda: [n for n in lab_namespaces() if n.startswith(lab.prefix + "-")]  # others may run labs too
    with pytest.raises(KeyboardInterrupt):
        with lab:
            assert len(mine()) == 3  # node, sink, client of eth0
            monitor = lab._monitor.proc
            raise KeyboardInterrupt
    assert mine() == []
    assert lab._monitor is None and monitor.poll() is not None  # xtables-monitor stopped


def test_a_ruleset_the_kernel_refuses_is_a_clear_input_error(lab_ok, monkeypatch):
    made = []
    real_init = Lab.__post_init__

    def spy(self):
        real_init(self)
        made.append(self.prefix)
    monkeypatch.setattr(Lab, "__post_init__", spy)
    # DNAT with a port needs -p tcp/udp: iptables-restore refuses the line.
    rs = parse_save("*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DNAT --to-destination 10.0.0.1:80\nCOMMIT\n", "bad.rules")
    with pytest.raises(InputError, match="refused bad.rules"):
        lab_trace(rs, Packet("10.0.0.2", "10.96.0.10", "tcp", 40000, 80))
    assert len(made) == 1
    assert [n for n in lab_namespaces() if n.startswith(made[0] + "-")] == []


def test_bad_packet_is_refused_before_any_namespace():
    rs = parse_save(RULES_LOCAL, "local.rules")
    with pytest.raises(InputError, match="needs a destination port"):
        lab_trace(rs, Packet("10.0.0.2", "10.96.0.10", "udp", 40000, None))
    with pytest.raises(InputError, match="IPv4"):  # (a packet of two families is refused by Packet itself)
        lab_trace(rs, Packet("fd00::1", "fd00::2", "udp", 40000, 53))
    with pytest.raises(InputError, match="interface name"):
        lab_trace(rs, Packet("10.0.0.2", "10.96.0.10", "udp", 40000, 53, "a-very-long-interface0"))


def test_cli_lab_trace_json(lab_ok, tmp_path):
    f = tmp_path / "fwd.rules"
    f.write_text(RULES_FORWARD_DROP)
    p = subprocess.run([sys.executable, "-m", "workbook", "lab", "trace", str(f), "--src", "10.0.0.2",
                        "--dst", "10.96.0.10", "--proto", "udp", "--sport", "40001", "--dport", "53", "--json"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["packet"] == {"src": "10.0.0.2", "dst": "10.96.0.10", "proto": "udp", "sport": 40001, "dport": 53,
                           "in_iface": "eth0", "from_node": False}
    (b,) = d["branches"]
    # same path as test_mark_return_goto_and_forward_policy_drop (worked out there)
    assert b["verdict"] == "DROP" and b["dnat"] == "10.244.1.5:53"
    assert [(s["table"], s["chain"], s["position"], s["action"]) for s in b["steps"]][-3:] == [
        ("nat", "X", 1, "DNAT"), ("mangle", "FORWARD", None, "policy:ACCEPT"), ("filter", "FORWARD", None, "policy:DROP")]
    assert set(b["steps"][0]) == {"hook", "table", "chain", "position", "spec", "matched", "action"}


def test_cli_bad_input_is_one_line_exit_2(tmp_path):
    p = subprocess.run([sys.executable, "-m", "workbook", "lab", "trace", str(tmp_path / "missing.rules"),
                        "--src", "10.0.0.2", "--dst", "10.96.0.10", "--proto", "udp", "--dport", "53"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "missing.rules" in p.stderr


def test_cli_text_backend_sysctl_out_iface_fail_on_drop(lab_ok, tmp_path):
    need_lab("legacy")
    f = tmp_path / "localnet.rules"
    # nat OUTPUT DNATs localhost:3001 to a pod, and POSTROUTING masquerades what leaves on eth1 only
    f.write_text("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
                 "-A OUTPUT -d 127.0.0.1/32 -p tcp -m tcp --dport 3001 -j DNAT --to-destination 10.180.0.1:80\n"
                 "-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n")
    base = [sys.executable, "-m", "workbook", "lab", "trace", str(f), "--src", "127.0.0.1", "--dst", "127.0.0.1",
            "--proto", "tcp", "--dport", "3001", "--from-node", "--node-ip", "192.168.0.2", "--fail-on-drop"]
    # route_localnet=0 (default): dropped by routing after the DNAT -> exit 1 and a note saying why
    p = subprocess.run(base, capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 1, p.stderr
    assert "DROP" in p.stdout and "route_localnet" in p.stdout
    # route_localnet=1, legacy backend, leaving on eth1: POSTROUTING 1 (-o eth1) masquerades -> exit 0
    p = subprocess.run(base + ["--sysctl", "net.ipv4.conf.all.route_localnet=1", "--backend", "legacy",
                               "--out-iface", "eth1", "--json"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    (b,) = json.loads(p.stdout)["branches"]
    assert (b["verdict"], b["dnat"], b["masquerade"]) == ("ACCEPT", "10.180.0.1:80", True)
    assert [(s["table"], s["chain"], s["position"], s["action"]) for s in b["steps"]] == [
        ("nat", "OUTPUT", 1, "DNAT"), ("nat", "POSTROUTING", 1, "MASQUERADE")]


def test_ipsets_are_made_in_the_node(lab_ok, tmp_path):
    f = tmp_path / "set.rules"
    f.write_text("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                 "-A INPUT -p tcp -m tcp --dport 22 -m set --match-set allow src -j ACCEPT\nCOMMIT\n")
    got = {}
    for src in ("10.1.2.3", "10.2.0.1"):
        p = subprocess.run([sys.executable, "-m", "workbook", "lab", "trace", str(f), "--src", src, "--dst", "192.168.0.2",
                            "--proto", "tcp", "--dport", "22", "--node-ip", "192.168.0.2", "--ipset", "allow=10.1.0.0/16",
                            "--json"], capture_output=True, text=True, cwd=ROOT)
        assert p.returncode == 0, p.stderr
        (b,) = json.loads(p.stdout)["branches"]
        got[src] = [(s["chain"], s["position"], s["action"]) for s in b["steps"]]
    # 10.1.2.3 is in the set: INPUT 1 ACCEPTs; 10.2.0.1 is not: INPUT's policy DROP
    assert got == {"10.1.2.3": [("INPUT", 1, "ACCEPT")], "10.2.0.1": [("INPUT", None, "policy:DROP")]}


def test_cli_lab_without_subcommand_is_usage_exit_2():
    p = subprocess.run([sys.executable, "-m", "workbook", "lab"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and "usage: nfwb lab trace" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
