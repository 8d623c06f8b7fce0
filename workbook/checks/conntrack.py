"""Conntrack findings: entries stuck on endpoints the rules no longer have, UDP entries to a Service
that were never DNATed, entries the stale hostPort rule sent to a deleted pod, and a full table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator

from ._lazy import pd

from ..shell_command import commands_or_refusal, shell_line
from .context import Context
from .finding import Finding
from ..i18n import msg

if TYPE_CHECKING:  # pragma: no cover
    from ..parse.conntrack import Conntrack

__all__ = ["find_conntrack_problems"]

_SHOWN = ["protocol", "state", "orig_src", "orig_dst", "orig_sport", "orig_dport", "reply_src", "reply_sport",
          "flags", "timeout", "service", "endpoint", "origin"]
#: Warn when the table holds this share of ``nf_conntrack_max`` (the kernel drops new flows at 100%).
NEAR_FULL = 0.9


def _table(ctx: Context) -> "Conntrack | None":
    return getattr(ctx.dump, "conntrack_table", None)


class _FrameRows:
    """The rows the findings show, taken from the whole joined frame (``dump.conntrack``): the general
    way, kept as the reference the fast :class:`_EntryRows` is tested against."""

    def __init__(self, ctx: Context) -> None:
        self.frame = getattr(ctx.dump, "conntrack")  # the dump is duck-typed (Context.dump: object)

    def status(self, status: str, protocol: str | None = None) -> pd.DataFrame:
        f = self.frame
        return f[(f.status == status) & (f.protocol == protocol)] if protocol else f[f.status == status]

    def dnat_in(self, dests: Iterable[str]) -> pd.DataFrame:
        return self.frame[self.frame.dnat.isin(list(dests))]


class _EntryRows:
    """The same rows as :class:`_FrameRows`, found with a dict lookup per entry: only the rows a
    finding shows become a frame (a 100k-entry table is not turned into one)."""

    def __init__(self, ctx: Context, ct: "Conntrack") -> None:
        from ..conntrack_services import entry_services
        d: Any = ctx.dump   # duck-typed: a NodeDump or a Target's subject
        self.ct = ct
        self.joined = entry_services(ct, d.ruleset, d.node_ips, d.nft)

    def _rows(self, picked: list[int]) -> pd.DataFrame:
        from ..conntrack_services import CONNTRACK_SERVICE_COLUMNS
        from ..parse.conntrack import entries_frame
        es = self.ct.entries
        frame = entries_frame([es[i] for i in picked], self.ct.source)
        for k, col in enumerate(CONNTRACK_SERVICE_COLUMNS):
            frame[col] = [self.joined[i][k] for i in picked]
        # pandas ≥ 3 gives text its own dtype: a column these rows hold only None for (object) is text in
        # the whole frame when any entry has text there
        text = pd.Series(["x"]).dtype
        for col in ("state", "dnat", *CONNTRACK_SERVICE_COLUMNS):
            if text != object and len(frame) and frame[col].dtype == object and self._has_text(col):
                frame[col] = frame[col].astype(text)
        return frame

    def _has_text(self, col: str) -> bool:
        from ..conntrack_services import CONNTRACK_SERVICE_COLUMNS
        if col in CONNTRACK_SERVICE_COLUMNS:
            k = CONNTRACK_SERVICE_COLUMNS.index(col)
            return any(j[k] is not None for j in self.joined)
        return any(getattr(e, col) is not None for e in self.ct.entries)

    def status(self, status: str, protocol: str | None = None) -> pd.DataFrame:
        es = self.ct.entries
        return self._rows([i for i, j in enumerate(self.joined)
                           if j[3] == status and (protocol is None or es[i].protocol == protocol)])

    def dnat_in(self, dests: Iterable[str]) -> pd.DataFrame:
        wanted = set(dests)
        return self._rows([i for i, e in enumerate(self.ct.entries) if e.dnat in wanted])


def find_conntrack_problems(ctx: Context, *, via_frame: bool = False) -> Iterator[Finding]:
    """The conntrack findings; ``via_frame``: select their rows from the whole joined frame (the
    reference path, same findings) instead of entry by entry."""
    ct = _table(ctx)
    if ct is None:
        return
    rows = _FrameRows(ctx) if via_frame else _EntryRows(ctx, ct)
    yield from _stale_endpoints(rows.status("stale-endpoint"))
    yield from _never_dnated(rows.status("not-dnat", "udp"))
    yield from _hostport_dead_pod(ctx, rows)
    yield from _near_full(ctx, ct)


def _delete(proto: str, orig_dst: str | None, port: int | None, reply_src: str, reply_port: int | None) -> str:
    """``conntrack -D`` for exactly these entries: the reply source names the stale destination, so a
    live flow of the same Service (replying from a live endpoint) is never deleted."""
    argv = ["conntrack", "-D", "-p", proto]
    if orig_dst:
        argv += ["--orig-dst", orig_dst]
    if port is not None:
        argv += ["--orig-port-dst", str(port)]
    argv += ["--reply-src", reply_src]
    if reply_port is not None:
        argv += ["--reply-port-src", str(reply_port)]
    return commands_or_refusal([argv])


def _fix_lines(rows: pd.DataFrame, any_dst: bool = False) -> list[str]:
    keys = rows[["protocol", "orig_dst", "orig_dport", "reply_src", "reply_sport"]].drop_duplicates()
    out = []
    for k in keys.itertuples(index=False):
        port = None if pd.isna(k.orig_dport) else int(k.orig_dport)
        rport = None if pd.isna(k.reply_sport) else int(k.reply_sport)
        out.append(_delete(k.protocol, None if any_dst else k.orig_dst, port, k.reply_src, rport))
    return out


def _stale_endpoints(stale: pd.DataFrame) -> Iterator[Finding]:
    if not len(stale):
        return
    services = sorted(set(stale.service))
    gone = sorted(set(stale.endpoint))
    shown = ", ".join(services[:3]) + (msg(" and {n} more", n=len(services) - 3) if len(services) > 3 else "")
    yield Finding(
        "stale-conntrack-entry", "error",
        msg("{n} conntrack {entries} of {services} still go to {m} {addresses} that {are} no endpoint of {them} "
            "any more", n=len(stale), entries="entry" if len(stale) == 1 else "entries", services=shown,
            m=len(gone), addresses="address" if len(gone) == 1 else "addresses",
            are="is" if len(gone) == 1 else "are", them="it" if len(services) == 1 else "them"),
        msg("Connection tracking remembers where the first packet of each flow was DNATed; later packets "
            "follow the entry, not the rules. These entries point at {gone}, which the Services' rules no "
            "longer list as endpoints (the pods were deleted or moved). Until they time out (UDP entries are "
            "refreshed by every packet, so a client that keeps sending never lets them expire) the clients "
            "talk to addresses that no longer answer. kube-proxy clears such UDP entries itself when it sees "
            "an endpoint go; entries that survived that missed the update. Delete exactly these entries: each "
            "line below names the stale endpoint as the reply source, so live flows of the same Service stay.",
            gone=", ".join(gone[:5]) + (" …" if len(gone) > 5 else "")),
        stale[[c for c in _SHOWN if c in stale.columns]].reset_index(drop=True),
        _fix_lines(stale), "kube-proxy")


def _never_dnated(rows: pd.DataFrame) -> Iterator[Finding]:
    for service, group in rows.groupby("service", sort=True):
        yield Finding(
            "conntrack-not-dnated", "warning",
            msg("{n} UDP conntrack {entries} to {service} were never DNATed", n=len(group),
                entries="entry" if len(group) == 1 else "entries", service=service),
            msg("These UDP flows were tracked when {service} had no endpoint, so their first packet went to "
                "the Service address itself and was never DNATed. The Service has endpoints now, but packets "
                "of these flows keep following the old entry (each packet refreshes its timeout): the classic "
                "stale kube-dns entry, where a client's DNS queries go nowhere until the entry is deleted. "
                "The lines below delete only entries whose reply comes from the Service address (not from "
                "an endpoint).", service=service),
            group[[c for c in _SHOWN if c in group.columns]].reset_index(drop=True),
            _fix_lines(group), "kube-proxy")


def _hostport_dead_pod(ctx: Context, rows: "_FrameRows | _EntryRows") -> Iterator[Finding]:
    """Entries DNATed to the destination of a hostPort entry the kube checks call stale."""
    from .kube import find_kube_problems
    dead: dict[str, str] = {}
    for f in find_kube_problems(ctx):
        if f.id != "stale-hostport-entry" or "stale" not in f.evidence.columns:
            continue
        for row in f.evidence.itertuples(index=False):
            if row.stale and row.dnat_to:
                for dest in str(row.dnat_to).split(", "):
                    dead[dest] = f"{row.chain} {row.origin}"
    if not dead:
        return
    hit = rows.dnat_in(dead)
    if not len(hit):
        return
    dests = sorted(set(hit.dnat))
    yield Finding(
        "conntrack-to-stale-hostport", "error",
        msg("{n} conntrack {entries} DNATed by the stale hostPort entry to {dests}", n=len(hit),
            entries="entry" if len(hit) == 1 else "entries", dests=", ".join(dests[:3])),
        msg("The duplicated hostPort rule (see stale-hostport-entry) sends new connections to {dests}, the "
            "address of a pod that no longer exists, and these tracked flows are the clients caught by it: "
            "this is why they time out. Fix the rules first (the stale-hostport-entry finding's commands), "
            "then delete these entries so the clients' next packets are DNATed afresh.", dests=", ".join(dests)),
        hit[[c for c in _SHOWN if c in hit.columns]].reset_index(drop=True),
        _fix_lines(hit, any_dst=True), "CNI portmap")


def _near_full(ctx: Context, ct: "Conntrack") -> Iterator[Finding]:
    sysctls = getattr(ctx.dump, "sysctls", {}) or {}
    raw_max = sysctls.get("net.netfilter.nf_conntrack_max", "")
    if not raw_max.isdigit() or int(raw_max) == 0:
        return
    limit = int(raw_max)
    raw_count = sysctls.get("net.netfilter.nf_conntrack_count", "")
    count = ct.count if ct.count is not None else int(raw_count) if raw_count.isdigit() else len(ct)
    if count < NEAR_FULL * limit:
        return
    full = count >= limit
    stats_drop = sum(s.get("drop", 0) + s.get("early_drop", 0) + s.get("insert_failed", 0) for s in ct.stats)
    evidence = pd.DataFrame({"count": [count], "nf_conntrack_max": [limit],
                             "dropped (conntrack -S)": [stats_drop if ct.stats else None]})
    share = f"{count / limit:.0%}"
    title = (msg("conntrack table full: {count} of {limit} entries ({share})", count=count, limit=limit, share=share)
             if full else
             msg("conntrack table near full: {count} of {limit} entries ({share})", count=count, limit=limit,
                 share=share))
    explanation = msg(
        "The kernel tracks every flow in a table of at most nf_conntrack_max entries; when it is full, "
        "new connections are dropped (dmesg: 'nf_conntrack: table full, dropping packet'). {now} Raise the "
        "limit (and make it persistent), or find who opens so many flows (conntrack -L | sort by source).",
        now=msg("It is full now.") if full else msg("It holds at least {share} of its limit.",
                                                    share=f"{NEAR_FULL:.0%}"))
    fix = [shell_line(["sysctl", "-w", f"net.netfilter.nf_conntrack_max={limit * 2}"]),
           "# persistent: put the same key in /etc/sysctl.d/ (kube-proxy's conntrack.maxPerCore also sets it)"]
    if full:
        yield Finding("conntrack-table-full", "error", title, explanation, evidence, fix, "kernel")
    else:
        yield Finding("conntrack-table-near-full", "warning", title, explanation, evidence, fix, "kernel")
