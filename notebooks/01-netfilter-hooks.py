# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The five netfilter hooks
#
# Every IPv4 packet that enters, leaves or crosses a Linux node passes up to five checkpoints
# in the kernel: the netfilter **hooks**. iptables rules never run on their own; they run
# because a table registered itself on some of these hooks.

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ## 1 · Five checkpoints
#
# | hook | when the kernel calls it |
# |---|---|
# | **PREROUTING** | a packet has just arrived on an interface, *before* the routing decision |
# | **INPUT** | routing decided the packet is for this node; it is about to reach a local socket |
# | **FORWARD** | routing decided the packet is for another host (on a Kubernetes node: often a pod) |
# | **OUTPUT** | a process on this node created the packet |
# | **POSTROUTING** | the packet is about to leave through an interface, *after* routing |
#
# Because PREROUTING runs before routing, a rule there can change the destination (DNAT) and so
# change where the packet goes. POSTROUTING runs last, which is why source rewriting (SNAT,
# MASQUERADE) lives there.

# %% [markdown]
# The seed post draws the hooks like this (quoted from the post). The `[*]` marks are routing
# decisions. The `ingress` and `egress` boxes are hooks of the network device that only
# nftables can use; iptables works on the five boxes in between.
#
# ```
#              +================+      +=====================+
#              | hostNetwork IP |      | hostNetwork process |
#              +================+      +=====================+
#                          ^                |
#   -  -  -  -  -  -  -  - | -  -  -  -  - [*] -  -  -  -  -  -  -  -  -
#                          |                v
#                      +-------+        +--------+
#                      | input |        | output |
#                      +-------+        +--------+
#                          ^                |
#       +------------+     |   +---------+  v      +-------------+
#       | prerouting |-[*]-+-->| forward |--+-[*]->| postrouting |
#       +------------+         +---------+         +-------------+
#             ^                                           |
#  -  -  -  - | -  -  -  -  -  -  -  -  -  -  -  -  -  -  |  -  -  -  -
#             |                                           v
#        +---------+                                  +--------+
#    --->| ingress |                                  | egress |--->
#        +---------+                                  +--------+
# ```

# %% [markdown]
# The workbook draws the same picture, with the tables that sit on each hook:

# %%
wb.draw_hooks()

# %% [markdown]
# The library keeps the same facts in `workbook.netfilter`. The kernel names are the ones the
# seed post lists (`NF_IP_…`; today's kernels say `NF_INET_…`, as in the diagram); the tables are
# those that register on each hook, in the order a packet meets them:

# %%
import pandas as pd
from workbook import netfilter

KERNEL_NAME = {"PREROUTING": "NF_IP_PRE_ROUTING", "INPUT": "NF_IP_LOCAL_IN", "FORWARD": "NF_IP_FORWARD",
               "OUTPUT": "NF_IP_LOCAL_OUT", "POSTROUTING": "NF_IP_POST_ROUTING"}
pd.DataFrame([{"hook": h, "kernel name": KERNEL_NAME[h], "tables, in order": " → ".join(netfilter.tables_at(h))}
              for h in netfilter.HOOKS])

# %% [markdown]
# ### Exercise 1.1
# A packet arrives from the network for a process running on this node (say, the kubelet on
# port 10250). Which hooks does it pass, **in order**? Give a list of hook names.

# %%
answer = ...  # e.g. ["HOOK1", "HOOK2"]

# %%
check_answer("1.1 local delivery", answer,
             expected=netfilter.packet_path(from_node=False, local=True), ordered=True,
             hint="Look at the diagram: from the network card up to the local process.",
             common={("INPUT",): "INPUT is not the first: every packet from the network meets PREROUTING before routing.",
                     ("PREROUTING", "FORWARD", "INPUT"): "FORWARD is for packets routed *through* the node, not to it.",
                     ("INPUT", "PREROUTING"): "The right hooks, but PREROUTING comes first: it runs before routing."})

# %% [markdown]
# ## 2 · Tables on a hook, by priority
#
# A **table** groups rules by purpose:
#
# * **raw**: runs before connection tracking; used to exempt traffic from it;
# * **mangle**: changes packet marks and header fields;
# * **nat**: rewrites addresses (DNAT, SNAT, MASQUERADE, REDIRECT) and sees only the first packet of a connection;
# * **filter**: decides whether a packet may pass (ACCEPT, DROP, REJECT);
# * **security**: SELinux labels.
#
# Several tables can sit on the same hook. The kernel orders them by a **priority** number:
# the lowest runs first (raw −300, mangle −150, nat-for-destination −100, filter 0,
# security 50, nat-for-source 100).

# %% [markdown]
# Each hook with its tables and their priorities (an empty cell: that table is not on that hook):

# %%
prio = pd.DataFrame([{"hook": h, "table": t.table, "priority": t.priority}
                     for h, entries in netfilter.TABLES_AT_HOOK.items() for t in entries])
tidy(prio.pivot(index="hook", columns="table", values="priority").reindex(
    index=list(netfilter.HOOKS), columns=["raw", "mangle", "nat", "filter", "security"]))

# %% [markdown]
# ### Exercise 1.2
# In PREROUTING, which table sees a packet **first**?

# %%
answer = ...  # a table name

# %%
check_answer("1.2 first table in PREROUTING", answer,
             expected=netfilter.tables_at("PREROUTING")[0],
             hint="The lowest priority number runs first.",
             common={"nat": "nat's −100 is low, but raw's −300 is lower still: the lowest number runs first.",
                     "filter": "filter is not on PREROUTING at all (see the empty cell).",
                     "mangle": "mangle (−150) runs early, but raw (−300) runs earlier."},
             explain="raw runs before connection tracking, which is what it is for.")

