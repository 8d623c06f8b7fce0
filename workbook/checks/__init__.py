"""Findings for a dump: each with evidence rows (file:line), a plain explanation and fix commands.

>>> from workbook.parse import parse_save
>>> rs = parse_save('''*nat
... :PREROUTING ACCEPT [0:0]
... :CNI-HOSTPORT-DNAT - [0:0]
... -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
... -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
... COMMIT
... ''')
>>> [f.id for f in check(rs)]
['duplicate-rule']
"""

from __future__ import annotations

from typing import Callable, Iterable

from .context import Context
from .finding import SEVERITIES, Finding, Findings

__all__ = ["check", "Finding", "Findings", "SEVERITIES", "FAMILIES", "FINDING_IDS"]

#: Every finding id, the family that produces it, its usual severity and what it means.
FINDING_IDS: dict[str, tuple[str, str, str]] = {
    "tampered-evidence": ("integrity", "error", "a file no longer matches the dump's MANIFEST.json sha256/size, "
                          "is missing, is not listed, or its entry records no sha256/size"),
    "unread-files": ("integrity", "warning", "files of the dump not read: over a read cap, a FIFO or folder, "
                     "unreadable, or a symlink leading out of the dump or to nothing"),
    "unreadable-lines": ("integrity", "info", "lines a lenient parse skipped (their rules are not checked)"),
    "duplicate-rule": ("duplicates", "warning", "the same rule twice or more in one chain (exact, or equal "
                       "ignoring comments/counters/option order); the seed's CNI-HOSTPORT-DNAT case"),
    "missing-kernel-modules": ("modules", "warning/error", "legacy iptable_nat/mangle/filter/raw not loaded "
                               "(istio #44118); error when the dump shows Istio"),
    "legacy-and-nft-tables": ("backends", "warning/error", "rules in both iptables-legacy and iptables-nft; "
                              "error when one agent wrote into both"),
    "jump-to-missing-chain": ("references", "error/info", "a -j/-g to a chain the dump does not have "
                              "(info for partial -L listings)"),
    "chain-loop": ("references", "error", "chains that jump or go to each other in a loop a packet can reach: "
                   "the kernel refuses it at load time, so the dump was tampered with or corrupted"),
    "unreferenced-chain": ("references", "info", "user chains nothing jumps to (canaries/hint/mark chains "
                           "excepted)"),
    "service-without-endpoints": ("kube", "warning", "a KUBE-SVC/SVL chain with no KUBE-SEP jump"),
    "stale-endpoint-chain": ("kube", "warning", "KUBE-SEP chains no service chain jumps to"),
    "nodeports-not-last": ("kube", "warning", "rules below the KUBE-NODEPORTS jump in nat KUBE-SERVICES"),
    "stale-hostport-entry": ("kube", "error/warning", "two CNI-HOSTPORT-DNAT (error) or KUBE-HOSTPORTS "
                             "(warning) entries for one host port"),
    "shadowed-rule": ("shadowing", "warning", "a rule an earlier terminal rule provably always pre-empts"),
    "kube-proxy-nftables-mode": ("kube", "info", "kube-proxy runs in nftables mode: its Services, ClusterIPs "
                                 "and rules live in table ip/ip6 kube-proxy, not in iptables-save"),
    "nft-service-without-endpoints": ("kube", "info", "ClusterIP service ports in kube-proxy's "
                                      "no-endpoint-services map (connections rejected or dropped)"),
    "stale-conntrack-entry": ("conntrack", "error", "conntrack entries DNATed to an address that is no longer "
                              "an endpoint of their Service"),
    "conntrack-not-dnated": ("conntrack", "warning", "UDP entries to a Service that were never DNATed (it had "
                             "no endpoints then): the stale kube-dns case"),
    "conntrack-to-stale-hostport": ("conntrack", "error", "entries the stale hostPort entry DNATed to a deleted pod"),
    "conntrack-table-near-full": ("conntrack", "warning", "the conntrack table holds ≥ 90% of nf_conntrack_max"),
    "conntrack-table-full": ("conntrack", "error", "the conntrack table is full: new flows are dropped"),
    "nft-duplicate-rule": ("duplicates", "warning", "the same rule twice or more in one nft chain (counters and "
                           "handles aside), e.g. portmap's nft backend appending its hostport jump again"),
    "nft-shadowed-element": ("duplicates", "warning", "elements of one nft set or map that cover the same keys: a "
                             "key listed twice, or concatenated interval keys that overlap"),
    "blind-dump": ("blind", "warning/error", "the dump cannot answer where packets go: no rules at all, an "
                   "nf_tables node without an nft listing, or a Kubernetes node with no Service rules in any view"),
    "mode-switch-leftovers": ("kube", "warning", "kube-proxy's iptables chains beside its nftables table (or the "
                              "reverse) after a mode switch without kube-proxy --cleanup"),
}


def _families() -> dict[str, Callable[[Context], Iterable[Finding]]]:
    from .duplicates import find_duplicates, find_nft_duplicates
    from .nft_elements import find_nft_shadowed_elements
    from .integrity import find_integrity_problems
    from .kube import find_kube_problems
    from .kube_nft import find_kube_nft
    from .mode_switch import find_mode_switch_leftovers
    from .blind import find_blind_spots
    from .modules import find_missing_modules, find_mixed_backends
    from .references import find_reference_problems
    from .shadowing import find_shadowed
    from .conntrack import find_conntrack_problems
    return {
        "integrity": find_integrity_problems,
        "duplicates": lambda ctx: (*find_duplicates(ctx), *find_nft_duplicates(ctx), *find_nft_shadowed_elements(ctx)),
        "modules": find_missing_modules,
        "backends": find_mixed_backends,
        "references": find_reference_problems,
        "kube": lambda ctx: (*find_kube_problems(ctx), *find_kube_nft(ctx), *find_mode_switch_leftovers(ctx)),
        "shadowing": find_shadowed,
        "conntrack": find_conntrack_problems,
        "blind": find_blind_spots,
    }


#: Names of the finding families :func:`check` runs (pass a subset as ``families=``).
FAMILIES: tuple[str, ...] = ("integrity", "blind", "duplicates", "modules", "backends", "references", "kube",
                             "shadowing",
                             "conntrack")


def check(target, modules=None, *, families: Iterable[str] | None = None) -> Findings:
    """Run every check on ``target`` (a Ruleset or a NodeDump) and return the findings, worst first.

    ``modules``: a :class:`~workbook.parse.lsmod.Modules`, lsmod text/path, or module names;
    a NodeDump brings its own. Nothing is changed on any system: fixes are printed only.
    """
    ctx = Context.of(target, modules)
    funcs = _families()
    wanted = list(families) if families is not None else list(FAMILIES)
    unknown = [f for f in wanted if f not in funcs]
    if unknown:
        raise ValueError(f"unknown check families {unknown} (known: {', '.join(FAMILIES)})")
    found: list[Finding] = []
    for name in wanted:
        found.extend(funcs[name](ctx))
    return Findings(found)
