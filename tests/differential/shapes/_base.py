"""What every shape generator returns: a ruleset in iptables-save form and the flows worth sending."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Hint:
    """A flow a shape's rules single out: the flow generator sends it, and variations of it."""

    src: str
    dst: str
    proto: str
    dport: int | None
    in_iface: str | None  # None: sent by the node itself (OUTPUT path)
    label: str = ""


@dataclass
class Shaped:
    """One generated ruleset of a shape, with what the lab and the flow generator need to know."""

    shape: str
    seed: int
    save: str
    node_ips: tuple[str, ...]
    hints: list[Hint]
    #: the node's interface forwarded packets leave on (the lab's sink side)
    out_iface: str = "nfwb-sink"
    #: interfaces packets may arrive on (besides those of the hints)
    in_ifaces: tuple[str, ...] = ("eth0",)
    ipsets: dict[str, list[str]] | None = None
    #: address pools the flow generator draws sources and destinations from
    pools: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # nothing arrives on the interface the lab sends forwarded packets out of
        self.in_ifaces = tuple(i for i in self.in_ifaces if i != self.out_iface)


#: the targets the shapes use (any other -j/-g name is a chain)
TARGETS = frozenset({"ACCEPT", "DROP", "RETURN", "REJECT", "LOG", "NFLOG", "DNAT", "SNAT", "MASQUERADE", "REDIRECT",
                     "MARK", "CONNMARK", "NOTRACK", "CT", "TCPMSS", "TOS", "DSCP", "CHECKSUM"})


class Save:
    """An iptables-save text built table by table, chains declared in the order first named."""

    BUILTIN = {"raw": ("PREROUTING", "OUTPUT"), "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
               "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT")}

    def __init__(self) -> None:
        self.chains: dict[str, dict[str, str]] = {}
        self.rules: dict[str, list[str]] = {}

    def policy(self, table: str, chain: str, policy: str) -> None:
        self.table(table)[chain] = policy

    def table(self, table: str) -> dict[str, str]:
        if table not in self.chains:
            self.chains[table] = {c: "ACCEPT" for c in self.BUILTIN[table]}
            self.rules[table] = []
        return self.chains[table]

    def chain(self, table: str, chain: str) -> None:
        self.table(table).setdefault(chain, "-")

    def add(self, table: str, chain: str, spec: str) -> None:
        """Append ``-A chain spec``; a chain it jumps or goes to is declared too."""
        self.chain(table, chain)
        self.rules[table].append(f"-A {chain} {spec}".rstrip())
        words = spec.split()
        for flag in ("-j", "-g"):
            if flag in words and words.index(flag) + 1 < len(words):
                target = words[words.index(flag) + 1]
                if target not in TARGETS:
                    self.chain(table, target)

    def text(self) -> str:
        out = []
        for t in ("raw", "mangle", "nat", "filter"):
            if t not in self.chains:
                continue
            out.append(f"*{t}")
            out += [f":{c} {p} [0:0]" for c, p in self.chains[t].items()]
            out += self.rules[t]
            out.append("COMMIT")
        return "\n".join(out) + "\n"


def host_in(rnd: random.Random, net: str) -> str:
    """A random host address of ``net`` (neither its network nor its broadcast address)."""
    n = ipaddress.ip_network(net, strict=False)
    return str(n.network_address + rnd.randrange(2, max(3, n.num_addresses - 2)))


def node_ip(rnd: random.Random) -> str:
    return f"192.168.{rnd.randrange(0, 20)}.{rnd.randrange(2, 250)}"


def outside_ip(rnd: random.Random) -> str:
    return f"{rnd.choice(['203.0.113', '198.51.100', '100.64.3'])}.{rnd.randrange(2, 250)}"


def hexid(rnd: random.Random, n: int) -> str:
    return "".join(rnd.choice("0123456789abcdef") for _ in range(n))
