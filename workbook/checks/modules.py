"""Kernel modules vs the iptables backend in use: missing legacy table modules (Istio #44118), and legacy + nft tables side by side."""

from __future__ import annotations

from typing import Iterable, Iterator

from ._lazy import pd

from ..model import Ruleset
from ..shell_command import commands_or_refusal, shell_line
from .context import Context, ModuleInfo
from .finding import Finding
from ..i18n import joined, msg, nmsg
from ..vocab import ISTIO_MODULES, ISTIO_XT_MODULES, LEGACY_TABLE_MODULES, TABLES
from ..parse.save import split_lines

__all__ = ["detect_backend", "find_missing_modules", "find_mixed_backends", "LEGACY_TABLE_MODULES",
           "ISTIO_XT_MODULES", "ISTIO_MODULES", "istio_modules_fix"]

# LEGACY_TABLE_MODULES, ISTIO_XT_MODULES, ISTIO_MODULES: their one home is workbook.vocab
_NEEDED_FOR = {
    "iptable_nat": "nat table (istio-init's REDIRECT rules: 'unable to initialize table nat' without it)",
    "iptable_mangle": "mangle table (Istio TPROXY mode)",
    "iptable_filter": "filter table",
    "iptable_raw": "raw table (Istio DNS capture, -j CT --zone)",
    "xt_REDIRECT": "-j REDIRECT --to-ports 15001/15006",
    "xt_owner": "-m owner --uid-owner 1337",
}
_NFT_MODULES = ("nf_tables", "nft_compat", "nft_chain_nat")


def detect_backend(modules: dict[str, ModuleInfo] | None, version_text: str | None = None) -> str | None:
    """Which iptables backend the node uses: ``"nft"``, ``"legacy"`` or None (unknown).

    From ``iptables -V`` when the dump has it (``(nf_tables)`` / ``(legacy)``), else from lsmod:
    ``nft_compat``/``nft_chain_nat`` on ``nf_tables`` mean iptables-nft; ``ip_tables`` with
    ``iptable_*`` table modules mean the legacy x_tables backend.

    >>> detect_backend({}, "iptables v1.8.9 (nf_tables)")
    'nft'
    >>> from workbook.checks.context import _module_table
    >>> detect_backend(_module_table("nft_compat 20480 169\\nnf_tables 311296 354 nft_compat")[0])
    'nft'
    >>> detect_backend(_module_table("iptable_nat 16384 1\\nip_tables 32768 1 iptable_nat")[0])
    'legacy'
    """
    if version_text:
        if "(nf_tables)" in version_text:
            return "nft"
        if "(legacy)" in version_text:
            return "legacy"
    if not modules:
        return None
    nft = any(m in modules for m in ("nft_compat", "nft_chain_nat"))
    legacy = "ip_tables" in modules or any(m.startswith("iptable_") for m in modules)
    # nft_compat/nft_chain_nat are only loaded by iptables-nft; legacy table modules beside them
    # (e.g. loaded by hand for istio-init) do not say which backend the host's own tools use.
    return "nft" if nft else "legacy" if legacy else None


def _list_files(ctx: Context, prefix: str) -> list[str]:
    """Relative paths of the dump's files under ``prefix`` (none when checking a bare ruleset)."""
    return sorted(p for p in getattr(ctx.dump, "files", ()) if p.startswith(prefix))


def _istio_evidence(ctx: Context) -> list[str]:
    """Reasons to believe the node runs Istio sidecars (rules, a modules-load.d file, logs)."""
    why: list[str] = []
    for name, rs in ctx.all_rulesets.items():
        if any(c.name.startswith("ISTIO_") for c in rs.iter_chains()):
            why.append(f"ISTIO_* chains in {rs.source}")
            break
    for p in _list_files(ctx, "kernel/modules-load.d/"):
        if "istio" in p.lower():
            why.append(f"{p} exists")
    for p in _list_files(ctx, "notes/") + _list_files(ctx, "kubelet/"):
        t = ctx.text(p) or ""
        if "unable to initialize table" in t:
            why.append(f"{p}: 'unable to initialize table' (istio-init's error)")
    return why


def _modules_load_lines(ctx: Context) -> dict[str, str]:
    """module → file:line of each module named in the dump's copies of /etc/modules-load.d."""
    out: dict[str, str] = {}
    for p in _list_files(ctx, "kernel/modules-load.d/"):
        for i, line in enumerate(split_lines(ctx.text(p) or ""), 1):
            word = line.split("#", 1)[0].strip()
            if word:
                out.setdefault(word, f"{ctx.origin_of(p)}:{i}")
    return out


