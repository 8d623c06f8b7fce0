"""AWS VPC CNI (CHAINS.md §4): AWS-SNAT-CHAIN-0 / AWS-CONNMARK-CHAIN-0 in both layouts, CONNMARK
save/restore in nat and mangle, eni* pod interfaces, SNAT to the primary ENI address."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, hexid, host_in, node_ip, outside_ip

SHAPE = "aws-vpc-cni"


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    vpcs = ["192.168.0.0/16"] + ([f"100.64.0.0/16"] if rnd.random() < 0.4 else [])
    mark = rnd.choice(["0x80", "0x80", "0x100"])
    legacy = rnd.random() < 0.4  # ≤ v1.16.0: one chain per CIDR, linked with "! -d"
    rnd_snat = rnd.choice(["", " --random-fully", " --random"])
    s = Save()
    s.add("nat", "PREROUTING", '-i eni+ -m comment --comment "AWS, outbound connections" '
          + ("-m state --state NEW " if legacy and rnd.random() < 0.5 else "") + "-j AWS-CONNMARK-CHAIN-0")
    s.add("nat", "PREROUTING", f'-m comment --comment "AWS, CONNMARK" -j CONNMARK --restore-mark --nfmask {mark} --ctmask {mark}')
    s.add("nat", "POSTROUTING", '-m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0')
    snat = f'! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source {node}{rnd_snat}'
    cm = f'-m comment --comment "AWS, CONNMARK" -j CONNMARK --set-xmark {mark}/{mark}'
    if legacy:
        for i, c in enumerate(vpcs):
            s.add("nat", f"AWS-SNAT-CHAIN-{i}", f'! -d {c} -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-{i + 1}')
            s.add("nat", f"AWS-CONNMARK-CHAIN-{i}", f'! -d {c} -m comment --comment "AWS CONNMARK CHAIN, VPC CIDR" '
                  f"-j AWS-CONNMARK-CHAIN-{i + 1}")
        s.add("nat", f"AWS-SNAT-CHAIN-{len(vpcs)}", snat)
        s.add("nat", f"AWS-CONNMARK-CHAIN-{len(vpcs)}", cm)
    else:
        for c in vpcs:
            s.add("nat", "AWS-SNAT-CHAIN-0", f'-d {c} -m comment --comment "AWS SNAT CHAIN" -j RETURN')
            s.add("nat", "AWS-CONNMARK-CHAIN-0", f'-d {c} -m comment --comment "AWS CONNMARK CHAIN, VPC CIDR" -j RETURN')
        s.add("nat", "AWS-SNAT-CHAIN-0", snat)
        s.add("nat", "AWS-CONNMARK-CHAIN-0", cm)
    s.add("mangle", "PREROUTING", f'-i eth0 -m comment --comment "AWS, primary ENI" -m addrtype --dst-type LOCAL '
          f"--limit-iface-in -j CONNMARK --set-xmark {mark}/{mark}")
    s.add("mangle", "PREROUTING", f'-i eni+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask {mark} --ctmask {mark}')
    s.add("mangle", "PREROUTING", f'-i vlan+ -m comment --comment "AWS, primary ENI" -j CONNMARK --restore-mark --nfmask {mark} --ctmask {mark}')
    if rnd.random() < 0.5:  # kube-proxy's masquerade mark next to it (0x4000, "kube-proxy uses 0x0000c000")
        s.add("nat", "POSTROUTING", '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING')
        s.rules["nat"].insert(0, s.rules["nat"].pop())
        s.add("nat", "KUBE-POSTROUTING", "-m mark ! --mark 0x4000/0x4000 -j RETURN")
        s.add("nat", "KUBE-POSTROUTING", "-j MARK --set-xmark 0x4000/0x0")
        s.add("nat", "KUBE-POSTROUTING", '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully')
    if rnd.random() < 0.4:
        s.add("filter", "FORWARD", '-m comment --comment "AWS, pods" -i eni+ -m conntrack --ctstate NEW -j ACCEPT')
        s.add("filter", "FORWARD", "-m conntrack --ctstate INVALID -j DROP")
    enis = [f"eni{hexid(rnd, 11)}" for _ in range(rnd.randint(1, 2))]
    hints = []
    for e in enis:
        pod = host_in(rnd, "192.168.64.0/18")
        hints += [Hint(pod, "8.8.8.8", "udp", 53, e, "pod to the internet (SNAT, connmark)"),
                  Hint(pod, host_in(rnd, vpcs[-1]), "tcp", 443, e, "pod within the VPC"),
                  Hint(pod, node, "tcp", 10250, e, "pod to its node"),
                  Hint(pod, outside_ip(rnd), "tcp", 80, e, "pod to the internet over tcp")]
    hints += [Hint(outside_ip(rnd), node, "tcp", 30080, "eth0", "NodePort from outside (primary ENI mark)"),
              Hint(host_in(rnd, vpcs[0]), host_in(rnd, "192.168.64.0/18"), "tcp", 8080, "eth0", "to a pod from the VPC"),
              Hint(node, "8.8.8.8", "udp", 53, None, "the node to the internet")]
    return Shaped(SHAPE, seed, s.text(), (node,), hints, out_iface=rnd.choice(["nfwb-sink", "eth1", "vlan5"]),
                  in_ifaces=("eth0", *enis), pools={"inside": "192.168.64.0/18"})
