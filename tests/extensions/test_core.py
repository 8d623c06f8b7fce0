"""Kernel vs simulator for ext-core's extensions: tcp, udp, sctp, multiport, icmp, addrtype, iprange,
mark/connmark (with the MARK/CONNMARK targets), nfacct, owner, rpfilter, policy, pkttype and the NAT
targets (DNAT, SNAT, MASQUERADE, REDIRECT, NETMAP).

For each extension a seeded generator writes rules using each option with and without ``!`` in the
tables and chains where the kernel takes them, each rule jumping to an empty user chain ``HIT`` (so
that its match shows in the kernel's trace), and packets that should and should not match: arriving
for the node (INPUT), forwarded (FORWARD) and sent by the node (OUTPUT). One Lab per ruleset, all of
its packets through it. The kernel's path must be one of the simulator's branches (and the same
DNAT); the agreement per extension and backend is printed.

Packets the kernel's conntrack refuses (a TCP segment whose flags cannot open a connection, an ICMP
message that is not a request) are sent as first packets (``ctstate`` NEW): the simulator must see
that they get no entry (INVALID: no nat table) itself. The state the kernel gives each is written in
TCP_FLAGS and ICMP_TYPES (``tcp_new``: only SYN, or ACK with ``nf_conntrack_tcp_loose`` on;
``icmp_new``: only echo, timestamp, info and address-mask requests; an ICMP error must quote the
packet it is about), and checked by the -m conntrack rules of the tcp and icmp cases.

Not proven here: udplite and dccp (the lab sends no such packets), icmp6 (the lab is IPv4 only),
``--tcp-option``/``--dccp-option`` (the tracer knows no TCP options: assumed), addrtype's
``--limit-iface-in/out`` with a LOCAL address (assumed), ``--random``/``--random-fully`` port picks
(assumed).
"""

from __future__ import annotations

import random

import pytest

from tests.lab.conftest import need_lab
from tests.lab.differential import NODE_IP, Case, judged_case, simulator
from workbook.packet import Packet
from workbook.parse import parse_save

pytestmark = [pytest.mark.root, pytest.mark.slow]

SEED = 11
RULES, PACKETS = 12, 20
FAR = "10.77.0.9"  # a forwarded packet's destination (routed to the lab's sink)

#: every built-in chain of each table (all declared, so iptables-nft and legacy walk the same chains)
CHAINS = {"raw": ("PREROUTING", "OUTPUT"), "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
          "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT")}
EVERYWHERE = tuple((t, c) for t, cs in CHAINS.items() for c in cs)
PORTS = (22, 53, 80, 443, 1000, 1024, 8080, 30000, 40000, 50000)

#: TCP flags a packet carries, and the conntrack state the kernel gives it (tcp_valid_flags, tcp_new:
#: SYN or, with nf_conntrack_tcp_loose=1, ACK opens a connection; PSH/ECE/CWR do not count; others INVALID;
#: 0xC2 is SYN,ECE,CWR, which iptables has no names for)
TCP_FLAGS = (("SYN", "NEW"), ("ACK", "NEW"), ("ACK,PSH", "NEW"), (0xC2, "NEW"), ("ACK,URG", "NEW"),
             ("SYN,ACK", "INVALID"), ("RST", "INVALID"), ("RST,ACK", "INVALID"), ("FIN,ACK", "INVALID"),
             ("FIN,SYN", "INVALID"), ("NONE", "INVALID"), (None, "NEW"))
#: ICMP type/code sent, and its conntrack state (icmp_new takes requests 8, 13, 15, 17; an error message
#: 3, 4, 5, 11, 12 quoting no packet, and any other type without a connection, is INVALID)
ICMP_TYPES = (("8/0", "NEW"), ("13/0", "NEW"), ("0/0", "INVALID"), ("3/3", "INVALID"), ("3/1", "INVALID"),
              ("11/0", "INVALID"), ("11/1", "INVALID"), ("12/0", "INVALID"))


def _bang(rng: random.Random, p: float = 0.4) -> str:
    return "! " if rng.random() < p else ""


