# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · From a ClusterIP to a pod: the Service DNAT path
#
# A Kubernetes Service's ClusterIP belongs to no interface. On every node, kube-proxy (in
# iptables mode) writes nat rules that **rewrite** the destination of the first packet of a
# connection to one of the Service's pods. The seed post follows one DNS query through them:
#
# `PREROUTING → KUBE-SERVICES → KUBE-SVC-… → KUBE-SEP-…(one per pod) → DNAT`
#
# The listings below are the post's real output from an EKS worker node (the Korean blog post *[AWS EKS] (5) EKS 스터디 2주차 ( iptables - CNI HOST PORT CHAIN )*, written for the CloudNet@ team's AEWS study (2nd cohort)).

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ## 1 · Read the three listings
#
# `iptables -v -n -t nat -L CHAIN` prints one chain as a wide table (quoted from the post):

# %%
kube_services_L = r"""
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
"""

kube_svc_L = r"""
Chain KUBE-SVC-TCOU7JCQXEZGVUNU (1 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-SEP-4JJWD7DPDSPAPXRS  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns -> 192.168.1.77:53 */ statistic mode random probability 0.50000000000
    0     0 KUBE-SEP-CMUTYLZJRO6PLWPI  all  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns -> 192.168.2.64:53 */
"""

kube_sep_L = r"""
Chain KUBE-SEP-4JJWD7DPDSPAPXRS (1 references)
 pkts bytes target     prot opt in     out     source               destination
    0     0 KUBE-MARK-MASQ  all  --  *      *       192.168.1.77         0.0.0.0/0            /* kube-system/kube-dns:dns */
    0     0 DNAT       udp  --  *      *       0.0.0.0/0            0.0.0.0/0            /* kube-system/kube-dns:dns */ udp to:192.168.1.77:53
"""

listed = wb.parse("\n".join([kube_services_L, kube_svc_L, kube_sep_L]), format="listing")
listed

# %% [markdown]
# The listing shows matches in iptables' own words (`udp dpt:53`, `statistic mode random
# probability 0.50000000000`). The workbook turns them back into the exact rule spec:

# %%
tidy(listed.rules[["chain", "position", "target", "comment", "spec"]])

# %% [markdown]
# Read the last chain, `KUBE-SEP-4JJWD7DPDSPAPXRS` (one endpoint), from the bottom up:
#
# * the **DNAT** rule rewrites the destination to the pod, `192.168.1.77:53`;
# * the rule above it catches the one odd case where the **source is that same pod**: a pod that
#   reaches itself through its own Service. It marks the packet (`KUBE-MARK-MASQ`) so that
#   POSTROUTING masquerades it. Without that, the pod would answer itself directly, from its own
#   address instead of the Service's, and would not recognise the answer.

# %% [markdown]
# ### Exercise 3.1
# A pod sends a UDP packet to `10.100.0.10:53`. To which chain does `KUBE-SERVICES` send it?

# %%
answer = ...  # a chain name

# %%
svc_rules = listed.rules.query("chain == 'KUBE-SERVICES'")
dns = svc_rules[(svc_rules["destination"].str.startswith("10.100.0.10")) & (svc_rules["protocol"] == "udp")]
check_answer("3.1 kube-dns udp chain", answer, expected=dns["target"].iloc[0],
             hint="Find the rule whose destination is 10.100.0.10 and whose protocol is udp.",
             common={"KUBE-SVC-ERIFXISQEP7F7OF4": "That one is kube-dns over **tcp** (dns-tcp); the query is udp.",
                     "KUBE-SEP-4JJWD7DPDSPAPXRS": "KUBE-SEP chains come one step later: KUBE-SERVICES jumps to "
                                                  "the Service's KUBE-SVC chain first."},
             explain="Its comment says it: kube-system/kube-dns:dns.")

# %% [markdown]
# ## 2 · The whole node
#
# The post shows only a few chains. `datasets/eks-node` holds a full dump of a node shaped like
# the post's (its listed chains are exactly the post's output). Load it:

# %%
eks = wb.load_dump(DATASETS / "eks-node")
rs = eks.ruleset
rs

# %% [markdown]
# The path of the kube-dns Service, drawn from the nat table (the DNS Service's chain and
# everything it jumps to):

# %%
wb.draw_chains(rs, "nat", "KUBE-SVC-TCOU7JCQXEZGVUNU")

# %% [markdown]
# `workbook.kube.services` reads every Service port out of the kube-proxy chains: ClusterIP,
# port, its `KUBE-SVC` chain, the endpoints and each endpoint's share of new connections.

# %%
from workbook import kube
svcs = kube.services(rs)
tidy(svcs[["service", "protocol", "cluster_ip", "port", "chain", "endpoints", "probabilities"]])

