"""raw and mangle as admins and CNIs use them: NOTRACK / CT --notrack / CT --zone, MARK and
CONNMARK, TCPMSS clamping, TOS, and nat that untracked packets never reach."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, node_ip, outside_ip

SHAPE = "raw-mangle"


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    s = Save()
    hints: list[Hint] = []
    udp_port = rnd.choice([53, 123, 4789, 8472])
    notrack = rnd.choice(["-j NOTRACK", "-j CT --notrack"])
    s.add("raw", "PREROUTING", f"-p udp -m udp --dport {udp_port} {notrack}")
    s.add("raw", "OUTPUT", f"-p udp -m udp --sport {udp_port} {notrack}")
    if rnd.random() < 0.5:
        s.add("raw", "PREROUTING", f"-i eth0 -p tcp -m tcp --dport {rnd.choice([80, 443])} -j CT --zone {rnd.randint(1, 9)}")
    if rnd.random() < 0.4:
        s.add("raw", "PREROUTING", "-s 192.0.2.0/24 -j DROP")
        hints.append(Hint("192.0.2.44", node, "tcp", 80, "eth0", "dropped in raw"))
    mark = rnd.choice(["0x1", "0x10", "0x100"])
    s.add("mangle", "PREROUTING", "-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff")
    s.add("mangle", "PREROUTING", f"-m mark ! --mark 0x0 -j ACCEPT")
    s.add("mangle", "PREROUTING", f"-i eth0 -p tcp -m multiport --dports 80,443 -j MARK --set-xmark {mark}/0xffffffff")
    s.add("mangle", "PREROUTING", f"-s 10.50.0.0/16 -j MARK --set-mark {hex(int(mark, 16) * 2)}")
    s.add("mangle", "PREROUTING", "-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff")
    s.add("mangle", "FORWARD", "-p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu")
    if rnd.random() < 0.5:
        s.add("mangle", "POSTROUTING", f"-o {rnd.choice(['eth1', 'nfwb-sink'])} -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1360")
    s.add("mangle", "OUTPUT", f"-p tcp -m tcp --dport 22 -j TOS --set-tos {rnd.choice(['0x10', 'Minimize-Delay', '0x08/0x3f'])}")
    if rnd.random() < 0.3:
        s.add("mangle", "POSTROUTING", "-m mark --mark 0x2/0x2 -j DSCP --set-dscp-class AF41")
    # filter and nat reading those marks
    s.add("filter", "FORWARD", f"-m mark --mark {mark} -j ACCEPT")
    s.add("filter", "FORWARD", f"-m connmark --mark {hex(int(mark, 16) * 2)} -j ACCEPT")
    s.add("filter", "FORWARD", "-m conntrack --ctstate UNTRACKED -j ACCEPT")
    s.add("filter", "FORWARD", rnd.choice(["-j DROP", "-j REJECT --reject-with icmp-admin-prohibited", ""]) or "-j RETURN")
    s.add("filter", "INPUT", "-m conntrack --ctstate UNTRACKED -j ACCEPT")
    s.add("filter", "INPUT", "-m state --state INVALID -j DROP")
    s.add("nat", "PREROUTING", f"-p udp -m udp --dport {udp_port} -j DNAT --to-destination 10.96.0.10:{udp_port}")
    s.add("nat", "PREROUTING", f"-m mark --mark {mark} -p tcp -j DNAT --to-destination 10.97.0.{rnd.randrange(2, 250)}")
    s.add("nat", "POSTROUTING", f"-s 10.50.0.0/16 -j MASQUERADE")
    s.add("nat", "OUTPUT", f"-p udp -m udp --dport {udp_port} -j DNAT --to-destination 10.96.0.10:{udp_port}")
    hints += [Hint(outside_ip(rnd), node, "udp", udp_port, "eth0", "untracked udp: no nat"),
              Hint(outside_ip(rnd), "10.20.0.9", "udp", udp_port, "eth0", "untracked, forwarded"),
              Hint(outside_ip(rnd), node, "tcp", 80, "eth0", "marked in mangle, DNAT by mark"),
              Hint(outside_ip(rnd), "10.20.0.9", "tcp", 443, "eth0", "marked and forwarded"),
              Hint("10.50.3.4", "8.8.8.8", "tcp", 443, "eth2", "marked by source, masqueraded"),
              Hint("10.50.3.4", "8.8.8.8", "udp", udp_port, "eth2", "untracked from the marked source"),
              Hint(node, "8.8.8.8", "udp", udp_port, None, "the node's own untracked query"),
              Hint(node, "10.20.0.9", "tcp", 22, None, "ssh from the node (TOS)"),
              Hint(outside_ip(rnd), "10.20.0.9", "tcp", 22, "eth0", "forwarded ssh, unmarked")]
    return Shaped(SHAPE, seed, s.text(), (node,), hints, out_iface=rnd.choice(["eth1", "nfwb-sink"]),
                  in_ifaces=("eth0", "eth2"))
