"""Istio sidecar interception (CHAINS.md §7, istio-sidecar-tproxy.golden): ISTIO_INBOUND,
ISTIO_IN_REDIRECT, ISTIO_REDIRECT, ISTIO_OUTPUT with owner 1337 and REDIRECT to 15001/15006,
or the TPROXY variant's mangle chains."""

from __future__ import annotations

import random

from ._base import Hint, Save, Shaped, host_in, outside_ip

SHAPE = "istio"


def generate(rnd: random.Random, seed: int) -> Shaped:
    pod = host_in(rnd, f"10.{rnd.randrange(1, 250)}.{rnd.randrange(0, 250)}.0/24")
    excluded = rnd.sample([15090, 15021, 15020, 22], rnd.randint(1, 4))
    captured = rnd.choice(["*", "8080,9090", "80"])
    s = Save()
    s.add("nat", "PREROUTING", "-p tcp -j ISTIO_INBOUND")
    s.add("nat", "OUTPUT", rnd.choice(["-j ISTIO_OUTPUT", "-p tcp -j ISTIO_OUTPUT"]))
    s.add("nat", "ISTIO_INBOUND", "-p tcp -m tcp --dport 15008 -j RETURN")
    if captured == "*":
        for p in excluded:
            s.add("nat", "ISTIO_INBOUND", f"-p tcp -m tcp --dport {p} -j RETURN")
        s.add("nat", "ISTIO_INBOUND", "-p tcp -j ISTIO_IN_REDIRECT")
    else:
        for p in captured.split(","):
            s.add("nat", "ISTIO_INBOUND", f"-p tcp -m tcp --dport {p} -j ISTIO_IN_REDIRECT")
    s.add("nat", "ISTIO_IN_REDIRECT", "-p tcp -j REDIRECT --to-ports 15006")
    s.add("nat", "ISTIO_REDIRECT", "-p tcp -j REDIRECT --to-ports 15001")
    s.add("nat", "ISTIO_OUTPUT", "-s 127.0.0.6/32 -o lo -j RETURN")
    s.add("nat", "ISTIO_OUTPUT", "! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT")
    s.add("nat", "ISTIO_OUTPUT", "-o lo -m owner ! --uid-owner 1337 -j RETURN")
    s.add("nat", "ISTIO_OUTPUT", "-m owner --uid-owner 1337 -j RETURN")
    s.add("nat", "ISTIO_OUTPUT", "! -d 127.0.0.1/32 -o lo -p tcp -m tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT")
    s.add("nat", "ISTIO_OUTPUT", "-o lo -m owner ! --gid-owner 1337 -j RETURN")
    s.add("nat", "ISTIO_OUTPUT", "-m owner --gid-owner 1337 -j RETURN")
    if rnd.random() < 0.5:  # outbound ports excluded with -o / IPs with -x
        s.add("nat", "ISTIO_OUTPUT", f"-p tcp -m tcp --dport {rnd.choice([3306, 5432])} -j RETURN")
        s.add("nat", "ISTIO_OUTPUT", "-d 169.254.169.254/32 -j RETURN")
    s.add("nat", "ISTIO_OUTPUT", "-d 127.0.0.1/32 -j RETURN")
    s.add("nat", "ISTIO_OUTPUT", "-j ISTIO_REDIRECT")
    if rnd.random() < 0.3:  # DNS capture (ISTIO_META_DNS_CAPTURE)
        s.rules["nat"].insert(0, "-A OUTPUT -p udp -m udp --dport 53 -m owner ! --uid-owner 1337 -j DNAT --to-destination 127.0.0.1:15053")
    if rnd.random() < 0.3:  # the TPROXY mode's mangle half (istio-sidecar-tproxy.golden)
        s.add("mangle", "PREROUTING", "-p tcp -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT")
        s.add("mangle", "ISTIO_DIVERT", "-j MARK --set-xmark 0x539/0xffffffff")
        s.add("mangle", "ISTIO_DIVERT", "-j ACCEPT")
        s.add("mangle", "OUTPUT", "-p tcp -m connmark --mark 0x539 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff")
    hints = [Hint(outside_ip(rnd), pod, "tcp", p, "eth0", "inbound to an excluded port") for p in excluded[:2]]
    hints += [Hint(outside_ip(rnd), pod, "tcp", rnd.choice([8080, 9090, 80]), "eth0", "inbound, captured"),
              Hint(outside_ip(rnd), pod, "tcp", 15008, "eth0", "inbound HBONE tunnel port"),
              Hint(outside_ip(rnd), pod, "udp", 53, "eth0", "inbound udp (not captured)"),
              Hint(pod, outside_ip(rnd), "tcp", 443, None, "outbound from the app"),
              Hint(pod, "169.254.169.254", "tcp", 80, None, "outbound to the metadata service"),
              Hint(pod, "10.96.0.10", "udp", 53, None, "DNS from the app"),
              Hint(pod, pod, "tcp", 8080, None, "the pod to itself"),
              Hint("127.0.0.1", "127.0.0.1", "tcp", 15000, None, "the app to localhost"),
              Hint(pod, "10.96.0.20", "tcp", rnd.choice([3306, 5432]), None, "outbound to an excluded port")]
    return Shaped(SHAPE, seed, s.text(), (pod,), hints, in_ifaces=("eth0",), pools={"inside": "10.96.0.0/16"})