# %% [markdown]
# ### Exercise 3.2
# Which pod endpoints (`ip:port`) serve `kube-system/kube-dns:dns`? Give a list.

# %%
answer = ...  # e.g. ["10.0.0.1:53", ...]

# %%
row = svcs[svcs["service"].str.contains("kube-dns:dns") & (svcs["protocol"] == "udp")].iloc[0]
check_answer("3.2 kube-dns endpoints", answer, expected=list(row["endpoints"]),
             hint="Look at the endpoints column, or at the DNAT targets of the KUBE-SEP chains.",
             common={("10.100.0.10:53",): "10.100.0.10 is the Service's ClusterIP; the endpoints are the pods "
                                          "behind it."})

# %% [markdown]
# ## 3 · Follow one DNS query
#
# The kube-ops-view pod on this node (`192.168.3.98`) asks kube-dns. The node's `ip route` says
# that pod sits behind the interface `eni5d1d36193a1`; its packet enters the node there, so it
# starts in PREROUTING. The tracer follows every way the packet may go.
#
# ### Predict 3.a
# Before you run the trace: into how many **branches** (possible paths) will it split?

# %%
prediction = ...  # a number

# %%
query = wb.Packet("192.168.3.98", "10.100.0.10", "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1")
dns_trace = wb.trace_packet(rs, query, node_ips=eks.node_ips)
dns_trace

# %%
check_prediction("3.a branches of the DNS query", prediction, outcome=len(dns_trace.branches),
                 why="the statistic rule in KUBE-SVC-TCOU7JCQXEZGVUNU splits the path: one branch per "
                     "kube-dns endpoint, each with its probability.",
                 common={1: "One real packet takes one way, but the tracer lists every way it may take: "
                            "one per endpoint of the Service."})

# %% [markdown]
# The same trace drawn: the path taken, and where it forks.

# %%
wb.draw_trace(dns_trace, rs)

# %% [markdown]
# Where the first packet ends up, and how often:

# %%
pd.DataFrame({"DNAT to": list(dns_trace.destinations),
              "share of new connections": [f"{p:.0%}" for p in dns_trace.destinations.values()]})

# %% [markdown]
# ### Exercise 3.3
# What fraction of new DNS connections from this pod go to `192.168.2.64:53`?

# %%
answer = ...  # a number between 0 and 1

# %%
check_answer("3.3 share of 192.168.2.64", answer, expected=dns_trace.destinations.get("192.168.2.64:53", 0.0),
             hint="The first endpoint rule matches with probability 0.5; the second takes everything left.",
             common={1: "The second rule has no statistic match, but it only sees the packets the first rule "
                        "did not take: half of them.",
                     0: "192.168.2.64 is the second endpoint: it gets every packet the first rule passes on."})

# %% [markdown]
# ## 4 · Why 1/n, then 1/(n−1), …
#
# kube-proxy gives the first of *n* endpoint rules probability 1/n. If it does not match, the
# next rule sees only the remaining cases, so it gets 1/(n−1), and so on; the last rule has no
# `statistic` match and takes whatever is left. Every endpoint ends up with the same share.
#
# iptables stores the probability as an integer out of 2³¹ and prints it with 11 decimals,
# which is why 1/3 shows up as `0.33333333349`:

# %%
from workbook.generate import probability_text

pd.DataFrame({"endpoints n": range(2, 7), "first rule prints": [probability_text(n) for n in range(2, 7)]})

# %% [markdown]
# ### Exercise 3.4
# A Service has **three** endpoints. What probability does iptables print on its **second**
# endpoint rule? (A number is enough.)

# %%
answer = ...  # a number

# %%
check_answer("3.4 second of three", answer, expected=float(probability_text(2)),
             hint="After the first rule, two endpoints are left.",
             common={"1/3": "1/3 is the **first** rule's probability. The second rule only sees the 2/3 the "
                            "first one left, and takes half of those: its own probability is 1/2.",
                     "2/3": "2/3 of the packets reach the second rule; the question is the probability it "
                            "prints, the share of what reaches it."})

# %% [markdown]
# ## 5 · Every Service at once
#
# Trace one packet to each ClusterIP of the node and collect where it lands (a progress bar
# shows how far it got).
#
# ### Predict 3.b
# The query still comes from the kube-ops-view pod, `192.168.3.98`. Before you run the traces:
# will any of these packets be **masqueraded** (source-NATed) on its way? `True` or `False`.

# %%
prediction = ...  # True or False

# %%
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

