"""Print chains the way ``iptables -L -n -v`` does (xtables_print_num counters, column widths, match words)."""

from __future__ import annotations

from typing import Iterable

from .extensions import match_extension, target_extension
from .model import Chain, Match, Rule, Ruleset

__all__ = ["format_count", "match_text", "target_text", "format_rule", "format_header",
           "format_listing", "COLUMN_HEADER"]

#: The column header of ``iptables -L -n -v`` (K/M counters), trailing spaces included.
COLUMN_HEADER = " pkts bytes target     prot opt in     out     source               destination         "

_PROTO_NUMBERS = {"all": "0", "tcp": "6", "udp": "17", "icmp": "1", "sctp": "132", "icmpv6": "58",
                  "ipv6-icmp": "58", "esp": "50", "ah": "51", "gre": "47", "udplite": "136"}


def format_count(number: int | None, *, exact: bool = False, table: bool = True) -> str:
    """A counter as ``xtables_print_num`` prints it (without the trailing space).

    Decimal units, rounded half-up at each step; ``table`` pads to the column width
    (5 characters, or 8 with ``exact``); ``table=False`` is the chain-header form.

    >>> [format_count(n) for n in (0, 99999, 100000, 100499, 100500, 9999499, 9999500)]
    ['    0', '99999', ' 100K', ' 100K', ' 101K', '9999K', '  10M']
    >>> format_count(26_123_456), format_count(9_999_999_999), format_count(12_345_678_901_234)
    ('  26M', '  10G', '  12T')
    >>> format_count(123456, table=False), format_count(123456, exact=True)
    ('123K', '  123456')
    """
    n = int(number or 0)
    if exact:
        return f"{n:8d}" if table else str(n)
    if n <= 99999:
        return f"{n:5d}" if table else str(n)
    for unit in "KMG":
        n = (n + 500) // 1000
        if n <= 9999:
            return f"{n:4d}{unit}" if table else f"{n}{unit}"
    n = (n + 500) // 1000
    return f"{n:4d}T" if table else f"{n}T"


def _addr(value: str | None, family: str = "ipv4") -> str:
    if value is None:
        return "::/0" if family == "ipv6" else "0.0.0.0/0"
    if value.endswith("/32") and ":" not in value:
        return value[:-3]
    if value.endswith("/128") and ":" in value:
        return value[:-4]
    return value


def _ports(prefix: str, value: str) -> str:
    # "53" -> "dpt:53"; "1000:2000" -> "dpts:1000:2000"
    return f"{prefix}s:{value}" if ":" in value else f"{prefix}:{value}"


def _opt(m: Match, flag: str):
    return m.get(flag)


def _bang(o) -> str:
    return "! " if o is not None and o.negated else ""


def match_text(m: Match) -> str:
    """The listed (``-L``) form of one match, with its leading space.

    >>> from workbook.model import Match, Option
    >>> match_text(Match("addrtype", (Option("--dst-type", ("LOCAL",)),)))
    ' ADDRTYPE match dst-type LOCAL'
    >>> match_text(Match("udp", (Option("--dport", ("53",)),)))
    ' udp dpt:53'
    >>> match_text(Match("conntrack", (Option("--ctstate", ("RELATED,ESTABLISHED,DNAT",), True),)))
    ' ! ctstate RELATED,ESTABLISHED,DNAT'
    >>> match_text(Match("comment", (Option("--comment", ("kubernetes service portals",)),)))
    ' /* kubernetes service portals */'
    """
    mod = m.module
    ext = match_extension(mod)
    if ext is not None and ext.listing_text is not None:
        return ext.listing_text(m)
    if mod in ("tcp", "udp", "sctp", "udplite", "dccp"):
        out = f" {mod}"
        for o in m.options:
            if o.flag in ("--sport", "--source-port"):
                out += " " + _ports("spt", ("!" if o.negated else "") + o.value)
            elif o.flag in ("--dport", "--destination-port"):
                out += " " + _ports("dpt", ("!" if o.negated else "") + o.value)
            elif o.flag == "--tcp-flags" and len(o.args) == 2:
                out += f" flags:{'!' if o.negated else ''}{o.args[0]}/{o.args[1]}"
            elif o.flag == "--syn":
                out += f" flags:{'!' if o.negated else ''}0x17/0x02"
            else:
                out += f" {o.to_save()}"
        return out
    if mod == "multiport":
        out = " multiport"
        for o in m.options:
            word = {"--dports": "dports", "--destination-ports": "dports", "--sports": "sports",
                    "--source-ports": "sports", "--ports": "ports"}.get(o.flag, o.flag.lstrip("-"))
            out += f" {word} {'!' if o.negated else ''}{o.value}"
        return out
    if mod == "addrtype":
        out = " ADDRTYPE match"
        for o in m.options:
            if o.flag == "--src-type":
                out += f" src-type {'!' if o.negated else ''}{o.value}"
            elif o.flag == "--dst-type":
                out += f" dst-type {'!' if o.negated else ''}{o.value}"
            elif o.flag == "--limit-iface-in":
                out += " limit-in"
            elif o.flag == "--limit-iface-out":
                out += " limit-out"
        return out
    if mod == "mark":
        o = m.get("--mark")
        if o is None:
            return " mark match"
        return f" mark match {_bang(o)}{o.value}"
    if mod == "statistic":
        out = " statistic"
        mode = m.get("--mode")
        if mode is not None:
            out += f" mode {mode.value}"
        for o in m.options:
            if o.flag == "--probability":
                out += f" {_bang(o)}probability {o.value}"
            elif o.flag == "--every":
                out += f" {_bang(o)}every {o.value}"
            elif o.flag == "--packet":
                out += f" packet {o.value}"
        return out
    if mod == "nfacct":
        o = m.get("--nfacct-name")
        return f" nfacct-name  {o.value if o else ''}"
    if mod == "set":
        return "".join(f" {_bang(o)}match-set {o.value}" for o in m.options if o.flag == "--match-set")
    if mod == "limit":
        rate = m.get("--limit")
        burst = m.get("--limit-burst")
        return f" limit: avg {rate.value if rate else '3/hour'} burst {burst.value if burst else '5'}"
    if mod == "owner":
        out = ""
        for o in m.options:
            if o.flag == "--uid-owner":
                out += f" {_bang(o)}owner UID match {o.value}"
            elif o.flag == "--gid-owner":
                out += f" {_bang(o)}owner GID match {o.value}"
            elif o.flag == "--socket-exists":
                out += f" {_bang(o)}owner socket exists"
            else:
                out += f" {o.to_save()}"
        return out
    if mod in ("icmp", "icmp6"):
        o = m.get("--icmp-type") or m.get("--icmpv6-type")
        return f" {mod} {_bang(o)}type {o.value if o else 'any'}"
    # Fallback for modules without a dedicated printer: the module name and its saved options.
    opts = " ".join(o.to_save() for o in m.options)
    return f" {mod} {opts}".rstrip()