def _ports(rng: random.Random) -> str:
    lo = rng.choice(PORTS)
    return rng.choice([str(lo), f"{lo}:{min(lo + rng.choice([0, 10, 1000, 30000]), 65535)}", f"{lo}:", f":{lo}"])


def _port_list(rng: random.Random) -> str:
    items = []
    for _ in range(rng.randrange(1, 5)):
        lo = rng.choice(PORTS)
        items.append(rng.choice([str(lo), f"{lo}:{min(lo + rng.choice([5, 500, 20000]), 65535)}"]))
    return ",".join(items)


# -- the generators: (match text, packet kinds it is about) ----------------------------------------

def _tcp(rng):
    opts = []
    for kind in rng.sample(["sport", "dport", "flags"], rng.randrange(1, 3)):
        if kind != "flags":
            opts.append(f"{_bang(rng)}--{kind} {_ports(rng)}")
        elif rng.random() < 0.25:
            opts.append(f"{_bang(rng)}--syn")
        else:
            names = ["SYN", "ACK", "FIN", "RST", "URG", "PSH"]
            mask = rng.sample(names, rng.randrange(1, 5))
            comp = rng.sample(mask, rng.randrange(0, len(mask) + 1))
            opts.append(f"{_bang(rng)}--tcp-flags {'ALL' if rng.random() < 0.15 else ','.join(mask)} {','.join(comp) or 'NONE'}")
    return "-p tcp -m tcp " + " ".join(opts)


def _udp(rng):
    opts = [f"{_bang(rng)}--{k} {_ports(rng)}" for k in rng.sample(["sport", "dport"], rng.randrange(1, 3))]
    return "-p udp -m udp " + " ".join(opts)


def _sctp(rng):
    kind = rng.choice(["sport", "dport", "chunk", "chunk"])
    if kind != "chunk":
        return f"-p sctp -m sctp {_bang(rng)}--{kind} {_ports(rng)}"
    chunks = rng.sample(["INIT", "DATA", "INIT_ACK", "SACK", "ABORT", "COOKIE_ECHO"], rng.randrange(1, 4))
    return f"-p sctp -m sctp {_bang(rng)}--chunk-types {rng.choice(['any', 'all', 'only'])} {','.join(chunks)}"


def _multiport(rng):
    proto = rng.choice(["tcp", "udp"])
    return f"-p {proto} -m multiport {_bang(rng)}--{rng.choice(['dports', 'sports', 'ports'])} {_port_list(rng)}"


def _icmp(rng):
    v = rng.choice(["echo-request", "echo-reply", "destination-unreachable", "port-unreachable", "host-unreachable",
                    "time-exceeded", "timestamp-request", "any", "3", "3/1", "11/0", "8", "12", "13/0"])
    return f"-p icmp -m icmp {_bang(rng)}--icmp-type {v}"


