"""A hand-hardened host firewall, as sysadmin guides write it: bogus TCP flags, SYN floods cut by
limit/hashlimit/connlimit, port-scan lists (recent), ICMP rate limits, conntrack status, quota,
statistic, length/ttl/pkttype/iprange/tcpmss guards, and LOG before DROP."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, node_ip, outside_ip

SHAPE = "hardening"

_GUARDS = [
    "-p tcp -m tcp --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP",
    "-p tcp -m tcp --tcp-flags FIN,SYN FIN,SYN -j DROP",
    "-p tcp -m tcp ! --syn -m conntrack --ctstate NEW -j DROP",
    "-m conntrack --ctstate INVALID -j DROP",
    "-m pkttype --pkt-type broadcast -j DROP",
    "-m ttl --ttl-lt 2 -j DROP",
    "-m length --length 1400:65535 -j DROP",
    "-p tcp -m tcp --syn -m tcpmss ! --mss 536:65535 -j DROP",
    "-m iprange --src-range 198.51.100.100-198.51.100.200 -j DROP",
    "-m conntrack --ctstatus CONFIRMED -j ACCEPT",
    "-m conntrack --ctstate NEW --ctdir REPLY -j DROP",
    "-m addrtype --src-type LOCAL ! -i lo -j DROP",
    "-m recent --name portscan --rcheck --seconds 86400 -j DROP",
]


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    s = Save()
    s.policy("filter", "INPUT", rnd.choice(["DROP", "ACCEPT"]))
    s.add("filter", "INPUT", "-i lo -j ACCEPT")
    s.add("filter", "INPUT", "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    for g in rnd.sample(_GUARDS, rnd.randint(2, 6)):
        s.add("filter", "INPUT", g)
    hints = [Hint(outside_ip(rnd), node, "tcp", 31337, "eth0", "a closed port"),
             Hint("198.51.100.150", node, "tcp", 22, "eth0", "from the blocked range"),
             Hint(node, "8.8.8.8", "udp", 53, None, "the host's own query")]
    if rnd.random() < 0.6:
        s.add("filter", "INPUT", "-p icmp -m icmp --icmp-type 8 -m limit --limit 1/sec --limit-burst 4 -j ACCEPT")
        s.add("filter", "INPUT", "-p icmp -m icmp --icmp-type 8 -j DROP")
        hints.append(Hint(outside_ip(rnd), node, "icmp", None, "eth0", "ping under a rate limit"))
    ssh = rnd.choice([22, 2222])
    way = rnd.randrange(4)
    if way == 0:
        s.add("filter", "INPUT", f"-p tcp -m tcp --dport {ssh} -m conntrack --ctstate NEW -m hashlimit --hashlimit-above "
              f"{rnd.choice(['3/min', '10/sec'])} --hashlimit-burst {rnd.choice([1, 5])} --hashlimit-mode srcip "
              "--hashlimit-name ssh -j DROP")
    elif way == 1:
        s.add("filter", "INPUT", f"-p tcp -m tcp --dport {ssh} -m hashlimit --hashlimit-upto 5/min --hashlimit-burst 3 "
              "--hashlimit-mode srcip,dstport --hashlimit-name sshin -j ACCEPT")
    elif way == 2:
        s.add("filter", "INPUT", f"-p tcp -m tcp --dport {ssh} --syn -m connlimit --connlimit-above {rnd.choice([0, 3])} "
              "--connlimit-mask 32 -j REJECT --reject-with tcp-reset")
    else:
        s.add("filter", "INPUT", f"-p tcp -m tcp --dport {ssh} -m recent --set --name ssh --rsource")
        s.add("filter", "INPUT", f"-p tcp -m tcp --dport {ssh} -m recent --update --seconds 60 --hitcount "
              f"{rnd.choice([1, 4])} --name ssh --rsource -j DROP")
    s.add("filter", "INPUT", f"-p tcp -m tcp --dport {ssh} -j ACCEPT")
    hints.append(Hint(outside_ip(rnd), node, "tcp", ssh, "eth0", "ssh"))
    web = rnd.sample([80, 443, 8080], 2)
    s.add("filter", "INPUT", f"-p tcp -m multiport --dports {web[0]},{web[1]} -m quota --quota {rnd.choice([10, 100000])} -j ACCEPT")
    s.add("filter", "INPUT", f"-p udp -m udp --dport 514 -m statistic --mode nth --every {rnd.choice([1, 2])} --packet 0 -j ACCEPT")
    s.add("filter", "INPUT", "-p tcp -m tcp --dport 23 -m recent --set --name portscan -j DROP")
    hints += [Hint(outside_ip(rnd), node, "tcp", web[0], "eth0", "web under a quota"),
              Hint(outside_ip(rnd), node, "udp", 514, "eth0", "syslog every nth"),
              Hint(outside_ip(rnd), node, "tcp", 23, "eth0", "telnet: onto the port-scan list")]
    s.add("filter", "INPUT", '-m limit --limit 5/min -j LOG --log-prefix "iptables denied: " --log-level 7')
    if rnd.random() < 0.5:
        s.add("filter", "INPUT", "-j REJECT --reject-with icmp-host-prohibited")
    s.add("filter", "OUTPUT", "-m conntrack --ctstate INVALID -j DROP")
    s.add("filter", "OUTPUT", "-p udp -m udp --dport 53 -m length --length 0:512 -j ACCEPT")
    return Shaped(SHAPE, seed, s.text(), (node,), hints, in_ifaces=("eth0",))
