"""Round trips and cross-format agreement through the REAL iptables in throw-away namespaces.

Expected values here are what the kernel-side tools print (iptables-save, iptables -S,
iptables -L), never what the parser under test produced.
"""

from __future__ import annotations

import re

import pytest

from workbook.generate import generate_services, kube_proxy_save
from workbook.parse import parse, parse_save
from workbook.parse.listing import parse_listing
from workbook.parse.spec import parse_spec

from tests.realparts import DATA, RULESETS, nsexec, need, public_ruleset
from tests.parse.kernel import canonical, restore, run, save, tables_in

PROBE = DATA / "rulesets" / "probe-extensions.rules"


def _roundtrip(ns, rs, backend="nft"):
    r = restore(ns, rs.to_save(), family=rs.family, backend=backend)
    assert r.returncode == 0, r.stderr
    return canonical(save(ns, family=rs.family, backend=backend))


def test_generated_kube_proxy_roundtrip(netns):
    ns = netns("kp")
    text = kube_proxy_save(generate_services(1000, seed=7))
    rs = parse_save(text, "generated")
    assert len(rs) > 4000
    back = _roundtrip(ns, rs)
    mine = canonical(rs.to_save())
    # expected: what iptables-nft-save prints after iptables-nft-restore of our to_save()
    assert back == mine


# permissive dumps are in tests/data/rulesets, the others only on the project machine
ROUNDTRIP = {
    "iptables-tests-fedora27-firewalld.iptables-save-c": DATA / "rulesets",
    "iptables-tests-wireless.iptables-save": DATA / "rulesets",
    "iptables-tests-2003-v1.2.4.iptables-save": DATA / "rulesets",
    "moby-bridge-portmap-wsl2.iptables-save": DATA / "rulesets",
    "serverfault-759927-ipset-whitelist.iptables-save": DATA / "rulesets",
    "fffuu-parser-test.ip6tables-save": DATA / "rulesets",
    "docker-dfwfw-topos4.1.iptables-save": RULESETS,
    "medium-company-2016.iptables-save": RULESETS,
    "shorewall-sqrl-2014.iptables-save": RULESETS,
    "ufw-server1.iptables-save": RULESETS,
    "synology-ds414-2016.ip6tables-save": RULESETS,
}
# Dumps that do not load on this kernel/iptables, and why (checked by hand, see the error text):
NOT_LOADABLE = {
    "fffuu-parser-test.iptables-save": "parser stress test with deliberately invalid options "
                                       "(iptables-restore: unknown option \"--something-else\")",
    "tum-i8-2016-06-27.iptables-save": "MAC addresses anonymised to XX:XX:XX:XX:XX:XX "
                                       "(iptables-restore: Invalid MAC address specified)",
    "tum-i8-2016-06-27.ip6tables-save": "MAC addresses anonymised to XX:XX:XX:XX:XX:XX",
}


@pytest.mark.parametrize("name", sorted(ROUNDTRIP))
@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_public_dump_roundtrip(netns, name, backend):
    path = ROUNDTRIP[name] / name
    need(path.exists(), f"{path} not present (../shared is only on the project machine)")
    rs = parse(path)
    ns = netns("pub")
    if name == "serverfault-759927-ipset-whitelist.iptables-save":
        nsexec(ns, "ipset", "create", "whitelist", "hash:net")  # the set the dump matches on
    back = _roundtrip(ns, rs, backend)
    mine = canonical(rs.to_save())
    if name == "synology-ds414-2016.ip6tables-save":
        # that ip6tables-save (2016) printed "-p icmpv6"; 1.8.9 prints the /etc/protocols name
        mine = canonical(rs.to_save().replace(" -p icmpv6 ", " -p ipv6-icmp "))
    assert back == mine


def test_unloadable_dumps_are_recorded():
    for name, why in NOT_LOADABLE.items():
        path = public_ruleset(name)
        need(path.exists(), f"{path} not present")
        rs = parse(path)  # they still parse; only the kernel refuses them
        assert len(rs) > 0, why


# ------------------------------------------------------------------ one ruleset, every format
def _load_probe(ns, backend="nft"):
    text = PROBE.read_text()
    r = restore(ns, text, backend=backend, counters=True)
    assert r.returncode == 0, r.stderr
    return tables_in(text)


def _key(r):
    return (r.table, r.chain, r.position, r.target, r.spec)