def _addrtype(rng):
    types = ("LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "UNSPEC")
    opts = [f"{_bang(rng)}--{k} {','.join(rng.sample(types, rng.randrange(1, 3)))}"
            for k in rng.sample(["src-type", "dst-type"], rng.randrange(1, 3))]
    return "-m addrtype " + " ".join(opts)


def _iprange(rng):
    opts = []
    for k in rng.sample(["src", "dst"], rng.randrange(1, 3)):
        if k == "src":
            a = rng.randrange(1, 200)
            opts.append(f"{_bang(rng)}--src-range 10.1.{a}.0-10.1.{a + rng.randrange(0, 60)}.255")
        else:
            opts.append(f"{_bang(rng)}--dst-range " + rng.choice(["192.168.0.1-192.168.0.9", "10.77.0.1-10.77.0.9",
                                                                  "10.77.0.10-10.77.255.255", "192.168.0.2-192.168.0.2"]))
    return "-m iprange " + " ".join(opts)


def _mark_value(rng) -> str:
    v = rng.choice([0, 1, 2, 0x100, 0x101, 0x4000, 0x4001])
    return rng.choice([f"0x{v:x}", f"0x{v:x}/0x{rng.choice([0xff, 0x1, 0x4000, 0xff00, 0xffffffff]):x}"])


def _mark(rng):
    return f"-m mark {_bang(rng)}--mark {_mark_value(rng)}"


def _connmark(rng):
    return f"-m connmark {_bang(rng)}--mark {_mark_value(rng)}"


def _nfacct(rng):
    return f"-m nfacct --nfacct-name {rng.choice(['acct-a', 'acct-b'])}"


def _owner(rng):
    opts = []
    for k in rng.sample(["uid", "gid", "socket"], rng.randrange(1, 3)):
        if k == "uid":
            opts.append(f"{_bang(rng)}--uid-owner {rng.choice(['0', '1337', '1000-2000', '1-65535'])}")
        elif k == "gid":
            opts.append(f"{_bang(rng)}--gid-owner {rng.choice(['0', '5', '7', '1-9'])}"
                        + (" --suppl-groups" if rng.random() < 0.3 else ""))
        else:
            opts.append(f"{_bang(rng)}--socket-exists")
    return "-m owner " + " ".join(opts)


def _rpfilter(rng):
    flags = rng.sample(["--loose", "--validmark", "--accept-local", "--invert"], rng.randrange(0, 4))
    return "-m rpfilter " + " ".join(flags)


def _policy(rng, direction: str):
    pol = rng.choice(["none", "none", "ipsec"])
    out = f"-m policy --dir {direction} --pol {pol}"
    if pol == "ipsec":
        if rng.random() < 0.5:
            out += " --strict"
        out += "".join(f" {_bang(rng)}--{k} {v}" for k, v in
                       rng.sample([("proto", "esp"), ("mode", "tunnel"), ("reqid", "5"), ("spi", "0x10")], rng.randrange(1, 3)))
    return out


def _pkttype(rng):
    return f"-m pkttype {_bang(rng)}--pkt-type {rng.choice(['unicast', 'broadcast', 'multicast'])}"


# -- packets -------------------------------------------------------------------------------------

def _src(rng) -> str:
    return f"10.1.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}"


def _packet(rng: random.Random, i: int, protos=("tcp", "udp"), **kw) -> Packet:
    """A packet for the node, through it, or from it (one in three each)."""
    proto = rng.choice(protos)
    kind = rng.choice(["in", "fwd", "out"])
    sport = rng.choice(PORTS) if rng.random() < 0.5 else 31000 + i
    dport = rng.choice(PORTS)
    extra = dict(kw.pop("extra", {}))
    if proto == "tcp" and rng.random() < 0.5:
        # this machine refuses a raw RST from a local socket (EPERM before any hook): only arriving RSTs
        flags = rng.choice([f for f, _ in TCP_FLAGS if kind != "out" or "RST" not in str(f)])
        if flags is not None:
            extra["tcp_flags"] = flags
    if proto == "icmp":
        typ = rng.choice(ICMP_TYPES)[0]
        extra["icmp_type"] = typ
        sport, dport = 4000 + i, None
    if kind == "out":
        return Packet(NODE_IP, f"10.77.{rng.randrange(0, 3)}.{rng.randrange(2, 20)}", proto, sport, dport, None, True,
                      extra=extra, **kw)
    dst = NODE_IP if kind == "in" else f"10.77.{rng.randrange(0, 3)}.{rng.randrange(2, 20)}"
    return Packet(_src(rng), dst, proto, sport, dport, "eth0", extra=extra, **kw)


def _owner_packet(rng, i):
    if rng.random() < 0.25:  # forwarded: no socket
        return Packet(_src(rng), FAR, rng.choice(["tcp", "udp"]), 31000 + i, rng.choice(PORTS), "eth0")
    extra = {"uid": rng.choice([0, 1337, 1500, 70000]), "gid": rng.choice([0, 5, 7, 8]),
             "groups": rng.choice([[], [7], [5, 9]])}
    return Packet(NODE_IP, FAR, rng.choice(["tcp", "udp"]), 31000 + i, rng.choice(PORTS), None, True, extra=extra)


def _addr_packet(rng, i):
    """Packets to the node, through it, from it, and from the node to itself (the lab's clients have no
    multicast route, so no multicast packets)."""
    kind = rng.choice(["gen", "gen", "self", "lo"])
    if kind == "self":
        return Packet(NODE_IP, NODE_IP, "udp", 31000 + i, rng.choice(PORTS), None, True)
    if kind == "lo":
        return Packet("127.0.0.1", "127.0.0.1", "tcp", 31000 + i, rng.choice(PORTS), None, True)
    return _packet(rng, i, ("tcp", "udp", "icmp"))


def _rp_packet(rng, i):
    """Arriving packets (their source routes back through eth0), a few from a second interface, the
    node's own address as source (a local route), and the node's packets to itself (loopback)."""
    kind = rng.choice(["eth0", "eth0", "eth1", "local", "self"])
    if kind == "local":
        return Packet(NODE_IP, FAR, "udp", 31000 + i, 53, "eth0")
    if kind == "self":
        return Packet(NODE_IP, NODE_IP, "tcp", 31000 + i, 80, None, True)
    return Packet(_src(rng), rng.choice([NODE_IP, FAR]), rng.choice(["tcp", "udp"]), 31000 + i, 80,
                  "eth0" if kind == "eth0" else "eth1")


# -- the cases ------------------------------------------------------------------------------------

IN_HOOKS = ("PREROUTING", "INPUT", "FORWARD")
OUT_HOOKS = ("FORWARD", "OUTPUT", "POSTROUTING")
OWNER_PLACES = tuple((t, c) for t, c in EVERYWHERE if c in ("OUTPUT", "POSTROUTING"))

#: extension -> (rule generator, where it may go, packet generator)
SPECS = {
    "tcp": (_tcp, EVERYWHERE, lambda rng, i: _packet(rng, i, ("tcp",))),
    "udp": (_udp, EVERYWHERE, lambda rng, i: _packet(rng, i, ("udp", "udp", "tcp"))),
    "sctp": (_sctp, EVERYWHERE, lambda rng, i: _packet(rng, i, ("sctp", "sctp", "udp"))),
    "multiport": (_multiport, EVERYWHERE, lambda rng, i: _packet(rng, i, ("tcp", "udp"))),
    "icmp": (_icmp, EVERYWHERE, lambda rng, i: _packet(rng, i, ("icmp", "icmp", "icmp", "udp"))),
    "addrtype": (_addrtype, EVERYWHERE, _addr_packet),
    "iprange": (_iprange, EVERYWHERE, lambda rng, i: _packet(rng, i, ("tcp", "udp", "icmp"))),
    "nfacct": (_nfacct, EVERYWHERE, lambda rng, i: _packet(rng, i)),
    "owner": (_owner, OWNER_PLACES, _owner_packet),
    "rpfilter": (_rpfilter, (("raw", "PREROUTING"), ("mangle", "PREROUTING")), _rp_packet),
    "pkttype": (_pkttype, EVERYWHERE, _addr_packet),
}


def _ruleset(rules: list[tuple[str, str, str]]) -> str:
    """Every table with all its built-in chains and an empty chain HIT, then the rules in order."""
    out = []
    for table, chains in CHAINS.items():
        out += [f"*{table}"] + [f":{c} ACCEPT [0:0]" for c in chains] + [":HIT - [0:0]"]
        out += [f"-A {c} {text}" for t, c, text in rules if t == table]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def _hits(rng, gen, places, n: int) -> list[tuple[str, str, str]]:
    out = []
    for _ in range(n):
        table, chain = rng.choice(places)
        out.append((table, chain, f"{gen(rng)} -j HIT"))
    return out


def _case(name: str, seed: int) -> Case:
    rng = random.Random(f"{seed}-{name}")
    if name in SPECS:
        gen, places, pkt = SPECS[name]
        rules = _hits(rng, gen, places, RULES)
        packets = [pkt(rng, i) for i in range(PACKETS)]
        if name in ("tcp", "icmp"):  # the state conntrack gave the segment or message
            rules += [("filter", c, f"-m conntrack --ctstate {st} -j HIT") for c in CHAINS["filter"] for st in ("NEW", "INVALID")]
    elif name == "policy":
        rules = []
        for _ in range(RULES):
            table, chain = rng.choice(EVERYWHERE)
            d = rng.choice([x for x, hooks in (("in", IN_HOOKS), ("out", OUT_HOOKS)) if chain in hooks])
            rules.append((table, chain, f"{_policy(rng, d)} -j HIT"))
        packets = [_packet(rng, i) for i in range(PACKETS)]
    elif name in ("mark", "connmark"):
        rules, packets = _mark_case(rng, name)
    else:
        rules, packets = _nat_case(rng)
    return Case(f"{name}-seed{seed}", parse_save(_ruleset(rules), f"{name}-seed{seed}.rules"), (NODE_IP,), packets,
                {"kind": "core", "extension": name, "seed": seed})


_MARK_OPS = ("--set-xmark {v}/{m}", "--set-mark {v}", "--and-mark {m}", "--or-mark {v}", "--xor-mark {v}")


def _mark_case(rng, name: str):
    """MARK (and for connmark: CONNMARK, NOTRACK / CT --notrack) set what the -m mark/connmark rules
    then test, in the chains after them; INVALID packets (TCP RST...) and untracked ones included."""
    rules: list[tuple[str, str, str]] = []
    if name == "connmark":
        # raw runs before conntrack: no entry there (INVALID), except after NOTRACK (UNTRACKED) and for
        # the node's own packet looping back through lo (its entry from OUTPUT goes with it)
        rules += [("raw", c, f"{m} -j HIT") for c in ("PREROUTING", "OUTPUT")
                  for m in ("-m conntrack --ctstate INVALID", "-m state --state NEW,UNTRACKED")]
        rules += [("raw", "PREROUTING", "-p udp -m udp --dport 53 -j NOTRACK"),
                  ("raw", "OUTPUT", "-p tcp -m tcp --dport 22 -j CT --notrack")]
    for chain in ("PREROUTING", "OUTPUT"):
        for _ in range(3):
            sel = rng.choice(["-p tcp", "-p udp", "-p tcp -m tcp --dport 80", "-p udp -m udp --dport 53", ""])
            op = rng.choice(_MARK_OPS).format(v=hex(rng.choice([1, 2, 0x100, 0x4000])),
                                               m=hex(rng.choice([0xff, 0xffffffff, 0x4000, 0xfffffffe])))
            rules.append(("mangle", chain, f"{sel} -j MARK {op}".strip()))
            if name == "connmark":
                cop = rng.choice(["--save-mark", "--save-mark --mask 0xff", "--restore-mark --nfmask 0xff --ctmask 0xff",
                                  "--set-xmark 0x4000/0x4000", "--set-mark 0x2", "--or-mark 0x100"])
                rules.append(("mangle", chain, f"{rng.choice(['', '-p tcp', '-p udp'])} -j CONNMARK {cop}".strip()))
    gen = _mark if name == "mark" else _connmark
    rules += _hits(rng, gen, EVERYWHERE, RULES)
    packets = [_packet(rng, i) for i in range(PACKETS)]
    packets += [Packet(_src(rng), FAR, "udp", 32000, 53, "eth0"), Packet(NODE_IP, FAR, "tcp", 32001, 22, None, True),
                Packet(_src(rng), FAR, "tcp", 32002, 80, "eth0", extra={"tcp_flags": "RST"}),
                Packet(NODE_IP, NODE_IP, "udp", 32003, 80, None, True), Packet("127.0.0.1", "127.0.0.1", "tcp", 32004, 80, None, True)]
    # (the node's own udp/53 looping back would meet raw PREROUTING's NOTRACK with its entry from OUTPUT,
    # which xt_CT leaves alone: CT/NOTRACK is ext-stateful's, proven in its test_stateful.py)
    return rules, packets


def _nat_case(rng):
    """DNAT/REDIRECT/NETMAP before routing, SNAT/MASQUERADE/NETMAP after it (and SNAT in INPUT),
    each behind a port or address test with or without !, in the nat table's chains."""
    rules: list[tuple[str, str, str]] = []
    for _ in range(RULES):
        chain = rng.choice(["PREROUTING", "OUTPUT", "POSTROUTING", "INPUT"])
        proto = rng.choice(["tcp", "udp"])
        sel = rng.choice([f"-p {proto} -m {proto} {_bang(rng)}--dport {rng.choice(PORTS)}",
                          f"{_bang(rng)}-s 10.1.0.0/17 -p {proto}", f"{_bang(rng)}-d 10.77.1.0/24 -p {proto}",
                          f"{_bang(rng)}-d 10.77.1.0/24", f"{_bang(rng)}-p icmp"])
        ported = f"-p {proto}" in sel and "! -p" not in sel  # a port in a NAT target needs -p tcp/udp
        if chain in ("PREROUTING", "OUTPUT"):
            a = rng.randrange(1, 200)
            target = rng.choice([f"DNAT --to-destination 10.77.2.{a}",
                                 f"DNAT --to-destination 10.77.2.{a}-10.77.2.{a + rng.randrange(1, 40)}",
                                 f"DNAT --to-destination 10.77.2.{a}:{rng.choice([8080, 30000])}",
                                 f"DNAT --to-destination 10.77.2.{a}-10.77.2.{a + 9}:8000-8009",
                                 f"DNAT --to-destination 10.77.2.{a}-10.77.2.{a + 9} --persistent",
                                 f"DNAT --to-destination :{rng.choice([8080, 1000])}",
                                 "REDIRECT", f"REDIRECT --to-ports {rng.choice([15001, 8080])}",
                                 "REDIRECT --to-ports 15000-15010", "NETMAP --to 10.77.3.0/24"])
        elif chain == "POSTROUTING":
            target = rng.choice(["MASQUERADE", "MASQUERADE --to-ports 20000-20010", "SNAT --to-source 10.88.0.1",
                                 "SNAT --to-source 10.88.0.1-10.88.0.9", "SNAT --to-source 10.88.0.1:2000-3000",
                                 "NETMAP --to 10.88.1.0/24"])
        else:
            target = rng.choice(["SNAT --to-source 10.88.0.5", "NETMAP --to 10.88.2.0/24"])
        if not ported:  # a target without ports
            target = rng.choice(["NETMAP --to 10.77.3.0/24", "DNAT --to-destination 10.77.2.7-10.77.2.12", "REDIRECT"]
                                if chain in ("PREROUTING", "OUTPUT") else
                                ["NETMAP --to 10.88.1.0/24", "SNAT --to-source 10.88.0.1-10.88.0.3"]
                                + (["MASQUERADE"] if chain == "POSTROUTING" else []))
        rules.append(("nat", chain, f"{sel} -j {target}"))
    for t, c in EVERYWHERE:  # where the packet went, in the trace
        if t != "nat":
            rules.append((t, c, "-j HIT"))
    for c in CHAINS["filter"]:  # DNAT in conntrack only when the tuple changed (a REDIRECT to itself is none)
        rules.append(("filter", c, "-m conntrack --ctstate DNAT -j HIT"))
    packets = [_packet(rng, i, ("tcp", "tcp", "udp", "udp", "icmp", "sctp")) for i in range(PACKETS)]
    return rules, packets


EXTENSION_CASES = (*SPECS, "policy", "mark", "connmark", "nat")


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_core_extensions_agree_with_the_kernel(backend):
    need_lab(backend)
    sim = simulator(backend)
    report, bad = {}, []
    for name in EXTENSION_CASES:
        results, judged, hits, report[name] = judged_case(_case(name, SEED), sim, backend)
        assert len(judged) >= len(results) - 2, f"{name}: too few kernel traces: {[r for r in results if r['agree'] is None]}"
        rules = sum(1 for r in _case(name, SEED).ruleset.iter_rules() if r.target == "HIT")
        assert 0 < hits < len(judged) * rules, f"{name}: the rules should match some packets and miss others"
        bad += [r for r in judged if not r["agree"]]
    print(f"\n[{backend}] agreement per extension:", report)
    assert not bad, bad[:3]
