"""datasets/istio-missing-modules: lsmod before/after the post's modprobe, istio-init's error, the fix."""

from __future__ import annotations

from workbook.parse import parse

from tests.datasets.seedtext import DATASETS, output_lines

IST = DATASETS / "istio-missing-modules"
TABLE_MODULES = ["iptable_raw", "iptable_filter", "iptable_mangle", "iptable_nat"]


def modules(path) -> dict[str, str]:
    return {l.split()[0]: l for l in path.read_text().splitlines()[1:] if l.strip()}


def test_lsmod_before_has_the_seeds_first_lsmod_and_no_iptable_modules():
    before = modules(IST / "kernel" / "lsmod-before.txt")
    seed = [l for l in output_lines((IST / "notes" / "seed-lsmod-before.txt").read_text())[1:] if l]
    assert len(seed) == 11
    for line in seed:                      # verbatim, user counts and holders included
        assert before[line.split()[0]] == line
    assert not [m for m in before if m.startswith("iptable_") or m == "ip_tables"]


def test_lsmod_after_adds_exactly_the_seeds_modprobes():
    before = modules(IST / "kernel" / "lsmod-before.txt")
    after = modules(IST / "kernel" / "lsmod-after.txt")
    seed = [l for l in output_lines((IST / "notes" / "seed-lsmod-after.txt").read_text())[1:] if l]
    for line in seed:
        assert after[line.split()[0]] == line
    # modprobe iptable_* also pulls in ip_tables (their common dependency); nothing else is new
    assert set(after) - set(before) == set(TABLE_MODULES) | {"ip_tables"}
    assert after["ip_tables"].split()[3].split(",") == TABLE_MODULES


def test_shared_files_are_the_eks_node_ones():
    eks = DATASETS / "eks-node" / "kernel"
    assert (IST / "kernel" / "lsmod-after.txt").read_text() == (eks / "lsmod.txt").read_text()
    conf = "modules-load.d/istio-iptables.conf"
    assert (IST / "kernel" / conf).read_text() == (eks / conf).read_text() == (IST / "after" / "kernel" / conf).read_text()


def test_fix_file_is_the_seeds():
    conf = (IST / "kernel" / "modules-load.d" / "istio-iptables.conf").read_text().split()
    steps = (IST / "notes" / "seed-modules-load.txt").read_text().splitlines()
    assert conf == steps[steps.index("$ vi istio-iptables.conf") + 1: steps.index("$ vi istio-iptables.conf") + 5]
    assert [s.split()[-1] for s in steps if s.startswith("$ modprobe")] == conf


def test_dumps_hold_what_load_dump_needs():
    for state, lsmod in (("before", "lsmod-before.txt"), ("after", "lsmod-after.txt")):
        d = IST / state
        assert (d / "kernel" / "lsmod.txt").read_text() == (IST / "kernel" / lsmod).read_text()
        host = parse(d / "iptables" / "iptables-save.txt")
        assert "KUBE-IPTABLES-HINT" in host.table("mangle")          # the host's kubelet uses the nft backend
        assert (d / "iptables" / "iptables-legacy-save.txt").read_text() == ""
    assert (IST / "before" / "notes" / "istio-init-error.txt").exists()
    assert not (IST / "before" / "kernel" / "modules-load.d").exists()
    assert (IST / "after" / "kernel" / "modules-load.d" / "istio-iptables.conf").exists()


def test_istio_init_error_text():
    log = (IST / "notes" / "istio-init-error.txt").read_text()
    assert "xtables parameter problem: iptables-restore: unable to initialize table 'nat'" in log
    assert "exit status 2" in log


def test_pod_namespace_after_the_fix_has_the_redirects():
    rs = parse(IST / "after" / "notes" / "istio-init-pod-iptables-legacy-save.txt")
    nat = rs.table("nat")
    assert [r.target_option("--to-ports").value for r in nat.chain("ISTIO_REDIRECT")] == ["15001"]
    assert [r.target_option("--to-ports").value for r in nat.chain("ISTIO_IN_REDIRECT")] == ["15006"]
