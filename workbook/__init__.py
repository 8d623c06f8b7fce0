"""netfilter-workbook: parse, trace, check and draw Linux netfilter/iptables state of Kubernetes nodes."""

from __future__ import annotations

import importlib

from .model import Chain, Match, Option, ParseError, Problem, Rule, Ruleset, Table
from .parse import parse, parse_save

__version__ = "0.1.0"

# Public names that live in heavier modules are imported on first use, so that
# ``import workbook`` stays fast and a notebook only pays for what it touches.
_LAZY = {
    "Modules": "workbook.parse.lsmod",
    "parse_spec": "workbook.parse.spec",
    "parse_listing": "workbook.parse.listing",
    "parse_lsmod": "workbook.parse.lsmod",
    "detect_format": "workbook.parse.detect",
    "rules_frame": "workbook.frames",
    "chains_frame": "workbook.frames",
    "Packet": "workbook.packet",
    "Trace": "workbook.packet",
    "trace_packet": "workbook.trace",
    "HOOKS": "workbook.netfilter",
    "TABLES_AT_HOOK": "workbook.netfilter",
    "packet_path": "workbook.netfilter",
    "routing_decision": "workbook.netfilter",
    "Tracer": "workbook.trace",
    "parse_routes": "workbook.trace",
    "Route": "workbook.trace",
    "TABLES_AT_HOOK_NFT": "workbook.netfilter",
    "ipsets_from_save": "workbook.trace",
    "service_endpoints": "workbook.kube",
    "UnsupportedFormat": "workbook.parse.detect",
    "Findings": "workbook.checks",
    "FINDING_IDS": "workbook.checks",
    "owner_of": "workbook.owners",
    "chain_owner": "workbook.owners",
    "RulesetDiff": "workbook.diff",
    "path_for": "workbook.netfilter",
    "services": "workbook.kube",
    "NodeDump": "workbook.dump",
    "load_dump": "workbook.dump",
    "open_target": "workbook.target",
    "Target": "workbook.target",
    "save_dump": "workbook.dump",
    "collect_local": "workbook.collect",
    "collect_ssh": "workbook.collect",
    "to_svg": "workbook.view.draw",
    "format_listing": "workbook.listing_print",
    "Finding": "workbook.checks",
    "check": "workbook.checks",
    "diff_rulesets": "workbook.diff",
    "write_report": "workbook.view.report",
    "draw_hooks": "workbook.view.draw",
    "draw_chains": "workbook.view.draw",
    "draw_trace": "workbook.view.draw",
    "lab_trace": "workbook.lab",
    "Lab": "workbook.lab",
    "lab_available": "workbook.lab",
    "kernel_agrees": "workbook.lab",
    "check_answer": "workbook.lessons.exercises",
    "generate_services": "workbook.generate",
    "kube_proxy_save": "workbook.generate",
    "NftRuleset": "workbook.nft.model",
    "parse_nft_text": "workbook.nft.parse_text",
    "parse_nft_json": "workbook.nft.parse_json",
    "compare_views": "workbook.nft.views",
    "set_language": "workbook.i18n",
    "get_language": "workbook.i18n",
}

__all__ = ["Chain", "Match", "Option", "ParseError", "Problem", "Rule", "Ruleset", "Table",
           "parse", "parse_save", *_LAZY]


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'workbook' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value
