"""The explorers driven like a user would: set values, click, read what they show."""

from __future__ import annotations

import html
import re
import shutil

from workbook.generate import generate_services, kube_proxy_save
from workbook.parse import parse_save
from workbook.view.widgets import DumpExplorer, HostportLab, ModuleChecker, ServiceExplorer

from tests.realparts import need
from tests.draw.kube_dns_trace import KUBE_DNS_SAVE, SEP_A, SEP_B, SVC
from tests.draw.small import SMALL_NAT
from .seedtext import lsmod_block, seed_lines

DOT = shutil.which("dot") is not None
DOT_REASON = "needs graphviz's dot (Debian package graphviz)"


def _text(value: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", value))


def test_dump_explorer_chain_pick():
    need(DOT, DOT_REASON)  # the widget shows real graphviz drawings
    ex = DumpExplorer(parse_save(SMALL_NAT, "small.rules", strict=False))
    assert ex.table.options == ("nat",)
    ex.chain.value = "KUBE-SVC-A"
    ex.show.click()
    # KUBE-SVC-A has two rules, to KUBE-SEP-1 (50 %) and KUBE-SEP-2
    assert "KUBE-SEP-1" in ex.rules_out.value and "KUBE-SEP-2" in ex.rules_out.value
    assert "2 rules" in ex.status.value
    listing = html.unescape(ex.listing_out.value)
    # one rule (in KUBE-SERVICES) jumps to KUBE-SVC-A
    assert "Chain KUBE-SVC-A (1 references)" in listing
    assert "statistic mode random probability 0.50000000000" in listing
    assert "<svg" in ex.graph_out.value and "KUBE-SEP-2" in html.unescape(ex.graph_out.value)
    # the hooks tab: nat PREROUTING present (bold), raw absent (grey)
    assert "<svg" in ex.hooks_out.value and "PREROUTING" in ex.hooks_out.value
    ex.chain.value = "NOPE"
    ex.show.click()
    assert "no chain 'NOPE'" in html.unescape(ex.status.value)


def test_dump_explorer_big_dump_keeps_picker_small():
    services = generate_services(2000, seed=3)
    ex = DumpExplorer(parse_save(kube_proxy_save(services), "2k.rules"))
    ex.table.value = "nat"
    # KUBE-SVC-*/KUBE-SEP-* families (thousands) are left out of the picker, built-ins stay
    assert len(ex.chain.options) < 50 and "PREROUTING" in ex.chain.options
    assert not any(o.startswith("KUBE-SVC-") for o in ex.chain.options)
    # ... but a typed name still works
    svc = next(s for s in services if s.endpoints)
    ex.chain.value = svc.svc_chain
    ex.show.click()
    assert svc.svc_chain in ex.status.value
    assert all(svc.sep_chain(ip, p) in ex.rules_out.value for ip, p in svc.endpoints)


def test_service_explorer_bars():
    need(DOT, DOT_REASON)  # the widget shows real graphviz drawings
    ex = ServiceExplorer(parse_save(KUBE_DNS_SAVE, "kube-dns.rules"))
    labels = [l for l, _ in ex.service.options]
    # KUBE-SERVICES jumps to two KUBE-SVC chains: dns-tcp and dns
    assert len(labels) == 2
    ex.search.value = "kube-dns:dns udp"
    assert len(ex.service.options) == 1
    text = _text(ex.bars_out.value)
    # two endpoints: first rule probability 0.5, second unconditional → 50 % / 50 %
    assert re.findall(r"(\S+)\s+([\d.]+%)", text) == [("192.168.1.77:53", "50.0%"), ("192.168.2.64:53", "50.0%")]
    assert SVC in ex.info_out.value
    svg = html.unescape(ex.graph_out.value)
    assert SEP_A in svg and SEP_B in svg


def test_service_explorer_three_endpoints():
    services = generate_services(60, seed=11)
    svc = next(s for s in services if len(s.endpoints) == 3)
    ex = ServiceExplorer(parse_save(kube_proxy_save(services)))
    ex.search.value = svc.svc_port_name + " "
    text = _text(ex.bars_out.value)
    # 1/3 stated as 0.33333333349, then 0.5 of the rest, then the rest: 33.3 % each
    assert [p for _, p in re.findall(r"(\S+)\s+([\d.]+%)", text)] == ["33.3%", "33.3%", "33.3%"]


def test_hostport_lab_replays_the_seed():
    need(DOT, DOT_REASON)  # the widget shows real graphviz drawings
    lab = HostportLab()
    seed = seed_lines()
    # the slider counts like the titles: step 1 is "1. A worker before the ingress controller"
    assert lab.step.value == 1 and lab.step.min == 1 and "<h4>1. " in lab.text_out.value
    lab.prev.click()
    assert lab.step.value == 1  # cannot go before the first step
    for _ in range(3):
        lab.next.click()
    assert lab.step.value == 4 and "<h4>4. " in lab.text_out.value and "duplicate" in lab.text_out.value
    listing = html.unescape(lab.listing_out.value)
    got = [l.rstrip() for l in listing.split("\n")[1:] if l.strip() and not l.startswith("</pre")]
    # the seed's second PREROUTING listing is the one with the "#### 중복" (duplicate) marker
    start = max(i for i, l in enumerate(seed) if l == "Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)")
    want = [l for l in seed[start:start + 8] if l.strip() and not l.startswith("  ####")]
    assert len(want) == 7 and len(got) == 7
    # Header and the four rules are iptables' own output; the duplicate line was re-typed in the
    # blog ("  0   0 ..."), so that one is compared with spacing normalised.
    assert got[:6] == want[:6]
    assert got[6].split() == want[6].split()
    assert "DUPLICATE of #4" in html.unescape(lab.graph_out.value)
    lab.next.click()
    fixed = html.unescape(lab.listing_out.value)
    assert fixed.count("CNI-HOSTPORT-DNAT  all") == 1
    assert "iptables -t nat -D PREROUTING 5" in html.unescape(lab.commands_out.value)
    lab.next.click()
    assert "extra_binds" in lab.commands_out.value and "/var/lib/dockershim:/var/lib/dockershim" in lab.commands_out.value
    lab.next.click()
    # the last step is the collected dump, numbered like the rest
    assert lab.step.value == len(lab.steps) == lab.step.max
    assert lab.steps[-1].title.startswith(f"{len(lab.steps)}. The collected dump: onprem-dup-hostport/after")
    lab.next.click()
    assert lab.step.value == len(lab.steps)  # nor after the last


def test_module_checker_seed_before_and_after():
    before = lsmod_block(0)
    assert "nf_tables" in before and "iptable_nat" not in before
    mc = ModuleChecker(before)
    # the seed's first lsmod has nft_* modules but none of the four iptable_* ones
    assert mc.missing == ["iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw"]
    fix = html.unescape(mc.fix_out.value)
    assert "/etc/modules-load.d/istio-iptables.conf" in fix
    # the same fix as `nfwb check`: the seed's four lines, then xt_REDIRECT and xt_owner, which
    # istio-init's rules use and this lsmod does not list either
    assert "iptable_nat\niptable_mangle\niptable_filter\niptable_raw\nxt_REDIRECT\nxt_owner\nEOF" in fix
    assert "modprobe iptable_raw" in fix and "modprobe xt_owner" in fix
    from workbook.checks import check
    from workbook.model import Ruleset
    (finding,) = check(Ruleset(), before, families=["modules"])
    assert fix.split("</pre>")[0].split("<pre>")[1] == "\n".join(finding.fix)
    assert "unable to initialize table 'nat'" in html.unescape(mc.result_out.value)
    mc.text.value = lsmod_block(1)
    mc.check.click()
    # after the fix the seed's lsmod lists all four
    assert mc.missing == [] and mc.fix_out.value == ""
    mc.text.value = ""
    mc.check.click()
    assert "paste" in mc.result_out.value


def test_hostport_lab_appends_a_collected_dump(tmp_path):
    # a dump in the nfwb-dump/1 layout holding the seed's duplicated PREROUTING (step 4's table)
    from workbook.view.widgets import HOSTPORT_STEPS
    save = tmp_path / "after" / "iptables" / "iptables-save.txt"
    save.parent.mkdir(parents=True)
    save.write_text(HOSTPORT_STEPS[3].save.replace("[0:0] -A PREROUTING", "[7:420] -A PREROUTING"))
    lab = HostportLab(dataset=tmp_path)
    assert len(lab.steps) == len(HOSTPORT_STEPS) + 1
    lab.step.value = lab.step.max
    listing = html.unescape(lab.listing_out.value)
    # the duplicate now carries the counters written above: 7 packets, 420 bytes
    assert "    7   420 CNI-HOSTPORT-DNAT  all" in listing
    assert f"nfwb check {tmp_path / 'after'}" in html.unescape(lab.commands_out.value)
    assert len(HostportLab(dataset=None).steps) == len(HOSTPORT_STEPS)


def test_hostport_lab_uses_the_datasets_pods():
    # The lab's reconstructed steps name the dataset's ingress pods: the id in each
    # CNI-HOSTPORT-DNAT comment, the CNI-DN chain it jumps to and the pod IP that chain DNATs to
    # must be the ones in datasets/onprem-dup-hostport/after (stale entry first, new one second).
    from workbook.view.widgets import HOSTPORT_STEPS
    after = parse_save((HostportLab.DATASET / "after" / "iptables" / "iptables-save.txt").read_text(),
                       "after", strict=False)
    lab = parse_save(HOSTPORT_STEPS[3].save, "step 4")

    def pods(rs):
        out = []
        for r in rs.chain("nat", "CNI-HOSTPORT-DNAT").rules:
            cid = re.search(r'id: "([0-9a-f]{64})"', r.comment or "").group(1)
            dnat = {x.target_option("--to-destination").value for x in rs.chain("nat", r.target).rules
                    if x.target == "DNAT"}
            out.append((cid, r.target, dnat))
        return out

    want = pods(after)
    assert [p[0][:8] for p in want] == ["15541f38", "4ec72be6"]   # README: old pod, then new pod
    assert pods(lab) == want
    # both pod IPs appear in the drawing, as DNAT ends of their CNI-DN chains
    g = HostportLab(dataset=None).graph(4).source
    assert "DNAT → 10.42.134.75" in g and "DNAT → 10.42.134.83" in g


def test_module_checker_says_garbage_is_not_lsmod():
    mc = ModuleChecker("<html><body>404 Not Found</body></html>\nsome words here\n")
    text = _text(mc.result_out.value)
    assert "this isn't lsmod output" in text and "line 1" in text
    assert mc.missing == [] and mc.fix_out.value == ""
    # one good line among garbage: checked, with the skipped lines counted
    mc.text.value = "garbage line\niptable_nat 16384 1\n"
    mc.check.click()
    assert mc.missing == ["iptable_mangle", "iptable_filter", "iptable_raw"]
    assert "1 line(s) were not lsmod lines" in _text(mc.result_out.value)
    mc.text.value = "bin\x00ary"
    mc.check.click()
    assert "this isn't lsmod output" in _text(mc.result_out.value)


def test_module_checker_lists_the_one_istio_module_list():
    from workbook.checks.modules import ISTIO_MODULES
    mc = ModuleChecker("Module Size Used by\niptable_nat 16384 1\n")
    rows = re.findall(r"<tr><td><code>(\w+)</code>", mc.result_out.value)
    assert tuple(rows) == ISTIO_MODULES
    assert ISTIO_MODULES == ("iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw", "xt_REDIRECT", "xt_owner")


def test_dump_explorer_draws_on_first_display():
    need(DOT, DOT_REASON)
    ex = DumpExplorer(parse_save(SMALL_NAT, "small.rules", strict=False))
    # no click: the first built-in chain (PREROUTING) is drawn, with its rules
    assert "<svg" in ex.graph_out.value and "KUBE-SERVICES" in html.unescape(ex.graph_out.value)
    assert "PREROUTING" in ex.status.value and "3 rules" in ex.status.value