def istio_modules_fix(missing: Iterable[str], missing_xt: Iterable[str] = ()) -> list[str]:
    """The fix commands for missing table modules (and xt ones): the seed's modules-load.d file, then modprobe.

    >>> istio_modules_fix(["iptable_nat"], ["xt_owner"])[1:4]
    ["cat > /etc/modules-load.d/istio-iptables.conf <<'EOF'", 'iptable_nat', 'iptable_mangle']
    """
    missing, missing_xt = list(missing), list(missing_xt)
    return ["# Load the legacy iptables table modules now and at every boot (seed post, istio #44118):",
            "cat > /etc/modules-load.d/istio-iptables.conf <<'EOF'", *LEGACY_TABLE_MODULES, *missing_xt, "EOF",
            *[shell_line(["modprobe", m]) for m in missing + missing_xt],
            "lsmod | grep -E '^(iptable_|xt_REDIRECT|xt_owner)'   # check they are there now",
            "# then restart the failing pods (kubectl delete pod …) so istio-init runs again"]


def find_missing_modules(ctx: Context) -> Iterator[Finding]:
    """``missing-kernel-modules``: the legacy iptable_* table modules are not loaded."""
    mods = ctx.modules
    if mods is None:
        return
    version = ctx.text("iptables/iptables-version.txt")
    backend = detect_backend(mods, version)
    missing = [m for m in LEGACY_TABLE_MODULES if m not in mods]
    if not missing:
        return
    istio = _istio_evidence(ctx)
    missing_xt = [m for m in ISTIO_XT_MODULES if m not in mods]
    configured = _modules_load_lines(ctx)
    rows = []
    for m in ISTIO_MODULES:
        info = mods.get(m)
        rows.append({"module": m, "loaded": info is not None, "needed_for": _NEEDED_FOR[m],
                     "used_by": ",".join(info.used_by) if info else "",
                     "in_modules_load_d": configured.get(m, ""),
                     "origin": info.origin if info else (ctx.modules_source or "lsmod")})
    for m in _NFT_MODULES:
        if m in mods:
            i = mods[m]
            rows.append({"module": m, "loaded": True, "needed_for": "iptables-nft backend (host)",
                         "used_by": ",".join(i.used_by), "in_modules_load_d": configured.get(m, ""),
                         "origin": i.origin or ""})
    ev = pd.DataFrame(rows, columns=["module", "loaded", "needed_for", "used_by", "in_modules_load_d", "origin"])
    backend_text = {"nft": msg("This node's iptables uses the nf_tables backend (iptables-nft: nf_tables, "
                           "nft_compat, nft_chain_nat are loaded), so nothing on the host ever loads the "
                           "legacy x_tables table modules."),
                    "legacy": msg("This node uses the legacy x_tables backend, but not every table module is "
                              "loaded (a table's module is loaded on first use)."),
                    None: msg("The iptables backend could not be told from the dump.")}[backend]
    expl = msg("Not loaded: {missing}. {backend_text} A container that runs the legacy "
            "iptables binary, such as Istio's istio-init (istio/istio #44118) or an older CNI/kube-proxy "
            "image, asks the kernel for table 'nat' through x_tables; the kernel would autoload "
            "iptable_nat, but from inside an unprivileged init container (no CAP_SYS_MODULE, SELinux "
            "module_request denials, or a kernel built without the module autoload path) that fails, "
            "and iptables-restore exits with 'unable to initialize table 'nat''. The pod then never "
            "starts. Loading the modules on the host at boot fixes it (the reporter of #44118 confirmed "
            "it); the other way out is to make the sidecar set-up use the host's backend (istio-cni, or "
            "an Istio release that detects nft). If the kernel has these built in (=y in "
            "/boot/config-$(uname -r)), lsmod does not list them and this finding does not apply.",
            missing=", ".join(missing), backend_text=backend_text)
    if missing_xt:
        expl += msg(" Istio's REDIRECT rules also use {modules}, not loaded either.", modules=", ".join(missing_xt))
    already = [m for m in missing if m in configured]
    if already:
        expl += nmsg(" {modules} is listed in modules-load.d but not loaded: the node has not been rebooted "
                     "since (or systemd-modules-load failed).",
                     " {modules} are listed in modules-load.d but not loaded: the node has not been rebooted "
                     "since (or systemd-modules-load failed).", len(already), modules=", ".join(already))
    if istio:
        expl += msg(" Istio evidence in this dump: {evidence}.", evidence="; ".join(istio))
    fix = istio_modules_fix(missing, missing_xt)
    # Istio seen: its pods fail → error. nft host or no nat module: the #44118 set-up → warning.
    # A legacy host missing only mangle/raw (loaded on first use) matters only for TPROXY/DNS capture.
    severity = "error" if istio else "warning" if backend != "legacy" or "iptable_nat" in missing else "info"
    title = msg("Kernel modules for legacy iptables not loaded: {missing}", missing=", ".join(missing))
    yield Finding("missing-kernel-modules", severity, title, expl, ev, fix, "Istio" if istio else None)


def _rules_per_table(rs: Ruleset) -> dict[str, int]:
    return {t.name: sum(len(c.rules) for c in t) for t in rs.tables.values()}


