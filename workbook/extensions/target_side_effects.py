"""Targets whose effect lies outside what a trace follows; the packet continues unchanged as far
as any later rule can see: ``CLASSIFY`` (tc class), ``SECMARK``/``CONNSECMARK`` (SELinux
labels), ``IDLETIMER`` (a sysfs timer), ``LED`` (an LED trigger), ``RATEEST`` (a rate
estimator) and ``TEE`` (a copy sent to a gateway; the copy is not traced)."""

from __future__ import annotations

from ..model import Option, Rule
from ..parse.listing_words import ListingContext, NotThisReader
from ._legal import tables_of
from ._target_words import Word, phrase_printer, phrase_reader, printer, reader
from .registry import Extension, OptionSpec


def _continue(tracer: object, s: object, rule: Rule, ctx: object) -> None:
    return None


def _tee(tracer: object, s, rule: Rule, ctx: object) -> None:
    """TEE: the original goes on; the copy (``nf_dup_ipv4``) is sent to the gateway untraced."""
    gw = rule.target_option("--gateway")
    s.note(f"-j TEE: a copy of the packet is sent to {gw.value if gw else 'the gateway'} (the copy is not traced)")
    return None


def _classify_read(t: list[str], i: int, target: str, ctx: ListingContext) -> tuple[list[Option], int]:
    """``CLASSIFY set 1:10`` → ``--set-class 0001:0010`` (iptables-save prints 4+4 hex digits)."""
    if t[i] != "CLASSIFY" or i + 2 >= len(t) or t[i + 1] != "set":
        raise NotThisReader
    major, _, minor = t[i + 2].partition(":")
    return [Option("--set-class", ("%04x:%04x" % (int(major, 16), int(minor or "0", 16)),))], i + 3


def _classify_text(rule: Rule) -> str:
    """`` CLASSIFY set MAJOR:MINOR`` in hex without leading zeros."""
    o = rule.target_option("--set-class")
    major, _, minor = (o.value if o else "0:0").partition(":")
    return f" CLASSIFY set {int(major, 16):x}:{int(minor or '0', 16):x}"


_CONNSECMARK = ((("save",), "--save", 0), (("restore",), "--restore", 0))
_IDLETIMER = (Word("timeout:", "--timeout"), Word("label:", "--label"), Word("alarm", "--alarm", 0))
_RATEEST = (Word("name", "--rateest-name"), Word("interval", "--rateest-interval"),
            Word("ewmalog", "--rateest-ewmalog"))
_TEE = (Word("gw:", "--gateway"), Word("oif=", "--oif"))
_SECMARK = (Word("selctx", "--selctx"),)
_LED = (Word("led-trigger-id:", "--led-trigger-id", quoted=True), Word("led-delay:", "--led-delay"),
        Word("led-always-blink", "--led-always-blink", 0))

EXTENSIONS = (
    Extension("CLASSIFY", "target", "put the packet in a tc class (MAJOR:MINOR) for the egress qdisc",
              options=(OptionSpec("--set-class", negatable=False),), tables=tables_of("CLASSIFY"),
              read_listing=_classify_read, listing_text=_classify_text, apply=_continue),
    Extension("SECMARK", "target", "label the packet with an SELinux security context",
              options=(OptionSpec("--selctx", negatable=False),), tables=tables_of("SECMARK"),
              read_listing=reader("SECMARK", _SECMARK), listing_text=printer("SECMARK", _SECMARK), apply=_continue),
    Extension("CONNSECMARK", "target", "copy the SELinux label between the packet and its connection",
              options=(OptionSpec("--save", 0, False), OptionSpec("--restore", 0, False)),
              tables=tables_of("CONNSECMARK"), read_listing=phrase_reader("CONNSECMARK", _CONNSECMARK),
              listing_text=phrase_printer("CONNSECMARK", _CONNSECMARK), apply=_continue),
    Extension("IDLETIMER", "target", "restart a sysfs idle timer (notifies userspace when traffic stops)",
              options=(OptionSpec("--timeout", negatable=False), OptionSpec("--label", negatable=False),
                       OptionSpec("--alarm", 0, False)),
              tables=tables_of("IDLETIMER"), read_listing=reader("", _IDLETIMER), listing_text=printer("", _IDLETIMER),
              apply=_continue, owners=("Android", "mobile data accounting")),
    Extension("LED", "target", "blink an LED trigger",
              options=(OptionSpec("--led-trigger-id", negatable=False), OptionSpec("--led-delay", negatable=False),
                       OptionSpec("--led-always-blink", 0, False)),
              tables=tables_of("LED"), read_listing=reader("", _LED), listing_text=printer("", _LED), apply=_continue),
    Extension("RATEEST", "target", "feed a named rate estimator (read by -m rateest)",
              options=tuple(OptionSpec(w.flag, negatable=False) for w in _RATEEST), tables=tables_of("RATEEST"),
              read_listing=reader("", _RATEEST), listing_text=printer("", _RATEEST), apply=_continue),
    Extension("TEE", "target", "send a copy of the packet to a gateway; the original continues",
              options=(OptionSpec("--gateway", negatable=False), OptionSpec("--oif", negatable=False)),
              tables=tables_of("TEE"), read_listing=reader("TEE", _TEE), listing_text=printer("TEE", _TEE),
              apply=_tee, owners=("traffic mirroring setups",)),
)
