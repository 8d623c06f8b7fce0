"""ipywidgets explorers: dump, packet tracer, Services, the hostPort duplicate lab, and the Istio module check."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Hashable, Iterable, Sequence

import ipywidgets as w

from ..checks.modules import ISTIO_MODULES, ISTIO_XT_MODULES, LEGACY_TABLE_MODULES, istio_modules_fix
from ..i18n import _, localized, msg, ngettext
from .draw import chain_group, draw_chains, draw_hooks, draw_trace, to_html
from ..listing_print import format_listing
from ..model import InputError, Ruleset
from ..packet import Packet, Trace

__all__ = ["DumpExplorer", "TracerForm", "ServiceExplorer", "HostportLab", "ModuleChecker",
           "graph_html", "service_rows", "HOSTPORT_STEPS", "ISTIO_MODULES", "missing_modules"]


def graph_html(graph) -> str:
    """A drawing as inline SVG (real ``dot``), or its DOT source when graphviz's ``dot`` is missing
    (:func:`workbook.view.draw.to_html`: a zoom view when it is too big to read at a cell's width).

    >>> from workbook.view.draw import draw_hooks
    >>> graph_html(draw_hooks()).startswith(("<div class=\\"nfwb-graph\\"><svg", "<div class=\\"nfwb-graph\\"><pre"))
    True
    """
    return to_html(graph)


def _err(text: str) -> str:
    return f'<p style="color:#c62828"><b>{html.escape(text)}</b></p>'


class _Displayable:
    """Shared display plumbing: ``.widget`` is the root; Jupyter shows it."""

    widget: w.Widget

    def _ipython_display_(self) -> None:  # pragma: no cover - needs a front end
        from IPython.display import display
        display(self.widget)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.widget._repr_mimebundle_(include=include, exclude=exclude)


def _as_ruleset(obj: Any) -> Ruleset:
    if isinstance(obj, Ruleset):
        return obj
    if hasattr(obj, "ruleset") and isinstance(getattr(obj, "ruleset"), Ruleset):
        return obj.ruleset
    from ..target import open_target
    return open_target(obj).ruleset


# ---------------------------------------------------------------------------------------------

class DumpExplorer(_Displayable):
    """Pick a table and a chain; see its rules (frame and ``iptables -L -n -v`` text) and its chain graph.

    >>> from workbook.parse import parse_save
    >>> ex = DumpExplorer(parse_save('*nat\\n:PREROUTING ACCEPT [0:0]\\n:X - [0:0]\\n-A PREROUTING -j X\\nCOMMIT\\n'))
    >>> ex.table.value, ex.chain.value
    ('nat', 'PREROUTING')
    >>> ex.show.click(); 'X' in ex.rules_out.value
    True
    """

    MAX_OPTIONS = 1500

    def __init__(self, ruleset_or_dump: Any, *, max_fanout: int = 25):
        self.ruleset = _as_ruleset(ruleset_or_dump)
        self.max_fanout = max_fanout
        tables = list(self.ruleset.tables)
        self.table = w.Dropdown(options=tables, value=tables[0] if tables else None, description=_("table"))
        self.chain = w.Combobox(description=_("chain"), placeholder=_("chain name (empty: whole table)"),
                                ensure_option=False)
        self.depth = w.BoundedIntText(value=0, min=0, max=50, description=_("depth"), tooltip=_("0 = unlimited"))
        self.expand = w.Text(description=_("expand"), placeholder="KUBE-SVC-XXXX, KUBE-SEP-* …")
        self.show = w.Button(description=_("Show"), button_style="primary")
        self.status = w.HTML()
        self.rules_out = w.HTML()
        self.listing_out = w.HTML()
        self.graph_out = w.HTML()
        self.hooks_out = w.HTML()
        tabs = w.Tab(children=[self.graph_out, self.rules_out, self.listing_out, self.hooks_out])
        for i, t in enumerate(("chain graph", "rules", "iptables -L -n -v", "hooks")):
            tabs.set_title(i, t)
        self.widget = w.VBox([w.HBox([self.table, self.chain]), w.HBox([self.depth, self.expand, self.show]),
                              self.status, tabs])
        def table_changed(_: object) -> None:
            self._fill_chains()
            self.refresh()
        self.table.observe(table_changed, names="value")
        self.show.on_click(lambda _: self.refresh())
        self._fill_chains()
        self.hooks_out.value = graph_html(draw_hooks(self.ruleset))
        if self.table.value is not None:
            self.refresh()   # the chain graph is there on first display, before any click

    def _fill_chains(self) -> None:
        if self.table.value is None:
            return
        chains = self.ruleset.table(self.table.value).chains
        names = list(chains)
        if len(names) > self.MAX_OPTIONS:
            counts: dict[str | None, int] = {}
            for n in names:
                counts[chain_group(n)] = counts.get(chain_group(n), 0) + 1
            names = [n for n in names if chains[n].builtin or counts[chain_group(n)] <= self.max_fanout]
        self.chain.options = tuple(names)
        builtin = [n for n, c in chains.items() if c.builtin]
        self.chain.value = builtin[0] if builtin else ""

    def refresh(self) -> None:
        """Redraw for the current table/chain (what the Show button does)."""
        table = self.table.value
        name = (self.chain.value or "").strip() or None
        t = self.ruleset.table(table)
        if name is not None and name not in t.chains:
            self.status.value = _err(_("no chain {name} in table {table}").format(name=repr(name), table=repr(table)))
            return
        expand = tuple(x.strip() for x in self.expand.value.split(",") if x.strip())
        g = draw_chains(self.ruleset, table, name, depth=self.depth.value or None,
                        max_fanout=self.max_fanout, expand=expand)
        self.graph_out.value = graph_html(g)
        chains = [t.chains[name]] if name else [c for c in t if c.builtin]
        df = self.ruleset.rules
        df = df[(df.table == table) & df.chain.isin([c.name for c in chains])]
        cols = ["chain", "position", "target", "spec", "comment", "pkts", "bytes"]
        self.rules_out.value = df[cols].head(500).to_html(index=False, na_rep="")
        self.listing_out.value = f"<pre>{html.escape(format_listing(chains, self.ruleset))}</pre>"
        n = sum(len(c) for c in chains)
        self.status.value = (f"<b>{html.escape(table)}</b> {html.escape(name or _('built-in chains'))}: "
                             + ngettext("{n} rule", "{n} rules", n).format(n=n)
                             + (" " + _("(first 500 in the frame)") if n > 500 else ""))


# ---------------------------------------------------------------------------------------------

class TracerForm(_Displayable):
    """A form for one packet (src, dst, proto, ports, where it comes from) → trace drawing + steps.

    Uses :func:`workbook.trace.trace_packet`.
    """

    def __init__(self, ruleset: Any, node_ips: Sequence[str] = (), *, src: str = "10.244.1.5",
                 dst: str = "", proto: str = "tcp", dport: int = 80):
        self.ruleset = _as_ruleset(ruleset)
        if not node_ips and hasattr(ruleset, "node_ips"):
            node_ips = list(ruleset.node_ips)
        self.node_ips = list(node_ips)
        self.src = w.Text(value=src, description="src")
        self.dst = w.Text(value=dst, description="dst", placeholder="10.96.0.10")
        self.proto = w.Dropdown(options=["tcp", "udp", "sctp", "icmp"], value=proto, description="proto")
        self.sport = w.BoundedIntText(value=40000, min=0, max=65535, description="sport")
        self.dport = w.BoundedIntText(value=dport, min=0, max=65535, description="dport")
        self.in_iface = w.Text(value="eth0", description=_("in iface"))
        self.node_ips_text = w.Text(value=", ".join(self.node_ips), description=_("node IPs"),
                                    placeholder="the node's own addresses (local = INPUT)")
        self.origin = w.ToggleButtons(options=[("arrives on the interface", "in"), ("from the node", "node")],
                                      value="in", description=_("origin"))
        self.run = w.Button(description=_("Trace"), button_style="primary")
        self.summary_out = w.HTML()
        self.graph_out = w.HTML()
        self.steps_out = w.HTML()
        self.trace: Trace | None = None
        self.widget = w.VBox([w.HBox([self.src, self.dst, self.proto]), w.HBox([self.sport, self.dport, self.in_iface]),
                              w.HBox([self.origin, self.node_ips_text, self.run]), self.summary_out, self.graph_out, self.steps_out])
        self.run.on_click(lambda _: self.refresh())

    def packet(self) -> Packet:
        """The packet the form describes."""
        if not self.src.value.strip() or not self.dst.value.strip():
            raise InputError("src and dst are needed")
        ports = self.proto.value != "icmp"
        return Packet(self.src.value.strip(), self.dst.value.strip(), self.proto.value,
                      self.sport.value if ports else None, self.dport.value if ports else None,
                      in_iface=None if self.origin.value == "node" else (self.in_iface.value.strip() or None),
                      from_node=self.origin.value == "node")

    def refresh(self) -> None:
        """Trace the packet and draw it (what the Trace button does)."""
        from ..trace import trace_packet
        try:
            pkt = self.packet()
            self.node_ips = [x.strip() for x in self.node_ips_text.value.replace(",", " ").split() if x.strip()]
            self.trace = trace_packet(self.ruleset, pkt, self.node_ips)
        except (InputError, ValueError) as e:
            # an old trace under a new error would read as this packet's: clear it
            self.trace = None
            self.summary_out.value = _err(str(e))
            self.graph_out.value = self.steps_out.value = ""
            return
        t = self.trace
        rows = "".join(f"<li>{p:.0%} <b>{html.escape(b.verdict)}</b>"
                       + (f" DNAT → {html.escape(b.dnat)}" if b.dnat else "")
                       + (f" SNAT → {html.escape(b.snat)}" if b.snat else "")
                       + (" MASQUERADE" if b.masquerade else "") + "</li>"
                       for b, p in ((b, b.probability) for b in t.branches))
        self.summary_out.value = f"<div class='nfwb-verdict'><ul>{rows}</ul></div>"
        self.graph_out.value = graph_html(draw_trace(t, self.ruleset))
        df = t.steps
        self.steps_out.value = df.to_html(index=False, na_rep="", max_rows=400)


# ---------------------------------------------------------------------------------------------

def service_rows(ruleset: Ruleset) -> list[dict[Hashable, Any]]:
    """One dict per service port: the rows of :func:`workbook.kube.services` (KUBE-SERVICES → KUBE-SVC → KUBE-SEP).

    Keys: its columns (service, protocol, cluster_ip, port, chain, endpoints, probabilities — each
    endpoint's share of the traffic — ...).

    >>> from workbook.parse import parse_save
    >>> rs = parse_save('''*nat
    ... :KUBE-SERVICES - [0:0]
    ... :KUBE-SVC-A - [0:0]
    ... -A KUBE-SERVICES -d 10.100.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-A
    ... -A KUBE-SVC-A -m comment --comment "kube-system/kube-dns:dns -> 192.168.1.77:53" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-1
    ... -A KUBE-SVC-A -m comment --comment "kube-system/kube-dns:dns -> 192.168.2.64:53" -j KUBE-SEP-2
    ... COMMIT
    ... ''', strict=False)
    >>> r = service_rows(rs)[0]
    >>> r["service"], r["cluster_ip"], r["port"], r["endpoints"], r["probabilities"]
    ('kube-system/kube-dns:dns', '10.100.0.10', 53, ['192.168.1.77:53', '192.168.2.64:53'], [0.5, 0.5])
    """
    from ..kube import services
    return services(ruleset).to_dict("records")


def _bars(endpoints: Sequence[str], probs: Sequence[float]) -> str:
    rows = []
    for ep, p in zip(endpoints, probs):
        rows.append(f'<div style="display:flex;align-items:center;margin:2px 0">'
                    f'<span style="width:14em;font-family:monospace">{html.escape(str(ep))}</span>'
                    f'<span style="background:#fb8c00;height:1em;width:{p * 100:.1f}%;max-width:60%;'
                    f'display:inline-block"></span><span style="margin-left:.5em">{p:.1%}</span></div>')
    if not rows:
        return "<p><i>no endpoints: kube-proxy REJECTs this service</i></p>"
    return '<div class="nfwb-bars">' + "".join(rows) + "</div>"


class ServiceExplorer(_Displayable):
    """Service → KUBE-SVC → KUBE-SEP → endpoints, with each endpoint's share as a bar.

    >>> from workbook.parse import parse_save
    >>> from workbook.generate import generate_services, kube_proxy_save
    >>> ex = ServiceExplorer(parse_save(kube_proxy_save(generate_services(3, seed=1))))
    >>> len(ex.service.options) > 0
    True
    """

    MAX_OPTIONS = 300

    def __init__(self, ruleset: Any):
        self.ruleset = _as_ruleset(ruleset)
        self.rows = service_rows(self.ruleset)
        self.search = w.Text(description=_("search"), placeholder=_("namespace/name, IP or port"))
        self.service = w.Dropdown(description=_("service"), layout=w.Layout(width="60%"))
        self.info_out = w.HTML()
        self.bars_out = w.HTML()
        self.graph_out = w.HTML()
        self.widget = w.VBox([w.HBox([self.search, self.service]), self.info_out, self.bars_out, self.graph_out])
        self.search.observe(lambda _: self._filter(), names="value")
        self.service.observe(lambda _: self.refresh(), names="value")
        self._filter()

    def _label(self, r: dict) -> str:
        return f"{r['service']} {r.get('protocol') or ''} {r.get('cluster_ip') or ''}:{r.get('port') or ''}"

    def _filter(self) -> None:
        q = self.search.value.strip().lower()
        opts = [(self._label(r), i) for i, r in enumerate(self.rows) if not q or q in self._label(r).lower()]
        self.service.options = opts[: self.MAX_OPTIONS]
        if opts:
            self.service.value = opts[0][1]
            self.refresh()
        else:
            self.info_out.value = "<p>no service matches</p>"
            self.bars_out.value = self.graph_out.value = ""

    def refresh(self) -> None:
        """Show the selected service."""
        if self.service.value is None:
            return
        r = self.rows[self.service.value]
        n = len(r["endpoints"])
        self.info_out.value = (f"<p><b>{html.escape(r['service'])}</b> {html.escape(str(r.get('protocol')))} "
                               f"{html.escape(str(r.get('cluster_ip')))}:{r.get('port')} → "
                               f"<code>{html.escape(str(r['chain']))}</code> → "
                               + html.escape(ngettext("{n} endpoint", "{n} endpoints", n).format(n=n)) + "</p>")
        self.bars_out.value = _bars(r["endpoints"], r["probabilities"])
        if r.get("chain") and r["chain"] in self.ruleset.table("nat").chains:
            self.graph_out.value = graph_html(draw_chains(self.ruleset, "nat", r["chain"]))
        else:
            self.graph_out.value = ""


# ---------------------------------------------------------------------------------------------
# The seed's incident, step by step.

_CALI = '[42000000:5365000000] -A PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" -j cali-PREROUTING'
_KUBE = '[42000000:5365000000] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'
_DOCKER = "[13000000:2085000000] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"
_HP = "[13000000:2085000000] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"
_HP_DUP = "[0:0] -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"
# The ingress pods of datasets/onprem-dup-hostport (its README): sandbox (container) id and pod IP.
_OLD_ID = "15541f38534d5690770c02a604e3340d688db14b0c311092fce43c44260310e8"
_NEW_ID = "4ec72be6d83d975f0894604f5fe077d3c1c88db89e2040c303b8220b66581019"
_OLD_IP = "10.42.134.75"
_NEW_IP = "10.42.134.83"


def _cni_dn(cid: str) -> str:
    import hashlib
    return "CNI-DN-" + hashlib.sha512(("k8s-pod-network" + cid).encode()).hexdigest()[:21]


def _entry(cid: str, counters: str = "[0:0]") -> str:
    return (f'{counters} -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"k8s-pod-network\\" '
            f'id: \\"{cid}\\"" -m multiport --dports 80,443 -j {_cni_dn(cid)}')


def _dn_rules(cid: str, pod_ip: str) -> list[str]:
    c = _cni_dn(cid)
    out = []
    for port in (80, 443):
        out += [f"[0:0] -A {c} -s {pod_ip}/32 -p tcp -m tcp --dport {port} -j CNI-HOSTPORT-SETMARK",
                f"[0:0] -A {c} -s 127.0.0.1/32 -p tcp -m tcp --dport {port} -j CNI-HOSTPORT-SETMARK",
                f"[0:0] -A {c} -p tcp -m tcp --dport {port} -j DNAT --to-destination {pod_ip}:{port}"]
    return out


def _nat(prerouting: list[str], pods: list[tuple[str, str]]) -> str:
    decl = [":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
            ":DOCKER - [0:0]", ":KUBE-SERVICES - [0:0]", ":cali-PREROUTING - [0:0]"]
    rules = list(prerouting)
    if pods:
        decl += [":CNI-HOSTPORT-DNAT - [0:0]", ":CNI-HOSTPORT-SETMARK - [0:0]", ":CNI-HOSTPORT-MASQ - [0:0]"]
        decl += [f":{_cni_dn(cid)} - [0:0]" for cid, _ in pods]
        rules += ["[0:0] -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                  '[0:0] -A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ']
        rules += [_entry(cid) for cid, _ in pods]
        for cid, ip in pods:
            rules += _dn_rules(cid, ip)
        rules += ["[0:0] -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE",
                  '[0:0] -A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000']
    return "*nat\n" + "\n".join(decl + rules) + "\nCOMMIT\n"


@dataclass(frozen=True)
class HostportStep:
    """One step of the lab: what happened, the nat table after it, and the commands involved."""

    title: str
    explanation: str
    save: str
    commands: tuple[str, ...] = ()


_OLD_POD = (_OLD_ID, _OLD_IP)
_NEW_POD = (_NEW_ID, _NEW_IP)

#: The seed's incident (dockershim hostPort duplicate), reconstructed as nat tables step by step.
HOSTPORT_STEPS: tuple[HostportStep, ...] = (
    HostportStep(
        msg("1. A worker before the ingress controller"),
        msg("Calico, kube-proxy and Docker have hooked nat PREROUTING: cali-PREROUTING, KUBE-SERVICES and "
        "DOCKER (for local destinations)."),
        _nat([_CALI, _KUBE, _DOCKER], [])),
    HostportStep(
        msg("2. nginx-ingress-controller with hostPort 80/443 starts"),
        msg("dockershim asks the CNI portmap plugin to map the ports. portmap appends the top-level jump "
        "`-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT` to PREROUTING (and OUTPUT), an entry per "
        "container in CNI-HOSTPORT-DNAT and a CNI-DN-<hash> chain that DNATs to the pod. dockershim keeps "
        "the pod's port mappings in its checkpoint /var/lib/dockershim/sandbox/<sandbox id>."),
        _nat([_CALI, _KUBE, _DOCKER, _HP], [_OLD_POD]),
        ("ls -la /var/lib/dockershim/sandbox/", "iptables -t nat -L PREROUTING -nv")),
    HostportStep(
        msg("3. The kubelet container is re-created; the checkpoint is gone"),
        msg("On RKE the kubelet (and dockershim) run in a container. /var/lib/dockershim was not bind-mounted, "
        "so after an upgrade, drain or `rke up` the sandbox checkpoints are lost (the seed: deleting "
        "/var/lib/dockershim/sandbox reproduces it). The rules are unchanged — but nobody remembers them."),
        _nat([_CALI, _KUBE, _DOCKER, _HP], [_OLD_POD]),
        ("ls -la /var/lib/dockershim/sandbox/    # empty",)),
    HostportStep(
        msg("4. The hostPort pod restarts: a duplicate jump"),
        msg("CNI DEL arrives without portMappings (GetPodPortMappings returns nothing when the checkpoint is "
        "missing) and portmap ≥ 0.8.7 does nothing: the old CNI-DN chain and its entry stay. The new pod's "
        "ADD appends its entry below the stale one and PREROUTING now jumps to CNI-HOSTPORT-DNAT twice — "
        "the seed's `#### 중복` line. Ingress traffic can be DNATed to the dead pod's IP."),
        _nat([_CALI, _KUBE, _DOCKER, _HP, _HP_DUP], [_OLD_POD, _NEW_POD]),
        ("iptables -t nat -L PREROUTING -nv --line-numbers",)),
    HostportStep(
        msg("5. Fix now: delete the duplicate and the stale mapping"),
        msg("Delete the duplicated jump by its line number (5), then the stale container entry and its chain. "
        "(A node reboot flushes everything too.)"),
        _nat([_CALI, _KUBE, _DOCKER, _HP], [_NEW_POD]),
        ("iptables -t nat -D PREROUTING 5",
         f'iptables -t nat -D CNI-HOSTPORT-DNAT -p tcp -m comment --comment \'dnat name: "k8s-pod-network" id: '
         f'"{_OLD_ID}"\' -m multiport --dports 80,443 -j {_cni_dn(_OLD_ID)}',
         f"iptables -t nat -F {_cni_dn(_OLD_ID)}", f"iptables -t nat -X {_cni_dn(_OLD_ID)}")),
    HostportStep(
        msg("6. Fix for good: keep the checkpoint on the host"),
        msg("Bind-mount /var/lib/dockershim into the kubelet container (RKE cluster.yml) so checkpoints survive "
        "kubelet re-creation. Kubernetes ≥ 1.24 has no dockershim (RKE ≥ v1.3.13 bind-mounts "
        "/var/lib/cri-dockerd itself); take care when going from 1.23 to 1.24."),
        _nat([_CALI, _KUBE, _DOCKER, _HP], [_NEW_POD]),
        ("# cluster.yml", "services:", "  kubelet:", "    extra_binds:",
         '      - "/var/lib/dockershim:/var/lib/dockershim:z"', "rke up")),
)


class HostportLab(_Displayable):
    """Replay the seed's hostPort incident: each step shows nat PREROUTING as ``iptables -L -nv`` prints it.

    The slider counts steps like their titles (1, 2, …).

    >>> lab = HostportLab()
    >>> lab.next.click(); lab.next.click(); lab.next.click(); lab.step.value
    4
    >>> lab.listing_out.value.count("CNI-HOSTPORT-DNAT  all")
    2
    """

    #: Where the collected dump of this incident lives in a checkout (nfwb-dump/1 layout).
    DATASET = Path(__file__).resolve().parents[2] / "datasets" / "onprem-dup-hostport"

    def __init__(self, steps: Sequence[HostportStep] = HOSTPORT_STEPS, *, dataset: str | Path | None = "auto"):
        from ..parse import parse_save
        self.steps = list(steps)
        self.rulesets = [parse_save(s.save, f"hostport-lab step {i + 1}") for i, s in enumerate(self.steps)]
        self._add_dataset(self.DATASET if dataset == "auto" else dataset)
        self.step = w.IntSlider(value=1, min=1, max=len(self.steps), description=_("step"))
        self.prev = w.Button(description="◀ " + _("back"))
        self.next = w.Button(description=_("next") + " ▶", button_style="primary")
        self.text_out = w.HTML()
        self.listing_out = w.HTML()
        self.commands_out = w.HTML()
        self.graph_out = w.HTML()
        self.widget = w.VBox([w.HBox([self.prev, self.step, self.next]), self.text_out, self.commands_out,
                              self.listing_out, self.graph_out])
        self.prev.on_click(lambda _: self._move(-1))
        self.next.on_click(lambda _: self._move(+1))
        self.step.observe(lambda _: self.refresh(), names="value")
        self.refresh()

    def _add_dataset(self, path: str | Path | None) -> None:
        """Append the collected dump (its duplicated state) as a last step, when it is there."""
        if path is None:
            return
        path = Path(path)
        for sub in ("after", "before", "."):
            save = path / sub / "iptables" / "iptables-save.txt"
            if save.is_file():
                break
        else:
            return
        from ..parse import parse_save
        where = f"{path.name}/{sub}" if sub != "." else path.name
        try:
            rs = parse_save(save.read_text(encoding="utf-8"), f"{where}/iptables/iptables-save.txt", strict=False)
            rs.chain("nat", "PREROUTING")
        except (InputError, KeyError, OSError):
            return
        self.steps.append(HostportStep(
            msg("{n}. The collected dump: {where}", n=len(self.steps) + 1, where=where),
            msg("The same picture in a node dump collected with nfwb (iptables-save -c): nat PREROUTING as "
                "iptables prints it, and the chains it jumps to."), "", (f"nfwb check {path / sub}",)))
        self.rulesets.append(rs)

    def _move(self, d: int) -> None:
        self.step.value = max(1, min(len(self.steps), self.step.value + d))

    def _index(self, step: int | None) -> int:
        return (self.step.value if step is None else step) - 1

    def listing(self, step: int | None = None) -> str:
        """nat PREROUTING of step ``step`` (numbered like the titles; default: the current one)
        as ``iptables -t nat -L PREROUTING -nv``."""
        rs = self.rulesets[self._index(step)]
        return format_listing(rs.chain("nat", "PREROUTING"), rs)

    def graph(self, step: int | None = None):
        """The chain graph of step ``step`` (default: the current one): PREROUTING two jumps deep,
        ending in the pods the CNI-DN chains DNAT to."""
        return draw_chains(self.rulesets[self._index(step)], "nat", "PREROUTING", depth=2, max_fanout=4)

    def refresh(self) -> None:
        i = self._index(None)
        s = self.steps[i]
        self.text_out.value = (f"<h4>{html.escape(localized(s.title))}</h4>"
                               f"<p>{html.escape(localized(s.explanation))}</p>")
        self.commands_out.value = (f"<pre>{html.escape(chr(10).join(s.commands))}</pre>" if s.commands else "")
        self.listing_out.value = ("<pre># iptables -t nat -L PREROUTING -nv\n"
                                  f"{html.escape(self.listing())}</pre>")
        self.graph_out.value = graph_html(self.graph())


# ---------------------------------------------------------------------------------------------
# Istio: iptables-restore: unable to initialize table 'nat' (istio/istio #44118).

def _parse_modules(obj: Any):
    """A :class:`~workbook.parse.lsmod.Modules` from itself or pasted ``lsmod`` text (lenient: see ``.problems``)."""
    from ..parse.lsmod import Modules, parse_lsmod
    if isinstance(obj, Modules):
        return obj
    return parse_lsmod(obj.decode() if isinstance(obj, bytes) else str(obj), strict=False)


def missing_modules(lsmod: Any, required: Iterable[str] = LEGACY_TABLE_MODULES) -> list[str]:
    """Which of ``required`` (default: the legacy table modules) are not loaded, in ``required`` order.

    >>> missing_modules("Module  Size  Used by\\niptable_nat  16384  0\\nnf_tables  311296  354 nft_compat\\n")
    ['iptable_mangle', 'iptable_filter', 'iptable_raw']
    """
    have = set(_parse_modules(lsmod).names)
    return [m for m in required if m not in have]


class ModuleChecker(_Displayable):
    """Paste ``lsmod``: which of :data:`~workbook.checks.modules.ISTIO_MODULES` are missing, and the fix
    (the same commands as ``nfwb check``'s missing-kernel-modules finding).

    The ``iptable_*`` table modules are required (without them istio-init's ``iptables-restore``
    fails); the xt modules its rules use are loaded with the fix when missing.

    >>> "isn't lsmod output" in html.unescape(ModuleChecker("hello world").result_out.value)
    True
    """

    def __init__(self, lsmod_text_or_modules: Any = "", required: Sequence[str] = LEGACY_TABLE_MODULES):
        self.required = tuple(required)
        initial = lsmod_text_or_modules if isinstance(lsmod_text_or_modules, (str, bytes)) else ""
        self._given = None if isinstance(lsmod_text_or_modules, (str, bytes)) else lsmod_text_or_modules
        self.text = w.Textarea(value=initial if isinstance(initial, str) else initial.decode(),
                               placeholder=_("paste `lsmod` output"), layout=w.Layout(width="100%", height="10em"))
        self.check = w.Button(description=_("Check"), button_style="primary")
        self.result_out = w.HTML()
        self.fix_out = w.HTML()
        self.missing: list[str] = []
        self.missing_xt: list[str] = []
        self.widget = w.VBox([self.text, self.check, self.result_out, self.fix_out])
        self.check.on_click(lambda _: self.refresh())
        self.text.observe(lambda _: setattr(self, "_given", None), names="value")
        if self._given is not None or initial:
            self.refresh()

    def refresh(self) -> None:
        """Check the pasted (or given) module list."""
        source = self._given if self._given is not None else self.text.value
        self.missing, self.missing_xt = [], []
        self.fix_out.value = ""
        if isinstance(source, str) and not source.strip():
            self.result_out.value = _err(_("paste the output of `lsmod` first"))
            return
        try:
            mods = _parse_modules(source)
        except InputError as e:   # not text at all (binary, NUL bytes, too long a line)
            self.result_out.value = _err(_("this isn't lsmod output") + f" ({e})")
            return
        if not len(mods):
            first = (f"{_('line')} {mods.problems[0].line}: {mods.problems[0].message}" if mods.problems
                     else _("no module lines"))
            self.result_out.value = _err(_("this isn't lsmod output") + f" ({first}): "
                                         + _("paste what `lsmod` prints (Module  Size  Used by, then one module a line)"))
            return
        have = set(mods.names)
        self.missing = [m for m in self.required if m not in have]
        self.missing_xt = [m for m in ISTIO_XT_MODULES if m not in have]
        rows = "".join(f"<tr><td><code>{m}</code></td><td>{'✔ ' + _('loaded') if m in have else '✘ ' + _('missing')}</td>"
                       f"<td>{_('needed') if m in self.required else _('used by its rules')}</td></tr>"
                       for m in dict.fromkeys(self.required + ISTIO_MODULES))
        nft = "nf_tables" in have
        note = (" " + _("The node runs nf_tables (iptables-nft), so nothing loaded the legacy x_tables tables.")
                if nft and self.missing else "")
        skipped = ("<p><small>" + _("{n} line(s) were not lsmod lines and were skipped.").format(n=len(mods.problems))
                   + "</small></p>" if mods.problems else "")
        verdict = ("<p><b>" + _("All modules Istio's iptables-restore needs are loaded.") + "</b></p>"
                   if not self.missing else
                   f"<p style='color:#c62828'><b>" + _("{n} missing:").format(n=len(self.missing)) + "</b> "
                   + _("istio-init / istio-cni will fail with {error} (istio/istio #44118).").format(
                       error="<code>iptables-restore: unable to initialize table 'nat'</code>") + f"{note}</p>")
        self.result_out.value = (f"<table><tr><th>{_('module')}</th><th>{_('state')}</th><th>{_('for Istio')}</th>"
                                 f"</tr>{rows}</table>{verdict}{skipped}")
        if self.missing:
            self.fix_out.value = ("<p>" + _("Load them now and at every boot:") + "</p><pre>"
                                  + html.escape("\n".join(istio_modules_fix(self.missing, self.missing_xt))) + "</pre>")