def find_mixed_backends(ctx: Context) -> Iterator[Finding]:
    """``legacy-and-nft-tables``: rules in both the legacy x_tables and the nf_tables backend."""
    rows: list[dict] = []
    reasons: list[str] = []
    legacy_rs = ctx.all_rulesets.get("iptables-legacy")
    nft_rs = ctx.all_rulesets.get("iptables-nft")
    version = ctx.text("iptables/iptables-version.txt") or ""
    main = ctx.all_rulesets.get("iptables")
    if nft_rs is None and main is not None and "(nf_tables)" in version:
        nft_rs = main
    if legacy_rs is None and main is not None and "(legacy)" in version:
        legacy_rs = main
    names_text = ctx.text("kernel/ip_tables_names.txt")
    legacy_tables: list[tuple[str, str]] = []
    if names_text:
        for i, line in enumerate(split_lines(names_text), 1):
            if line.strip():
                legacy_tables.append((line.strip(), f"{ctx.origin_of('kernel/ip_tables_names.txt')}:{i}"))
    note_sources: list[str] = []
    for name, rs in ctx.all_rulesets.items():
        for note in rs.notes:
            if "iptables-legacy tables present" in note:
                note_sources.append(rs.source)
                break
    legacy_rules = legacy_rs is not None and len(legacy_rs) > 0
    nft_rules = nft_rs is not None and len(nft_rs) > 0
    if legacy_rules and nft_rules and legacy_rs is not nft_rs:
        reasons.append(msg("both iptables-legacy-save and iptables-nft-save print rules"))
    if legacy_tables and nft_rules:
        reasons.append(msg("/proc/net/ip_tables_names lists legacy tables while nf_tables holds rules"))
    if note_sources:
        reasons.append(msg("iptables-nft-save warned: 'iptables-legacy tables present'"))
    if not reasons:
        return
    for backend, brs in (("legacy", legacy_rs), ("nft", nft_rs)):
        if brs is None:
            continue
        for t, n in _rules_per_table(brs).items():
            rows.append({"backend": backend, "table": t, "rules": n, "what": "rules in dump", "origin": brs.source})
    for t, origin in legacy_tables:
        rows.append({"backend": "legacy", "table": t, "rules": None, "what": "/proc/net/ip_tables_names", "origin": origin})
    for src in note_sources:
        rows.append({"backend": "legacy", "table": None, "rules": None,
                     "what": "# Warning: iptables-legacy tables present", "origin": src})
    ev = pd.DataFrame(rows, columns=["backend", "table", "rules", "what", "origin"])
    ev["rules"] = pd.array(ev["rules"].tolist(), dtype="Int64")
    # The same agent writing to both backends is the real split brain.
    both: list[str] = []
    if legacy_rs is not None and nft_rs is not None and legacy_rules and nft_rules and legacy_rs is not nft_rs:
        from ..owners import owner_of
        lo = {o for r in legacy_rs.iter_rules() if (o := owner_of(r)) is not None}
        no = {o for r in nft_rs.iter_rules() if (o := owner_of(r)) is not None}
        both = sorted(lo & no)
    severity = "error" if both else "warning"
    expl = msg("Rules live in both iptables backends: {reasons}. The legacy x_tables "
            "tables and the nf_tables tables hook the same netfilter hooks and are BOTH evaluated, in "
            "priority order, but each tool shows only its own half: 'iptables-nft-save' does not print "
            "legacy rules and 'iptables-legacy-save' does not print nft rules. This happens when "
            "containerised agents (kube-proxy, CNI, Istio) ship an iptables binary that picks a "
            "different backend than the host (e.g. after an OS upgrade to an nft-based iptables; "
            "kubernetes-sigs/iptables-wrappers picks by counting rules).", reasons=joined("; ", reasons))
    if both:
        expl += msg(" {agents} wrote rules into both backends: two copies of the same logic, one of "
                    "them stale, can DNAT or drop traffic before the live copy sees it.", agents=", ".join(both))
    tables = sorted({r["table"] for r in rows if r["backend"] == "legacy" and r["table"]})
    fix = ["# Look at both halves side by side:",
           "iptables-legacy-save > iptables-legacy.rules",
           "iptables-nft-save > iptables-nft.rules",
           "# Make every agent use the host's backend (update its image / iptables-wrapper), then, once "
           "nothing writes legacy rules any more, flush and delete the legacy half table by table:"]
    for t in tables or TABLES:
        fix.append(commands_or_refusal([["iptables-legacy", "-t", t, "-F"], ["iptables-legacy", "-t", t, "-X"]]))
    fix.append("# (or reboot the node after fixing the agents: both backends start empty)")
    title = (msg("Rules in both iptables-legacy and iptables-nft (from {agents})", agents=", ".join(both)) if both
             else msg("Rules in both iptables-legacy and iptables-nft"))
    yield Finding("legacy-and-nft-tables", severity, title,
                  expl, ev, fix, ", ".join(both) or None)