@pytest.mark.parametrize("backend", ["nft", "legacy"])
def test_save_spec_and_listing_agree(netns, backend):
    ns = netns("x")
    nsexec(ns, "ipset", "create", "myset", "hash:ip")
    tables = _load_probe(ns, backend)
    saved = parse_save(save(ns, backend=backend, counters=True), "iptables-save")
    assert len(saved) > 100
    want = {t: [_key(r) for r in saved.table(t).rules()] for t in tables}
    for t in tables:
        spec = parse_spec(run(ns, "-t", t, "-S", backend=backend), f"-S {t}", table=t)
        assert [_key(r) for r in spec.table(t).rules()] == want[t]
        specv = parse_spec(run(ns, "-t", t, "-S", "-v", backend=backend), f"-S -v {t}", table=t)
        assert [(r.pkts, r.bytes) for r in specv.table(t).rules()] == [(r.pkts, r.bytes) for r in saved.table(t).rules()]
        lst = parse_listing(run(ns, "-t", t, "-L", "-n", "-v", "-x", "--line-numbers", backend=backend),
                            f"-L {t}", table=t)
        got = [_key(r) for r in lst.table(t).rules()]
        assert [k[:4] for k in got] == [k[:4] for k in want[t]]
        for g, w, r in zip(got, want[t], lst.table(t).rules()):
            if r.match("?") is None:  # what -L never shows (a hashlimit's name) left out of both
                assert g[:4] + (_HIDDEN.sub("", g[4]),) == w[:4] + (_HIDDEN.sub("", w[4]),)
            else:  # the listing shows less than save for these extensions; the text is kept
                assert _UNLISTABLE.search(w[4]), (g, w)
        assert [(r.pkts, r.bytes) for r in lst.table(t).rules()] == [(r.pkts, r.bytes) for r in saved.table(t).rules()]
        # K/M abbreviated listing: same rules, counters within iptables' rounding
        lk = parse_listing(run(ns, "-t", t, "-L", "-n", "-v", backend=backend), f"-L {t}", table=t)
        assert [_key(r) for r in lk.table(t).rules()] == got
        for a, b in zip(lk.table(t).rules(), saved.table(t).rules()):
            assert _close(a.pkts, b.pkts) and _close(a.bytes, b.bytes)
            assert a.counters_approx == (b.pkts > 99999 or b.bytes > 99999)
        # -L without -v: no counters and no in/out columns (interfaces cannot be shown)
        ln = parse_listing(run(ns, "-t", t, "-L", "-n", backend=backend), f"-L {t}", table=t)
        strip_if = lambda s: re.sub(r" (! )?-[io] \S+", "", s)
        assert [strip_if(r.spec) for r in ln.table(t).rules()] == [strip_if(k[4]) for k in got]
        assert all(r.pkts is None for r in ln.table(t).rules())


# save options the -L printers do not show (or show in a form that cannot be mapped back):
# hashlimit (burst/mode defaults), connlimit (mask/saddr defaults), time (datestop default)
_UNLISTABLE = re.compile(r"-m (rpfilter) ")
#: save-form words that ``iptables -L`` does not show at all
_HIDDEN = re.compile(r" --hashlimit-name \S+")


def _kmg(exact: int) -> int:
    """The value a K/M/G/T counter stands for: xtables_print_num's rounding (CHAINS.md §9.3)."""
    if exact <= 99999:
        return exact
    unit, n = 1, exact
    for _ in "KMGT":
        n, unit = (n + 500) // 1000, unit * 1000
        if n <= 9999:
            break
    return n * unit


def _close(approx: int, exact: int) -> bool:
    return approx == _kmg(exact)


def test_eks_collector_trailer_is_checked(netns):
    ns = netns("eks")
    text = kube_proxy_save(generate_services(20, seed=3))
    assert restore(ns, text).returncode == 0
    # the EKS log collector's own pipeline (DUMPS_AND_NOTEBOOKS.md §1.3), run for real
    script = ("iptables -t nat -nvL | tee /tmp/nfwb-eks-$$ | sed '/^num\\|^$\\|^Chain\\|^\\ pkts.*.destination/d' "
              "| echo -e \"=======\\nTotal Number of Rules: $(wc -l)\" >> /tmp/nfwb-eks-$$; cat /tmp/nfwb-eks-$$; rm -f /tmp/nfwb-eks-$$")
    out = nsexec(ns, "bash", "-c", script).stdout
    n = int(out.rstrip().rpartition(":")[2])
    rs = parse_listing(out, "iptables-nat.txt", table="nat")
    # expected: the trailer's count (wc -l of the sed output) = the -A lines of the nat table we loaded
    assert len(rs) == n == text.split("*nat", 1)[1].count("\n-A ")
    truncated = "\n".join(l for l in out.splitlines() if "KUBE-SEP" not in l or not l.lstrip()[:1].isdigit())
    with pytest.raises(Exception) as e:
        parse_listing(truncated, "iptables-nat.txt", table="nat")
    assert "Total Number of Rules" in str(e.value)


def test_ip6tables_save_and_listing_agree(netns):
    ns = netns("v6")
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -s 2001:db8::1/128 -p ipv6-icmp -m icmp6 --icmpv6-type 128 -j ACCEPT\n"
            "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT\n"
            "-A INPUT ! -s 2001:db8::/32 -i eth0 -j DROP\n"
            "-A INPUT -p tcp -m multiport --dports 1,2\nCOMMIT\n")
    assert restore(ns, text, family="ipv6").returncode == 0
    saved = parse_save(save(ns, family="ipv6"), "ip6tables-save")
    assert saved.family == "ipv6"
    lst = parse_listing(run(ns, "-L", "-n", "-v", "--line-numbers", family="ipv6"), "ip6tables -L")
    assert lst.family == "ipv6" and list(lst.tables) == ["filter"]
    assert [_key(r) for r in lst.iter_rules()] == [_key(r) for r in saved.iter_rules()]
