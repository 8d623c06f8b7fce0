"""Targets that only report a packet and let it continue: ``LOG`` (kernel log), ``NFLOG``
(to a netlink group), ``AUDIT`` (audit record) and ``TRACE`` (rule-by-rule trace); none changes
the packet or its verdict (``XT_CONTINUE``)."""

from __future__ import annotations

from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader, unquote
from ._legal import tables_of
from ._target_words import Word, printer, reader
from .registry import Extension, OptionSpec

#: ``LOG flags N``: the bits of the --log-* switches (``xt_log.h``)
LOG_FLAGS = (("--log-tcp-sequence", 0x01), ("--log-tcp-options", 0x02), ("--log-ip-options", 0x04),
             ("--log-uid", 0x08), ("--log-macdecode", 0x20))
#: syslog level names iptables accepts for --log-level
LOG_LEVELS = {"emerg": 0, "panic": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "warn": 4,
              "notice": 5, "info": 6, "debug": 7}


def _continue(tracer: object, s: object, rule: Rule, ctx: object) -> None:
    """The packet goes on with the next rule, unchanged."""
    return None


def _log_read(t: list[str], i: int, target: str, ctx: ListingContext) -> tuple[list[Option], int]:
    """``LOG flags N level L [prefix "P"]`` → the save options, in iptables-save's order."""
    if t[i] != "LOG":
        raise NotThisReader
    j, n = i + 1, len(t)
    flags, level, prefix = 0, 4, None
    names = {flag[len("--log-"):]: bit for flag, bit in LOG_FLAGS}  # older iptables listed the flags by name
    while j < n:
        w, v = t[j], t[j + 1] if j + 1 < n else ""
        if w in names:
            flags |= names[w]
            j += 1
            continue
        if not v:
            break
        if w == "flags" and v.isdecimal():
            flags = int(v)
        elif w == "level":
            level = int(v) if v.isdecimal() else LOG_LEVELS.get(v, 4)
            if not v.isdecimal():
                ctx.names.append(f"level {v}={level}")
        elif w == "prefix":
            prefix = unquote(v)
        else:
            break
        j += 2
    opts = [Option("--log-prefix", (prefix,))] if prefix else []
    if level != 4:
        opts.append(Option("--log-level", (str(level),)))
    opts += [Option(flag) for flag, bit in LOG_FLAGS if flags & bit]
    return opts, j


def _log_text(rule: Rule) -> str:
    """`` LOG flags N level L [prefix "P"]``.

    >>> from workbook.parse import parse_save
    >>> r = parse_save('*filter\\n:INPUT ACCEPT [0:0]\\n-A INPUT -j LOG --log-prefix "x: " --log-level 7 --log-uid\\nCOMMIT\\n').chain("filter", "INPUT").rules[0]
    >>> _log_text(r)
    ' LOG flags 8 level 7 prefix "x: "'
    """
    o = rule.target_option
    flags = sum(bit for flag, bit in LOG_FLAGS if o(flag) is not None)
    level = o("--log-level")
    lv = level.value if level else "4"
    lv = str(LOG_LEVELS.get(lv, lv))
    out = f" LOG flags {flags} level {lv}"
    prefix = o("--log-prefix")
    return out + (f' prefix "{prefix.value}"' if prefix else "")


_NFLOG = (Word("nflog-prefix", "--nflog-prefix", quoted=True), Word("nflog-group", "--nflog-group"),
          Word("nflog-range", "--nflog-range"), Word("nflog-size", "--nflog-size"),
          Word("nflog-threshold", "--nflog-threshold"))


def _audit_read(t: list[str], i: int, target: str, ctx: ListingContext) -> tuple[list[Option], int]:
    """``AUDIT accept|drop|reject``."""
    if t[i] != "AUDIT" or i + 1 >= len(t) or t[i + 1] not in ("accept", "drop", "reject"):
        raise NotThisReader
    return [Option("--type", (t[i + 1],))], i + 2


def _audit_text(rule: Rule) -> str:
    o = rule.target_option("--type")
    return f" AUDIT {o.value if o else 'accept'}"


EXTENSIONS = (
    Extension("LOG", "target", "write the packet's headers to the kernel log; the packet continues",
              options=(OptionSpec("--log-prefix", negatable=False), OptionSpec("--log-level", negatable=False),
                       *(OptionSpec(f, 0, False) for f, _ in LOG_FLAGS)),
              tables=tables_of("LOG"), read_listing=_log_read, listing_text=_log_text, apply=_continue,
              owners=("ufw", "firewalld", "Calico", "hand-written debugging rules")),
    Extension("NFLOG", "target", "send the packet to a netlink log group (ulogd, tcpdump nflog:N); it continues",
              options=tuple(OptionSpec(w.flag, negatable=False) for w in _NFLOG),
              tables=tables_of("NFLOG"), read_listing=reader("", _NFLOG), listing_text=printer("", _NFLOG),
              apply=_continue, owners=("Calico", "Cilium (legacy)", "ulogd")),
    Extension("AUDIT", "target", "write an audit record for the packet; it continues",
              options=(OptionSpec("--type", negatable=False),), tables=tables_of("AUDIT"),
              read_listing=_audit_read, listing_text=_audit_text, apply=_continue),
    Extension("TRACE", "target", "trace the packet rule by rule from here on (xtables-monitor --trace); it continues",
              tables=tables_of("TRACE"), apply=_continue, owners=("debugging sessions", "nfwb lab")),
)
