"""Build the eight workbook notebooks (no outputs) from the cells written below.

Run from anywhere:   python notebooks/build_notebooks.py            (writes notebooks/*.ipynb)
                     python notebooks/build_notebooks.py --check    (exit 1 if a file would change)

A section whose library parts have not landed yet (a module, a name or a dataset that is
missing) is replaced by a short note, so every notebook always runs with what is on main.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

SEED_TITLE = "[AWS EKS] (5) EKS 스터디 2주차 ( iptables - CNI HOST PORT CHAIN )"
SEED_CREDIT = (f"the Korean blog post *{SEED_TITLE}*, written for the CloudNet@ team's "
               "AEWS study (2nd cohort)")


# -- tiny DSL ---------------------------------------------------------------------------
def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str, *tags: str):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


_missing_cache: dict[str, bool] = {}


def have(req: str) -> bool:
    """``"workbook.trace:trace_packet"`` (module[:name]) or ``"datasets/eks-node/MANIFEST.json"`` (a path)."""
    if req in _missing_cache:
        return _missing_cache[req]
    if "/" in req or req.startswith("datasets"):
        ok = (ROOT / req).exists()
    else:
        mod, _, name = req.partition(":")
        try:
            m = importlib.import_module(mod)
            ok = all(hasattr(m, n) for n in name.split(",")) if name else True
        except Exception:
            ok = False
    _missing_cache[req] = ok
    return ok


def needs(reqs: list[str], cells: list, *, instead: list | None = None) -> list:
    """The cells when every requirement is there, else ``instead`` or a short 'coming' note."""
    missing = [r for r in reqs if not have(r)]
    if not missing:
        return cells
    if instead is not None:
        return instead
    names = ", ".join(f"`{m}`" for m in missing)
    return [md(f"> 🚧 *This part needs {names}, which the workbook does not have yet in this "
               f"checkout. Update the repository and it appears here.*")]


SETUP = '''
# Setup: the workbook library and the folder of example datasets.
from pathlib import Path
try:
    import workbook as wb
except ModuleNotFoundError:  # a plain checkout without `pip install -e .`: use the repository next door
    import sys; sys.path.insert(0, str(Path.cwd().parent)); import workbook as wb
from workbook.exercises import check_answer
import pandas as pd
pd.set_option("display.max_colwidth", 160)   # show whole rules, not "-A INPUT -m conn..."

DATASETS = Path.cwd().parent / "datasets"
'''


# -- seed outputs (real command output quoted from the seed post) -------------------------
SEED_HOOK_ASCII = r'''
             +================+      +=====================+
             | hostNetwork IP |      | hostNetwork process |
             +================+      +=====================+
                         ^                |
  -  -  -  -  -  -  -  - | -  -  -  -  - [*] -  -  -  -  -  -  -  -  -
                         |                v
                     +-------+        +--------+
                     | input |        | output |
                     +-------+        +--------+
                         ^                |
      +------------+     |   +---------+  v      +-------------+
      | prerouting |-[*]-+-->| forward |--+-[*]->| postrouting |
      +------------+         +---------+         +-------------+
            ^                                           |
 -  -  -  - | -  -  -  -  -  -  -  -  -  -  -  -  -  -  |  -  -  -  -
            |                                           v
       +---------+                                  +--------+
   --->| ingress |                                  | egress |--->
       +---------+                                  +--------+
'''

SEED_NAT_S = '''
-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT
'''

SEED_FILTER_S = r'''
-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-N KUBE-EXTERNAL-SERVICES
-N KUBE-FIREWALL
-N KUBE-FORWARD
-N KUBE-KUBELET-CANARY
-N KUBE-NODEPORTS
-N KUBE-PROXY-CANARY
-N KUBE-PROXY-FIREWALL
-N KUBE-SERVICES
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A INPUT -j KUBE-FIREWALL
-A INPUT -p udp -m udp --dport 9999 -m limit --limit 5/min -j LOG --log-prefix "UDP_DROP: "
-A INPUT -p udp -m udp --dport 9999 -j DROP
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
'''

SEED_KUBE_SERVICES_L = '''
Chain KUBE-SERVICES (2 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-SVC-ERIFXISQEP7F7OF4  tcp  --  *      *       0.0.0.0/0            10.100.0.10          /* kube-system/kube-dns:dns-tcp cluster IP */ tcp dpt:53
    0     0 KUBE-SVC-JD5MR3NA4I4DYORP  tcp  --  *      *       0.0.0.0/0            10.100.0.10          /* kube-system/kube-dns:metrics cluster IP */ tcp dpt:9153
    0     0 KUBE-SVC-Z4ANX4WAEWEBLCTM  tcp  --  *      *       0.0.0.0/0            10.100.254.40        /* kube-system/metrics-server:https cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-NPX46M4PTMTKRN6Y  tcp  --  *      *       0.0.0.0/0            10.100.0.1           /* default/kubernetes:https cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-I7SKRZYQ7PWYV5X7  tcp  --  *      *       0.0.0.0/0            10.100.227.12        /* kube-system/eks-extension-metrics-api:metrics-api cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-7EJNTS7AENER2WX5  tcp  --  *      *       0.0.0.0/0            10.100.153.164       /* kube-system/kube-ops-view:http cluster IP */ tcp dpt:8080
    0     0 KUBE-SVC-UAGC4PYEYZJJEW6D  tcp  --  *      *       0.0.0.0/0            10.100.79.8          /* kube-system/aws-load-balancer-webhook-service:webhook-server cluster IP */ tcp dpt:443
    0     0 KUBE-SVC-TCOU7JCQXEZGVUNU  udp  --  *      *       0.0.0.0/0            10.100.0.10          /* kube-system/kube-dns:dns cluster IP */ udp dpt:53
 1120 61085 KUBE-NODEPORTS  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kubernetes service nodeports; NOTE: this must be the last rule in this chain */ ADDRTYPE match dst-type LOCAL
'''

SEED_KUBE_SVC_L = '''
Chain KUBE-SVC-TCOU7JCQXEZGVUNU (1 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-SEP-4JJWD7DPDSPAPXRS  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns -> 192.168.1.77:53 */ statistic mode random probability 0.50000000000
    0     0 KUBE-SEP-CMUTYLZJRO6PLWPI  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns -> 192.168.2.64:53 */
'''

SEED_KUBE_SEP_L = '''
Chain KUBE-SEP-4JJWD7DPDSPAPXRS (1 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-MARK-MASQ  all  --  *      *       192.168.1.77         0.0.0.0/0            /* kube-system/kube-dns:dns */
    0     0 DNAT       udp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns */ udp to:192.168.1.77:53
'''

SEED_PREROUTING_DUP_L = '''
Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination
  42M 5365M cali-PREROUTING  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* cali:6gwbT8clXdHdC1b1 */
  42M 5365M KUBE-SERVICES  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kubernetes service portals */
  13M 2085M DOCKER     all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
  13M 2085M CNI-HOSTPORT-DNAT  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
    0     0 CNI-HOSTPORT-DNAT  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
'''

SEED_LSMOD_BEFORE = '''
Module                  Size  Used by
nft_chain_nat          16384  7
nf_nat                 57344  3 xt_nat,nft_chain_nat,xt_MASQUERADE
nfnetlink_acct         16384  4 xt_nfacct
xt_conntrack           16384  19
nf_conntrack          184320  7 xt_conntrack,nf_nat,xt_state,xt_nat,nf_conntrack_netlink,xt_connmark,xt_MASQUERADE
nf_defrag_ipv6         24576  1 nf_conntrack
nf_defrag_ipv4         16384  1 nf_conntrack
xt_comment             16384  96
nft_compat             20480  169
nf_tables             311296  354 nft_compat,nft_chain_nat,nft_limit
nfnetlink              20480  8 nft_compat,nfnetlink_acct,nf_conntrack_netlink,nf_tables
'''

SEED_LSMOD_AFTER = '''
Module                  Size  Used by
iptable_raw            16384  0
iptable_filter         16384  0
iptable_mangle         16384  0
iptable_nat            16384  0
'''


def pyconst(name: str, text: str) -> str:
    """A Python assignment of a seed output as a raw triple-quoted string."""
    return f'{name} = r"""\n{text.strip(chr(10))}\n"""'


# =======================================================================================
# 00 start here
# =======================================================================================
def nb00() -> list:
    cells = [
        md(f"""
# 00 · Start here

This workbook shows how Linux **netfilter** and **iptables** move packets on a Kubernetes node,
and how to take apart the rules you find on a real node when something breaks.

The story and its command outputs come from {SEED_CREDIT}. The post walks from netfilter
hooks to kube-proxy's Service rules and then to two production incidents. We quote its
command outputs (captured on an EKS worker node and on an on-prem cluster) and credit the post
wherever they appear; the explanations and exercises are our own. (The post also borrows a
Service diagram from velog.io/@gyomang; we draw our own diagrams instead.)

The node dumps in `datasets/` are built around those real outputs; `datasets/README.md` says
file by file what is copied from the post and what is reconstructed.
"""),
        md("""
## The map

| notebook | the question it answers |
|---|---|
| [01 · netfilter hooks](01-netfilter-hooks.ipynb) | Where in the kernel do iptables rules run, and in which order? |
| [02 · tables and chains](02-tables-and-chains.ipynb) | How do I read `iptables -S` output? What is a policy, a chain, a jump? |
| [03 · the Service DNAT path](03-service-dnat-path.ipynb) | How does a packet to a ClusterIP reach a pod? (`KUBE-SERVICES → KUBE-SVC → KUBE-SEP`) |
| [04 · duplicated CNI-HOSTPORT-DNAT](04-dockershim-duplicate-hostport.ipynb) | Why did hostPort (ingress) traffic break around the Kubernetes 1.23 → 1.24 upgrade? |
| [05 · Istio and missing modules](05-istio-iptables-modules.ipynb) | What does `unable to initialize table 'nat'` mean, and how is it fixed? |
| [06 · forensics of a node dump](06-forensics-of-a-node-dump.ipynb) | I have a folder of command outputs from a node: what is wrong? |
| [07 · live kernel lab](07-live-kernel-lab.ipynb) | Does the real kernel agree with the simulator? |

