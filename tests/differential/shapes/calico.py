"""Calico felix in iptables mode (CHAINS.md §5): cali-* chains hooked in raw/mangle/nat/filter,
"cali:<hash>" comments, the 0x10000 accept mark family, ipsets (-m set) for NAT outgoing and policy."""

from __future__ import annotations

import base64
import random

from ._base import Hint, Save, Shaped, hexid, host_in, node_ip, outside_ip

SHAPE = "calico"


def _h(rnd: random.Random) -> str:
    return '-m comment --comment "cali:' + base64.urlsafe_b64encode(rnd.randbytes(12)).decode()[:16] + '"'


def generate(rnd: random.Random, seed: int) -> Shaped:
    node = node_ip(rnd)
    pool = f"10.{rnd.randrange(40, 250)}.0.0/16"
    block = pool.replace(".0.0/16", f".{rnd.randrange(0, 250)}.0/26")
    accept = rnd.choice(["0x10000", "0x10000", "0x1000000"])
    passm = "0x20000" if accept == "0x10000" else "0x2000000"
    allbits = "0xffff0000" if accept == "0x10000" else "0xff000000"
    s = Save()
    H = lambda: _h(rnd)  # noqa: E731
    for t, hooks in (("raw", ("PREROUTING", "OUTPUT")), ("mangle", ("PREROUTING", "POSTROUTING")),
                     ("nat", ("PREROUTING", "OUTPUT", "POSTROUTING")), ("filter", ("INPUT", "FORWARD", "OUTPUT"))):
        for hk in hooks:
            s.add(t, hk, f"{H()} -j cali-{hk}")
    # raw: untracked traffic of host endpoints, and the mark clear
    s.add("raw", "cali-PREROUTING", f"{H()} -j MARK --set-xmark 0x0/{allbits}")
    s.add("raw", "cali-PREROUTING", f"{H()} -i cali+ -j MARK --set-xmark 0x40000/0x40000")
    s.add("raw", "cali-PREROUTING", f"{H()} -m mark --mark 0x40000/0x40000 -m rpfilter --invert -j DROP")
    if rnd.random() < 0.4:
        s.add("raw", "cali-PREROUTING", f"{H()} -p udp -m udp --dport {rnd.choice([4789, 123, 161])} -j NOTRACK")
    s.add("raw", "cali-OUTPUT", f"{H()} -j MARK --set-xmark 0x0/{allbits}")
    s.add("mangle", "cali-PREROUTING", f"{H()} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    s.add("mangle", "cali-PREROUTING", f"{H()} -m mark --mark {accept}/{accept} -j ACCEPT")
    s.add("mangle", "cali-POSTROUTING", f"{H()} -m mark --mark {accept}/{accept} -j RETURN")
    # nat
    s.add("nat", "cali-PREROUTING", f"{H()} -j cali-fip-dnat")
    s.add("nat", "cali-OUTPUT", f"{H()} -j cali-fip-dnat")
    s.add("nat", "cali-POSTROUTING", f"{H()} -j cali-fip-snat")
    s.add("nat", "cali-POSTROUTING", f"{H()} -j cali-nat-outgoing")
    s.add("nat", "cali-POSTROUTING", f"-o {rnd.choice(['tunl0', 'vxlan.calico'])} {H()} -m addrtype ! --src-type LOCAL "
          "--limit-iface-out -m addrtype --src-type LOCAL -j MASQUERADE")
    rf = " --random-fully" if rnd.random() < 0.5 else ""
    s.add("nat", "cali-nat-outgoing", f"{H()} -m set --match-set cali40masq-ipam-pools src -m set ! --match-set "
          f"cali40all-ipam-pools dst -j MASQUERADE{rf}")
    hints: list[Hint] = []
    for _ in range(rnd.randint(0, 2)):
        ext, internal = f"100.64.{rnd.randrange(0, 250)}.{rnd.randrange(2, 250)}", host_in(rnd, block)
        s.add("nat", "cali-fip-dnat", f"-d {ext}/32 {H()} -j DNAT --to-destination {internal}")
        s.add("nat", "cali-fip-snat", f"-s {internal}/32 -d {internal}/32 {H()} -j SNAT --to-source {ext}")
        hints.append(Hint(outside_ip(rnd), ext, "tcp", 443, "eth0", "floating IP"))
    s.chain("nat", "cali-fip-dnat")
    s.chain("nat", "cali-fip-snat")
    # filter
    s.add("filter", "cali-INPUT", f"{H()} -p ipip -m set ! --match-set cali40all-hosts-net src -j DROP")
    s.add("filter", "cali-INPUT", f"{H()} -i cali+ -g cali-wl-to-host")
    s.add("filter", "cali-INPUT", f"{H()} -m mark --mark {accept}/{accept} -j ACCEPT")
    s.add("filter", "cali-INPUT", f"{H()} -j MARK --set-xmark 0x0/{allbits}")
    s.add("filter", "cali-wl-to-host", f"{H()} -j cali-from-wl-dispatch")
    s.add("filter", "cali-wl-to-host", f'{H()} -m comment --comment "Configured DefaultEndpointToHostAction" -j ACCEPT')
    s.add("filter", "cali-FORWARD", f"{H()} -j MARK --set-xmark 0x0/{hex(int(allbits, 16) - int(accept, 16))}")
    s.add("filter", "cali-FORWARD", f"{H()} -m mark --mark 0x0/{accept} -j cali-from-hep-forward")
    s.add("filter", "cali-FORWARD", f"{H()} -i cali+ -j cali-from-wl-dispatch")
    s.add("filter", "cali-FORWARD", f"{H()} -o cali+ -j cali-to-wl-dispatch")
    s.add("filter", "cali-FORWARD", f"{H()} -j cali-to-hep-forward")
    s.chain("filter", "cali-from-hep-forward")
    s.chain("filter", "cali-to-hep-forward")
    s.add("filter", "FORWARD", f'-m comment --comment "cali:{hexid(rnd, 16)}" -m comment --comment "Policy explicitly accepted packet." '
          f"-m mark --mark {accept}/{accept} -j ACCEPT")
    s.add("filter", "FORWARD", f"{H()} -j MARK --set-xmark {accept}/{accept}")
    wls = []
    for _ in range(rnd.randint(1, 3)):
        iface = f"cali{hexid(rnd, 11)}"
        ip = host_in(rnd, block)
        wls.append((iface, ip))
        fw, tw = f"cali-fw-{iface}", f"cali-tw-{iface}"
        s.add("filter", "cali-from-wl-dispatch", f"-i {iface} {H()} -g {fw}")
        s.add("filter", "cali-to-wl-dispatch", f"-o {iface} {H()} -g {tw}")
        for ch in (fw, tw):
            s.add("filter", ch, f"{H()} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
            s.add("filter", ch, f"{H()} -m conntrack --ctstate INVALID -j DROP")
            s.add("filter", ch, f"{H()} -j MARK --set-xmark 0x0/{passm}")
        if rnd.random() < 0.5:
            s.add("filter", fw, f"{H()} -p udp -m udp --dport 67 -j DROP")
        pol = f"cali-pi-_{hexid(rnd, 19)}"
        s.add("filter", tw, f'{H()} -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/{passm}')
        s.add("filter", tw, f"{H()} -m mark --mark 0x0/{passm} -j {pol}")
        s.add("filter", tw, f'{H()} -m comment --comment "Return if policy accepted" -m mark --mark {accept}/{accept} -j RETURN')
        s.add("filter", tw, f'{H()} -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/{passm} -j DROP')
        port = rnd.choice([80, 8080, 5432, 6379])
        s.add("filter", pol, f"{H()} -p tcp -m set --match-set cali40s:{hexid(rnd, 22)} src -m multiport --dports {port} "
              f"-j MARK --set-xmark {accept}/{accept}")
        s.add("filter", pol, f"{H()} -m mark --mark {accept}/{accept} -j RETURN")
        s.add("filter", fw, f"{H()} -j cali-pro-kns.default")
        s.add("filter", fw, f'{H()} -m comment --comment "Return if profile accepted" -m mark --mark {accept}/{accept} -j RETURN')
        s.add("filter", fw, f'{H()} -m comment --comment "Drop if no profiles matched" -j DROP')
        hints += [Hint("198.51.100.9", ip, "tcp", port, "eth0", "to a workload, source in the policy set"),
                  Hint(outside_ip(rnd), ip, "tcp", port, "eth0", "to a workload, source not in the set"),
                  Hint(ip, "8.8.8.8", "udp", 53, iface, "workload to the internet (nat-outgoing)"),
                  Hint(ip, host_in(rnd, pool), "tcp", 80, iface, "workload to the pool (no masquerade)"),
                  Hint(ip, node, "tcp", 10250, iface, "workload to the host"),
                  Hint(ip, node, "udp", 67, iface, "DHCP from a workload to the host")]
    s.add("filter", "cali-pro-kns.default", f"{H()} -j MARK --set-xmark {accept}/{accept}")
    s.add("filter", "cali-pro-kns.default", f"{H()} -m mark --mark {accept}/{accept} -j RETURN")
    s.add("filter", "cali-OUTPUT", f"{H()} -m mark --mark {accept}/{accept} -j ACCEPT")
    s.add("filter", "cali-OUTPUT", f"{H()} -o cali+ -j RETURN")
    ipsets = {"cali40masq-ipam-pools": [pool], "cali40all-ipam-pools": [pool],
              "cali40all-hosts-net": [f"{node.rsplit('.', 1)[0]}.0/24"]}
    for r in s.rules["filter"]:
        if "cali40s:" in r:
            name = r.split("--match-set ")[1].split()[0]
            ipsets[name] = ["198.51.100.0/25"]
    return Shaped(SHAPE, seed, s.text(), (node,), hints, out_iface=rnd.choice([w[0] for w in wls] + ["nfwb-sink"]),
                  in_ifaces=("eth0",) + tuple(w[0] for w in wls), ipsets=ipsets, pools={"inside": block})
