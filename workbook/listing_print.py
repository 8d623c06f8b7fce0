"""Print chains the way ``iptables -L -n -v`` does (xtables_print_num counters, column widths, match words)."""

from __future__ import annotations

from typing import Iterable

from .extensions import match_extension, target_extension
from .model import Chain, Match, Rule, Ruleset
from .vocab import protocol_number

__all__ = ["format_count", "match_text", "target_text", "format_rule", "format_header",
           "format_listing", "COLUMN_HEADER"]

#: The column header of ``iptables -L -n -v`` (K/M counters), trailing spaces included.
COLUMN_HEADER = " pkts bytes target     prot opt in     out     source               destination         "

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
    # Fallback for modules without a dedicated printer: the module name and its saved options.
    opts = " ".join(o.to_save() for o in m.options)
    return f" {mod} {opts}".rstrip()


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
        num = protocol_number(proto)
        proto = proto if num is None else str(num)
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