# %%
check_prediction("3.b any masquerade?", prediction, outcome=bool(landing["masqueraded"].any()),
                 why="a pod that reaches its own Service and is picked as the endpoint is marked by its "
                     "KUBE-SEP chain's first rule (KUBE-MARK-MASQ): the hairpin case of section 1.",
                 common={False: "Look at KUBE-SEP's first rule: `-s <the endpoint's own IP>` marks the packet "
                                "for masquerade. Is 192.168.3.98 the endpoint of some Service?"})

# %% [markdown]
# ### Exercise 3.5
# How many of these Service ports have only **one** endpoint, so that every new connection goes
# to the same pod (no `statistic` rule, a single branch)?

# %%
answer = ...  # a number

# %%
check_answer("3.5 single-endpoint services", answer, expected=int((landing["branches"] == 1).sum()),
             hint="Count the rows with 1 branch.",
             common={8: "Most Services here have two endpoints: count only the rows with 1 branch."},
             explain="If that one pod is down, the Service is down: worth a look in a real incident.")

# %% [markdown]
# ### Exercise 3.6
# For one Service the packet is also **masqueraded** (look at the last column): the hairpin case
# of section 1. Which Service is it, and why this one?

# %%
answer = ...  # the service name, as in the service column

# %%
check_answer("3.6 the hairpin service", answer, expected=landing[landing["masqueraded"]]["service"].tolist()[0],
             hint="The query comes from 192.168.3.98. Which Service has that pod as its endpoint?",
             common={"kube-system/kube-dns:dns": "kube-dns is the Service the pod asks most, but its endpoints "
                                                 "are other pods: nothing to masquerade."},
             explain="The kube-ops-view pod asked its own Service and was picked as the endpoint: KUBE-MARK-MASQ.")

# %% [markdown]
# ## 6 · Break it yourself: remove an endpoint
#
# When a kube-dns pod goes away, kube-proxy rewrites the Service's chains. Let us do half of
# that job by hand, on a **copy** of the node's rules (nothing on any machine changes): delete the
# jump from `KUBE-SVC-TCOU7JCQXEZGVUNU` to one endpoint's `KUBE-SEP` chain, and leave the rest.

# %%
REMOVE = "192.168.1.77:53"     # the endpoint whose jump is deleted; try "192.168.2.64:53" too

lines = rs.to_save().splitlines()
gone = [ln for ln in lines if ln.startswith("-A KUBE-SVC-TCOU7JCQXEZGVUNU ") and f"-> {REMOVE}" in ln]
broken_rs = wb.parse("\n".join(ln for ln in lines if ln not in gone) + "\n")
print("deleted:", *gone, sep="\n  ")

# %% [markdown]
# What do the checks say about the copy? (On the real node they find nothing.)

# %%
wb.check(broken_rs)

# %% [markdown]
# ### Predict 3.c
# Before you run the trace: with that jump gone, what share of new DNS connections still reaches
# `192.168.2.64:53`?

# %%
prediction = ...  # a number between 0 and 1, or a percentage

# %%
broken_trace = wb.trace_packet(broken_rs, query, node_ips=eks.node_ips)
pd.DataFrame({"DNAT to": [d or "(no DNAT: stays 10.100.0.10)" for d in broken_trace.destinations],
              "share of new connections": [f"{p:.0%}" for p in broken_trace.destinations.values()]})

# %%
check_prediction("3.c after removing an endpoint", prediction,
                 outcome=broken_trace.destinations.get("192.168.2.64:53", 0.0),
                 why="with 192.168.1.77's jump gone, the rule left is the last one, which has no statistic "
                     "match: it takes everything. Had you deleted 192.168.2.64's jump instead, the 0.5 rule "
                     "would be alone: half the queries would fall through, un-DNATed, to an address no pod has. "
                     "Set REMOVE to it and run the cells again.",
                 common={0.5: "0.5 was the first rule's probability; the rule left over is the last one, and the "
                              "last one has no statistic match."})

# %% [markdown]
# The checks call the leftover `KUBE-SEP` chain *stale*: nothing jumps to it any more. kube-proxy
# deletes the chain with its jump; a stale one means someone (or something) edited the rules by hand.

# %% [markdown]
# ## 7 · Explore
#
# Pick a Service to see its chains, endpoints and a trace:

# %%
from workbook.view.widgets import ServiceExplorer
ServiceExplorer(rs)

# %% [markdown]
# ### Exercise 3.7
# One ClusterIP of this node carries **three** Service ports (search the explorer by IP). Which IP?

# %%
answer = ...  # an IP address

# %%
per_ip = svcs["cluster_ip"].value_counts()
check_answer("3.7 the busy ClusterIP", answer, expected=per_ip.index[per_ip == 3][0],
             hint="Three ports of the same Service: DNS over UDP, DNS over TCP, and metrics.")

# %% [markdown]
# Next: [04 · duplicated CNI-HOSTPORT-DNAT](04-dockershim-duplicate-hostport.ipynb).
