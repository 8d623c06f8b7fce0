"""``-j TPROXY``: hand a packet to a local transparent proxy socket without changing its
addresses (``xt_TPROXY``; mangle PREROUTING only, with ``-p tcp`` or ``-p udp``).

Where the simulator differs from the kernel: the kernel looks for a socket (the connection's
own, else a transparent one listening on --on-ip/--on-port); with one it sets the mark and
accepts (NF_ACCEPT), without one it drops (NF_DROP). The tracer cannot see sockets: it assumes
the proxy listens (that is what the rule is for), sets the mark and goes on with the next
table, marking the step assumed. The packet then reaches the proxy only if policy routing sends
the mark to a local route (``ip rule add fwmark M lookup T`` / ``ip route add local 0/0 dev lo
table T``), which the tracer does not model: it routes on the destination. The kernel lab has
no proxy, so there the kernel drops at the TPROXY rule (tests/extensions/test_targets.py expects
exactly that).
"""

from __future__ import annotations

from ..addr import mark_mask
from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ._legal import tables_of
from ._target_words import assumed
from .registry import Extension, OptionSpec

REASON = "a transparent proxy socket is assumed to listen (the kernel drops without one)"


def _read(t: list[str], i: int, target: str, ctx: ListingContext) -> tuple[list[Option], int]:
    """``TPROXY redirect IP:PORT mark V/M`` → ``--on-port --on-ip --tproxy-mark``."""
    if t[i] != "TPROXY" or i + 2 >= len(t) or t[i + 1] != "redirect":
        raise NotThisReader
    ip, _, port = t[i + 2].rpartition(":")
    opts = [Option("--on-port", (port,)), Option("--on-ip", (ip.strip("[]"),))]
    j = i + 3
    if j + 1 < len(t) and t[j] == "mark":
        opts.append(Option("--tproxy-mark", (t[j + 1],)))
        j += 2
    return opts, j


def _text(rule: Rule) -> str:
    """`` TPROXY redirect IP:PORT mark V/M`` (defaults: any address, mark 0x0/0x0).

    >>> from workbook.parse import parse_save
    >>> r = parse_save("*mangle\\n:PREROUTING ACCEPT [0:0]\\n-A PREROUTING -p tcp -j TPROXY --on-port 15001 --tproxy-mark 0x1\\nCOMMIT\\n").chain("mangle", "PREROUTING").rules[0]
    >>> _text(r)
    ' TPROXY redirect 0.0.0.0:15001 mark 0x1/0xffffffff'
    """
    o = rule.target_option
    ip = on_ip.value if (on_ip := o("--on-ip")) else ("::" if rule.family == "ipv6" else "0.0.0.0")
    port = on_port.value if (on_port := o("--on-port")) else "0"
    value, mask = mark_mask(mark.value) if (mark := o("--tproxy-mark")) else (0, 0)
    return f" TPROXY redirect {ip}:{port} mark 0x{value:x}/0x{mask:x}"


def _apply(tracer: object, s, rule: Rule, ctx: object) -> str:
    """The proxy is assumed to listen: the mark is set (``(mark & ~mask) ^ value``) and the
    packet accepted for this table."""
    o = rule.target_option
    value, mask = mark_mask(mark.value) if (mark := o("--tproxy-mark")) else (0, 0)
    s.mark = ((s.mark & ~mask) ^ value) & 0xFFFFFFFF
    port = on_port.value if (on_port := o("--on-port")) else "?"
    assumed(s, f"-j TPROXY --on-port {port}: a transparent proxy is assumed to listen there (the kernel drops "
               f"the packet when no socket takes it); mark {s.mark:#x}; the packet reaches the proxy only if policy "
               f"routing sends that mark to a local route (not modelled: routed on its destination)")
    return "ACCEPT"


EXTENSIONS = (
    Extension("TPROXY", "target", "hand the packet to a local transparent proxy, addresses unchanged",
              status="assumed", reason=REASON,
              options=(OptionSpec("--on-port", negatable=False), OptionSpec("--on-ip", negatable=False),
                       OptionSpec("--tproxy-mark", negatable=False)),
              tables=tables_of("TPROXY"), read_listing=_read, listing_text=_text, apply=_apply, terminal=True,
              owners=("Istio (TPROXY interception mode)", "Squid", "Cilium (L7 proxy)")),
)
