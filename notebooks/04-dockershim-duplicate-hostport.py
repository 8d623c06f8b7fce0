# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · A duplicated `CNI-HOSTPORT-DNAT` after dockershim's removal
#
# The second half of the seed post (the Korean blog post *[AWS EKS] (5) EKS 스터디 2주차 ( iptables - CNI HOST PORT CHAIN )*, written for the CloudNet@ team's AEWS study (2nd cohort)) is an incident on a private-cloud cluster
# (RKE, Calico, an ingress controller exposed with `hostPort`). After an upgrade, ingress
# traffic failed, and `iptables -t nat -L PREROUTING` showed the same jump **twice**.

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ### Background: how a hostPort works
#
# A pod with `hostPort: 80` asks the CNI **portmap** plugin to forward the node's port 80 to the
# pod. portmap writes nat rules:
#
# * in PREROUTING and OUTPUT, one jump `-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT`
#   ("for any address of this node, look at the hostPort table");
# * in `CNI-HOSTPORT-DNAT`, one entry per pod (`dnat name: … id: <container>`) that jumps to a
#   per-pod `CNI-DN-…` chain;
# * in `CNI-DN-…`, the DNAT to `podIP:containerPort`.
#
# When the pod goes away, the runtime calls portmap's DEL with the pod's port mappings, and
# portmap removes that pod's rules. If the runtime has **forgotten** the mappings, DEL
# removes nothing.

# %% [markdown]
# ## 1 · What the post saw
#
# nat PREROUTING on the worker, after the incident (quoted from the post; the last line is the
# duplicate):

# %%
prerouting_L = r"""
Chain PREROUTING (policy ACCEPT 0 packets, 0 bytes)
 pkts bytes target     prot opt in     out     source               destination
  42M 5365M cali-PREROUTING  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* cali:6gwbT8clXdHdC1b1 */
  42M 5365M KUBE-SERVICES  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kubernetes service portals */
  13M 2085M DOCKER     all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
  13M 2085M CNI-HOSTPORT-DNAT  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
    0     0 CNI-HOSTPORT-DNAT  all  --  *      *       0.0.0.0/0            0.0.0.0/0            ADDRTYPE match dst-type LOCAL
"""

seen = wb.parse(prerouting_L, format="listing")
tidy(seen.rules[["position", "target", "pkts", "bytes", "spec"]])

# %% [markdown]
# ### Exercise 4.1
# How many rules of PREROUTING jump to `CNI-HOSTPORT-DNAT`?

# %%
answer = ...  # a number

# %%
check_answer("4.1 jumps to CNI-HOSTPORT-DNAT", answer,
             expected=int((seen.rules["target"] == "CNI-HOSTPORT-DNAT").sum()),
             hint="Count the rows whose target is CNI-HOSTPORT-DNAT.",
             common={1: "Read to the last line: it jumps to CNI-HOSTPORT-DNAT too, with 0 packets."},
             explain="The second copy has 0 packets: it was added recently.")

# %% [markdown]
# ### Background: why the mappings were lost
#
# Up to Kubernetes 1.23 the kubelet contained **dockershim**. For each pod sandbox it kept a
# checkpoint file with the pod's port mappings in `/var/lib/dockershim/sandbox/<sandbox-id>`.
# At teardown it read the file and handed the mappings to CNI DEL.
#
# RKE runs the kubelet **inside a container**. `/var/lib/dockershim` was not bind-mounted from
# the host, so the checkpoints lived in the container's own filesystem and vanished whenever
# the kubelet container was re-created (an upgrade, a changed argument). The next teardown
# found no checkpoint, sent DEL without mappings, and portmap left the old rules in place; the
# re-created pod then added its rules *again*.
#
# Kubernetes 1.24 removed dockershim, so the problem is specific to clusters that still run
# dockershim (up to 1.23) or move from 1.23 to 1.24.

# %% [markdown]
# ## 2 · Before and after, from two node dumps
#
# `datasets/onprem-dup-hostport` holds two dumps of such a worker: `before` the kubelet
# container was re-created, and `after` the hostPort pod was restarted.

# %%
before = wb.load_dump(DATASETS / "onprem-dup-hostport" / "before")
after = wb.load_dump(DATASETS / "onprem-dup-hostport" / "after")
print("before:", before.ruleset.summary())
print("after: ", after.ruleset.summary())