Go in order the first time; later, jump straight to the incident you care about.
"""),
        md("""
## How these notebooks work

* Run the cells from top to bottom (**Shift + Enter**). Each cell does one thing.
* Each section ends with an **exercise**: a cell with `answer = ...`. Replace the `...`
  with your answer and run it.
* The **self-check** cell below it compares your answer with what the data says. It never
  fails: with no answer yet it gives a hint; after three wrong tries it shows the answer.
* Long-running cells show a progress bar.
"""),
        code(SETUP),
        md("""
## Check your environment

The notebooks need pandas for tables, graphviz (the Python package *and* the `dot` program)
for diagrams, and ipywidgets for the interactive explorers.
"""),
        code('''
import platform, shutil
import graphviz, ipywidgets, pandas as pd

pd.DataFrame({
    "part": ["Python", "workbook", "pandas", "graphviz (Python)", "dot (graphviz program)", "ipywidgets"],
    "version": [platform.python_version(), wb.__version__, pd.__version__, graphviz.__version__,
                ".".join(map(str, graphviz.version())) if shutil.which("dot") else "MISSING: install graphviz",
                ipywidgets.__version__],
})
'''),
        md("""
If the diagram below shows three boxes joined by arrows, graphviz works. This is the path
of a packet that arrives from the network for a process on the node itself.
"""),
        code('''
g = graphviz.Digraph(graph_attr={"rankdir": "LR"}, node_attr={"shape": "box", "style": "rounded"})
g.edge("network card", "PREROUTING")
g.edge("PREROUTING", "INPUT", label="routing: for this node")
g.edge("INPUT", "local process")
g
'''),
        md("""
If a drop-down appears below, widgets work too. Pick what you want to do and it points you
to the right notebook.
"""),
        code('''
import ipywidgets as widgets

GOALS = {
    "learn how packets move through the kernel": "01-netfilter-hooks.ipynb",
    "read iptables -S / iptables-save output": "02-tables-and-chains.ipynb",
    "understand how a Service reaches its pods": "03-service-dnat-path.ipynb",
    "fix duplicated CNI-HOSTPORT-DNAT rules": "04-dockershim-duplicate-hostport.ipynb",
    "fix Istio's unable to initialize table 'nat'": "05-istio-iptables-modules.ipynb",
    "take apart a dump collected from a node": "06-forensics-of-a-node-dump.ipynb",
    "compare the simulator with the real kernel": "07-live-kernel-lab.ipynb",
}
goal = widgets.Dropdown(options=list(GOALS), description="I want to", layout={"width": "520px"},
                        style={"description_width": "initial"})
where = widgets.HTML()
def show_goal(change=None):
    where.value = f"Open <a href='{GOALS[goal.value]}' target='_blank'><code>{GOALS[goal.value]}</code></a>"
goal.observe(show_goal, names="value"); show_goal()
widgets.VBox([goal, where])
'''),
        md("""
### Exercise 0.0
Use the drop-down: which notebook explains Istio's `unable to initialize table 'nat'`? Answer
with its number.
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("0.0 where is Istio", answer,
             expected=int(next(nb for g, nb in GOALS.items() if "Istio" in g)[:2]),
             hint="Pick the goal that mentions Istio and read the file name it shows.")
'''),
    ]
    cells += needs(["workbook.parse.spec:parse_spec"], [
        md("""
## Your first ruleset

On the EKS worker node, the post's author ran `iptables -t nat -S` and kept the first four
lines. They are the **policies** (`-P`) of the nat table's built-in chains (quoted from the post):
"""),
        code(pyconst("nat_s", SEED_NAT_S) + '''

nat = wb.parse(nat_s)
nat
'''),
        md("""
`wb.parse` recognised the format on its own and returned a `Ruleset`. Every ruleset can
show itself as a pandas table: here, one row per chain.
"""),
        code("nat.chains"),
        md("""
### Exercise 0.1
How many **built-in** chains does the nat table have, according to these lines?
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("0.1 built-in nat chains", answer,
             expected=int(nat.chains.query("table == 'nat'")["builtin"].sum()),
             hint="Each -P line sets the policy of one built-in chain.",
             explain="PREROUTING, INPUT, OUTPUT and POSTROUTING: nat works on four of the five hooks.")
'''),
        md("Next: [01 · netfilter hooks](01-netfilter-hooks.ipynb)."),
    ], instead=[
        md("""
## Your first ruleset

On the EKS worker node, the post's author ran `iptables -t nat -S`; its first four lines are the
**policies** of the nat table's built-in chains. Here is the same table in `iptables-save` form
(the `:CHAIN POLICY [packets:bytes]` lines carry the same policies):
"""),
        code('''
nat = wb.parse("""*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
""")
nat.chains
'''),
        md("### Exercise 0.1\nHow many **built-in** chains does the nat table have?"),
        code("answer = ...  # a number"),
        code('''
check_answer("0.1 built-in nat chains", answer,
             expected=int(nat.chains.query("table == 'nat'")["builtin"].sum()),
             hint="Each policy line belongs to one built-in chain.")
'''),
        md("Next: [01 · netfilter hooks](01-netfilter-hooks.ipynb)."),
    ])
    return cells


