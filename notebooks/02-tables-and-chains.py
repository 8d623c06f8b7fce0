# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Tables and chains
#
# A hook fires, the tables registered on it run, and inside each table the kernel walks a
# **chain**: an ordered list of rules. This notebook reads the real `iptables -t filter -S`
# output from the seed post's EKS worker node.

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ## 1 · The three kinds of lines in `iptables -S`
#
# * `-P CHAIN VERDICT`: a **built-in** chain (named after its hook) and its **policy**, the
#   verdict when no rule decides;
# * `-N CHAIN`: a **user-defined** chain; it runs only when a rule jumps to it;
# * `-A CHAIN …`: a **rule** appended to a chain: matches (`-p udp`, `-m conntrack --ctstate NEW`)
#   and a target (`-j …`).
#
# Here is the filter table from the EKS node (quoted from the seed post):

# %%
filter_s = r"""
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
"""

# %%
flt = wb.parse(filter_s)
flt

# %% [markdown]
# Drawn: each box is a chain; an arrow is a rule that jumps to another chain. Built-in chains are
# the entry points, user chains hang below them.

# %%
wb.draw_chains(flt, "filter")

# %% [markdown]
# The same chains as a table: policy, how many rules each holds, how many rules jump to it.

# %%
tidy(flt.chains[["chain", "builtin", "policy", "rules", "references"]])

# %% [markdown]
# ### Exercise 2.1
# How many **user-defined** chains does this filter table have?

# %%
answer = ...  # a number

# %%
check_answer("2.1 user-defined chains", answer,
             expected=int((~flt.chains["builtin"]).sum()),
             hint="Count the -N lines, or the rows of flt.chains where builtin is False.",
             common={11: "That counts the built-in INPUT, FORWARD and OUTPUT too: they come from -P lines, not -N.",
                     3: "Those three are the built-in chains (-P lines); user-defined ones are declared with -N."},
             explain="All eight belong to kube-proxy or the kubelet (KUBE-…).")

# %% [markdown]
# ### Exercise 2.2
# Two user chains are declared but **nothing jumps to them** and they hold no rules. Which?
# (They are *canaries*: the kubelet and kube-proxy create them and check now and then that they
# still exist. If one disappears, someone flushed the table, and they rewrite their rules.)

# %%
answer = ...  # a list of two chain names

# %%
c = flt.chains
check_answer("2.2 canary chains", answer,
             expected=c[~c["builtin"] & (c["references"] == 0) & (c["rules"] == 0)]["chain"].tolist(),
             hint="Rows of flt.chains with builtin False, references 0 and rules 0.",
             common={("KUBE-EXTERNAL-SERVICES", "KUBE-PROXY-FIREWALL"): "Those hold no rules, but INPUT and FORWARD "
                     "jump to them (see the references column)."})

# %% [markdown]
# ## 2 · One rule, taken apart
#
# The post's node had two hand-written rules in INPUT: log UDP port 9999 at most five times a
# minute, then drop it. Every rule becomes a row with the same columns:

# %%
rules = flt.rules
tidy(rules[rules["chain"] == "INPUT"][["position", "protocol", "target", "target_args", "comment", "spec"]])

# %% [markdown]
# Matches are kept in order, each with its module and options (`-m limit --limit 5/min`):

# %%
log_rule = flt.chain("filter", "INPUT").rules[4]
print(log_rule.spec)
pd.DataFrame([{"match module": m.module, "option": o.flag, "value": " ".join(o.args)}
              for m in log_rule.matches for o in m.options])

# %% [markdown]
# ### Exercise 2.3
# `LOG` does not stop a packet: it writes a kernel log line and the packet moves on to the next
# rule. At which **rule position** in INPUT is a UDP packet to port 9999 finally dropped?

# %%
answer = ...  # a number

# %%
inp = rules[(rules["chain"] == "INPUT")]
check_answer("2.3 where 9999 is dropped", answer,
             expected=int(inp[inp["target"] == "DROP"]["position"].iloc[0]),
             hint="Positions start at 1, as in `iptables -L --line-numbers`.",
             common={5: "Rule 5 is the LOG rule: it writes a log line and the packet goes on to the next rule."})