# %% [markdown]
# nat PREROUTING after the restart and the chains it jumps to (the red arrow is the copy):

# %%
wb.draw_chains(after.ruleset, "nat", "PREROUTING", depth=1)

# %% [markdown]
# ### Exercise 4.2
# In the `after` dump, how many rules in nat PREROUTING jump to `CNI-HOSTPORT-DNAT`?

# %%
answer = ...  # a number

# %%
pre = after.ruleset.rules.query("table == 'nat' and chain == 'PREROUTING'")
check_answer("4.2 jumps after", answer, expected=int((pre["target"] == "CNI-HOSTPORT-DNAT").sum()),
             hint="Filter after.ruleset.rules to table nat, chain PREROUTING.",
             common={1: "The drawing shows two arrows into CNI-HOSTPORT-DNAT: the copy is there in the dump too."})

# %% [markdown]
# ## 3 · The real damage is one level down
#
# The duplicated jump only makes the kernel walk `CNI-HOSTPORT-DNAT` twice with the same result.
# What breaks the ingress is **inside** that chain: one entry per container, each tagged with the
# container id. Compare the two dumps (note the packet counters):

# %%
import re
def hostport_entries(d):
    r = d.ruleset.rules.query("table == 'nat' and chain == 'CNI-HOSTPORT-DNAT'").copy()
    r["container id"] = r["comment"].str.extract(r'id: "([0-9a-f]+)"', expand=False).str[:12]
    return r[["position", "container id", "target", "pkts"]]

tidy(pd.concat([hostport_entries(before).assign(dump="before"), hostport_entries(after).assign(dump="after")])
     .set_index(["dump", "position"]))

# %% [markdown]
# In `after` there are two entries for the same ports. The first one still counts connections;
# the new one has counted none: the kernel uses the **first** entry that matches.
#
# Which containers does the kubelet still know? The dump kept `ls -la /var/lib/dockershim/sandbox`,
# one checkpoint file per live pod sandbox:

# %%
for name, d in [("before", before), ("after", after)]:
    print(f"--- {name}:"); print(d.text("kubelet/dockershim-sandbox.txt") or "(not collected)")

# %% [markdown]
# ### Exercise 4.3
# Which container id (its first 12 characters) has an entry in `CNI-HOSTPORT-DNAT` in `after`,
# but **no** checkpoint file any more? That is the stale entry.

# %%
answer = ...  # 12 hex characters

# %%
live = set(re.findall(r"\b([0-9a-f]{64})\b", after.text("kubelet/dockershim-sandbox.txt") or ""))
stale = [cid for cid in hostport_entries(after)["container id"] if not any(l.startswith(cid) for l in live)]
check_answer("4.3 the stale container", answer, expected=stale[0] if stale else None,
             hint="Compare the container ids of the entries with the file names in the sandbox listing.",
             common={"4ec72be6d83d": "4ec72be6d83d is the **new** pod: its checkpoint file is there (May 17). "
                                     "Look for the entry whose file is missing."},
             explain="Its pod is gone, but its DNAT rule is still first in line.")

# %% [markdown]
# ## 4 · Where does a request to port 80 go?
#
# Trace a new connection from a client (`10.10.10.10`) to the node's port 80 in both dumps, and
# look at the address the first packet is DNATed to. The tracer is also given the node's routes
# (`network/ip-route.txt` of each dump, what `ip route` printed): after PREROUTING the kernel looks
# the (DNATed) destination up in them, like the tracer does, to choose the interface the packet
# leaves on, or to drop it when there is no usable route.
#
# ### Predict 4.a
# Before you run the traces: in the `after` dump, what **verdict** does a new connection to the
# node's port 80 get? `"ACCEPT"` or `"DROP"`.

# %%
prediction = ...  # "ACCEPT" or "DROP"

# %%
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
tidy(where)

# %%
check_prediction("4.a port 80 after the restart", prediction, outcome=", ".join(traces["after"].verdicts),
                 why="the stale entry DNATs to the old pod's address, and the only route left for it is "
                     "Calico's blackhole for the block: the kernel drops the packet right after PREROUTING.",
                 common={"ACCEPT": "No rule drops it, true, and the policies all say ACCEPT; but after PREROUTING "
                                   "comes routing, and the old pod's address has no route but a blackhole."})