# =======================================================================================
# 01 netfilter hooks
# =======================================================================================
def nb01() -> list:
    cells = [
        md("""
# 01 · The five netfilter hooks

Every IPv4 packet that enters, leaves or crosses a Linux node passes up to five checkpoints
in the kernel: the netfilter **hooks**. iptables rules never run on their own; they run
because a table registered itself on some of these hooks.
"""),
        code(SETUP),
        md("""
## 1 · Five checkpoints

| hook | when the kernel calls it |
|---|---|
| **PREROUTING** | a packet has just arrived on an interface, *before* the routing decision |
| **INPUT** | routing decided the packet is for this node; it is about to reach a local socket |
| **FORWARD** | routing decided the packet is for another host (on a Kubernetes node: often a pod) |
| **OUTPUT** | a process on this node created the packet |
| **POSTROUTING** | the packet is about to leave through an interface, *after* routing |

Because PREROUTING runs before routing, a rule there can change the destination (DNAT) and so
change where the packet goes. POSTROUTING runs last, which is why source rewriting (SNAT,
MASQUERADE) lives there.
"""),
        md("""
The seed post draws the hooks like this (quoted from the post). The `[*]` marks are routing
decisions. The `ingress` and `egress` boxes are hooks of the network device that only
nftables can use; iptables works on the five boxes in between.

```
""" + SEED_HOOK_ASCII.strip("\n") + """
```
"""),
    ]
    cells += needs(["workbook.draw:draw_hooks"], [
        md("The workbook draws the same picture, with the tables that sit on each hook:"),
        code("wb.draw_hooks()"),
    ])
    cells += needs(["workbook.netfilter:HOOKS,TABLES_AT_HOOK,packet_path,tables_at"], [
        md("""
The library keeps the same facts in `workbook.netfilter`. The kernel names are the ones the
seed post lists (`NF_IP_…`; today's kernels say `NF_INET_…`, as in the diagram); the tables are
those that register on each hook, in the order a packet meets them:
"""),
        code('''
import pandas as pd
from workbook import netfilter

KERNEL_NAME = {"PREROUTING": "NF_IP_PRE_ROUTING", "INPUT": "NF_IP_LOCAL_IN", "FORWARD": "NF_IP_FORWARD",
               "OUTPUT": "NF_IP_LOCAL_OUT", "POSTROUTING": "NF_IP_POST_ROUTING"}
pd.DataFrame([{"hook": h, "kernel name": KERNEL_NAME[h], "tables, in order": " → ".join(netfilter.tables_at(h))}
              for h in netfilter.HOOKS])
'''),
        md("""
### Exercise 1.1
A packet arrives from the network for a process running on this node (say, the kubelet on
port 10250). Which hooks does it pass, **in order**? Give a list of hook names.
"""),
        code("answer = ...  # e.g. [\"HOOK1\", \"HOOK2\"]"),
        code('''
check_answer("1.1 local delivery", answer,
             expected=netfilter.packet_path(from_node=False, local=True), ordered=True,
             hint="Look at the diagram: from the network card up to the local process.")
'''),
    ])
    cells += [
        md("""
## 2 · Tables on a hook, by priority

A **table** groups rules by purpose:

* **raw**: runs before connection tracking; used to exempt traffic from it;
* **mangle**: changes packet marks and header fields;
* **nat**: rewrites addresses (DNAT, SNAT, MASQUERADE, REDIRECT) and sees only the first packet of a connection;
* **filter**: decides whether a packet may pass (ACCEPT, DROP, REJECT);
* **security**: SELinux labels.

Several tables can sit on the same hook. The kernel orders them by a **priority** number:
the lowest runs first (raw −300, mangle −150, nat-for-destination −100, filter 0,
security 50, nat-for-source 100).
"""),
    ]
    cells += needs(["workbook.netfilter:TABLES_AT_HOOK,tables_at"], [
        md("Each hook with its tables and their priorities (an empty cell: that table is not on that hook):"),
        code('''
prio = pd.DataFrame([{"hook": h, "table": t.table, "priority": t.priority}
                     for h, entries in netfilter.TABLES_AT_HOOK.items() for t in entries])
prio.pivot(index="hook", columns="table", values="priority").reindex(
    index=list(netfilter.HOOKS), columns=["raw", "mangle", "nat", "filter", "security"]).astype("Int64")
'''),
        md("""
### Exercise 1.2
In PREROUTING, which table sees a packet **first**?
"""),
        code("answer = ...  # a table name"),
        code('''
check_answer("1.2 first table in PREROUTING", answer,
             expected=netfilter.tables_at("PREROUTING")[0],
             hint="The lowest priority number runs first.",
             explain="raw runs before connection tracking, which is what it is for.")
'''),
        md("""
### Exercise 1.3
On how many of the five hooks does the **nat** table have a chain?
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("1.3 hooks with nat", answer,
             expected=sum("nat" in netfilter.tables_at(h) for h in netfilter.HOOKS),
             hint="Count the hooks whose row has a nat priority in the table above.",
             explain="Not FORWARD: nat rewrites addresses before routing (DNAT) or after it (SNAT).")
'''),
    ])
    cells += [
        md("""
## 3 · Three journeys

The routing decision splits the picture into three paths:

1. **to this node**: PREROUTING → INPUT;
2. **through this node** (to a pod, or to another host): PREROUTING → FORWARD → POSTROUTING;
3. **from this node**: OUTPUT → POSTROUTING.
"""),
    ]
    cells += needs(["workbook.trace:trace_packet", "workbook.draw:draw_hooks"], [
        md("""
The journey **through** this node, drawn: a packet from `192.168.3.10` to `10.0.0.9`, on a node
whose address is `192.168.3.215` and whose filter table has no rules (so only the policies speak):
"""),
        code('''
no_rules = wb.parse("*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\nCOMMIT\\n")
through = wb.trace_packet(no_rules, wb.Packet("192.168.3.10", "10.0.0.9", "tcp", dport=80), node_ips=["192.168.3.215"])
wb.draw_hooks(no_rules, trace=through)
'''),
    ])
    cells += needs(["workbook.netfilter:packet_path"], [
        md("All three journeys, as the library computes them:"),
        code('''
import pandas as pd
journeys = {
    "to this node": dict(local=True, from_node=False),
    "through this node": dict(local=False, from_node=False),
    "from this node": dict(local=False, from_node=True),
}
pd.DataFrame([{"journey": name, "hooks": " → ".join(netfilter.packet_path(**kw))}
              for name, kw in journeys.items()])
'''),
        md("""
### Exercise 1.4
A pod on this node sends a DNS query to a pod on another node. The query leaves the pod's
network namespace, enters the node through the pod's veth interface and leaves through
`eth0`. For the **node's** netfilter, which hooks does it pass, in order?
"""),
        code("answer = ...  # a list of hook names"),
        code('''
check_answer("1.4 pod to remote pod", answer,
             expected=netfilter.packet_path(from_node=False, local=False), ordered=True,
             hint="For the node, the pod is just another host behind an interface: the packet is forwarded.")
'''),
    ])
    cells += [
        md("""
## 4 · nat sees only the first packet

Connection tracking (conntrack) remembers every connection. The nat table is consulted only
for the **first** packet of a connection (conntrack state `NEW`); the translation it chose is
then applied to every later packet of that connection without looking at the rules again.

That is why changing a nat rule does not affect connections that are already open, and why
kube-proxy can change endpoints without breaking existing connections.
"""),
    ]
    cells += needs(["workbook.trace:trace_packet"], [
        md("""
Let us check it with the tracer: a tiny nat table with one DNAT rule, and the same packet
once as the first packet of a connection and once as a later one.
"""),
        code('''
tiny = wb.parse("""*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 10.100.0.10/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.77:53
COMMIT
""")
first = wb.trace_packet(tiny, wb.Packet("192.168.3.10", "10.100.0.10", "udp", dport=53))
later = wb.trace_packet(tiny, wb.Packet("192.168.3.10", "10.100.0.10", "udp", dport=53, ctstate="ESTABLISHED"))
wb.draw_hooks(tiny, trace=first) if hasattr(wb, "draw_hooks") else None
'''),
        md("The first packet, step by step: nat PREROUTING rewrites the destination to the pod."),
        code("first"),
        md("And the later packet of the same connection:"),
        code('''
print(later.branches[0].notes)
later.steps
'''),
        md("""
### Exercise 1.5
True or false: for the **later** packet, the tracer evaluated at least one rule of the nat table.
"""),
        code("answer = ...  # True or False"),
        code('''
check_answer("1.5 nat and ESTABLISHED", answer,
             expected=bool((later.steps["table"] == "nat").any()),
             hint="Compare the two traces above: which one lists the DNAT rule?",
             explain="conntrack already knows this connection and applies the DNAT chosen for its first packet.")
'''),
    ])
    cells += [md("Next: [02 · tables and chains](02-tables-and-chains.ipynb).")]
    return cells


# =======================================================================================
# 02 tables and chains
# =======================================================================================
def nb02() -> list:
    cells = [
        md("""
# 02 · Tables and chains

A hook fires, the tables registered on it run, and inside each table the kernel walks a
**chain**: an ordered list of rules. This notebook reads the real `iptables -t filter -S`
output from the seed post's EKS worker node.
"""),
        code(SETUP),
        md("""
## 1 · The three kinds of lines in `iptables -S`

* `-P CHAIN VERDICT`: a **built-in** chain (named after its hook) and its **policy**, the
  verdict when no rule decides;
* `-N CHAIN`: a **user-defined** chain; it runs only when a rule jumps to it;
* `-A CHAIN …`: a **rule** appended to a chain: matches (`-p udp`, `-m conntrack --ctstate NEW`)
  and a target (`-j …`).

Here is the filter table from the EKS node (quoted from the seed post):
"""),
        code(pyconst("filter_s", SEED_FILTER_S)),
    ]
    cells += needs(["workbook.parse.spec:parse_spec"], [
        code('''
flt = wb.parse(filter_s)
flt
'''),
    ], instead=[md("> 🚧 *Reading `iptables -S` output needs `workbook.parse.spec`, which has not landed in this checkout yet.*")])
    ok = have("workbook.parse.spec:parse_spec")
    if ok:
        cells += needs(["workbook.draw:draw_chains"], [
            md("""
Drawn: each box is a chain; an arrow is a rule that jumps to another chain. Built-in chains are
the entry points, user chains hang below them.
"""),
            code('wb.draw_chains(flt, "filter")'),
        ])
        cells += [
            md("The same chains as a table: policy, how many rules each holds, how many rules jump to it."),
            code('flt.chains[["chain", "builtin", "policy", "rules", "references"]]'),
            md("""
### Exercise 2.1
How many **user-defined** chains does this filter table have?
"""),
            code("answer = ...  # a number"),
            code('''
check_answer("2.1 user-defined chains", answer,
             expected=int((~flt.chains["builtin"]).sum()),
             hint="Count the -N lines, or the rows of flt.chains where builtin is False.",
             explain="All eight belong to kube-proxy or the kubelet (KUBE-…).")
'''),
            md("""
### Exercise 2.2
Two user chains are declared but **nothing jumps to them** and they hold no rules. Which?
(They are *canaries*: the kubelet and kube-proxy create them and check now and then that they
still exist. If one disappears, someone flushed the table, and they rewrite their rules.)
"""),
            code("answer = ...  # a list of two chain names"),
            code('''
c = flt.chains
check_answer("2.2 canary chains", answer,
             expected=c[~c["builtin"] & (c["references"] == 0) & (c["rules"] == 0)]["chain"].tolist(),
             hint="Rows of flt.chains with builtin False, references 0 and rules 0.")
'''),
            md("""
## 2 · One rule, taken apart

The post's node had two hand-written rules in INPUT: log UDP port 9999 at most five times a
minute, then drop it. Every rule becomes a row with the same columns:
"""),
            code('''
rules = flt.rules
rules[rules["chain"] == "INPUT"][["position", "protocol", "target", "target_args", "comment", "spec"]]
'''),
            md("""
Matches are kept in order, each with its module and options (`-m limit --limit 5/min`):
"""),
            code('''
log_rule = flt.chain("filter", "INPUT").rules[4]
print(log_rule.spec)
[(m.module, [(o.flag, o.args) for o in m.options]) for m in log_rule.matches]
'''),
            md("""
### Exercise 2.3
`LOG` does not stop a packet: it writes a kernel log line and the packet moves on to the next
rule. At which **rule position** in INPUT is a UDP packet to port 9999 finally dropped?
"""),
            code("answer = ...  # a number"),
            code('''
inp = rules[(rules["chain"] == "INPUT")]
check_answer("2.3 where 9999 is dropped", answer,
             expected=int(inp[inp["target"] == "DROP"]["position"].iloc[0]),
             hint="Positions start at 1, as in `iptables -L --line-numbers`.")
'''),
        ]
        cells += needs(["workbook.trace:trace_packet"], [
            md("""
## 3 · Let the tracer walk the chains

The tracer follows a packet through every rule and jump, just as the kernel would. A UDP
packet to port 9999 arriving from outside:
"""),
            code('''
t = wb.trace_packet(flt, wb.Packet("203.0.113.5", "192.168.3.215", "udp", dport=9999), node_ips=["192.168.3.215"])
t
'''),
            md("Every step as a table (✘ rows did not match; `why` says which match failed):"),
            code('t.steps[["hook", "table", "chain", "position", "matched", "action", "why"]]'),
            md("""
### Exercise 2.4
What is the final verdict for this packet?
"""),
            code("answer = ...  # ACCEPT or DROP"),
            code('''
check_answer("2.4 verdict for udp/9999", answer, expected=next(iter(t.verdicts)),
             hint="Look at the last matched step of the trace.")
'''),
        ])
        cells += [
            md("""
## 4 · The same table in three notations

`iptables -S` prints rules the way you would type them; `iptables-save` adds the table header,
`:CHAIN POLICY [packets:bytes]` lines and `COMMIT`; `iptables -L -n -v` is the wide, human
table. The workbook reads all three into the same model, and can write the save form back:
"""),
            code('print(flt.to_save())'),
            md("""
### Exercise 2.5
In the save form, a chain line reads `:NAME POLICY [packets:bytes]`. What does a
**user-defined** chain show where the policy would be?
"""),
            code("answer = ...  # one character"),
            code('''
user_line = next(l for l in flt.to_save().splitlines() if l.startswith(":KUBE-FIREWALL "))
check_answer("2.5 policy of a user chain", answer, expected=user_line.split()[1],
             hint="Find the line that starts with :KUBE-FIREWALL.",
             explain="A user chain has no policy: when its rules run out, the packet returns to the caller.")
'''),
        ]
        cells += needs(["datasets/eks-node/MANIFEST.json", "workbook.dump:load_dump", "workbook.parse.listing:parse_listing"], [
            md("""
The node dump in `datasets/eks-node` kept this filter table as `iptables -S` **and** as
`iptables -L -n -v -x --line-numbers`. Read both and compare rule by rule:
"""),
            code('''
eks = wb.load_dump(DATASETS / "eks-node")
listing_text = eks.text("iptables/iptables-L-filter.txt")
print("\\n".join(listing_text.splitlines()[:8]))
as_L = wb.parse(listing_text, format="listing")
as_S = wb.parse(eks.text("iptables/iptables-S-filter.txt"), format="spec")
print("same rules, same order:", [r.spec for r in as_L.iter_rules()] == [r.spec for r in as_S.iter_rules()])
'''),
            md("""
### Exercise 2.6
In this listing the `prot` column of the two port-9999 rules is not `udp` but a number:
iptables 1.8.9 and 1.8.10 print protocol numbers there (the post's own listings, from another
version, print `udp` and `all`). Which number stands for UDP?
"""),
            code("answer = ...  # a number"),
            code('''
drop_line = next(l for l in listing_text.splitlines() if " DROP " in l and "dpt:9999" in l)
check_answer("2.6 udp's number", answer, expected=int(drop_line.split()[4]),
             hint="Read the prot column of the DROP line (num, pkts, bytes, target, prot, …).",
             explain="6 is tcp, 17 is udp, 0 means all; the numbers of /etc/protocols.")
'''),
        ])
        cells += [md("Next: [03 · the Service DNAT path](03-service-dnat-path.ipynb).")]
    return cells


# =======================================================================================
# 03 service DNAT path
# =======================================================================================
def nb03() -> list:
    cells = [
        md(f"""
# 03 · From a ClusterIP to a pod: the Service DNAT path

A Kubernetes Service's ClusterIP belongs to no interface. On every node, kube-proxy (in
iptables mode) writes nat rules that **rewrite** the destination of the first packet of a
connection to one of the Service's pods. The seed post follows one DNS query through them:

`PREROUTING → KUBE-SERVICES → KUBE-SVC-… → KUBE-SEP-…(one per pod) → DNAT`

The listings below are the post's real output from an EKS worker node ({SEED_CREDIT}).
"""),
        code(SETUP),
    ]
    listing_ok = have("workbook.parse.listing:parse_listing")
    cells += needs(["workbook.parse.listing:parse_listing"], [
        md("""
## 1 · Read the three listings

`iptables -v -n -t nat -L CHAIN` prints one chain as a wide table (quoted from the post):
"""),
        code(pyconst("kube_services_L", SEED_KUBE_SERVICES_L) + "\n\n"
             + pyconst("kube_svc_L", SEED_KUBE_SVC_L) + "\n\n"
             + pyconst("kube_sep_L", SEED_KUBE_SEP_L) + '''

listed = wb.parse("\\n".join([kube_services_L, kube_svc_L, kube_sep_L]), format="listing")
listed
'''),
        md("""
The listing shows matches in iptables' own words (`udp dpt:53`, `statistic mode random
probability 0.50000000000`). The workbook turns them back into the exact rule spec:
"""),
        code('''
listed.rules[["chain", "position", "target", "comment", "spec"]]
'''),
        md("""
Read the last chain, `KUBE-SEP-4JJWD7DPDSPAPXRS` (one endpoint), from the bottom up:

* the **DNAT** rule rewrites the destination to the pod, `192.168.1.77:53`;
* the rule above it catches the one odd case where the **source is that same pod**: a pod that
  reaches itself through its own Service. It marks the packet (`KUBE-MARK-MASQ`) so that
  POSTROUTING masquerades it. Without that, the pod would answer itself directly, from its own
  address instead of the Service's, and would not recognise the answer.
"""),
        md("""
### Exercise 3.1
A pod sends a UDP packet to `10.100.0.10:53`. To which chain does `KUBE-SERVICES` send it?
"""),
        code("answer = ...  # a chain name"),
        code('''
svc_rules = listed.rules.query("chain == 'KUBE-SERVICES'")
dns = svc_rules[(svc_rules["destination"].str.startswith("10.100.0.10")) & (svc_rules["protocol"] == "udp")]
check_answer("3.1 kube-dns udp chain", answer, expected=dns["target"].iloc[0],
             hint="Find the rule whose destination is 10.100.0.10 and whose protocol is udp.",
             explain="Its comment says it: kube-system/kube-dns:dns.")
'''),
    ])
    cells += needs(["datasets/eks-node/MANIFEST.json", "workbook.dump:load_dump"], [
        md("""
## 2 · The whole node

The post shows only a few chains. `datasets/eks-node` holds a full dump of a node shaped like
the post's (its listed chains are exactly the post's output). Load it:
"""),
        code('''
eks = wb.load_dump(DATASETS / "eks-node")
rs = eks.ruleset
rs
'''),
    ])
    full = have("datasets/eks-node/MANIFEST.json") and have("workbook.dump:load_dump")
    if full:
        cells += needs(["workbook.draw:draw_chains"], [
            md("""
The path of the kube-dns Service, drawn from the nat table (the DNS Service's chain and
everything it jumps to):
"""),
            code('wb.draw_chains(rs, "nat", "KUBE-SVC-TCOU7JCQXEZGVUNU")'),
        ])
        cells += needs(["workbook.kube:services"], [
            md("""
`workbook.kube.services` reads every Service port out of the kube-proxy chains: ClusterIP,
port, its `KUBE-SVC` chain, the endpoints and each endpoint's share of new connections.
"""),
            code('''
from workbook import kube
svcs = kube.services(rs)
svcs[["service", "protocol", "cluster_ip", "port", "chain", "endpoints", "probabilities"]]
'''),
            md("""
### Exercise 3.2
Which pod endpoints (`ip:port`) serve `kube-system/kube-dns:dns`? Give a list.
"""),
            code("answer = ...  # e.g. [\"10.0.0.1:53\", ...]"),
            code('''
row = svcs[svcs["service"].str.contains("kube-dns:dns") & (svcs["protocol"] == "udp")].iloc[0]
check_answer("3.2 kube-dns endpoints", answer, expected=list(row["endpoints"]),
             hint="Look at the endpoints column, or at the DNAT targets of the KUBE-SEP chains.")
'''),
        ])
        cells += needs(["workbook.trace:trace_packet"], [
            md("""
## 3 · Follow one DNS query

The kube-ops-view pod on this node (`192.168.3.98`) asks kube-dns. The node's `ip route` says
that pod sits behind the interface `eni5d1d36193a1`; its packet enters the node there, so it
starts in PREROUTING. The `statistic` rule splits the trace into two
**branches**, one per endpoint, each with its probability:
"""),
            code('''
query = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
dns_trace = wb.trace_packet(rs, query, node_ips=eks.node_ips)
dns_trace
'''),
        ])
        cells += needs(["workbook.trace:trace_packet", "workbook.draw:draw_trace"], [
            md("The same trace drawn: the path taken, and where it forks."),
            code("wb.draw_trace(dns_trace, rs)"),
        ])
        cells += needs(["workbook.trace:trace_packet"], [
            md("Where the first packet ends up, and how often:"),
            code("dns_trace.destinations"),
            md("""
### Exercise 3.3
What fraction of new DNS connections from this pod go to `192.168.2.64:53`?
"""),
            code("answer = ...  # a number between 0 and 1"),
            code('''
check_answer("3.3 share of 192.168.2.64", answer, expected=dns_trace.destinations.get("192.168.2.64:53", 0.0),
             hint="The first endpoint rule matches with probability 0.5; the second takes everything left.")
'''),
        ])
    cells += [
        md("""
## 4 · Why 1/n, then 1/(n−1), …

kube-proxy gives the first of *n* endpoint rules probability 1/n. If it does not match, the
next rule sees only the remaining cases, so it gets 1/(n−1), and so on; the last rule has no
`statistic` match and takes whatever is left. Every endpoint ends up with the same share.

iptables stores the probability as an integer out of 2³¹ and prints it with 11 decimals,
which is why 1/3 shows up as `0.33333333349`:
"""),
        code('''
from workbook.generate import probability_text
import pandas as pd
pd.DataFrame({"endpoints n": range(2, 7), "first rule prints": [probability_text(n) for n in range(2, 7)]})
'''),
        md("""
### Exercise 3.4
A Service has **three** endpoints. What probability does iptables print on its **second**
endpoint rule? (A number is enough.)
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("3.4 second of three", answer, expected=float(probability_text(2)),
             hint="After the first rule, two endpoints are left.")
'''),
    ]
    if full:
        cells += needs(["workbook.trace:trace_packet", "workbook.kube:services"], [
            md("""
## 5 · Every Service at once

Trace one packet to each ClusterIP of the node and collect where it lands (a progress bar
shows how far it got):
"""),
            code('''
from tqdm.auto import tqdm
rows = []
for s in tqdm(svcs.itertuples(), total=len(svcs), desc="tracing services"):
    t = wb.trace_packet(rs, wb.Packet("192.168.3.98", s.cluster_ip, s.protocol, dport=int(s.port),
                                      in_iface="eni5d1d36193a1"), node_ips=eks.node_ips)
    rows.append({"service": s.service, "clusterIP": f"{s.cluster_ip}:{s.port}/{s.protocol}",
                 "endpoints": len(s.endpoints), "branches": len(t.branches),
                 "lands on": ", ".join(sorted(str(d) for d in t.destinations)),
                 "masqueraded": any(b.masquerade for b in t.branches)})
landing = pd.DataFrame(rows)
landing
'''),
            md("""
### Exercise 3.5
How many of these Service ports have only **one** endpoint, so that every new connection goes
to the same pod (no `statistic` rule, a single branch)?
"""),
            code("answer = ...  # a number"),
            code('''
check_answer("3.5 single-endpoint services", answer, expected=int((landing["branches"] == 1).sum()),
             hint="Count the rows with 1 branch.",
             explain="If that one pod is down, the Service is down: worth a look in a real incident.")
'''),
            md("""
### Exercise 3.6
For one Service the packet is also **masqueraded** (look at the last column): the hairpin case
of section 1. Which Service is it, and why this one?
"""),
            code("answer = ...  # the service name, as in the service column"),
            code('''
check_answer("3.6 the hairpin service", answer, expected=landing[landing["masqueraded"]]["service"].tolist()[0],
             hint="The query comes from 192.168.3.98. Which Service has that pod as its endpoint?",
             explain="The kube-ops-view pod asked its own Service and was picked as the endpoint: KUBE-MARK-MASQ.")
'''),
        ])
        cells += needs(["workbook.widgets:ServiceExplorer", "workbook.kube:services"], [
            md("""
## 6 · Explore

Pick a Service to see its chains, endpoints and a trace:
"""),
            code("from workbook.widgets import ServiceExplorer\nServiceExplorer(rs)"),
            md("""
### Exercise 3.7
One ClusterIP of this node carries **three** Service ports (search the explorer by IP). Which IP?
"""),
            code("answer = ...  # an IP address"),
            code('''
per_ip = svcs["cluster_ip"].value_counts()
check_answer("3.7 the busy ClusterIP", answer, expected=per_ip.index[per_ip == 3][0],
             hint="Three ports of the same Service: DNS over UDP, DNS over TCP, and metrics.")
'''),
        ])
    cells += [md("Next: [04 · duplicated CNI-HOSTPORT-DNAT](04-dockershim-duplicate-hostport.ipynb).")]
    _ = listing_ok
    return cells


# =======================================================================================
# 04 duplicated CNI-HOSTPORT-DNAT
# =======================================================================================
def nb04() -> list:
    ds = "datasets/onprem-dup-hostport"
    cells = [
        md(f"""
# 04 · A duplicated `CNI-HOSTPORT-DNAT` after dockershim's removal

The second half of the seed post ({SEED_CREDIT}) is an incident on a private-cloud cluster
(RKE, Calico, an ingress controller exposed with `hostPort`). After an upgrade, ingress
traffic failed, and `iptables -t nat -L PREROUTING` showed the same jump **twice**.
"""),
        code(SETUP),
        md("""
### Background: how a hostPort works

A pod with `hostPort: 80` asks the CNI **portmap** plugin to forward the node's port 80 to the
pod. portmap writes nat rules:

* in PREROUTING and OUTPUT, one jump `-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT`
  ("for any address of this node, look at the hostPort table");
* in `CNI-HOSTPORT-DNAT`, one entry per pod (`dnat name: … id: <container>`) that jumps to a
  per-pod `CNI-DN-…` chain;
* in `CNI-DN-…`, the DNAT to `podIP:containerPort`.

When the pod goes away, the runtime calls portmap's DEL with the pod's port mappings, and
portmap removes that pod's rules. If the runtime has **forgotten** the mappings, DEL
removes nothing.
"""),
    ]
    cells += needs(["workbook.parse.listing:parse_listing"], [
        md("""
## 1 · What the post saw

nat PREROUTING on the worker, after the incident (quoted from the post; the last line is the
duplicate):
"""),
        code(pyconst("prerouting_L", SEED_PREROUTING_DUP_L) + '''

seen = wb.parse(prerouting_L, format="listing")
seen.rules[["position", "target", "pkts", "bytes", "spec"]]
'''),
        md("""
### Exercise 4.1
How many rules of PREROUTING jump to `CNI-HOSTPORT-DNAT`?
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("4.1 jumps to CNI-HOSTPORT-DNAT", answer,
             expected=int((seen.rules["target"] == "CNI-HOSTPORT-DNAT").sum()),
             hint="Count the rows whose target is CNI-HOSTPORT-DNAT.",
             explain="The second copy has 0 packets: it was added recently.")
'''),
    ])
    cells += [
        md("""
### Background: why the mappings were lost

Up to Kubernetes 1.23 the kubelet contained **dockershim**. For each pod sandbox it kept a
checkpoint file with the pod's port mappings in `/var/lib/dockershim/sandbox/<sandbox-id>`.
At teardown it read the file and handed the mappings to CNI DEL.

RKE runs the kubelet **inside a container**. `/var/lib/dockershim` was not bind-mounted from
the host, so the checkpoints lived in the container's own filesystem and vanished whenever
the kubelet container was re-created (an upgrade, a changed argument). The next teardown
found no checkpoint, sent DEL without mappings, and portmap left the old rules in place; the
re-created pod then added its rules *again*.

Kubernetes 1.24 removed dockershim, so the problem is specific to clusters that still run
dockershim (up to 1.23) or move from 1.23 to 1.24.
"""),
    ]
    cells += needs([f"{ds}/before/MANIFEST.json", f"{ds}/after/MANIFEST.json", "workbook.dump:load_dump"], [
        md("""
## 2 · Before and after, from two node dumps

`datasets/onprem-dup-hostport` holds two dumps of such a worker: `before` the kubelet
container was re-created, and `after` the hostPort pod was restarted.
"""),
        code(f'''
before = wb.load_dump(DATASETS / "onprem-dup-hostport" / "before")
after = wb.load_dump(DATASETS / "onprem-dup-hostport" / "after")
before.ruleset, after.ruleset
'''),
    ])
    both = have(f"{ds}/before/MANIFEST.json") and have(f"{ds}/after/MANIFEST.json") and have("workbook.dump:load_dump")
    if both:
        cells += needs(["workbook.draw:draw_chains"], [
            md("nat PREROUTING after the restart and the chains it jumps to (the red arrow is the copy):"),
            code('wb.draw_chains(after.ruleset, "nat", "PREROUTING", depth=1)'),
        ])
        cells += [
            md("""
### Exercise 4.2
In the `after` dump, how many rules in nat PREROUTING jump to `CNI-HOSTPORT-DNAT`?
"""),
            code("answer = ...  # a number"),
            code('''
pre = after.ruleset.rules.query("table == 'nat' and chain == 'PREROUTING'")
check_answer("4.2 jumps after", answer, expected=int((pre["target"] == "CNI-HOSTPORT-DNAT").sum()),
             hint="Filter after.ruleset.rules to table nat, chain PREROUTING.")
'''),
            md("""
## 3 · The real damage is one level down

The duplicated jump only makes the kernel walk `CNI-HOSTPORT-DNAT` twice with the same result.
What breaks the ingress is **inside** that chain: one entry per container, each tagged with the
container id. Compare the two dumps (note the packet counters):
"""),
            code('''
import re
def hostport_entries(d):
    r = d.ruleset.rules.query("table == 'nat' and chain == 'CNI-HOSTPORT-DNAT'").copy()
    r["container id"] = r["comment"].str.extract(r'id: "([0-9a-f]+)"', expand=False).str[:12]
    return r[["position", "container id", "target", "pkts"]]

pd.concat({"before": hostport_entries(before), "after": hostport_entries(after)})
'''),
            md("""
In `after` there are two entries for the same ports. The first one still counts connections;
the new one has counted none: the kernel uses the **first** entry that matches.

Which containers does the kubelet still know? The dump kept `ls -la /var/lib/dockershim/sandbox`,
one checkpoint file per live pod sandbox:
"""),
            code('''
for name, d in [("before", before), ("after", after)]:
    print(f"--- {name}:"); print(d.text("kubelet/dockershim-sandbox.txt") or "(not collected)")
'''),
            md("""
### Exercise 4.3
Which container id (its first 12 characters) has an entry in `CNI-HOSTPORT-DNAT` in `after`,
but **no** checkpoint file any more? That is the stale entry.
"""),
            code("answer = ...  # 12 hex characters"),
            code('''
live = set(re.findall(r"\\b([0-9a-f]{64})\\b", after.text("kubelet/dockershim-sandbox.txt") or ""))
stale = [cid for cid in hostport_entries(after)["container id"] if not any(l.startswith(cid) for l in live)]
check_answer("4.3 the stale container", answer, expected=stale[0] if stale else None,
             hint="Compare the container ids of the entries with the file names in the sandbox listing.",
             explain="Its pod is gone, but its DNAT rule is still first in line.")
'''),
        ]
        cells += needs(["workbook.trace:trace_packet"], [
            md("""
## 4 · Where does a request to port 80 go?

Trace a new connection from a client (`10.10.10.10`) to the node's port 80 in both dumps, and
look at the address the first packet is DNATed to. The tracer is also given the node's routes
(`network/ip-route.txt` of each dump, what `ip route` printed): after PREROUTING the kernel looks
the (DNATed) destination up in them, like the tracer does, to choose the interface the packet
leaves on, or to drop it when there is no usable route.
"""),
            code('''
node_ip = next(ip for ip in after.node_ips if ip.startswith("10.10."))   # the node's address on its LAN
print(after.text("network/ip-route.txt"))

def routing(t):
    """The tracer's note on the routing decision after PREROUTING."""
    return next((n for n in t.notes if n.startswith(("routing:", "dropped by routing"))), None)

rows, traces = [], {}
for name, d in [("before", before), ("after", after)]:
    t = traces[name] = wb.trace_packet(d.ruleset, wb.Packet("10.10.10.10", node_ip, "tcp", dport=80, in_iface="eth0"),
                                       node_ips=d.node_ips, routes=d.text("network/ip-route.txt"))
    chains = [s.chain for s in t.branches[0].steps if s.chain.startswith("CNI-DN-") and s.matched]
    rows.append({"dump": name, "DNAT to": ", ".join(map(str, t.destinations)), "via": chains[-1] if chains else None,
                 "routing": routing(t), "verdict": ", ".join(t.verdicts)})
where = pd.DataFrame(rows)
where
'''),
            md("""
Before, `10.42.134.75` is the ingress pod and has its own route, `10.42.134.75 dev cali6968104dfaa`:
the packet leaves towards the pod's veth. After the restart the old pod and its veth are gone, so
is its `/32` route. The longest prefix that still matches is Calico's route for the node's whole
address block, `blackhole 10.42.134.64/26` (Calico adds it so that addresses of the block that
no pod holds go nowhere). The verdict of the `after` trace:
"""),
            code('''
t = traces["after"]
print(t.verdicts)
last = [s for s in t.branches[0].steps if s.matched][-1]
print("last rule hit:", last.hook, last.table, last.chain, f"#{last.position}", last.action)
print("then:", routing(t))
'''),
            md("""
The kernel drops the first packet (the SYN) right after PREROUTING, without a rule and without
an answer: a blackhole route sends no ICMP error back, so clients of the ingress **time out**
instead of being refused. No FORWARD rule, no counter in the filter table shows it; only the
counter of the stale `CNI-DN-…` chain keeps growing.
"""),
            md("And the address the **new** pod's entry would have used:"),
            code('''
new_chain = hostport_entries(after).iloc[-1]["target"]
after.ruleset.rules.query("table == 'nat' and chain == @new_chain and target == 'DNAT'")[["chain", "target_args"]]
'''),
            md("""
### Exercise 4.4
True or false: in `after`, new connections to port 80 reach the pod that is running now.
"""),
            code("answer = ...  # True or False"),
            code('''
new_dnat = after.ruleset.rules.query("table == 'nat' and chain == @new_chain and target == 'DNAT'")["target_args"].iloc[0]
check_answer("4.4 does port 80 reach the new pod", answer,
             expected=where.iloc[1]["DNAT to"].split(":")[0] in new_dnat,
             hint="Compare the DNAT address of the after trace with the new pod's DNAT rule.",
             explain="They go to the old pod's address: the ingress is down while the new pod looks healthy.")
'''),
        ])
        cells += needs(["workbook.checks:check"], [
            md("""
## 5 · What the checks say

`wb.check` finds both problems and proposes exact commands. It never runs them: you read
them, decide, and run them on the node.
"""),
            code('''
findings = wb.check(after)
findings
'''),
            md("""
### Exercise 4.5
To delete the duplicated jump by its **rule number** (which keeps the counters of the original),
which number would you give to `iptables -t nat -D PREROUTING <number>`?
"""),
            code("answer = ...  # a number"),
            code('''
jumps = pre[pre["target"] == "CNI-HOSTPORT-DNAT"]["position"].tolist()
check_answer("4.5 which number to delete", answer, expected=int(jumps[-1]),
             hint="Keep the first jump (it has the counters); delete the later one.",
             explain="Deleting by number from the highest down keeps the positions above it.")
'''),
        ])
        cells += needs(["workbook.diff:diff_rulesets"], [
            md("Everything that changed between the two dumps, rule by rule (counters aside). Calico and kube-proxy followed the pod to its new address; portmap added, and forgot to remove:"),
            code('''
changes = wb.diff_rulesets(before.ruleset, after.ruleset).frame
print(len(changes), "changes; the nat ones:")
changes.query("table == 'nat'")[["change", "chain", "spec"]]
'''),
        ])
        cells += needs(["workbook.widgets:HostportLab"], [
            md("Replay the incident step by step, from the first pod start to the fix:"),
            code("from workbook.widgets import HostportLab\nHostportLab()"),
        ])
    cells += [
        md("""
## 6 · The fix

**Prevent** it: bind-mount the checkpoint folder into the kubelet container, so that checkpoints
survive when the container is re-created. In RKE's `cluster.yml` (the post's fix; `:z` relabels
the folder for SELinux hosts; for 1.24+ with cri-dockerd, RKE ≥ v1.3.13 mounts
`/var/lib/cri-dockerd` itself):

```yaml
services:
  kubelet:
    extra_binds:
      - "/var/lib/dockershim:/var/lib/dockershim:z"
```

**Clean up** what already leaked, once: the duplicated jump, the stale entry and its chain (or
reboot the node, which rebuilds every rule from scratch):

```bash
iptables -t nat -L PREROUTING -n --line-numbers    # find the copy's number
iptables -t nat -D PREROUTING <number>             # the same for OUTPUT
iptables -t nat -L CNI-HOSTPORT-DNAT -n --line-numbers
iptables -t nat -D CNI-HOSTPORT-DNAT <number of the stale entry>
iptables -t nat -F CNI-DN-<its hash>; iptables -t nat -X CNI-DN-<its hash>
```
"""),
        md("""
### Exercise 4.6
True or false: after adding `extra_binds` and re-creating the kubelet, the stale entry that was
already there disappears on its own.
"""),
        code("answer = ...  # True or False"),
        code('''
check_answer("4.6 does the bind mount clean up", answer, expected=False,
             hint="The bind mount protects future checkpoints. Who would delete a rule that is already there?",
             explain="Old entries stay until you delete them or reboot the node.")
'''),
        md("Next: [05 · Istio and missing modules](05-istio-iptables-modules.ipynb)."),
    ]
    return cells


# =======================================================================================
# 05 istio iptables modules
# =======================================================================================
def nb05() -> list:
    ds = "datasets/istio-missing-modules"
    cells = [
        md(f"""
# 05 · Istio: `unable to initialize table 'nat'`

The seed post's first known issue ({SEED_CREDIT}; upstream: istio/istio#44118): pods with an
Istio sidecar never start, because the `istio-init` container keeps failing with

```
xtables parameter problem: iptables-restore: unable to initialize table 'nat'
```
"""),
        code(SETUP),
        md("""
### Background: two iptables in one kernel

`iptables` is a command; two different kernel subsystems can sit behind it:

* **legacy** (`iptables-legacy`): the x_tables subsystem. Each table is a kernel module:
  `ip_tables`, `iptable_nat`, `iptable_filter`, `iptable_mangle`, `iptable_raw`;
* **nf_tables** (`iptables-nft`): the same commands translated into nftables, served by
  `nf_tables`, `nft_chain_nat` and `nft_compat` (which runs the old `xt_*` matches).

The host and a container can disagree. `istio-init` runs the `iptables-restore` **of its own
image**; in the Istio versions of the issue that was the legacy one, so it needed the legacy
`iptable_nat` module. A host that only ever used iptables-nft never loaded it, and the init
container cannot load kernel modules itself.
"""),
        code('''
import graphviz
g = graphviz.Digraph(graph_attr={"rankdir": "LR"}, node_attr={"shape": "box", "style": "rounded"})
g.node("host", "host tools\\niptables v1.8 (nf_tables)")
g.node("init", "istio-init container\\niptables-restore (legacy)")
g.node("nft", "nf_tables\\nnft_chain_nat, nft_compat", style="rounded,filled", fillcolor="#e6f4ea")
g.node("xt", "x_tables\\nip_tables, iptable_nat", style="rounded,filled,dashed", fillcolor="#fdecea")
g.edge("host", "nft", label="loaded")
g.edge("init", "xt", label="needs: not loaded!", color="#c5221f", fontcolor="#c5221f")
g
'''),
    ]
    cells += needs(["workbook.parse.lsmod:parse_lsmod,Modules"], [
        md("""
## 1 · Read the node's modules

The post's `lsmod` on the EKS worker before the fix (quoted from the post; the post shows
these lines):
"""),
        code(pyconst("lsmod_before", SEED_LSMOD_BEFORE) + '''

mods = wb.parse(lsmod_before, format="lsmod")
mods.frame
'''),
        md("""
`Used by` tells who holds a module. `nf_tables` is used 354 times, `nft_compat` 169 times:
this host's rules live in nf_tables.
"""),
        code('''
LEGACY_TABLES = ["iptable_nat", "iptable_mangle", "iptable_filter", "iptable_raw"]
{m: (m in mods) for m in LEGACY_TABLES + ["nf_tables", "nft_compat"]}
'''),
        md("""
### Exercise 5.1
Which of the four legacy table modules (`iptable_nat`, `iptable_mangle`, `iptable_filter`,
`iptable_raw`) are **missing** from this lsmod? Give a list.
"""),
        code("answer = ...  # a list of module names"),
        code('''
check_answer("5.1 missing legacy tables", answer, expected=[m for m in LEGACY_TABLES if m not in mods],
             hint="Use `name in mods` for each one.")
'''),
    ])
    cells += [
        md("""
## 2 · The fix: load the modules at every boot

`systemd-modules-load` reads `/etc/modules-load.d/*.conf` at boot and loads every module
named there. The post writes one file and loads the modules once by hand so that no reboot
is needed:

```bash
cat > /etc/modules-load.d/istio-iptables.conf <<'EOF'
iptable_nat
iptable_mangle
iptable_filter
iptable_raw
EOF
for m in iptable_nat iptable_mangle iptable_filter iptable_raw; do modprobe $m; done
```

The fix in the Istio issue lists a few more that istio-init's rules use: `br_netfilter`,
`nf_nat`, `xt_REDIRECT` and `xt_owner`. (Another way out is Istio CNI, which writes the
rules from a node agent that uses the host's own iptables.)
"""),
    ]
    cells += needs(["workbook.parse.lsmod:parse_lsmod,Modules"], [
        md("And `lsmod` afterwards (quoted from the post; it shows the new lines):"),
        code(pyconst("lsmod_after", SEED_LSMOD_AFTER) + '''

mods_after = wb.parse(lsmod_after, format="lsmod")
mods_after.frame
'''),
        md("""
### Exercise 5.2
Right after `modprobe`, nothing uses the new modules yet. What is the `used_by_count` of
`iptable_nat` in the second lsmod?
"""),
        code("answer = ...  # a number"),
        code('''
used = mods_after.frame.set_index("module")["used_by_count"]
check_answer("5.2 iptable_nat users", answer, expected=int(used["iptable_nat"]),
             hint="Look at the `Used by` column, or at mods_after.frame.",
             explain="The count grows once istio-init creates its nat rules with the legacy backend.")
'''),
    ])
    cells += needs([f"{ds}/before/MANIFEST.json", f"{ds}/after/MANIFEST.json", "workbook.dump:load_dump"], [
        md("""
## 3 · The same node as two dumps

`datasets/istio-missing-modules` holds the EKS worker before and after the fix. First, what the
failing pod said (`kubectl logs <pod> -c istio-init`, kept in the dump's notes):
"""),
        code('''
broken = wb.load_dump(DATASETS / "istio-missing-modules" / "before")
fixed = wb.load_dump(DATASETS / "istio-missing-modules" / "after")
print(broken.text("notes/istio-init-error.txt"))
'''),
        md("""
The dump holds the host's rules as each tool shows them: `iptables` (the node's default binary,
which here is iptables-nft), `iptables-legacy`, and the same rules again in the `-L` and `-S`
notations. Count the rules in each:
"""),
        code('''
{name: len(r) for name, r in broken.rulesets.items()}
'''),
        md("""
### Exercise 5.3
Which backend holds this node's own rules: `nft` or `legacy`?
"""),
        code('answer = ...  # "nft" or "legacy"'),
        code('''
counts = {name: len(r) for name, r in broken.rulesets.items()}
legacy = sum(n for name, n in counts.items() if "legacy" in name)
check_answer("5.3 host backend", answer, expected="legacy" if legacy > 0 else "nft",
             hint="iptables-legacy-save shows nothing on this node.",
             explain="The kubelet even leaves a hint: its KUBE-IPTABLES-HINT chain sits in the nft mangle table.")
'''),
        md("""
What the fix changed in the kernel's module list (the rules did not change at all):
"""),
        code('''
added = sorted(fixed.modules.names - broken.modules.names)
added
'''),
        md("""
### Exercise 5.4
How many modules does the `after` lsmod list that the `before` one does not?
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("5.4 modules added by the fix", answer, expected=len(added),
             hint="Four were loaded by hand; one more came along as their dependency.",
             explain="ip_tables, the legacy core, is loaded as a dependency of the iptable_* modules.")
'''),
    ])
    both = have(f"{ds}/before/MANIFEST.json") and have(f"{ds}/after/MANIFEST.json") and have("workbook.dump:load_dump")
    if both:
        cells += needs(["workbook.draw:draw_chains"], [
            md("""
Once the modules were there, istio-init succeeded. Its rules live in the **pod's** network
namespace, not the host's; the dump kept them (`iptables-legacy-save` in the pod). Every
outgoing TCP connection is redirected to the sidecar on port 15001, every incoming one to 15006:
"""),
            code('''
pod = wb.parse(fixed.text("notes/istio-init-pod-iptables-legacy-save.txt"))
wb.draw_chains(pod, "nat")
'''),
        ])
        cells += needs(["workbook.checks:check"], [
            md("""
## 4 · Let the checks find it

The checks compare the modules with what the node's tools need, and explain the fix:
"""),
            code('''
broken_findings = wb.check(broken)
broken_findings
'''),
            code('''
fixed_findings = wb.check(fixed)
fixed_findings
'''),
            md("""
### Exercise 5.5
How many findings are left after the fix?
"""),
            code("answer = ...  # a number"),
            code('''
check_answer("5.5 findings after the fix", answer, expected=len(fixed_findings),
             hint="len(fixed_findings)")
'''),
        ])
    cells += needs(["workbook.widgets:ModuleChecker,missing_modules", "workbook.parse.lsmod:parse_lsmod"], [
        md("""
## 5 · Check your own node

The checker below starts with the post's lsmod. Replace it with the output of `lsmod` from one of
your nodes and press **Check**:
"""),
        code("from workbook.widgets import ModuleChecker\nModuleChecker(lsmod_before)"),
        md("""
### Exercise 5.6
Replace the text in the checker with the post's second lsmod (print it with
`print(lsmod_after)`), press **Check**: how many modules does it report missing now?
"""),
        code("answer = ...  # a number"),
        code('''
from workbook.widgets import missing_modules
check_answer("5.6 missing after the fix", answer, expected=len(missing_modules(lsmod_after)),
             hint="The second lsmod lists the four iptable_* modules.")
'''),
    ])
    cells += [md("Next: [06 · forensics of a node dump](06-forensics-of-a-node-dump.ipynb).")]
    return cells


# =======================================================================================
# 06 forensics
# =======================================================================================
def nb06() -> list:
    cells = [
        md("""
# 06 · Forensics of a node dump

At 3 a.m. you do not reproduce, you **collect**: save the node's rules, modules and addresses
once, then take them apart calmly. This notebook loads a dump, looks at it from a few angles
and lists what is wrong, with the commands that would fix it.
"""),
        code(SETUP),
        md("""
## 1 · What a dump is

A folder with one file per command and a `MANIFEST.json` saying which command produced which
file, when, and with which exit code (the **nfwb-dump/1** layout). The loader also reads
an EKS log-collector archive, a sosreport, or a plain folder of files.

Choose the dump here (this notebook is written for `datasets/eks-node`; any dump works):
"""),
        code('DUMP = DATASETS / "eks-node"', "parameters"),
    ]
    cells += needs(["datasets/eks-node/MANIFEST.json", "workbook.dump:load_dump"], [
        code('''
dump = wb.load_dump(DUMP)
print(dump.layout, "dump of", dump.manifest.get("host") if dump.manifest else "?", "—", len(dump.rulesets), "ruleset(s)")
import pandas as pd
pd.DataFrame(dump.manifest["files"])[["path", "command", "exit_code", "size"]] if dump.manifest else None
'''),
        md("""
### Exercise 6.1
`dump.node_ips` lists the addresses this node owns, read from `ip -o addr`. How many are there
(loopback and IPv6 included)? Print `dump.node_ips` to see them.
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("6.1 node addresses", answer, expected=len(dump.node_ips),
             hint="len(dump.node_ips)")
'''),
        md("""
## 2 · The rules as tables

The main IPv4 ruleset, its chains, and which component owns each rule:
"""),
        code("rs = dump.ruleset\nrs"),
        code('''
rules = rs.rules
rules.groupby(["table", "owner"], dropna=False).size().rename("rules").reset_index()
'''),
        md("""
### Exercise 6.2
Which chain of this node holds the **most** rules? (Any table.)
"""),
        code("answer = ...  # a chain name"),
        code('''
biggest = rs.chains.sort_values("rules", ascending=False).iloc[0]
check_answer("6.2 biggest chain", answer, expected=biggest["chain"],
             hint="Sort rs.chains by the rules column.")
'''),
    ])
    ok = have("datasets/eks-node/MANIFEST.json") and have("workbook.dump:load_dump")
    if ok:
        cells += needs(["workbook.draw:draw_hooks"], [
            md("### The node's hooks\n\nWhich chains of this node hang on which hook, drawn from its own tables:"),
            code("wb.draw_hooks(rs)"),
        ])
        cells += needs(["workbook.checks:check"], [
            md("""
## 3 · Findings

Each finding names the evidence (the rules or files that show it), who owns the rules, and
the exact commands that would fix it. Nothing is ever run for you.
"""),
            code('''
findings = wb.check(dump)
findings
'''),
            code("findings.frame"),
            md("""
A healthy node gives few or no findings. The other datasets are not healthy: check every dump
of the `datasets` folder in one go (with a progress bar):
"""),
            code('''
from tqdm.auto import tqdm
rows = []
for manifest in tqdm(sorted(DATASETS.glob("**/MANIFEST.json")), desc="checking dumps"):
    found = wb.check(wb.load_dump(manifest.parent))
    by_severity = found.frame["severity"].astype(str).value_counts().to_dict()
    rows.append({"dump": str(manifest.parent.relative_to(DATASETS)), "findings": len(found), **by_severity,
                 "titles": "; ".join(found.frame["title"].astype(str))})
sweep = pd.DataFrame(rows)
counts = [c for c in sweep.columns if c not in ("dump", "titles")]
sweep[counts] = sweep[counts].fillna(0).astype(int)
sweep[["dump", *counts, "titles"]]
'''),
            md("""
### Exercise 6.3
Which dump has the **most** findings? (Its folder name as in the `dump` column.)
"""),
            code("answer = ...  # e.g. \"eks-node\""),
            code('''
check_answer("6.3 most findings", answer, expected=sweep.sort_values("findings", ascending=False).iloc[0]["dump"],
             hint="Sort the sweep table by findings.")
'''),
        ])
        cells += needs(["workbook.widgets:DumpExplorer"], [
            md("## 4 · Explore and share\n\nBrowse tables, chains and rules, and filter them:"),
            code("from workbook.widgets import DumpExplorer\nDumpExplorer(dump)"),
        ])
        cells += needs(["workbook.widgets:TracerForm"], [
            md("Or trace a packet of your own:"),
            code('from workbook.widgets import TracerForm\nTracerForm(dump, src="192.168.3.98", dst="10.100.0.10", proto="udp", dport=53)'),
        ])
        cells += needs(["workbook.report:write_report"], [
            md("One self-contained HTML report with everything above, to attach to a ticket:"),
            code('''
from workbook.report import write_report
report = write_report(dump, Path("eks-node-report.html"))
print("written:", Path(report).resolve(), f"({Path(report).stat().st_size // 1024} KiB)")
'''),
            md("""
### Exercise 6.4
With the explorer, open the nat table's `AWS-SNAT-CHAIN-0` (the AWS VPC CNI's source NAT for
traffic leaving the VPC). How many rules does it have?
"""),
            code("answer = ...  # a number"),
            code('''
snat = rs.chains.query("table == 'nat' and chain == 'AWS-SNAT-CHAIN-0'")
check_answer("6.4 AWS-SNAT-CHAIN-0", answer, expected=int(snat["rules"].iloc[0]) if len(snat) else None,
             hint="Pick table nat and the chain in the explorer, or look in rs.chains.")
'''),
        ])
    cells += [
        md("""
## 5 · Collect from your own node

`workbook.collect` runs the same commands on your nodes over SSH (with paramiko) and writes the
same layout, one folder per host. Nothing on a node is changed: it only reads
(`iptables-save -c`, both backends, `lsmod`, `ip -o addr`, …).

The cell below is **off by default**: set `COLLECT = True` and fill in the host when you want
to use it. Collecting needs SSH access, usually as root or with `--sudo`.
"""),
        code('''
COLLECT = False                      # set to True to collect
HOSTS = ["root@192.0.2.10"]          # [user@]host[:port] of your nodes; several are collected in parallel
KEY = Path.home() / ".ssh" / "id_ed25519"

if COLLECT:
    from workbook.collect import collect_ssh
    results = collect_ssh(HOSTS, "my-node-dumps", identity=KEY)   # host keys checked against ~/.ssh/known_hosts
    for r in results:
        print(r)
    dump = results[0].load() if results[0].ok else dump   # then re-run the cells above on it
else:
    print("Collection is off (COLLECT = False). The same from a shell:")
    print(f"  nfwb collect --ssh {HOSTS[0]} --identity {KEY} -o my-node-dumps")
'''),
        md("""
### Exercise 6.5
Which file of an nfwb dump would you open to see the exact command that produced
`iptables/iptables-save.txt`?
"""),
        code("answer = ...  # a file name"),
        code('''
check_answer("6.5 which file", answer, expected="MANIFEST.json",
             hint="It lists every file with its command, time and exit code.")
'''),
        md("Next: [07 · live kernel lab](07-live-kernel-lab.ipynb)."),
    ]
    return cells


# =======================================================================================
# 07 live kernel lab
# =======================================================================================
def nb07() -> list:
    cells = [
        md("""
# 07 · Live kernel lab: the same packet, the real kernel

The tracer in these notebooks is a **simulator**: it reads the rules and reasons about them.
Is it right? Here the node's rules are loaded into throw-away **network namespaces** with the
real `iptables-restore`, the same packet is sent through the real kernel, and the kernel's own
trace says which rules it hit. Then both traces go side by side.
"""),
        code(SETUP),
        md("""
### Can this machine run the lab?

The lab needs **root on Linux**: it creates network namespaces and loads rules into them. On
Binder you are not root, so this notebook then shows a **recorded run**, made with the same
rules and the same packet on a Linux machine and stored in `recorded/lab-kube-dns.json`.
"""),
        code('''
import dataclasses, json, os, platform
IS_LINUX = platform.system() == "Linux"
IS_ROOT = IS_LINUX and os.geteuid() == 0
ON_BINDER = any(k in os.environ for k in ("BINDER_SERVICE_HOST", "BINDER_LAUNCH_HOST", "BINDER_REPO_URL"))
RUN_LAB = IS_ROOT and not ON_BINDER and os.environ.get("NFWB_NOTEBOOK_LAB", "1") != "0"
print(f"Linux: {IS_LINUX}, root: {IS_ROOT}, Binder: {ON_BINDER} → "
      + ("running the live lab" if RUN_LAB else "showing the recorded run"))
'''),
    ]
    base = ["datasets/eks-node/MANIFEST.json", "workbook.dump:load_dump", "workbook.trace:trace_packet"]
    cells += needs(base, [
        md("""
## 1 · The rules and the packet

The DNS query of notebook 03: the kube-ops-view pod (`192.168.3.98`, behind `eni5d1d36193a1`) asks kube-dns at `10.100.0.10:53`.
"""),
        code('''
dump = wb.load_dump(DATASETS / "eks-node")
rs = dump.ruleset
query = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
print(rs.summary())
'''),
        md("The simulator's answer:"),
        code('''
sim = wb.trace_packet(rs, query, node_ips=dump.node_ips)
sim
'''),
        md("""
### Exercise 7.1
How many different ways (branches) does the simulator say this query can go?
"""),
        code("answer = ...  # a number"),
        code('''
check_answer("7.1 simulator branches", answer, expected=len(sim.branches),
             hint="One branch per kube-dns pod.")
'''),
    ])
    ok = all(have(r) for r in base)
    rec = (HERE / "recorded" / "lab-kube-dns.json").exists()
    if ok:
        cells += [md("""
## 2 · The kernel's answer

Each run sends the query from a new source port, so it is a new connection and the kernel draws
its random number again. Eight runs (a fraction of a second each):
""")]
        cells += needs(["workbook.lab:Lab,kernel_agrees", "workbook.draw:draw_trace"], [
            code('''
from tqdm.auto import tqdm
from workbook.packet import Trace
if RUN_LAB:
    from workbook.lab import Lab
    lab_ips = [ip for ip in dump.node_ips if ":" not in ip and not ip.startswith("127.")]  # the node's IPv4 address(es)
    with Lab(rs, lab_ips) as lab:
        runs = [lab.trace(dataclasses.replace(query, sport=40000 + i)) for i in tqdm(range(8), desc="kernel runs")]
    print("live run on kernel", platform.release())
else:
    recorded = json.loads((Path("recorded") / "lab-kube-dns.json").read_text())
    runs = [Trace.from_json(r, source="kernel") for r in recorded["runs"]]
    print("recorded run:", {k: recorded[k] for k in ("recorded_at", "kernel", "iptables")})
kernel = runs[0]
kernel
'''),
            md("The first run, drawn: the kernel took exactly one of the two ways."),
            code("wb.draw_trace(kernel, rs)"),
            md("""
### Exercise 7.2
How many branches does **one** kernel trace have?
"""),
            code("answer = ...  # a number"),
            code('''
check_answer("7.2 kernel branches", answer, expected=len(kernel.branches),
             hint="A real packet cannot take both ways.",
             explain="The kernel drew its random number once: the simulator lists every possible future, the kernel lives one.")
'''),
        ])
    if ok and rec and have("workbook.lab:Lab,kernel_agrees"):
        cells += [
            md("""
## 3 · Side by side

Two traces "agree" when they hit the same rules in the same order and DNAT to the same address.
One difference in style: when a packet falls off the end of a user chain, the simulator writes a
`RETURN` step without a rule number, and the kernel's trace says nothing. Leave those out, then
compare (`workbook.lab.kernel_agrees` does exactly this):
"""),
            code('''
def rules_hit(branch):
    """(table, chain, rule number, action) of every step that matched, implicit returns left out."""
    return [(s.table, s.chain, s.position, s.action) for s in branch.steps
            if s.matched and not (s.position is None and s.action == "RETURN")]

from workbook.lab import kernel_agrees
rows = []
for i, run in enumerate(runs):
    same = [j for j, b in enumerate(sim.branches) if rules_hit(b) == rules_hit(run.branches[0])]
    rows.append({"run": i, "kernel DNAT": run.branches[0].dnat,
                 "simulator branch with the same path": same[0] if same else None,
                 "that branch's probability": sim.branches[same[0]].probability if same else None,
                 "agree": kernel_agrees(run, sim)[0]})
side = pd.DataFrame(rows)
side
'''),
            md("The first run, rule by rule, next to the simulator's matching branch:"),
            code('''
k_path = rules_hit(kernel.branches[0])
s_path = rules_hit(sim.branches[int(side.iloc[0]["simulator branch with the same path"] or 0)])
width = max(len(k_path), len(s_path))
fmt = lambda p: [f"{t} {c} #{n}: {a}" if n is not None else f"{t} {c}: {a}" for t, c, n, a in p] + [""] * (width - len(p))
pd.DataFrame({"kernel": fmt(k_path), "simulator": fmt(s_path)})
'''),
            md("""
### Exercise 7.3
In how many of the runs did the kernel send the query to `192.168.1.77:53`?
"""),
            code("answer = ...  # a number"),
            code('''
check_answer("7.3 runs to 192.168.1.77", answer, expected=int((side["kernel DNAT"] == "192.168.1.77:53").sum()),
             hint="Count the rows of the side-by-side table.",
             explain="With probability 0.5 per run, anything from 0 to 8 can happen; around 4 is most likely.")
'''),
            md("""
### Exercise 7.4
True or false: every kernel run followed one of the simulator's branches exactly.
"""),
            code("answer = ...  # True or False"),
            code('''
check_answer("7.4 do they agree", answer, expected=bool(side["agree"].all()),
             hint="Look at the agree column of the side-by-side table.")
'''),
        ]
    cells += [
        md("""
### How the lab works

1. It creates a few throw-away namespaces: a *client* per input interface (here one named like
   the pod's `eni…` interface), the *node* with the dump's rules and addresses, and a *sink*
   that answers for every address, so a DNATed packet has somewhere to go.
2. It loads the rules with `iptables-restore` and adds one `-j TRACE` rule in the raw table that
   matches only the test packet.
3. It sends the packet from the client and reads the kernel's trace events with
   `xtables-monitor --trace`: one line per rule the packet hit, with its verdict.
4. It deletes every namespace. Nothing on the host is touched.

From a shell (root only):
`nfwb lab trace datasets/eks-node --src 192.168.3.98 --dst 10.100.0.10 --proto udp --dport 53 --in-iface eni5d1d36193a1 --node-ip 192.168.3.215`.
The recording above was made with `notebooks/record_lab_run.py`.

That is the end of the workbook. Back to [00 · start here](00-start-here.ipynb).
"""),
    ]
    return cells


NOTEBOOKS = {
    "00-start-here": nb00,
    "01-netfilter-hooks": nb01,
    "02-tables-and-chains": nb02,
    "03-service-dnat-path": nb03,
    "04-dockershim-duplicate-hostport": nb04,
    "05-istio-iptables-modules": nb05,
    "06-forensics-of-a-node-dump": nb06,
    "07-live-kernel-lab": nb07,
}


def build(name: str):
    nb = new_notebook(cells=NOTEBOOKS[name]())
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name[:2]}-{i:02d}"  # stable ids: rebuilding does not churn the files
        if cell.cell_type == "code":
            cell.execution_count = None
            cell.outputs = []
    nbformat.validate(nb)
    return nb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a notebook would change")
    ap.add_argument("names", nargs="*", help="notebooks to build (default: all)")
    args = ap.parse_args(argv)
    changed = []
    for name in args.names or NOTEBOOKS:
        text = nbformat.writes(build(name)) + "\n"
        path = HERE / f"{name}.ipynb"
        if not path.exists() or path.read_text() != text:
            changed.append(path.name)
            if not args.check:
                path.write_text(text)
    missing = sorted(r for r, ok in _missing_cache.items() if not ok)
    print(("would change: " if args.check else "wrote: ") + (", ".join(changed) or "nothing"))
    if missing:
        print("sections waiting for: " + ", ".join(missing))
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
