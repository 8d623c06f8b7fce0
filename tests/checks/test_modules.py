"""missing-kernel-modules (istio #44118, the seed's lsmod) and legacy-and-nft-tables."""

from workbook.checks import check
from workbook.checks.context import Context
from workbook.checks.modules import detect_backend
from workbook.dump import load_dump, save_dump
from workbook.model import Ruleset
from workbook.parse import parse_save

from tests.checks.shared import CHECKS_DATA

BEFORE = CHECKS_DATA / "seed-lsmod-before.txt"
AFTER = CHECKS_DATA / "seed-lsmod-after.txt"


def mods(modules, rs=None):
    return check(rs or Ruleset(), modules, families=["modules"])


def test_seed_before_fires_with_the_seed_fix():
    fs = mods(BEFORE)
    assert [f.id for f in fs] == ["missing-kernel-modules"]
    f = fs[0]
    # the seed's lsmod lists nf_tables/nft_compat/nft_chain_nat and no iptable_* module
    ev = f.evidence.set_index("module")
    assert [m for m in ("iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw") if not ev.loc[m, "loaded"]] \
        == ["iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw"]
    assert ev.loc["nft_compat", "origin"] == f"{BEFORE}:10"        # line 10 of the copied lsmod
    # the seed's file, four lines, and its four modprobe commands (in the seed's order)
    i = f.fix.index("cat > /etc/modules-load.d/istio-iptables.conf <<'EOF'")
    assert f.fix[i + 1:i + 5] == ["iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw"]
    assert [c for c in f.fix if c.startswith("modprobe iptable_")] == [
        "modprobe iptable_nat", "modprobe iptable_mangle", "modprobe iptable_filter", "modprobe iptable_raw"]
    assert "unable to initialize table" in f.explanation and "nf_tables" in f.explanation


def test_seed_after_does_not_fire():
    # after 'modprobe' the four iptable_* modules are listed (seed "모듈 확인")
    assert mods(AFTER) == []


def test_backend_detection_from_lsmod():
    before = Context.of(Ruleset(), BEFORE).modules
    assert detect_backend(before) == "nft"
    legacy = Context.of(Ruleset(), "ip_tables 32768 3 iptable_filter,iptable_nat,iptable_mangle\n"
                                   "iptable_nat 16384 1\niptable_filter 16384 1\n").modules
    assert detect_backend(legacy) == "legacy"


def test_no_lsmod_no_module_finding():
    assert check(Ruleset(), None, families=["modules"]) == []


def test_istio_chains_make_it_an_error():
    rs = parse_save("*nat\n:OUTPUT ACCEPT [0:0]\n:ISTIO_OUTPUT - [0:0]\n-A OUTPUT -j ISTIO_OUTPUT\nCOMMIT\n")
    f = mods(BEFORE, rs)[0]
    assert f.severity == "error" and f.owner == "Istio"
    assert "modprobe xt_REDIRECT" in f.fix and "modprobe xt_owner" in f.fix


def test_mixed_backends_from_warning_note():
    # iptables-nft-save prints this to stderr when /proc/net/ip_tables_names is non-empty (CHAINS.md §9.6)
    text = ("# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n"
            "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\nCOMMIT\n")
    fs = check(parse_save(text, "nft.txt"), families=["backends"])
    assert [f.id for f in fs] == ["legacy-and-nft-tables"]
    assert "iptables-legacy-save > iptables-legacy.rules" in fs[0].fix


def test_mixed_backends_near_miss():
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\nCOMMIT\n"
    assert check(parse_save(text), families=["backends"]) == []


def test_mixed_backends_same_owner_in_both_is_error(tmp_path):
    kube = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\nCOMMIT\n"
    folder = tmp_path / "dump"
    save_dump({"iptables/iptables-legacy-save.txt": kube,
               "iptables/iptables-nft-save.txt": kube.replace("PREROUTING -m", "PREROUTING -i eth0 -m"),
               "kernel/ip_tables_names.txt": "nat\n"}, folder, host="node-a")
    fs = check(load_dump(folder), families=["backends"])
    assert [(f.id, f.severity) for f in fs] == [("legacy-and-nft-tables", "error")]
    assert "kube-proxy" in fs[0].title
    assert f"{folder / 'kernel' / 'ip_tables_names.txt'}:1" in fs[0].evidence["origin"].tolist()
    assert "iptables-legacy -t nat -F && iptables-legacy -t nat -X" in fs[0].fix


def test_legacy_host_missing_only_mangle_raw_is_info():
    # a legacy host: ip_tables with iptable_nat/filter in use; mangle/raw load on first use
    lsmod = ("Module Size Used by\nip_tables 32768 2 iptable_filter,iptable_nat\n"
             "iptable_nat 16384 1\niptable_filter 16384 1\nnf_nat 57344 1 iptable_nat\n")
    fs = mods(lsmod)
    assert [(f.id, f.severity) for f in fs] == [("missing-kernel-modules", "info")]
    assert "iptable_mangle, iptable_raw" in fs[0].title