# %% [markdown]
# Before, `10.42.134.75` is the ingress pod and has its own route, `10.42.134.75 dev cali6968104dfaa`:
# the packet leaves towards the pod's veth. After the restart the old pod and its veth are gone, so
# is its `/32` route. The longest prefix that still matches is Calico's route for the node's whole
# address block, `blackhole 10.42.134.64/26` (Calico adds it so that addresses of the block that
# no pod holds go nowhere). The verdict of the `after` trace:

# %%
t = traces["after"]
print("verdict:", ", ".join(t.verdicts))
last = [s for s in t.branches[0].steps if s.matched][-1]
print("last rule hit:", last.hook, last.table, last.chain, f"#{last.position}", last.action)
print("then:", routing(t))

# %% [markdown]
# The kernel drops the first packet (the SYN) right after PREROUTING, without a rule and without
# an answer: a blackhole route sends no ICMP error back, so clients of the ingress **time out**
# instead of being refused. No FORWARD rule, no counter in the filter table shows it; only the
# counter of the stale `CNI-DN-…` chain keeps growing.

# %% [markdown]
# And the address the **new** pod's entry would have used:

# %%
new_chain = hostport_entries(after).iloc[-1]["target"]
tidy(after.ruleset.rules.query("table == 'nat' and chain == @new_chain and target == 'DNAT'")[["chain", "target_args"]])

# %% [markdown]
# ### Exercise 4.4
# True or false: in `after`, new connections to port 80 reach the pod that is running now.

# %%
answer = ...  # True or False

# %%
new_dnat = after.ruleset.rules.query("table == 'nat' and chain == @new_chain and target == 'DNAT'")["target_args"].iloc[0]
check_answer("4.4 does port 80 reach the new pod", answer,
             expected=where.iloc[1]["DNAT to"].split(":")[0] in new_dnat,
             hint="Compare the DNAT address of the after trace with the new pod's DNAT rule.",
             common={True: "The new pod's entry exists, but the kernel takes the first entry that matches: "
                           "the stale one, to the old address."},
             explain="They go to the old pod's address: the ingress is down while the new pod looks healthy.")

# %% [markdown]
# ## 5 · What the checks say
#
# `wb.check` finds both problems and proposes exact commands. It never runs them: you read
# them, decide, and run them on the node.

# %%
findings = wb.check(after)
findings

# %% [markdown]
# The dump also holds the node's `conntrack -L`, and `conntrack-to-stale-hostport` comes from it: twelve entries
# in `SYN_SENT`, `[UNREPLIED]`, DNATed to the old pod's address. These are clients caught right after
# the restart, while the old pod's veth and `/32` route were still there (after that, as the trace
# above shows, the blackhole drops new SYNs before conntrack records them: see the dataset's README).
# The finding's `conntrack -D` lines name the old pod as the reply source, so the two entries of
# kubelet's probes to the new pod are not touched:

# %%
tidy(after.conntrack[["state", "orig_src", "orig_dst", "orig_dport", "reply_src", "reply_sport", "flags"]])

# %% [markdown]
# ### Exercise 4.5
# To delete the duplicated jump by its **rule number** (which keeps the counters of the original),
# which number would you give to `iptables -t nat -D PREROUTING <number>`?

# %%
answer = ...  # a number

# %%
jumps = pre[pre["target"] == "CNI-HOSTPORT-DNAT"]["position"].tolist()
check_answer("4.5 which number to delete", answer, expected=int(jumps[-1]),
             hint="Keep the first jump (it has the counters); delete the later one.",
             common={4: "Rule 4 is the original, with the counters; the copy comes after it.",
                     5: "5 was the copy's number in the post's listing; this dump's PREROUTING has other rules "
                        "too: look up the number in `pre`."},
             explain="Deleting by number from the highest down keeps the positions above it.")

# %% [markdown]
# Everything that changed between the two dumps, rule by rule (counters aside). Calico and kube-proxy followed the pod to its new address; portmap added, and forgot to remove:

# %%
changes = wb.diff_rulesets(before.ruleset, after.ruleset).frame
print(len(changes), "changes; the nat ones:")
tidy(changes.query("table == 'nat'")[["change", "chain", "spec"]])

# %% [markdown]
# ### Break it yourself: add the duplicate jump
#
# Take the healthy `before` rules, make a **copy**, and append a second
# `-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT`, as portmap did. Then watch
# the checks and the traces change.

