"""``nfwb trace``: the CLI contract (JSON shape, exit codes, dump folders)."""

from __future__ import annotations

import json

from tests.realparts import ROOT
from workbook.cli import main

from .test_trace_unit import SEED_TEXT, _svc3

EKS = ROOT / "datasets" / "eks-node"


def _write(tmp_path, text, name="rules.txt"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_json_is_the_trace_contract(tmp_path, capsys):
    f = _write(tmp_path, SEED_TEXT)
    rc = main(["trace", f, "--src", "192.168.3.100", "--dst", "10.100.0.10", "--proto", "udp", "--dport", "53",
               "--in-iface", "eni1", "--node-ip", "192.168.3.215", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    # design.md §3: packet, branches with probability/verdict/dnat/snat/masquerade/steps
    assert out["packet"] == {"src": "192.168.3.100", "dst": "10.100.0.10", "proto": "udp", "sport": 40000,
                             "dport": 53, "in_iface": "eni1", "from_node": False}
    assert [(b["probability"], b["verdict"], b["dnat"], b["snat"], b["masquerade"]) for b in out["branches"]] == [
        (0.5, "ACCEPT", "192.168.1.77:53", None, False), (0.5, "ACCEPT", "192.168.2.64:53", None, False)]
    step = out["branches"][0]["steps"][0]
    assert set(step) == {"hook", "table", "chain", "position", "spec", "matched", "action"}
    assert (step["hook"], step["table"], step["chain"], step["position"], step["action"]) == (
        "PREROUTING", "nat", "PREROUTING", 1, "JUMP:KUBE-SERVICES")
    # a rule that did not match carries "why"
    miss = out["branches"][0]["steps"][2]
    assert miss["matched"] is False and miss["why"] == "-p tcp does not match udp"


def test_text_output_and_fail_on_drop(tmp_path, capsys):
    f = _write(tmp_path, "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n")
    base = ["trace", f, "--src", "10.0.0.9", "--dst", "10.0.0.1", "--proto", "tcp", "--node-ip", "10.0.0.1"]
    # port 22 is accepted: exit 0 even with --fail-on-drop
    assert main(base + ["--dport", "22", "--fail-on-drop"]) == 0
    assert "ACCEPT" in capsys.readouterr().out
    # port 23 meets the DROP policy: exit 0 normally, 1 with --fail-on-drop
    assert main(base + ["--dport", "23"]) == 0
    out = capsys.readouterr().out
    assert "policy:DROP" in out and "branch 1/1  probability 1  DROP" in out
    assert main(base + ["--dport", "23", "--fail-on-drop", "--all-steps"]) == 1
    assert "--dport 22 does not match 23" in capsys.readouterr().out


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    f = _write(tmp_path, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j\nCOMMIT\n")
    rc = main(["trace", f, "--src", "10.0.0.9", "--dst", "10.0.0.1", "--proto", "tcp", "--dport", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and f"{f}:3:" in err
    rc = main(["trace", str(tmp_path / "missing.txt"), "--src", "10.0.0.9", "--dst", "10.0.0.1", "--proto", "tcp",
               "--dport", "1"])
    assert rc == 2 and "missing.txt" in capsys.readouterr().err


def test_ipset_argument(tmp_path, capsys):
    f = _write(tmp_path, "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set bad src -j DROP\nCOMMIT\n")
    base = ["trace", f, "--dst", "10.0.0.1", "--proto", "tcp", "--dport", "1", "--node-ip", "10.0.0.1", "--json"]
    # 198.51.100.7 is in bad (198.51.100.0/24) → DROP; 192.0.2.1 is not → policy ACCEPT
    main(base + ["--src", "198.51.100.7", "--ipset", "bad=198.51.100.0/24,203.0.113.5"])
    assert json.loads(capsys.readouterr().out)["branches"][0]["verdict"] == "DROP"
    main(base + ["--src", "192.0.2.1", "--ipset", "bad=198.51.100.0/24"])
    out = json.loads(capsys.readouterr().out)
    assert out["branches"][0]["verdict"] == "ACCEPT" and "assumed" not in out


def test_node_dump_folder_uses_its_addresses(capsys):
    # datasets/eks-node is the seed's EKS worker (192.168.3.215) as an nfwb dump; kube-dns as in the seed
    rc = main(["trace", str(EKS), "--src", "192.168.3.100", "--dst", "10.100.0.10", "--proto", "udp",
               "--dport", "53", "--in-iface", "eni1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert sorted(b["dnat"] for b in out["branches"]) == ["192.168.1.77:53", "192.168.2.64:53"]
    # to the node's own address (port 10250, kubelet): no DNAT, delivered locally (INPUT)
    main(["trace", str(EKS), "--src", "192.168.3.100", "--dst", "192.168.3.215", "--proto", "tcp",
          "--dport", "10250", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert {s["hook"] for s in out["branches"][0]["steps"]} <= {"PREROUTING", "INPUT"}
    assert any(s["hook"] == "INPUT" for s in out["branches"][0]["steps"])


def test_from_node_text(tmp_path, capsys):
    f = _write(tmp_path, _svc3())
    rc = main(["trace", f, "--src", "192.168.0.10", "--dst", "10.96.0.50", "--proto", "tcp", "--dport", "80",
               "--from-node", "--node-ip", "192.168.0.10"])
    out = capsys.readouterr().out
    # three endpoints, each a third; the node is not a pod → MASQUERADE on every branch
    heads = [line for line in out.splitlines() if line.startswith("branch ")]
    assert rc == 0 and len(heads) == 3
    assert all("probability 0.3333" in h and h.endswith("ACCEPT  DNAT→" + h.split("DNAT→")[1]) for h in heads)
    assert all("MASQUERADE" in h for h in heads)
    assert "from the node" in out


def test_ipset_save_file(tmp_path, capsys):
    from tests.realparts import DATA
    sets = DATA / "rulesets" / "kube-router-dualstack.ipset-save"
    f = _write(tmp_path, "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n"
                         "-A FORWARD -m set --match-set kube-router-svip-prt dst,dst -j ACCEPT\nCOMMIT\n")
    base = ["trace", f, "--src", "10.242.0.5", "--dst", "10.96.0.1", "--proto", "tcp", "--in-iface", "cni0",
            "--node-ip", "10.241.0.21", "--ipset-save", str(sets), "--json"]
    # the file has "add kube-router-svip-prt 10.96.0.1,tcp:443": (dst ip, dst port) 10.96.0.1,443 is a member
    main(base + ["--dport", "443"])
    assert json.loads(capsys.readouterr().out)["branches"][0]["verdict"] == "ACCEPT"
    # 10.96.0.1 port 80 is not in the set → FORWARD's policy DROP
    main(base + ["--dport", "80"])
    out = json.loads(capsys.readouterr().out)
    assert out["branches"][0]["verdict"] == "DROP"
    assert out["branches"][0]["steps"][0]["why"] == (
        "-m set --match-set kube-router-svip-prt dst,dst: 10.96.0.1,80 is not in kube-router-svip-prt")


def test_ipv6_packet_uses_the_dumps_ip6tables_rules(capsys):
    from tests.realparts import DATA
    dump = DATA / "dumps" / "nfwb-minimal"
    # ip6tables-save.txt there has only filter with empty chains; ::1 is local → INPUT → policy ACCEPT
    rc = main(["trace", str(dump), "--src", "2001:db8::9", "--dst", "::1", "--proto", "icmp", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [(s["hook"], s["table"], s["action"]) for s in out["branches"][0]["steps"]] == [
        ("INPUT", "filter", "policy:ACCEPT")]


RPF = "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m rpfilter --invert -j DROP\nCOMMIT\n"
RPF_ARGS = ["--src", "198.51.100.7", "--dst", "10.0.0.1", "--proto", "tcp", "--dport", "22", "--in-iface", "eth1",
            "--node-ip", "10.0.0.1", "--fail-on-drop"]


def test_rpfilter_routes_file_and_dump(tmp_path, capsys):
    f = _write(tmp_path, RPF)
    # no routes: the way back is assumed to be eth1, where the packet came in -> passes, [assumed]
    assert main(["trace", f, *RPF_ARGS]) == 0
    assert "[assumed]" not in capsys.readouterr().out  # only matched steps are listed; the note says it
    assert main(["trace", f, *RPF_ARGS, "--all-steps"]) == 0
    assert "[assumed]" in capsys.readouterr().out
    # By hand: the only route back to 198.51.100.7 is the default via eth0, not eth1: reverse path
    # invalid, --invert matches, raw PREROUTING 1 drops -> exit 1 with --fail-on-drop
    routes = _write(tmp_path, "default via 10.0.0.254 dev eth0\n10.0.0.0/24 dev eth0 scope link\n", "routes.txt")
    assert main(["trace", f, *RPF_ARGS, "--routes", routes]) == 1
    assert "PREROUTING   raw      PREROUTING                      #1    DROP" in capsys.readouterr().out
    # the same routes read from a node dump folder (our layout's network/ip-route.txt)
    d = tmp_path / "dump"
    (d / "iptables").mkdir(parents=True)
    (d / "network").mkdir()
    (d / "iptables" / "iptables-save.txt").write_text(RPF)
    (d / "network" / "ip-route.txt").write_text((tmp_path / "routes.txt").read_text())
    assert main(["trace", str(d), *RPF_ARGS]) == 1
    capsys.readouterr()
    # By hand: a route 198.51.100.0/24 dev eth1 makes eth1 the way back: valid, no drop
    (d / "network" / "ip-route.txt").write_text("default via 10.0.0.254 dev eth0\n198.51.100.0/24 dev eth1\n")
    assert main(["trace", str(d), *RPF_ARGS]) == 0


def test_accept_local_and_backend(tmp_path, capsys):
    f = _write(tmp_path, "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n*security\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
                         "*nat\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
    spoofed = ["trace", f, "--src", "10.0.0.1", "--dst", "10.0.0.1", "--proto", "tcp", "--dport", "22",
               "--node-ip", "10.0.0.1"]
    # the node's own address arriving on eth0: a martian source (accept_local=0) -> dropped
    assert main(spoofed + ["--fail-on-drop"]) == 1
    assert "martian source" in capsys.readouterr().out
    assert main(spoofed + ["--fail-on-drop", "--accept-local"]) == 0
    out = capsys.readouterr().out
    # iptables-nft (default): nat INPUT (priority 100) before security INPUT (150)
    assert out.index("nat      INPUT") < out.index("security INPUT")
    assert main(spoofed + ["--accept-local", "--backend", "legacy"]) == 0
    out = capsys.readouterr().out
    # iptables-legacy: security INPUT (50) before nat INPUT (100)
    assert out.index("security INPUT") < out.index("nat      INPUT")
