# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Live kernel lab: the same packet, the real kernel
#
# The tracer in these notebooks is a **simulator**: it reads the rules and reasons about them.
# Is it right? Here the node's rules are loaded into throw-away **network namespaces** with the
# real `iptables-restore`, the same packet is sent through the real kernel, and the kernel's own
# trace says which rules it hit. Then both traces go side by side.

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ### Can this machine run the lab?
#
# The lab needs **root on Linux**, **network namespaces**, and a few tools (`ip`, `nft`,
# `iptables-nft`, `xtables-monitor`, `conntrack`). Where any of that is missing (on Binder you are
# not root, a container may forbid namespaces), this notebook shows a **recorded run** instead,
# made with the same rules and the same packet on a Linux machine (`recorded/lab-kube-dns.json`),
# and says why in one line. Nothing below fails either way.

# %%
from workbook.lessons.lab_runs import kernel_runs, live_lab_unavailable

print(live_lab_unavailable() or "this machine can run the live lab")

# %% [markdown]
# ## 1 · The rules and the packet
#
# The DNS query of notebook 03: the kube-ops-view pod (`192.168.3.98`, behind `eni5d1d36193a1`) asks kube-dns at `10.100.0.10:53`.

# %%
dump = wb.load_dump(DATASETS / "eks-node")
rs = dump.ruleset
query = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
print(rs.summary())

# %% [markdown]
# ### Predict 7.a
# Before you run the simulator: what share of new queries will it send to `192.168.1.77:53`?

# %%
prediction = ...  # a number between 0 and 1, or a percentage

# %% [markdown]
# The simulator's answer:

# %%
sim = wb.trace_packet(rs, query, node_ips=dump.node_ips)
sim

# %%
check_prediction("7.a the simulator's share", prediction, outcome=sim.destinations.get("192.168.1.77:53", 0.0),
                 why="two kube-dns endpoints: the first KUBE-SEP jump has probability 0.5 (notebook 03).",
                 common={1: "The simulator does not pick one way: it lists every way with its probability."})

# %% [markdown]
# ### Exercise 7.1
# How many different ways (branches) does the simulator say this query can go?

# %%
answer = ...  # a number

# %%
check_answer("7.1 simulator branches", answer, expected=len(sim.branches),
             hint="One branch per kube-dns pod.",
             common={1: "The simulator keeps every possible way; it is the kernel that takes one."})

# %% [markdown]
# ## 2 · The kernel's answer
#
# Each run sends the query from a new source port, so it is a new connection and the kernel draws
# its random number again. Eight runs (a fraction of a second each).
#
# ### Predict 7.b
# Before you run the kernel: will **every** one of the eight runs DNAT the query to one of the two
# endpoints the simulator listed? `True` or `False`.

# %%
prediction = ...  # True or False

# %%
lab = kernel_runs(rs, query, dump.node_ips, count=8)
runs = lab.runs
lab

# %%
check_prediction("7.b every run to a listed endpoint", prediction,
                 outcome=all(r.branches[0].dnat in sim.destinations for r in runs),
                 why="the kernel draws at random, but only among the rules that are there: each run lands on "
                     "192.168.1.77:53 or 192.168.2.64:53, in some order of its own.",
                 common={False: "Random is not arbitrary: the statistic match only chooses between the two "
                                "KUBE-SEP jumps."})

# %% [markdown]
# The first run, step by step:

# %%
kernel = runs[0]
kernel

# %% [markdown]
# The first run, drawn: the kernel took exactly one of the two ways.

# %%
wb.draw_trace(kernel, rs)

# %% [markdown]
# ### Exercise 7.2
# How many branches does **one** kernel trace have?

# %%
answer = ...  # a number

# %%
check_answer("7.2 kernel branches", answer, expected=len(kernel.branches),
             hint="A real packet cannot take both ways.",
             common={2: "Two is the simulator's count; one real packet takes one way."},
             explain="The kernel drew its random number once: the simulator lists every possible future, the kernel lives one.")


# %% [markdown]
# ## 3 · Side by side
#
# Two traces "agree" when they hit the same rules in the same order and DNAT to the same address.
# One difference in style: when a packet falls off the end of a user chain, the simulator writes a
# `RETURN` step without a rule number, and the kernel's trace says nothing. Leave those out, then
# compare. `Branch.matched_path()` gives a branch's rules that way, and `workbook.lab.kernel_agrees`
# compares a kernel trace with the simulator's branches:

# %%
from workbook.lab import kernel_agrees

rows = []
for i, run in enumerate(runs):
    same = [j for j, b in enumerate(sim.branches) if b.matched_path() == run.branches[0].matched_path()]
    rows.append({"run": i, "kernel DNAT": run.branches[0].dnat,
                 "simulator branch with the same path": same[0] if same else "none",
                 "that branch's probability": f"{sim.branches[same[0]].probability:.0%}" if same else "",
                 "agree": kernel_agrees(run, sim)[0]})
side = pd.DataFrame(rows)
side

# %% [markdown]
# The first run, rule by rule, next to the simulator's matching branch:

# %%
first_match = side.iloc[0]["simulator branch with the same path"]
k_path = kernel.branches[0].matched_path()
s_path = sim.branches[first_match if first_match != "none" else 0].matched_path()
width = max(len(k_path), len(s_path))


def as_lines(path):
    lines = [f"{t} {c} #{n}: {a}" if n is not None else f"{t} {c}: {a}" for t, c, n, a in path]
    return lines + [""] * (width - len(lines))


pd.DataFrame({"kernel": as_lines(k_path), "simulator": as_lines(s_path)})

# %% [markdown]
# ### Exercise 7.3
# In how many of the runs did the kernel send the query to `192.168.1.77:53`?

# %%
answer = ...  # a number

# %%
check_answer("7.3 runs to 192.168.1.77", answer, expected=int((side["kernel DNAT"] == "192.168.1.77:53").sum()),
             hint="Count the rows of the side-by-side table.",
             common={4: "4 is what you would expect on average; count what this run actually did."},
             explain="With probability 0.5 per run, anything from 0 to 8 can happen; around 4 is most likely.")

# %% [markdown]
# ### Exercise 7.4
# True or false: every kernel run followed one of the simulator's branches exactly.

# %%
answer = ...  # True or False

# %%
check_answer("7.4 do they agree", answer, expected=bool(side["agree"].all()),
             hint="Look at the agree column of the side-by-side table.",
             common={False: "Different runs went different ways, but each one matched *some* simulator branch."})

# %% [markdown]
# ### How the lab works
#
# 1. It creates a few throw-away namespaces: a *client* per input interface (here one named like
#    the pod's `eni…` interface), the *node* with the dump's rules and addresses, and a *sink*
#    that answers for every address, so a DNATed packet has somewhere to go.
# 2. It loads the rules with `iptables-restore` and adds one `-j TRACE` rule in the raw table that
#    matches only the test packet.
# 3. It sends the packet from the client and reads the kernel's trace events with
#    `xtables-monitor --trace`: one line per rule the packet hit, with its verdict.
# 4. It deletes every namespace. Nothing on the host is touched.
#
# From a shell (root only):
# `nfwb lab trace datasets/eks-node --src 192.168.3.98 --dst 10.100.0.10 --proto udp --dport 53 --in-iface eni5d1d36193a1 --node-ip 192.168.3.215`.
# The recording above was made with `notebooks/record_lab_run.py`.
#
# That is the end of the workbook. Back to [00 · start here](00-start-here.ipynb).
