"""ufw (ufw-server1.iptables-save): the ufw-before/after/user/logging chains, state tracking,
limit-guarded LOG, ufw-not-local's addrtype, "ufw limit" rules built on -m recent."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, node_ip, outside_ip

SHAPE = "ufw"

_LOG = '-m limit --limit 3/min --limit-burst 10 -j LOG --log-prefix "[UFW {}] "'


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    s = Save()
    s.policy("filter", "INPUT", rnd.choice(["DROP", "DROP", "ACCEPT"]))
    s.policy("filter", "FORWARD", "DROP")
    for hook in ("INPUT", "FORWARD", "OUTPUT"):
        h = hook.lower()
        for part in ("before-logging", "before", "after", "after-logging", "reject"):
            s.add("filter", hook, f"-j ufw-{part}-{h}")
        if hook != "FORWARD":
            s.add("filter", hook, f"-j ufw-track-{h}")
    s.add("filter", "ufw-before-input", "-i lo -j ACCEPT")
    s.add("filter", "ufw-before-input", "-m state --state RELATED,ESTABLISHED -j ACCEPT")
    s.add("filter", "ufw-before-input", "-m state --state INVALID -j ufw-logging-deny")
    s.add("filter", "ufw-before-input", "-m state --state INVALID -j DROP")
    for t in (3, 4, 11, 12, 8):
        s.add("filter", "ufw-before-input", f"-p icmp -m icmp --icmp-type {t} -j ACCEPT")
    s.add("filter", "ufw-before-input", "-p udp -m udp --sport 67 --dport 68 -j ACCEPT")
    s.add("filter", "ufw-before-input", "-j ufw-not-local")
    s.add("filter", "ufw-before-input", "-d 224.0.0.251/32 -p udp -m udp --dport 5353 -j ACCEPT")
    s.add("filter", "ufw-before-input", "-d 239.255.255.250/32 -p udp -m udp --dport 1900 -j ACCEPT")
    s.add("filter", "ufw-before-input", "-j ufw-user-input")
    s.add("filter", "ufw-before-output", "-o lo -j ACCEPT")
    s.add("filter", "ufw-before-output", "-m state --state RELATED,ESTABLISHED -j ACCEPT")
    s.add("filter", "ufw-before-output", "-j ufw-user-output")
    s.add("filter", "ufw-before-forward", "-m state --state RELATED,ESTABLISHED -j ACCEPT")
    s.add("filter", "ufw-before-forward", "-j ufw-user-forward")
    for proto, port in (("udp", 137), ("udp", 138), ("tcp", 139), ("tcp", 445), ("udp", 67), ("udp", 68)):
        s.add("filter", "ufw-after-input", f"-p {proto} -m {proto} --dport {port} -j ufw-skip-to-policy-input")
    s.add("filter", "ufw-after-input", "-m addrtype --dst-type BROADCAST -j ufw-skip-to-policy-input")
    for h in ("input", "forward"):
        s.add("filter", f"ufw-after-logging-{h}", _LOG.format("BLOCK"))
    s.add("filter", "ufw-logging-allow", _LOG.format("ALLOW"))
    s.add("filter", "ufw-logging-deny", "-m state --state INVALID -m limit --limit 3/min --limit-burst 10 -j RETURN")
    s.add("filter", "ufw-logging-deny", _LOG.format("BLOCK"))
    s.add("filter", "ufw-not-local", "-m addrtype --dst-type LOCAL -j RETURN")
    s.add("filter", "ufw-not-local", "-m addrtype --dst-type MULTICAST -j RETURN")
    s.add("filter", "ufw-not-local", "-m addrtype --dst-type BROADCAST -j RETURN")
    s.add("filter", "ufw-not-local", "-m limit --limit 3/min --limit-burst 10 -j ufw-logging-deny")
    s.add("filter", "ufw-not-local", "-j DROP")
    s.add("filter", "ufw-skip-to-policy-forward", "-j DROP")
    s.add("filter", "ufw-skip-to-policy-input", "-j DROP")
    s.add("filter", "ufw-skip-to-policy-output", "-j ACCEPT")
    s.add("filter", "ufw-track-output", "-p tcp -m state --state NEW -j ACCEPT")
    s.add("filter", "ufw-track-output", "-p udp -m state --state NEW -j ACCEPT")
    if rnd.random() < 0.5:
        s.add("filter", "ufw-track-input", "-p tcp -m state --state NEW -j ACCEPT")
    s.chain("filter", "ufw-reject-input")
    for c in ("ufw-reject-forward", "ufw-reject-output", "ufw-after-output", "ufw-after-forward",
              "ufw-after-logging-output", "ufw-before-logging-input", "ufw-before-logging-output",
              "ufw-before-logging-forward", "ufw-user-output", "ufw-user-forward"):
        s.chain("filter", c)
    hints = [Hint(outside_ip(rnd), node, "tcp", 31337, "eth0", "a closed port"),
             Hint(outside_ip(rnd), node, "udp", 137, "eth0", "netbios (skip to policy)"),
             Hint(outside_ip(rnd), node, "icmp", None, "eth0", "ping"),
             Hint(outside_ip(rnd), "198.18.0.9", "tcp", 80, "eth0", "not for this host (ufw-not-local)"),
             Hint(outside_ip(rnd), "224.0.0.251", "udp", 5353, "eth0", "mDNS"),
             Hint(node, "8.8.8.8", "udp", 53, None, "the host's DNS query"),
             Hint(node, "8.8.8.8", "tcp", 443, None, "the host's https")]
    allowed = []
    for _ in range(rnd.randint(2, 7)):
        kind = rnd.random()
        port = rnd.choice([22, 80, 443, 8080, 25, 3306, 5432, 9340, 27562])
        if kind < 0.4:
            s.add("filter", "ufw-user-input", f"-p tcp -m tcp --dport {port} -j ACCEPT")
        elif kind < 0.55:
            net = f"{outside_ip(rnd).rsplit('.', 1)[0]}.0/24"
            s.add("filter", "ufw-user-input", f"-s {net} -j ACCEPT")
            hints.append(Hint(net.replace(".0/24", ".77"), node, "tcp", port, "eth0", "from an allowed network"))
        elif kind < 0.7:
            s.add("filter", "ufw-user-input", f"-p udp -m multiport --dports {port}:{port + 1000} -j ACCEPT")
            hints.append(Hint(outside_ip(rnd), node, "udp", port + rnd.randrange(0, 1001), "eth0", "udp port range"))
        elif kind < 0.85:  # ufw limit <port>/tcp
            s.add("filter", "ufw-user-input", f"-p tcp -m tcp --dport {port} -m conntrack --ctstate NEW -m recent --set --name DEFAULT --mask 255.255.255.255 --rsource")
            s.add("filter", "ufw-user-input", f"-p tcp -m tcp --dport {port} -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 --name DEFAULT --mask 255.255.255.255 --rsource -j ufw-user-limit")
            s.add("filter", "ufw-user-input", f"-p tcp -m tcp --dport {port} -j ufw-user-limit-accept")
        else:
            s.add("filter", "ufw-user-input", f"-p tcp -m tcp --dport {port} -j {rnd.choice(['DROP', 'REJECT --reject-with tcp-reset'])}")
        allowed.append(port)
        hints.append(Hint(outside_ip(rnd), node, "tcp", port, "eth0", "a ufw user rule's port"))
    s.add("filter", "ufw-user-limit", '-m limit --limit 3/min -j LOG --log-prefix "[UFW LIMIT BLOCK] "')
    s.add("filter", "ufw-user-limit", "-j REJECT --reject-with icmp-port-unreachable")
    s.add("filter", "ufw-user-limit-accept", "-j ACCEPT")
    if rnd.random() < 0.4:  # "ufw route allow" and a NAT in before.rules
        s.add("filter", "ufw-user-forward", "-i eth0 -o eth1 -p tcp -m tcp --dport 80 -j ACCEPT")
        s.add("nat", "POSTROUTING", "-s 10.8.0.0/24 -o eth1 -j MASQUERADE")
        hints.append(Hint(outside_ip(rnd), "10.8.0.5", "tcp", 80, "eth0", "routed by ufw route allow"))
        hints.append(Hint("10.8.0.5", "8.8.8.8", "udp", 53, "tun0", "VPN client to the internet"))
    return Shaped(SHAPE, seed, s.text(), (node,), hints, out_iface="eth1", in_ifaces=("eth0",), pools={})
