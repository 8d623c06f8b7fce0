"""Docker ≤ 27 bridge networks (CHAINS.md §6.1, moby-bridge-portmap-wsl2 / docker-dfwfw dumps):
DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-1/2, published ports as DNAT, MASQUERADE per subnet."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, hexid, host_in, node_ip, outside_ip

SHAPE = "docker"


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    bridges = [("docker0", "172.17.0.0/16")]
    bridges += [(f"br-{hexid(rnd, 12)}", f"172.{18 + i}.0.0/16") for i in range(rnd.randint(0, 2))]
    hairpin = rnd.random() < 0.3  # userland-proxy off: no "! -i <bridge>", no "! -d 127.0.0.0/8"
    state = rnd.choice(["conntrack", "state"])
    s = Save()
    s.policy("filter", "FORWARD", rnd.choice(["ACCEPT", "DROP"]))
    s.add("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j DOCKER")
    s.add("nat", "OUTPUT", ("" if hairpin else "! -d 127.0.0.0/8 ") + "-m addrtype --dst-type LOCAL -j DOCKER")
    s.add("filter", "FORWARD", "-j DOCKER-USER")
    s.add("filter", "FORWARD", "-j DOCKER-ISOLATION-STAGE-1")
    hints: list[Hint] = []
    containers = []
    for br, net in bridges:
        s.add("nat", "POSTROUTING", f"-s {net} ! -o {br} -j MASQUERADE")
        if hairpin:
            s.add("nat", "POSTROUTING", f"-o {br} -m addrtype --src-type LOCAL -j MASQUERADE")
        s.add("nat", "DOCKER", f"-i {br} -j RETURN")
        ct = "-m conntrack --ctstate RELATED,ESTABLISHED" if state == "conntrack" else "-m state --state RELATED,ESTABLISHED"
        s.add("filter", "FORWARD", f"-o {br} {ct} -j ACCEPT")
        s.add("filter", "FORWARD", f"-o {br} -j DOCKER")
        s.add("filter", "FORWARD", f"-i {br} ! -o {br} -j ACCEPT")
        s.add("filter", "FORWARD", f"-i {br} -o {br} -j {rnd.choice(['ACCEPT', 'ACCEPT', 'DROP'])}")
        s.add("filter", "DOCKER-ISOLATION-STAGE-1", f"-i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2")
        s.add("filter", "DOCKER-ISOLATION-STAGE-2", f"-o {br} -j DROP")
        for j in range(rnd.randint(1 if br == "docker0" else 0, 3)):
            cip = host_in(rnd, net.replace(".0.0/16", ".0.0/24"))
            ports = []
            for _ in range(rnd.randint(0, 2)):
                proto = rnd.choice(["tcp", "tcp", "udp"])
                hp, cp = rnd.choice([8080, 8443, 5432, 3000, 9000 + j, 80]), rnd.choice([80, 443, 5432, 3000, 53])
                if any(p[1] == hp and p[0] == proto for p in ports):
                    continue
                ports.append((proto, hp, cp))
                hostip = rnd.choice(["", "", f"-d {node} ", "-d 127.0.0.1/32 "])
                noti = "" if hairpin else f"! -i {br} "
                s.add("nat", "DOCKER", f"{hostip}{noti}-p {proto} -m {proto} --dport {hp} -j DNAT --to-destination {cip}:{cp}")
                s.add("nat", "POSTROUTING", f"-s {cip}/32 -d {cip}/32 -p {proto} -m {proto} --dport {cp} -j MASQUERADE")
                s.add("filter", "DOCKER", f"-d {cip}/32 ! -i {br} -o {br} -p {proto} -m {proto} --dport {cp} -j ACCEPT")
                hints.append(Hint(outside_ip(rnd), node, proto, hp, "eth0", "published port"))
                hints.append(Hint(node, node, proto, hp, None, "published port from the node"))
                hints.append(Hint("127.0.0.1", "127.0.0.1", proto, hp, None, "published port on localhost"))
                hints.append(Hint(cip, node, proto, hp, br, "hairpin to own published port"))
                hints.append(Hint(outside_ip(rnd), cip, proto, cp, "eth0", "straight to the container"))
            containers.append((br, cip))
    s.add("filter", "DOCKER-ISOLATION-STAGE-1", "-j RETURN")
    s.add("filter", "DOCKER-ISOLATION-STAGE-2", "-j RETURN")
    for _ in range(rnd.randint(0, 3)):  # what admins put into DOCKER-USER
        s.add("filter", "DOCKER-USER", rnd.choice([
            f"-i eth0 -p tcp -m tcp --dport {rnd.choice([5432, 8080, 3000])} -j DROP",
            f"-s {outside_ip(rnd).rsplit('.', 1)[0]}.0/24 -j DROP",
            "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            "-i eth0 ! -s 10.0.0.0/8 -m conntrack --ctstate NEW -j DROP",
            f"-p tcp -m multiport --dports 22,2375,2376 -j REJECT --reject-with tcp-reset",
        ]))
    s.add("filter", "DOCKER-USER", "-j RETURN")
    if rnd.random() < 0.5:
        s.add("filter", "INPUT", "-m conntrack --ctstate INVALID -j DROP")
        s.add("filter", "INPUT", "-p tcp -m tcp --dport 2375 -j DROP")
    for br, cip in containers:
        other = [c for c in containers if c[0] != br]
        if other:
            ob, oip = rnd.choice(other)
            hints.append(Hint(cip, oip, "tcp", 80, br, "across bridges (isolation)"))
        hints.append(Hint(cip, "8.8.8.8", rnd.choice(["udp", "tcp"]), rnd.choice([53, 443]), br, "container to the internet"))
    out = rnd.choice([b for b, _ in bridges] + ["nfwb-sink", "nfwb-sink"])
    return Shaped(SHAPE, seed, s.text(), (node,), hints, out_iface=out,
                  in_ifaces=tuple(["eth0"] + [b for b, _ in bridges]),
                  pools={"inside": bridges[0][1].replace(".0.0/16", ".0.0/24")})
