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
# Setup: the workbook library, pandas, the self-check and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.exercises import check_answer
from workbook.lesson import setup

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
from workbook.lab_runs import kernel_runs, live_lab_unavailable

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
# The simulator's answer:

# %%
sim = wb.trace_packet(rs, query, node_ips=dump.node_ips)
sim

# %% [markdown]
# ### Exercise 7.1
# How many different ways (branches) does the simulator say this query can go?

# %%
answer = ...  # a number

# %%
check_answer("7.1 simulator branches", answer, expected=len(sim.branches),
             hint="One branch per kube-dns pod.")

# %% [markdown]
# ## 2 · The kernel's answer
#
# Each run sends the query from a new source port, so it is a new connection and the kernel draws
# its random number again. Eight runs (a fraction of a second each):

# %%
lab = kernel_runs(rs, query, dump.node_ips, count=8)
runs = lab.runs
lab

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
             explain="The kernel drew its random number once: the simulator lists every possible future, the kernel lives one.")


# %% [markdown]
# ## 3 · Side by side
#
# Two traces "agree" when they hit the same rules in the same order and DNAT to the same address.
# One difference in style: when a packet falls off the end of a user chain, the simulator writes a
# `RETURN` step without a rule number, and the kernel's trace says nothing. Leave those out, then
# compare (`workbook.lab.kernel_agrees` does exactly this):

# %%
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

# %% [markdown]
# The first run, rule by rule, next to the simulator's matching branch:

# %%
k_path = rules_hit(kernel.branches[0])
s_path = rules_hit(sim.branches[int(side.iloc[0]["simulator branch with the same path"] or 0)])
width = max(len(k_path), len(s_path))
fmt = lambda p: [f"{t} {c} #{n}: {a}" if n is not None else f"{t} {c}: {a}" for t, c, n, a in p] + [""] * (width - len(p))
pd.DataFrame({"kernel": fmt(k_path), "simulator": fmt(s_path)})

# %% [markdown]
# ### Exercise 7.3
# In how many of the runs did the kernel send the query to `192.168.1.77:53`?

# %%
answer = ...  # a number

# %%
check_answer("7.3 runs to 192.168.1.77", answer, expected=int((side["kernel DNAT"] == "192.168.1.77:53").sum()),
             hint="Count the rows of the side-by-side table.",
             explain="With probability 0.5 per run, anything from 0 to 8 can happen; around 4 is most likely.")

# %% [markdown]
# ### Exercise 7.4
# True or false: every kernel run followed one of the simulator's branches exactly.

# %%
answer = ...  # True or False

# %%
check_answer("7.4 do they agree", answer, expected=bool(side["agree"].all()),
             hint="Look at the agree column of the side-by-side table.")

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