# %% [markdown]
# ### Exercise 1.3
# On how many of the five hooks does the **nat** table have a chain?

# %%
answer = ...  # a number

# %%
check_answer("1.3 hooks with nat", answer,
             expected=sum("nat" in netfilter.tables_at(h) for h in netfilter.HOOKS),
             hint="Count the hooks whose row has a nat priority in the table above.",
             common={5: "Look at FORWARD's row: nat has no chain there.",
                     2: "Destination NAT in PREROUTING and OUTPUT, source NAT in INPUT and POSTROUTING: count again."},
             explain="Not FORWARD: nat rewrites addresses before routing (DNAT) or after it (SNAT).")

# %% [markdown]
# ## 3 · Three journeys
#
# The routing decision splits the picture into three paths:
#
# 1. **to this node**: PREROUTING → INPUT;
# 2. **through this node** (to a pod, or to another host): PREROUTING → FORWARD → POSTROUTING;
# 3. **from this node**: OUTPUT → POSTROUTING.

# %% [markdown]
# The journey **through** this node, drawn: a packet from `192.168.3.10` to `10.0.0.9`, on a node
# whose address is `192.168.3.215` and whose filter table has no rules (so only the policies speak).
#
# ### Predict 1.a
# Before you run the trace: how many of the five hooks will this packet pass?

# %%
prediction = ...  # a number

# %%
no_rules = wb.parse("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n")
through = wb.trace_packet(no_rules, wb.Packet("192.168.3.10", "10.0.0.9", "tcp", dport=80), node_ips=["192.168.3.215"])
wb.draw_hooks(no_rules, trace=through)

# %%
check_prediction("1.a hooks on the way through", prediction,
                 outcome=len(netfilter.path_for(through.packet, ["192.168.3.215"])),  # the path the drawing shows
                 why="PREROUTING, then routing sends it on (FORWARD), then POSTROUTING: INPUT and OUTPUT "
                     "are only for packets to and from the node itself.",
                 common={5: "A packet passes only the hooks on its own path, not all five.",
                         2: "Between PREROUTING and POSTROUTING there is FORWARD: routing decided "
                            "the packet is for another host."})

# %% [markdown]
# All three journeys, as the library computes them:

# %%
import pandas as pd
journeys = {
    "to this node": dict(local=True, from_node=False),
    "through this node": dict(local=False, from_node=False),
    "from this node": dict(local=False, from_node=True),
}
pd.DataFrame([{"journey": name, "hooks": " → ".join(netfilter.packet_path(**kw))}
              for name, kw in journeys.items()])

# %% [markdown]
# ### Exercise 1.4
# A pod on this node sends a DNS query to a pod on another node. The query leaves the pod's
# network namespace, enters the node through the pod's veth interface and leaves through
# `eth0`. For the **node's** netfilter, which hooks does it pass, in order?

# %%
answer = ...  # a list of hook names

# %%
check_answer("1.4 pod to remote pod", answer,
             expected=netfilter.packet_path(from_node=False, local=False), ordered=True,
             hint="For the node, the pod is just another host behind an interface: the packet is forwarded.",
             common={("OUTPUT", "POSTROUTING"): "The pod is not the node: its packet arrives on the pod's veth "
                                                "like any packet from the network.",
                     ("PREROUTING", "INPUT"): "INPUT is for packets addressed to the node; this one is for "
                                              "a pod on another node."})

# %% [markdown]
# ## 4 · nat sees only the first packet
#
# Connection tracking (conntrack) remembers every connection. The nat table is consulted only
# for the **first** packet of a connection (conntrack state `NEW`); the translation it chose is
# then applied to every later packet of that connection without looking at the rules again.
#
# That is why changing a nat rule does not affect connections that are already open, and why
# kube-proxy can change endpoints without breaking existing connections.

# %% [markdown]
# Let us check it with the tracer: a tiny nat table with one DNAT rule, and the same packet
# once as the first packet of a connection and once as a later one.
#
# ### Predict 1.b
# Before you run the traces: how many nat rules will the tracer evaluate for the **later**
# packet (conntrack state `ESTABLISHED`)?

# %%
prediction = ...  # a number

# %%
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
wb.draw_hooks(tiny, trace=first)

# %% [markdown]
# The first packet, step by step: nat PREROUTING rewrites the destination to the pod.

# %%
first

# %% [markdown]
# And the later packet of the same connection:

# %%
print("\n".join(later.branches[0].notes))
print("rules evaluated:", len(later.steps))

# %%
check_prediction("1.b nat rules for a later packet", prediction,
                 outcome=int((later.steps["table"] == "nat").sum()),
                 why="conntrack knows the connection: nat is consulted for the first packet only.",
                 common={1: "The DNAT rule matched the first packet; for the later ones the kernel does "
                            "not look at the nat rules again."})

# %% [markdown]
# ### Exercise 1.5
# kube-proxy moves a Service to a new pod by rewriting its nat rules. True or false: the
# packets of a connection that is **already open** follow the new rules at once.

# %%
answer = ...  # True or False

# %%
check_answer("1.5 open connections and new nat rules", answer,
             expected=bool((later.steps["table"] == "nat").any()),  # would a later packet even see the rules?
             hint="Look at the later packet's trace above: which nat rules did it meet?",
             common={True: "The rules change, but a later packet never reaches them: conntrack keeps "
                           "the translation chosen for the first packet."},
             explain="conntrack already knows this connection and applies the DNAT chosen for its first packet; "
                     "only new connections see the new rules.")

# %% [markdown]
# Next: [02 · tables and chains](02-tables-and-chains.ipynb).
