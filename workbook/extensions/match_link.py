"""Link, socket and payload matches: mac, physdev, devgroup, cpu, cgroup, socket, string, ipvs, bpf, osf.

mac is decided on the packet's source MAC (assumed when not given); the others are ``assumed``
with their reason: the traced packet has no bridge port, device group, CPU, owning socket, cgroup,
payload, IPVS entry or OS fingerprint.
"""

from __future__ import annotations

from ..model import Match, Option
from ..parse.listing_words import NotThisReader, unquote
from ._assumed import assume_with, read_value
from ._header_checks import flags_compile
from .registry import Extension, OptionSpec


def _mac_text(m: Match) -> str:
    """`` MAC ! 02:aa:00:00:00:01`` (libxt_mac prints the ``!`` as a word, the MAC lower-case).

    >>> _mac_text(Match("mac", (Option("--mac-source", ("02:AA:00:00:00:01",), True),)))
    ' MAC ! 02:aa:00:00:00:01'
    """
    o = m.get("--mac-source")
    return f" MAC{' !' if o and o.negated else ''} {o.value.lower() if o else ''}"


#: ``--mac-source A``: the arriving frame's Ethernet source (case-insensitive)
_mac_compile = flags_compile("source MAC", "src_mac", {"--mac-source": lambda a: (lambda v, a=a.lower(): v == a)})


_PHYS_FLAGS = ("--physdev-in", "--physdev-out")
_PHYS_SWITCHES = ("--physdev-is-in", "--physdev-is-out", "--physdev-is-bridged")


def _physdev_read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
    """``PHYSDEV match [!] --physdev-in br0 [!] --physdev-is-bridged ...``."""
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise NotThisReader
    j, opts, inv = i + 2, [], False
    while j < len(t):
        w = t[j]
        if w == "!":
            inv, j = True, j + 1
            continue
        if w in _PHYS_FLAGS and j + 1 < len(t):
            opts.append(Option(w, (t[j + 1],), inv))
            j += 2
        elif w in _PHYS_SWITCHES:
            opts.append(Option(w, (), inv))
            j += 1
        else:
            break
        inv = False
    return Match("physdev", tuple(opts)), j


def _physdev_text(m: Match) -> str:
    """`` PHYSDEV match --physdev-in veth0 ! --physdev-is-bridged``."""
    return " PHYSDEV match" + "".join(f" {o.to_save()}" for o in m.options)


def _string_read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
    """``STRING match [!] "text" ALGO name bm [FROM n] [TO n]``."""
    if i + 1 >= len(t) or t[i + 1] != "match":
        raise NotThisReader
    j, inv = i + 2, neg
    if j < len(t) and t[j] == "!":
        inv, j = True, j + 1
    if j + 3 >= len(t) or t[j + 1] != "ALGO" or t[j + 2] != "name":
        raise NotThisReader
    opts = [Option("--string", (unquote(t[j]),), inv), Option("--algo", (t[j + 3],))]
    j += 4
    for word, flag in (("FROM", "--from"), ("TO", "--to")):
        if j + 1 < len(t) and t[j] == word:
            opts.append(Option(flag, (t[j + 1],)))
            j += 2
    return Match("string", tuple(opts)), j


def _string_text(m: Match) -> str:
    """`` STRING match  "GET /" ALGO name bm`` (libxt_string's spacing; FROM/TO when not 0/65535)."""
    s, algo = m.get("--string"), m.get("--algo")
    out = f" STRING match {'!' if s and s.negated else ''} \"{s.value if s else ''}\" ALGO name {algo.value if algo else 'bm'}"
    frm, to = m.get("--from"), m.get("--to")
    if frm is not None and frm.value != "0":
        out += f" FROM {frm.value}"
    return out + (f" TO {to.value}" if to is not None and to.value != "65535" else "")


_GROUPS = ("src-group", "dst-group")


def _devgroup_read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
    """``[!] src-group 0x1 [!] dst-group 0x2`` (libxt_devgroup puts each ``!`` before its word)."""
    opts, inv = [], neg
    while i + 1 < len(t):
        if t[i] == "!" and i + 2 < len(t) and t[i + 1] in _GROUPS:
            inv, i = True, i + 1
        if t[i] not in _GROUPS:
            break
        opts.append(Option("--" + t[i], (t[i + 1],), inv))
        i, inv = i + 2, False
    return Match("devgroup", tuple(opts)), i


