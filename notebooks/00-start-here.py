# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · Start here
#
# This workbook shows how Linux **netfilter** and **iptables** move packets on a Kubernetes node,
# and how to take apart the rules you find on a real node when something breaks.
#
# The story and its command outputs come from the Korean blog post *[AWS EKS] (5) EKS 스터디 2주차 ( iptables - CNI HOST PORT CHAIN )*, written for the CloudNet@ team's AEWS study (2nd cohort). The post walks from netfilter
# hooks to kube-proxy's Service rules and then to two production incidents. We quote its
# command outputs (captured on an EKS worker node and on an on-prem cluster) and credit the post
# wherever they appear; the explanations and exercises are our own. (The post also borrows a
# Service diagram from velog.io/@gyomang; we draw our own diagrams instead.)
#
# The node dumps in `datasets/` are built around those real outputs; `datasets/README.md` says
# file by file what is copied from the post and what is reconstructed.

# %% [markdown]
# ## The map
#
# | notebook | the question it answers |
# |---|---|
# | [01 · netfilter hooks](01-netfilter-hooks.ipynb) | Where in the kernel do iptables rules run, and in which order? |
# | [02 · tables and chains](02-tables-and-chains.ipynb) | How do I read `iptables -S` output? What is a policy, a chain, a jump? |
# | [03 · the Service DNAT path](03-service-dnat-path.ipynb) | How does a packet to a ClusterIP reach a pod? (`KUBE-SERVICES → KUBE-SVC → KUBE-SEP`) |
# | [04 · duplicated CNI-HOSTPORT-DNAT](04-dockershim-duplicate-hostport.ipynb) | Why did hostPort (ingress) traffic break around the Kubernetes 1.23 → 1.24 upgrade? |
# | [05 · Istio and missing modules](05-istio-iptables-modules.ipynb) | What does `unable to initialize table 'nat'` mean, and how is it fixed? |
# | [06 · forensics of a node dump](06-forensics-of-a-node-dump.ipynb) | I have a folder of command outputs from a node: what is wrong? |
# | [07 · live kernel lab](07-live-kernel-lab.ipynb) | Does the real kernel agree with the simulator? |
#
# Go in order the first time; later, jump straight to the incident you care about.

# %% [markdown]
# ## How these notebooks work
#
# * Run the cells from top to bottom (**Shift + Enter**). Each cell does one thing.
# * **Predict, then run.** Before a packet is traced, a *Predict* cell asks what you expect:
#   write it in `prediction = ...`, then run the trace, then the cell that compares the two. A
#   wrong guess you can explain afterwards teaches more than a right one you did not make.
# * Each section ends with an **exercise**: a cell with `answer = ...`. Replace the `...`
#   with your answer and run it.
# * The **self-check** cell below it compares your answer with what the data says. It never
#   fails: with no answer yet it gives a hint; a known wrong answer gets a word on why it is
#   wrong; after three wrong tries it shows the answer. An answer it cannot read (a word where
#   a number is asked) is explained and does **not** count as a try.
# * Write answers the way you would say them: `True`/`False`, `"yes"`/`"no"` or `"참"`/`"거짓"`,
#   `"예"`/`"아니오"`; `0.5`, `"50%"` or `"1/2"`; a list as `["PREROUTING", "INPUT"]` or
#   `"PREROUTING → INPUT"`. Upper or lower case does not matter.
# * **Break it yourself** cells change a copy of a node's rules or modules (never your own
#   machine's) so you can watch the findings and the traces change.
# * Long-running cells show a progress bar.

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ## Check your environment
#
# The notebooks need pandas for tables, graphviz (the Python package *and* the `dot` program)
# for diagrams, and ipywidgets for the interactive explorers.

# %%
import platform, shutil
import graphviz, ipywidgets, pandas as pd

pd.DataFrame({
    "part": ["Python", "workbook", "pandas", "graphviz (Python)", "dot (graphviz program)", "ipywidgets"],
    "version": [platform.python_version(), wb.__version__, pd.__version__, graphviz.__version__,
                ".".join(map(str, graphviz.version())) if shutil.which("dot") else "MISSING: install graphviz",
                ipywidgets.__version__],
})

# %% [markdown]
# If the diagram below shows three boxes joined by arrows, graphviz works. This is the path
# of a packet that arrives from the network for a process on the node itself.

# %%
g = graphviz.Digraph(graph_attr={"rankdir": "LR"}, node_attr={"shape": "box", "style": "rounded"})
g.edge("network card", "PREROUTING")
g.edge("PREROUTING", "INPUT", label="routing: for this node")
g.edge("INPUT", "local process")
g

# %% [markdown]
# If a drop-down appears below, widgets work too. Pick what you want to do and it points you
# to the right notebook.

# %%
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

# %% [markdown]
# ### Exercise 0.0
# Use the drop-down: which notebook explains Istio's `unable to initialize table 'nat'`? Answer
# with its number.

# %%
answer = ...  # a number

# %%
check_answer("0.0 where is Istio", answer,
             expected=int(next(nb for g, nb in GOALS.items() if "Istio" in g)[:2]),
             hint="Pick the goal that mentions Istio and read the file name it shows.",
             common={4: "04 is the other incident of the post, the duplicated hostPort rules.",
                     1: "01 explains the hooks; the Istio error is about a missing kernel module."})

# %% [markdown]
# ## Your first ruleset
#
# On the EKS worker node, the post's author ran `iptables -t nat -S` and kept the first four
# lines. They are the **policies** (`-P`) of the nat table's built-in chains (quoted from the post):

# %%
nat_s = r"""
-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT
"""

nat = wb.parse(nat_s)
nat

# %% [markdown]
# `wb.parse` recognised the format on its own and returned a `Ruleset`. Every ruleset can
# show itself as a pandas table: here, one row per chain.

# %%
tidy(nat.chains)

# %% [markdown]
# ### Exercise 0.1
# How many **built-in** chains does the nat table have, according to these lines?

# %%
answer = ...  # a number

# %%
check_answer("0.1 built-in nat chains", answer,
             expected=int(nat.chains.query("table == 'nat'")["builtin"].sum()),
             hint="Each -P line sets the policy of one built-in chain.",
             common={5: "There are five hooks, but nat has no chain on FORWARD: count the -P lines."},
             explain="PREROUTING, INPUT, OUTPUT and POSTROUTING: nat works on four of the five hooks.")

# %% [markdown]
# Next: [01 · netfilter hooks](01-netfilter-hooks.ipynb).
