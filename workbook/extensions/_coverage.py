"""The coverage table of the registry against the extensions Debian's iptables ships."""

from __future__ import annotations

import glob
import os
import re

from .registry import Extension, extensions

__all__ = ["SHIPPED", "BUILT_IN", "installed", "so_name", "shipped_names", "table", "README_START", "README_END"]

# PROVENANCE: `ls /usr/lib/x86_64-linux-gnu/xtables/lib{xt,ipt,ip6t}_*.so` of Debian's iptables
# 1.8.9-2 (bookworm), without the .so suffix: the list a machine without iptables checks against.
SHIPPED = tuple("""
libip6t_DNPT libip6t_HL libip6t_NETMAP libip6t_REJECT libip6t_SNPT libip6t_ah libip6t_dst libip6t_eui64
libip6t_frag libip6t_hbh libip6t_hl libip6t_icmp6 libip6t_ipv6header libip6t_mh libip6t_rt libip6t_srh
libipt_CLUSTERIP libipt_ECN libipt_NETMAP libipt_REJECT libipt_TTL libipt_ULOG libipt_ah libipt_icmp
libipt_realm libipt_ttl libxt_AUDIT libxt_CHECKSUM libxt_CLASSIFY libxt_CONNMARK libxt_CONNSECMARK libxt_CT
libxt_DNAT libxt_DSCP libxt_HMARK libxt_IDLETIMER libxt_LED libxt_LOG libxt_MARK libxt_MASQUERADE libxt_NAT
libxt_NFLOG libxt_NFQUEUE libxt_NOTRACK libxt_RATEEST libxt_REDIRECT libxt_SECMARK libxt_SET libxt_SNAT
libxt_SYNPROXY libxt_TCPMSS libxt_TCPOPTSTRIP libxt_TEE libxt_TOS libxt_TPROXY libxt_TRACE libxt_addrtype
libxt_bpf libxt_cgroup libxt_cluster libxt_comment libxt_connbytes libxt_connlabel libxt_connlimit
libxt_connmark libxt_conntrack libxt_cpu libxt_dccp libxt_devgroup libxt_dscp libxt_ecn libxt_esp
libxt_hashlimit libxt_helper libxt_ipcomp libxt_iprange libxt_ipvs libxt_length libxt_limit libxt_mac
libxt_mark libxt_multiport libxt_nfacct libxt_osf libxt_owner libxt_physdev libxt_pkttype libxt_policy
libxt_quota libxt_rateest libxt_recent libxt_rpfilter libxt_sctp libxt_set libxt_socket libxt_standard
libxt_state libxt_statistic libxt_string libxt_tcp libxt_tcpmss libxt_time libxt_tos libxt_u32 libxt_udp
""".split())

#: shared objects that are not one extension of their own name: the verdicts the tracer itself
#: handles (libxt_standard: ACCEPT, DROP, RETURN, QUEUE) and NAT, the later revisions of SNAT/DNAT
BUILT_IN = {"standard": (), "NAT": ("SNAT", "DNAT")}

_SO = re.compile(r"^lib(?:xt|ipt|ip6t)_(\w+)$")
README_START = "<!-- extension-coverage:start -->"
README_END = "<!-- extension-coverage:end -->"


def so_name(lib: str) -> tuple[str, str]:
    """``(name, kind)`` of a shared object: upper-case names are targets, others matches.

    >>> so_name("libxt_TCPMSS"), so_name("libip6t_hl")
    (('TCPMSS', 'target'), ('hl', 'match'))
    """
    m = _SO.match(lib)
    if m is None:
        raise ValueError(f"not an xtables extension library: {lib!r}")
    name = m.group(1)
    return name, "target" if name[0].isupper() or name == "standard" else "match"


def installed() -> tuple[str, ...]:
    """The extension libraries installed on this machine (``XTABLES_LIBDIR`` or Debian's place)."""
    dirs = os.environ.get("XTABLES_LIBDIR", "").split(":") if os.environ.get("XTABLES_LIBDIR") else \
        glob.glob("/usr/lib/*/xtables") + glob.glob("/usr/lib/xtables")
    out = set()
    for d in dirs:
        for path in glob.glob(os.path.join(d, "lib*.so")):
            lib = os.path.basename(path)[:-3]
            if _SO.match(lib):
                out.add(lib)
    return tuple(sorted(out))


def shipped_names(libs: tuple[str, ...] = SHIPPED) -> set[tuple[str, str]]:
    """``(name, kind)`` of every extension the libraries provide, built-ins expanded."""
    out: set[tuple[str, str]] = set()
    for lib in libs:
        name, kind = so_name(lib)
        if name in BUILT_IN:
            out.update((n, "target") for n in BUILT_IN[name])
        else:
            out.add((name, kind))
    return out


def _row(ext: Extension, shipped: set[tuple[str, str]]) -> str:
    reason = (ext.reason or "").replace("|", "\\|")
    where = "yes" if (ext.name, ext.kind) in shipped else "no"
    return f"| {ext.name} | {ext.kind} | {ext.status} | {where} | {reason} |"


def table() -> str:
    """The markdown coverage table: every registered extension, matches first, by name."""
    shipped = shipped_names()
    lines = ["| extension | kind | status | shipped by Debian | reason |", "|---|---|---|---|---|"]
    lines += [_row(ext, shipped) for ext in extensions()]
    return "\n".join(lines) + "\n"
