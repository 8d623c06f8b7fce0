"""Round trip with the kernel as the oracle: parse → print → ``nft -f`` in a throw-away namespace →
``nft list ruleset`` gives back the listing we started from."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.realparts import RULESETS, need
from workbook.nft.parse_text import parse_nft_text

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "nft"


def nft(ns: str, *args: str, stdin: str | None = None) -> str:
    p = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], input=stdin, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


def roundtrip(netns, text: str) -> tuple[str, str, str]:
    """(nft's listing of ``text``, our print of that listing, nft's listing of our print)."""
    a, b = netns("rta"), netns("rtb")
    nft(a, "-f", "-", stdin=text)
    listing = nft(a, "list", "ruleset")
    printed = parse_nft_text(listing, "listing").to_nft()
    nft(b, "-f", "-", stdin=printed)
    return listing, printed, nft(b, "list", "ruleset")


def untimed(listing: str) -> str:
    """The listing without element ``expires`` values: their timers run between two listings."""
    return re.sub(r" expires \w+", "", listing)


FIXTURES = {
    "kitchen-sink": DATA / "kitchen-sink.nft-ruleset",
    "moby-docker-bridges": RULESETS / "moby-bridge-portmap-wsl2.nft",
    "ongy-2015": RULESETS / "ongy-flat-share-2015.nft-ruleset",
    "ocp4-iptables-nft-2019": RULESETS / "ocp4-master-sosreport-2019.nft-ruleset",
    "kube-proxy-nft-dump": ROOT / "tests" / "data" / "dumps" / "nfwb-kube-proxy-nft" / "kernel" / "nft-ruleset.txt",
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_parse_print_load_list_gives_the_same_listing(netns, name):
    need(subprocess.run(["which", "nft"], capture_output=True).returncode == 0, "nft not installed")
    original = FIXTURES[name].read_text()
    # older/newer listings are loaded through our printer (portable: moby's golden names dstnat at
    # hook output, which nft 1.0.6 refuses); nft's own listing of it is the text to give back
    source = parse_nft_text(original, name)
    listing, printed, relisted = roundtrip(netns, source.to_nft(portable=True))
    assert printed == listing                           # our printer reproduces nft's listing byte for byte
    assert untimed(relisted) == untimed(listing)        # and nft reads it back into the same ruleset
    again = parse_nft_text(listing, name)
    # nothing lost on the way: same tables, chains, rule count as the fixture
    assert [(f, n, list(t.chains)) for (f, n), t in again.tables.items()] == \
           [(f, n, list(t.chains)) for (f, n), t in source.tables.items()]
    assert len(again) == len(source)


def test_kitchen_sink_listing_is_nfts_own(netns):
    # kitchen-sink.nft-ruleset is nft 1.0.6's listing of kitchen-sink.nft: loading the script gives it again
    a = netns("ks")
    nft(a, "-f", str(DATA / "kitchen-sink.nft"))
    listing = nft(a, "list", "ruleset")
    assert untimed(listing) == untimed((DATA / "kitchen-sink.nft-ruleset").read_text())
