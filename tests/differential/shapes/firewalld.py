"""firewalld's iptables backend (iptables-tests-fedora27-firewalld.iptables-save-c): _direct,
_ZONES(_SOURCE) dispatch with -g into IN_/FWDI_/FWDO_<zone> and its _log/_deny/_allow parts."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, node_ip, outside_ip

SHAPE = "firewalld"


def _zone(s: Save, table: str, prefix: str, zone: str) -> None:
    for part in ("log", "deny", "allow"):
        s.add(table, f"{prefix}_{zone}", f"-j {prefix}_{zone}_{part}")


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    zones = rnd.sample(["public", "FedoraWorkstation", "internal", "trusted", "dmz"], rnd.randint(1, 2))
    iface = "eth0"
    s = Save()
    for t, hooks in (("raw", ("PREROUTING", "OUTPUT")), ("mangle", ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"))):
        for hk in hooks:
            s.add(t, hk, f"-j {hk}_direct")
        s.add(t, "PREROUTING", "-j PREROUTING_ZONES_SOURCE")
        s.add(t, "PREROUTING", "-j PREROUTING_ZONES")
        s.add(t, "PREROUTING_ZONES", f"-i {iface} -g PRE_{zones[0]}")
        s.add(t, "PREROUTING_ZONES", f"-g PRE_{zones[-1]}")
        for z in zones:
            _zone(s, t, "PRE", z)
            for part in ("log", "deny", "allow"):
                s.chain(t, f"PRE_{z}_{part}")
    s.add("raw", f"PRE_{zones[0]}_allow", "-p udp -m udp --dport 137 -j CT --helper netbios-ns")
    if rnd.random() < 0.5:
        s.add("mangle", "POSTROUTING", "-o virbr0 -p udp -m udp --dport 68 -j CHECKSUM --checksum-fill")
    s.add("filter", "INPUT", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    s.add("filter", "INPUT", "-i lo -j ACCEPT")
    for x in ("INPUT_direct", "INPUT_ZONES_SOURCE", "INPUT_ZONES"):
        s.add("filter", "INPUT", f"-j {x}")
    s.add("filter", "INPUT", "-m conntrack --ctstate INVALID -j DROP")
    s.add("filter", "INPUT", "-j REJECT --reject-with icmp-host-prohibited")
    s.add("filter", "FORWARD", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    s.add("filter", "FORWARD", "-i lo -j ACCEPT")
    for x in ("FORWARD_direct", "FORWARD_IN_ZONES_SOURCE", "FORWARD_IN_ZONES", "FORWARD_OUT_ZONES_SOURCE", "FORWARD_OUT_ZONES"):
        s.add("filter", "FORWARD", f"-j {x}")
    s.add("filter", "FORWARD", "-m conntrack --ctstate INVALID -j DROP")
    s.add("filter", "FORWARD", "-j REJECT --reject-with icmp-host-prohibited")
    s.add("filter", "OUTPUT", "-j OUTPUT_direct")
    hints = [Hint(outside_ip(rnd), node, "tcp", 31337, "eth0", "a closed port (REJECT host-prohibited)"),
             Hint(outside_ip(rnd), node, "icmp", None, "eth0", "ping"),
             Hint(outside_ip(rnd), "10.10.0.5", "tcp", 80, "eth0", "forwarded"),
             Hint(node, "8.8.8.8", "udp", 53, None, "the host's DNS")]
    s.add("filter", "INPUT_ZONES", f"-i {iface} -g IN_{zones[0]}")
    s.add("filter", "INPUT_ZONES", f"-g IN_{zones[-1]}")
    s.add("filter", "FORWARD_IN_ZONES", f"-i {iface} -g FWDI_{zones[0]}")
    s.add("filter", "FORWARD_IN_ZONES", f"-g FWDI_{zones[-1]}")
    s.add("filter", "FORWARD_OUT_ZONES", f"-o {iface} -g FWDO_{zones[0]}")
    s.add("filter", "FORWARD_OUT_ZONES", f"-g FWDO_{zones[-1]}")
    src = None
    if rnd.random() < 0.5:  # a source-bound zone
        src = f"{outside_ip(rnd).rsplit('.', 1)[0]}.0/24"
        s.add("filter", "INPUT_ZONES_SOURCE", f"-s {src} -g IN_{zones[-1]}")
        hints.append(Hint(src.replace(".0/24", ".9"), node, "tcp", 22, "eth0", "from a source-bound zone"))
    for x in ("INPUT_direct", "FORWARD_direct", "OUTPUT_direct", "FORWARD_IN_ZONES_SOURCE", "FORWARD_OUT_ZONES_SOURCE",
              "INPUT_ZONES_SOURCE"):
        s.chain("filter", x)
    for z in zones:
        for prefix in ("IN", "FWDI", "FWDO"):
            s.add("filter", f"{prefix}_{z}", f"-j {prefix}_{z}_log")
            s.add("filter", f"{prefix}_{z}", f"-j {prefix}_{z}_deny")
            s.add("filter", f"{prefix}_{z}", f"-j {prefix}_{z}_allow")
            for part in ("log", "deny", "allow"):
                s.chain("filter", f"{prefix}_{z}_{part}")
        if z == "trusted":
            s.add("filter", f"IN_{z}", "-j ACCEPT")
        else:
            s.add("filter", f"IN_{z}", "-p icmp -j ACCEPT")
        for svc in rnd.sample([("tcp", 22), ("udp", 546), ("tcp", 9090), ("tcp", 80), ("tcp", 443), ("udp", 5353)], 3):
            s.add("filter", f"IN_{z}_allow", f"-p {svc[0]} -m {svc[0]} --dport {svc[1]} -m conntrack --ctstate NEW,UNTRACKED -j ACCEPT")
            hints.append(Hint(outside_ip(rnd), node, svc[0], svc[1], "eth0", f"service of zone {z}"))
        if rnd.random() < 0.4:  # a rich rule with logging and a rate
            s.add("filter", f"IN_{z}_log", '-p tcp -m tcp --dport 23 -m conntrack --ctstate NEW,UNTRACKED -m limit --limit 1/min -j LOG --log-prefix "telnet "')
            s.add("filter", f"IN_{z}_deny", "-s 203.0.113.0/24 -j DROP")
            hints.append(Hint("203.0.113.50", node, "tcp", 23, "eth0", "rich rule: log and deny"))
        if rnd.random() < 0.4:  # masquerade of the zone
            s.add("nat", "POSTROUTING", "-j POSTROUTING_ZONES")
            s.add("nat", "POSTROUTING_ZONES", f"-o eth1 -g POST_{z}")
            s.add("nat", f"POST_{z}", f"-j POST_{z}_allow")
            s.add("nat", f"POST_{z}_allow", "! -o lo -j MASQUERADE")
            s.add("filter", f"FWDO_{z}_allow", "-m conntrack --ctstate NEW,UNTRACKED -j ACCEPT")
            s.add("filter", f"FWDI_{z}_allow", "-m conntrack --ctstate NEW,UNTRACKED -j ACCEPT")
            hints.append(Hint("10.10.0.5", "8.8.8.8", "udp", 53, "eth2", "masqueraded by the zone"))
    return Shaped(SHAPE, seed, s.text(), (node,), hints, out_iface=rnd.choice(["eth1", "nfwb-sink"]), in_ifaces=("eth0",))