# %%
lines = before.ruleset.to_save().splitlines()
jump = next(ln for ln in lines if ln.startswith("-A PREROUTING") and ln.endswith("-j CNI-HOSTPORT-DNAT"))
last_pre = max(i for i, ln in enumerate(lines) if ln.startswith("-A PREROUTING"))
doubled = wb.parse("\n".join(lines[:last_pre + 1] + [jump] + lines[last_pre + 1:]) + "\n")
print("added at the end of PREROUTING:", jump)
print("findings before:", len(wb.check(before.ruleset)), "→ with the copy:", len(wb.check(doubled)))
wb.check(doubled)

# %% [markdown]
# ### Predict 4.b
# In the copy, a client connects to the node's port **22**, which no hostPort serves. Before you
# run the traces: how many times does its first packet jump into `CNI-HOSTPORT-DNAT`?

# %%
prediction = ...  # a number

# %%
def jumps_into_hostport(rs, port):
    t = wb.trace_packet(rs, wb.Packet("10.10.10.10", node_ip, "tcp", dport=port, in_iface="eth0"),
                        node_ips=before.node_ips, routes=before.text("network/ip-route.txt"))
    steps = t.branches[0].steps
    return sum(1 for s in steps if s.matched and s.action == "JUMP:CNI-HOSTPORT-DNAT"), t

rows = []
for port in (22, 80):
    for name, rs in [("before", before.ruleset), ("with the copy", doubled)]:
        n, t = jumps_into_hostport(rs, port)
        rows.append({"port": port, "rules": name, "jumps into CNI-HOSTPORT-DNAT": n,
                     "DNAT to": ", ".join(d or "(none)" for d in t.destinations)})
tidy(pd.DataFrame(rows))

# %%
check_prediction("4.b walks for port 22", prediction, outcome=jumps_into_hostport(doubled, 22)[0],
                 why="nothing in CNI-HOSTPORT-DNAT matches port 22, so the packet returns and meets the copy, "
                     "and walks the chain again. For port 80 the first walk already DNATs, and a DNAT ends nat "
                     "PREROUTING: the copy is never reached. The copy costs a second walk; the harm of the "
                     "incident is the stale entry inside the chain.",
                 common={1: "The first walk finds no entry for port 22 and returns to PREROUTING, where the "
                            "next rule is the copy."})

# %% [markdown]
# Replay the incident step by step, from the first pod start to the fix:

# %%
from workbook.view.widgets import HostportLab
HostportLab()

# %% [markdown]
# ## 6 · The fix
#
# **Prevent** it: bind-mount the checkpoint folder into the kubelet container, so that checkpoints
# survive when the container is re-created. In RKE's `cluster.yml` (the post's fix; `:z` relabels
# the folder for SELinux hosts; for 1.24+ with cri-dockerd, RKE ≥ v1.3.13 mounts
# `/var/lib/cri-dockerd` itself):
#
# ```yaml
# services:
#   kubelet:
#     extra_binds:
#       - "/var/lib/dockershim:/var/lib/dockershim:z"
# ```
#
# **Clean up** what already leaked, once: the duplicated jump, the stale entry and its chain (or
# reboot the node, which rebuilds every rule from scratch):
#
# ```bash
# iptables -t nat -L PREROUTING -n --line-numbers    # find the copy's number
# iptables -t nat -D PREROUTING <number>             # the same for OUTPUT
# iptables -t nat -L CNI-HOSTPORT-DNAT -n --line-numbers
# iptables -t nat -D CNI-HOSTPORT-DNAT <number of the stale entry>
# iptables -t nat -F CNI-DN-<its hash>; iptables -t nat -X CNI-DN-<its hash>
# ```

# %% [markdown]
# ### Exercise 4.6
# True or false: after adding `extra_binds` and re-creating the kubelet, the stale entry that was
# already there disappears on its own.

# %%
answer = ...  # True or False

# %%
check_answer("4.6 does the bind mount clean up", answer, expected=False,
             hint="The bind mount protects future checkpoints. Who would delete a rule that is already there?",
             explain="Old entries stay until you delete them or reboot the node.")

# %% [markdown]
# Next: [05 · Istio and missing modules](05-istio-iptables-modules.ipynb).
