"""Blind dumps: evidence that cannot answer what a user will ask (an nftables node without an nft
listing, kube-proxy running with no Service rules in any view, no rules at all)."""

from __future__ import annotations

from typing import Iterator

from ._lazy import pd

from ..shell_command import shell_line
from .context import Context
from .finding import Finding
from ..i18n import msg
from .proxy_mode import iptables_service_rules, proxy_mode

__all__ = ["find_blind_spots"]

#: Modules whose presence says the node runs nf_tables (iptables-nft, or native nftables).
NFT_MODULES = ("nf_tables", "nft_compat", "nft_chain_nat")
#: Chains kubelet creates on every Kubernetes node (reference/CHAINS.md §1): proof it is a k8s node.
_KUBELET_MARKS = ("KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT")

_COLLECT_NFT = [["nft", "-a", "list", "ruleset"], ["nft", "-j", "list", "ruleset"]]
_COLLECT_MODE = [["curl", "-s", "--max-time", "2", "http://127.0.0.1:10249/proxyMode"]]


def _collect(argvs: list[list[str]]) -> list[str]:
    return ["# collect on the node (or run: nfwb collect --local -o DIR):"] + [shell_line(a) for a in argvs]


def _evidence(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["evidence", "says", "origin"])


def find_blind_spots(ctx: Context) -> Iterator[Finding]:
    if ctx.dump is None or not hasattr(ctx.dump, "files"):
        return      # a bare ruleset (or lsmod file) handed to check(): not a collection, nothing is missing
    has_iptables = any(len(rs) or rs.tables for _, rs in ctx.items())
    nft = ctx.nft
    mode = proxy_mode(ctx)
    if not has_iptables and nft is None:
        yield Finding(
            "blind-dump", "error", msg("no netfilter rules in this dump: neither iptables nor nft listings"),
            msg("The dump holds no iptables-save, iptables -L/-S or nft list ruleset output, so nothing can be "
                "said about how this node moves packets: no finding below means nothing was looked at, not "
                "that the node is fine."),
            _evidence([("files", f"{len(getattr(ctx.dump, 'files', []) or [])} files, none a rules listing",
                        str(getattr(ctx.dump, "path", "?")))]),
            _collect([["iptables-save", "-c"], ["ip6tables-save", "-c"], *_COLLECT_NFT]), None)
        return
    if nft is None:
        mods = [m for m in NFT_MODULES if ctx.modules and m in ctx.modules]
        header = _nf_tables_header(ctx)
        if mode is not None and mode.mode == "nftables":
            yield Finding(
                "blind-dump", "error", msg("kube-proxy runs in nftables mode but the dump has no nft listing"),
                msg("kube-proxy says it runs in nftables mode: its Services, endpoints and NodePorts live in "
                    "`table ip kube-proxy` (and ip6), which iptables-save never shows. Without `nft list "
                    "ruleset` this dump cannot answer where a Service packet goes; the iptables view here only "
                    "holds what other agents wrote."),
                _evidence([("kube-proxy mode", mode.mode, mode.origin)]), _collect(_COLLECT_NFT), "kube-proxy")
        elif mods:
            info = ctx.modules[mods[0]] if ctx.modules else None
            yield Finding(
                "blind-dump", "warning",
                msg("nf_tables is loaded ({modules}) but no nft listing was collected", modules=", ".join(mods)),
                msg("The node runs nf_tables, so it may have native nftables tables (kube-proxy's nftables mode, "
                    "firewalld, a CNI's nft backend) beside the iptables-nft ones. iptables-save shows only "
                    "the tables iptables-nft manages; native tables are invisible in this dump, so a packet "
                    "path drawn from it may be missing whole tables."),
                _evidence([("lsmod", ", ".join(mods), (info.origin if info and info.origin else
                                                        ctx.modules_source or "lsmod"))]),
                _collect(_COLLECT_NFT), None)
        elif header is not None:
            yield Finding(
                "blind-dump", "warning", msg("iptables runs on nf_tables here but no nft listing was collected"),
                msg("The iptables-save header says its rules live in nf_tables (iptables-nft), so the node may "
                    "also have native nftables tables (kube-proxy's nftables mode, firewalld, a CNI's nft "
                    "backend) that iptables-save does not show. The EKS log collector gathers no nft output; "
                    "a packet path drawn from this dump may be missing whole tables."),
                _evidence([("iptables-save header", "(nf_tables)", header)]), _collect(_COLLECT_NFT), None)
    k8s = [(name, c) for name, rs in ctx.items() for t in rs.tables.values()
           for c in _KUBELET_MARKS if c in t.chains]
    services_in_iptables = iptables_service_rules(ctx)
    nft_services = _nft_service_count(nft)
    if (k8s or mode is not None) and not services_in_iptables and not nft_services:
        if mode is not None and mode.mode == "ipvs":
            return   # ipvs mode keeps Services in IPVS (ipvsadm -Ln), its iptables chains are few
        rows = [(f"{name}", f"kubelet chain {c}", name) for name, c in k8s[:3]]
        if mode is not None:
            rows.append(("kube-proxy mode", mode.mode, mode.origin))
        where = (msg("the iptables view and the nft view") if nft is not None
                 else msg("the iptables view (no nft view collected)"))
        yield Finding(
            "blind-dump", "warning", msg("a Kubernetes node with no Service rules in any view"),
            msg("kubelet's chains show this is a Kubernetes node, but {where} hold no kube-proxy Service "
                "rules (no KUBE-SERVICES/KUBE-SVC chains, no kube-proxy nft table). Either kube-proxy is not "
                "running (or was replaced, e.g. by Cilium's eBPF kube-proxy replacement), it runs in a mode "
                "whose rules were not collected (nftables: nft list ruleset; ipvs: ipvsadm -Ln), or the "
                "collection missed the nat table. Service traffic cannot be traced from this dump.", where=where),
            _evidence(rows), _collect([*_COLLECT_NFT, ["iptables-save", "-c", "-t", "nat"], *_COLLECT_MODE]),
            "kube-proxy")


def _nf_tables_header(ctx: Context) -> str | None:
    """file:1 of an iptables-save whose header names the nf_tables backend, if any."""
    for name, rels in (getattr(ctx.dump, "sources", None) or {}).items():
        if not name.startswith(("iptables", "ip6tables")) or name.endswith(("-L", "-S")):
            continue
        for rel in rels:
            head = (ctx.text(rel) or "")[:300]
            if "(nf_tables)" in head.split("\n", 1)[0]:
                return f"{ctx.origin_of(rel)}:1"
    return None


def _nft_service_count(nft) -> int:
    if nft is None:
        return 0
    from ..nft.kube_proxy import kube_proxy_nft
    k = kube_proxy_nft(nft)
    return 0 if k is None else len(k.service_ports) + len(k.cluster_ips)