# %% [markdown]
# ## 3 · Let the tracer walk the chains
#
# The tracer follows a packet through every rule and jump, just as the kernel would. A UDP
# packet to port 9999 arriving from outside.
#
# ### Predict 2.a
# INPUT's fourth rule is `-A INPUT -j KUBE-FIREWALL`, and KUBE-FIREWALL's only rule drops
# packets *to 127.0.0.0/8*. Before you run the trace: will this packet (to `192.168.3.215`) enter
# KUBE-FIREWALL at all? `True` or `False`.

# %%
prediction = ...  # True or False

# %%
t = wb.trace_packet(flt, wb.Packet("203.0.113.5", "192.168.3.215", "udp", dport=9999), node_ips=["192.168.3.215"])
t

# %% [markdown]
# Every step as a table (✘ rows did not match; `why` says which match failed):

# %%
tidy(t.steps[["hook", "table", "chain", "position", "matched", "action", "why"]])

# %%
check_prediction("2.a into KUBE-FIREWALL?", prediction,
                 outcome=any(s.chain == "KUBE-FIREWALL" for s in t.branches[0].steps),
                 why="the jump has no match of its own, so every packet enters; the test for 127.0.0.0/8 is "
                     "made inside, by the DROP rule, which then does not match.",
                 common={False: "A jump without matches is taken by every packet; what fails is the DROP "
                                "rule *inside* KUBE-FIREWALL."})

# %% [markdown]
# ### Exercise 2.4
# What is the final verdict for this packet?

# %%
answer = ...  # ACCEPT or DROP

# %%
check_answer("2.4 verdict for udp/9999", answer, expected=next(iter(t.verdicts)),
             hint="Look at the last matched step of the trace.",
             common={"LOG": "LOG is not a verdict: it logs, and the packet moves on to the next rule.",
                     "ACCEPT": "ACCEPT is the policy, used only when no rule decides; rule 6 decides first."})

# %% [markdown]
# ## 4 · The same table in three notations
#
# `iptables -S` prints rules the way you would type them; `iptables-save` adds the table header,
# `:CHAIN POLICY [packets:bytes]` lines and `COMMIT`; `iptables -L -n -v` is the wide, human
# table. The workbook reads all three into the same model, and can write the save form back:

# %%
print(flt.to_save())

# %% [markdown]
# ### Exercise 2.5
# In the save form, a chain line reads `:NAME POLICY [packets:bytes]`. What does a
# **user-defined** chain show where the policy would be?

# %%
answer = ...  # one character

# %%
user_line = next(l for l in flt.to_save().splitlines() if l.startswith(":KUBE-FIREWALL "))
check_answer("2.5 policy of a user chain", answer, expected=user_line.split()[1],
             hint="Find the line that starts with :KUBE-FIREWALL.",
             common={"ACCEPT": "ACCEPT is what the built-in chains show; a user chain has no policy at all.",
                     "RETURN": "RETURN is what happens at its end, but the save form writes a single character."},
             explain="A user chain has no policy: when its rules run out, the packet returns to the caller.")

# %% [markdown]
# The node dump in `datasets/eks-node` kept this filter table as `iptables -S` **and** as
# `iptables -L -n -v -x --line-numbers`. Read both and compare rule by rule:

# %%
eks = wb.load_dump(DATASETS / "eks-node")
listing_text = eks.text("iptables/iptables-L-filter.txt")
print("\n".join(listing_text.splitlines()[:8]))
as_L = wb.parse(listing_text, format="listing")
as_S = wb.parse(eks.text("iptables/iptables-S-filter.txt"), format="spec")
print("same rules, same order:", [r.spec for r in as_L.iter_rules()] == [r.spec for r in as_S.iter_rules()])

# %% [markdown]
# ### Exercise 2.6
# In this listing the `prot` column of the two port-9999 rules is not `udp` but a number:
# iptables 1.8.9 and 1.8.10 print protocol numbers there (the post's own listings, from another
# version, print `udp` and `all`). Which number stands for UDP?

# %%
answer = ...  # a number

# %%
drop_line = next(l for l in listing_text.splitlines() if " DROP " in l and "dpt:9999" in l)
check_answer("2.6 udp's number", answer, expected=int(drop_line.split()[4]),
             hint="Read the prot column of the DROP line (num, pkts, bytes, target, prot, …).",
             common={6: "6 is tcp; the 9999 rules match -p udp.", 9999: "9999 is the port, not the protocol."},
             explain="6 is tcp, 17 is udp, 0 means all; the numbers of /etc/protocols.")

# %% [markdown]
# Next: [03 · the Service DNAT path](03-service-dnat-path.ipynb).