def _devgroup_text(m: Match) -> str:
    """`` ! src-group 0x1 dst-group 0x2``."""
    return "".join(f" {'! ' if o.negated else ''}{o.flag[2:]} {o.value}" for o in m.options)


def _socket_read(t: list[str], i: int, neg: bool, ctx: object) -> tuple[Match, int]:
    """``socket [--transparent] [--nowildcard] [--restore-skmark]``."""
    j, opts = i + 1, []
    while j < len(t) and t[j] in ("--transparent", "--nowildcard", "--restore-skmark"):
        opts.append(Option(t[j]))
        j += 1
    return Match("socket", tuple(opts)), j


def _socket_text(m: Match) -> str:
    """`` socket --transparent``."""
    return " socket" + "".join(f" {o.flag}" for o in m.options)


def _cpu_text(m: Match) -> str:
    """`` cpu ! 1``."""
    o = m.get("--cpu")
    return f" cpu {'! ' if o and o.negated else ''}{o.value if o else ''}"


def _ext(name: str, summary: str, reason: str, flags: tuple[str, ...], *, words: tuple[str, ...] = (),
         read=None, text=None, owners: tuple[str, ...] = (), switches: tuple[str, ...] = (),
         family: frozenset[str] | None = None) -> Extension:
    """An assumed link/socket/payload match: its options, reader, printer and why it is assumed."""
    return Extension(name, "match", summary, status="assumed", reason=reason,
                     options=tuple(OptionSpec(f, 0 if f in switches else 1) for f in flags),
                     families=family or frozenset({"ipv4", "ipv6"}), listing_words=words, read_listing=read,
                     listing_text=text, compile=assume_with(reason), owners=owners)


EXTENSIONS = (
    Extension("mac", "match", "the Ethernet source address of an arriving frame",
              options=(OptionSpec("--mac-source"),), tables=None, listing_words=("MAC",),
              read_listing=read_value("mac", "--mac-source", glued=False), listing_text=_mac_text,
              compile=_mac_compile, owners=("Docker", "libvirt")),
    _ext("physdev", "the bridge ports a bridged packet enters/leaves by",
         "bridge ports are not modelled (the lab has no bridge to check them on)",
         _PHYS_FLAGS + _PHYS_SWITCHES, switches=_PHYS_SWITCHES, words=("PHYSDEV",), read=_physdev_read,
         text=_physdev_text, owners=("Calico", "Flannel", "Docker")),
    _ext("string", "a byte string in the payload", "the traced packet has no payload",
         ("--string", "--hex-string", "--algo", "--from", "--to", "--icase"), switches=("--icase",),
         words=("STRING",), read=_string_read, text=_string_text),
    _ext("devgroup", "the device group of the in/out interface",
         "device groups of interfaces are not in a dump", ("--src-group", "--dst-group"),
         words=("src-group", "dst-group"), read=_devgroup_read, text=_devgroup_text),
    _ext("cpu", "the CPU processing the packet", "which CPU handles a packet is not known", ("--cpu",),
         words=("cpu",), read=read_value("cpu", "--cpu", glued=False), text=_cpu_text),
    _ext("cgroup", "the cgroup of the local socket sending the packet",
         "the sending socket's cgroup is not known", ("--path", "--cgroup")),
    _ext("socket", "an open local socket for the packet (TPROXY setups)", "open sockets are not in a dump",
         ("--transparent", "--nowildcard", "--restore-skmark"),
         switches=("--transparent", "--nowildcard", "--restore-skmark"), words=("socket",), read=_socket_read,
         text=_socket_text, owners=("Istio",)),
    _ext("ipvs", "the IPVS connection of the packet", "IPVS connections are not in a dump", (
        "--ipvs", "--vproto", "--vaddr", "--vport", "--vdir", "--vmethod", "--vportctl"), switches=("--ipvs",),
         owners=("kube-proxy (ipvs mode)",)),
    _ext("bpf", "a BPF program run on the packet", "BPF programs are not run by the tracer",
         ("--bytecode", "--object-pinned"), owners=("Cilium",)),
    _ext("osf", "the passive OS fingerprint of a SYN", "OS fingerprints need the SYN's options",
         ("--genre", "--ttl", "--log"), family=frozenset({"ipv4"})),
)