def _mark_words(word: str, value: str) -> str:
    mark_s, _, mask_s = value.partition("/")
    mark = int(mark_s, 0)
    mask = int(mask_s, 0) if mask_s else 0xFFFFFFFF
    if mark == 0:
        return f" {word} and 0x{(~mask) & 0xFFFFFFFF:x}"
    if mark == mask:
        return f" {word} or 0x{mark:x}"
    if mask == 0:
        return f" {word} xor 0x{mark:x}"
    if mask == 0xFFFFFFFF:
        return f" {word} set 0x{mark:x}"
    return f" {word} xset 0x{mark:x}/0x{mask:x}"


def target_text(rule: Rule) -> str:
    """The listed form of a rule's target options (``to:IP:PORT``, ``MARK or 0x4000``, ...).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*nat\\n:X - [0:0]\\n-A X -p udp -m udp -j DNAT --to-destination 192.168.1.77:53\\n-A X -j MARK --set-xmark 0x4000/0x0\\nCOMMIT\\n')
    >>> [target_text(r) for r in rs.chain("nat", "X").rules]
    [' to:192.168.1.77:53', ' MARK xor 0x4000']
    """
    t = rule.target
    ext = target_extension(t or "")
    if ext is not None and ext.listing_text is not None:
        return ext.listing_text(rule)
    opts = rule.target_options
    flags = {o.flag: o for o in opts}
    if t in ("DNAT", "SNAT"):
        out = ""
        for o in opts:
            if o.flag in ("--to-destination", "--to-source"):
                out += f" to:{o.value}"
        for f in ("--random", "--random-fully", "--persistent"):
            if f in flags:
                out += " " + f[2:]
        return out
    if t == "MASQUERADE":
        out = f" masq ports: {flags['--to-ports'].value}" if "--to-ports" in flags else ""
        for f in ("--random", "--random-fully"):
            if f in flags:
                out += " " + f[2:]
        return out
    if t == "REDIRECT":
        out = f" redir ports {flags['--to-ports'].value}" if "--to-ports" in flags else ""
        return out + (" random" if "--random" in flags else "")
    if t == "REJECT":
        o = flags.get("--reject-with")
        return f" reject-with {o.value if o else 'icmp-port-unreachable'}"
    if t == "MARK":
        for f, word in (("--set-xmark", None), ("--set-mark", None)):
            if f in flags:
                return _mark_words("MARK", flags[f].value)
        if "--or-mark" in flags:
            return f" MARK or 0x{int(flags['--or-mark'].value, 0):x}"
        if "--and-mark" in flags:
            return f" MARK and 0x{int(flags['--and-mark'].value, 0):x}"
        if "--xor-mark" in flags:
            return f" MARK xor 0x{int(flags['--xor-mark'].value, 0):x}"
    if t == "CONNMARK":
        if "--set-xmark" in flags:
            return _mark_words("CONNMARK", flags["--set-xmark"].value)
        for f, word in (("--restore-mark", "restore"), ("--save-mark", "save")):
            if f in flags:
                nf = flags.get("--nfmask") or flags.get("--mask")
                ct = flags.get("--ctmask") or flags.get("--mask")
                out = f" CONNMARK {word}"
                if nf is not None and ct is not None and nf.value == ct.value:
                    if int(nf.value, 0) != 0xFFFFFFFF:
                        out += f" mask 0x{int(nf.value, 0):x}"
                elif nf is not None or ct is not None:
                    out += f" ctmask 0x{int((ct or nf).value, 0):x} nfmask 0x{int((nf or ct).value, 0):x}"
                return out
    if t == "LOG":
        level = flags.get("--log-level")
        out = f" LOG flags 0 level {level.value if level else 4}"
        if "--log-prefix" in flags:
            out += f' prefix "{flags["--log-prefix"].value}"'
        return out
    if not opts:
        return ""
    return " " + " ".join(o.to_save() for o in opts)


