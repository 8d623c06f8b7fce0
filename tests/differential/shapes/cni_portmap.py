"""CNI portmap hostPorts (CHAINS.md §2): CNI-HOSTPORT-DNAT, CNI-DN-<hash>, CNI-HOSTPORT-SETMARK/MASQ
with the hairpin and localhost marks, and the bridge plugin's per-pod ipMasq chains (§2.4)."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, hexid, host_in, node_ip, outside_ip

SHAPE = "cni-portmap"


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    podnet = f"10.{rnd.randrange(1, 250)}.{rnd.randrange(0, 250)}.0/24"
    bridge = rnd.choice(["cni0", "cbr0", "cni-podman0"])
    net = rnd.choice(["k8s-pod-network", "cbr0", "podman"])
    mark = rnd.choice(["0x2000", "0x2000", "0x4000"])
    s = Save()
    s.add("nat", "PREROUTING", "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT")
    s.add("nat", "OUTPUT", "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT")
    s.add("nat", "POSTROUTING", '-m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ')
    s.add("nat", "CNI-HOSTPORT-SETMARK", f'-m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark {mark}/{mark}')
    s.add("nat", "CNI-HOSTPORT-MASQ", f"-m mark --mark {mark}/{mark} -j MASQUERADE")
    hints: list[Hint] = []
    used: set[tuple[str, int]] = set()
    pods = []
    for _ in range(rnd.randint(1, 4)):
        cid = hexid(rnd, 64)
        chain = f"CNI-DN-{hexid(rnd, 21)}"
        pod = host_in(rnd, podnet)
        pods.append(pod)
        maps = []
        for _ in range(rnd.randint(1, 3)):
            proto = rnd.choice(["tcp", "tcp", "udp"])
            hp = rnd.choice([80, 443, 8080, 30080, 5353, 9090, 6379])
            if (proto, hp) in used:
                continue
            used.add((proto, hp))
            maps.append((proto, hp, rnd.choice([80, 8080, 53, 9090, 6379]), rnd.random() < 0.25))
        for proto in sorted({m[0] for m in maps}):
            ports = ",".join(str(m[1]) for m in maps if m[0] == proto)
            s.add("nat", "CNI-HOSTPORT-DNAT", f'-p {proto} -m comment --comment "dnat name: \\"{net}\\" id: \\"{cid}\\"" '
                  f"-m multiport --dports {ports} -j {chain}")
        for proto, hp, cp, hostip in maps:
            d = f"-d {node}/32 " if hostip else ""
            s.add("nat", chain, f"{d}-s {podnet} -p {proto} -m {proto} --dport {hp} -j CNI-HOSTPORT-SETMARK")
            s.add("nat", chain, f"{d}-s 127.0.0.1/32 -p {proto} -m {proto} --dport {hp} -j CNI-HOSTPORT-SETMARK")
            s.add("nat", chain, f"{d}-p {proto} -m {proto} --dport {hp} -j DNAT --to-destination {pod}:{cp}")
            hints += [Hint(outside_ip(rnd), node, proto, hp, "eth0", "hostPort from outside"),
                      Hint(host_in(rnd, podnet), node, proto, hp, bridge, "hostPort from a pod (hairpin mark)"),
                      Hint(pod, node, proto, hp, bridge, "pod to its own hostPort"),
                      Hint(node, node, proto, hp, None, "hostPort from the node"),
                      Hint("127.0.0.1", "127.0.0.1", proto, hp, None, "hostPort on localhost")]
        if rnd.random() < 0.6:  # the bridge plugin's ipMasq chain of this pod
            mchain = f"CNI-{hexid(rnd, 24)}"
            c = f'-m comment --comment "name: \\"{net}\\" id: \\"{cid}\\""'
            s.add("nat", "POSTROUTING", f"-s {pod}/32 {c} -j {mchain}")
            s.add("nat", mchain, f"-d {podnet} {c} -j ACCEPT")
            s.add("nat", mchain, f"! -d 224.0.0.0/4 {c} -j MASQUERADE")
            hints.append(Hint(pod, "1.1.1.1", "udp", 53, bridge, "pod to the internet (ipMasq)"))
            hints.append(Hint(pod, "224.0.0.251", "udp", 5353, bridge, "pod multicast (not masqueraded)"))
    if rnd.random() < 0.5:  # a leaked entry of a dead pod, above the live one (CHAINS.md §2.3)
        proto, hp = next(iter(sorted(used)))
        dead = f"CNI-DN-{hexid(rnd, 21)}"
        s.add("nat", dead, f"-p {proto} -m {proto} --dport {hp} -j DNAT --to-destination {host_in(rnd, podnet)}:{hp}")
        s.rules["nat"].insert(next(i for i, r in enumerate(s.rules["nat"]) if r.startswith("-A CNI-HOSTPORT-DNAT")),
                              f"-A CNI-HOSTPORT-DNAT -p {proto} -m multiport --dports {hp} -j {dead}")
    s.add("filter", "FORWARD", f"-i {bridge} -j ACCEPT")
    s.add("filter", "FORWARD", f"-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    return Shaped(SHAPE, seed, s.text(), (node,), hints, out_iface=rnd.choice(["nfwb-sink", "eth1"]),
                  in_ifaces=("eth0", bridge), pools={"inside": podnet})
