"""``-j NFQUEUE`` and ``-j QUEUE``: hand the packet to a userspace program on a netlink queue
(``xt_NFQUEUE``; QUEUE is queue 0). The program's verdict decides; the tracer cannot know it
and assumes no program listens, as in the kernel lab: the kernel then drops the packet, unless
``--queue-bypass``, which lets it continue with the next table as if accepted."""

from __future__ import annotations

from ..model import Rule
from ._legal import tables_of
from ._target_words import Word, assumed, printer, reader
from .registry import Extension, OptionSpec

_WORDS = (Word("num", "--queue-num"), Word("balance", "--queue-balance"), Word("bypass", "--queue-bypass", 0),
          Word("cpu-fanout", "--queue-cpu-fanout", 0), Word("fail-open", "--fail-open", 0))
_print = printer("NFQUEUE", _WORDS)
REASON = "the verdict is the queue program's; none is assumed to listen (the kernel then drops, or bypasses)"


def _text(rule: Rule) -> str:
    """`` NFQUEUE num N [bypass]``: iptables prints ``num 0`` when no queue was given."""
    if rule.target_option("--queue-num") is None and rule.target_option("--queue-balance") is None:
        return " NFQUEUE num 0" + _print(rule)[len(" NFQUEUE"):]
    return _print(rule)


def _queue(rule: Rule) -> str:
    o = rule.target_option("--queue-num") or rule.target_option("--queue-balance")
    return o.value if o else "0"


def _apply(tracer: object, s, rule: Rule, ctx: object) -> str:
    """No listener: NF_DROP; with --queue-bypass the next table (``nf_queue`` returns -ESRCH and
    ``nf_hook_slow`` goes on with the next hook function)."""
    q = _queue(rule)
    if rule.target_option("--queue-bypass") is not None:
        assumed(s, f"-j {rule.target} {q}: no program is assumed to listen on queue {q}: --queue-bypass lets the "
                   f"packet continue with the next table (a listening program's verdict would decide)")
        return "ACCEPT"
    assumed(s, f"-j {rule.target} {q}: no program is assumed to listen on queue {q}: the kernel drops the "
               f"packet (a listening program's verdict would decide; --queue-bypass would let it continue)")
    return "DROP"


EXTENSIONS = (
    Extension("NFQUEUE", "target", "hand the packet to a userspace program on a netlink queue",
              status="assumed", reason=REASON,
              options=(OptionSpec("--queue-num", negatable=False), OptionSpec("--queue-balance", negatable=False),
                       OptionSpec("--queue-bypass", 0, False), OptionSpec("--queue-cpu-fanout", 0, False),
                       OptionSpec("--fail-open", 0, False)),
              tables=tables_of("NFQUEUE"), read_listing=reader("NFQUEUE", _WORDS), listing_text=_text,
              apply=_apply, terminal=True, owners=("Suricata", "Snort", "fail2ban (nfqueue)", "Cilium")),
    Extension("QUEUE", "target", "hand the packet to queue 0 (iptables-legacy only; iptables-nft has no QUEUE)",
              status="assumed", reason=REASON, tables=tables_of("QUEUE"), apply=_apply, terminal=True),
)