def format_rule(rule: Rule, *, exact: bool = False, line_number: int | None = None,
                numeric_proto: bool = False) -> str:
    """One rule line of ``iptables -L -n -v`` (``numeric_proto``: iptables 1.8.9/1.8.10 print ``0``/``6``/``17``).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n[13000000:2085000000] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\\nCOMMIT\\n', strict=False)
    >>> format_rule(rs.chain("nat", "PREROUTING").rules[0])
    '  13M 2085M CNI-HOSTPORT-DNAT  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL'
    """
    parts = []
    if line_number is not None:
        parts.append(f"{line_number:<4d} ")
    parts.append(format_count(rule.pkts, exact=exact) + " ")
    parts.append(format_count(rule.bytes, exact=exact) + " ")
    parts.append(f"{rule.target or '':<9s} ")
    proto = rule.protocol or "all"
    if numeric_proto:
        proto = _PROTO_NUMBERS.get(proto, proto)
    parts.append(("!" if rule.protocol_negated else " ") + f"{proto:<4s} ")
    parts.append(("-f" if rule.fragment else "!f" if rule.fragment is False else "--") + " ")
    iface_in = ("!" if rule.in_interface_negated else "") + (rule.in_interface or "*")
    iface_out = ("!" if rule.out_interface_negated else "") + (rule.out_interface or "*")
    parts.append(f" {iface_in:<6s} {iface_out:<6s} ")
    parts.append(("!" if rule.source_negated else " ") + f"{_addr(rule.source, rule.family):<19s} ")
    parts.append(("!" if rule.destination_negated else " ") + f"{_addr(rule.destination, rule.family):<19s} ")
    if rule.goto:
        parts.append("[goto] ")
    parts.extend(match_text(m) for m in rule.matches)
    parts.append(target_text(rule))
    return "".join(parts)


def _references(chain: Chain, ruleset: Ruleset | None) -> int:
    if chain.references is not None:
        return chain.references
    if ruleset is None or chain.table not in ruleset:
        return 0
    return sum(1 for c in ruleset.table(chain.table) for r in c.rules if r.target == chain.name)


def format_header(chain: Chain, ruleset: Ruleset | None = None, *, exact: bool = False) -> str:
    """The ``Chain NAME (...)`` line: policy and counters for built-ins, references otherwise.

    >>> from workbook.model import Chain
    >>> format_header(Chain("nat", "PREROUTING", "ACCEPT", 123456, 7654321))
    'Chain PREROUTING (policy ACCEPT 123K packets, 7654K bytes)'
    >>> format_header(Chain("nat", "KUBE-SERVICES"))
    'Chain KUBE-SERVICES (0 references)'
    """
    if chain.builtin or chain.policy is not None:
        pk = format_count(chain.pkts, exact=exact, table=False)
        by = format_count(chain.bytes, exact=exact, table=False)
        return f"Chain {chain.name} (policy {chain.policy or 'ACCEPT'} {pk} packets, {by} bytes)"
    return f"Chain {chain.name} ({_references(chain, ruleset)} references)"


def format_listing(chains: Chain | Iterable[Chain], ruleset: Ruleset | None = None, *,
                   exact: bool = False, line_numbers: bool = False, numeric_proto: bool = False) -> str:
    """``iptables -t T -L [CHAIN] -n -v`` text for one chain or several (blank line between them).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n[0:0] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\\nCOMMIT\\n', strict=False)
    >>> print(format_listing(rs.chain("nat", "PREROUTING")).replace(" ", "."), end="")
    Chain.PREROUTING.(policy.ACCEPT.0.packets,.0.bytes)
    .pkts.bytes.target.....prot.opt.in.....out.....source...............destination.........
    ....0.....0.KUBE-SERVICES..all..--..*......*.......0.0.0.0/0............0.0.0.0/0............/*.kubernetes.service.portals.*/
    """
    if isinstance(chains, Chain):
        chains = [chains]
    header = COLUMN_HEADER
    if exact:
        header = "    pkts      bytes target     prot opt in     out     source               destination         "
    if line_numbers:
        header = "num  " + header
    blocks = []
    for c in chains:
        lines = [format_header(c, ruleset, exact=exact), header]
        for i, r in enumerate(c.rules, 1):
            lines.append(format_rule(r, exact=exact, line_number=i if line_numbers else None,
                                     numeric_proto=numeric_proto))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
