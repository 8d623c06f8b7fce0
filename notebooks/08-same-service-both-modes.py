# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 · The same Service in both modes
#
# kube-proxy writes a Service's rules either as **iptables** chains (`KUBE-SVC-…`, `KUBE-SEP-…`)
# or as one **nftables** table (`table ip kube-proxy`). The packet ends up at the same endpoint;
# the rules, what the dump shows of them, and where a forensic look goes wrong are not the same.
# This notebook generates one small cluster in both modes, traces the same packet through both,
# and then looks at a real nftables-mode node (`datasets/nft-mode-node`).

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import tempfile
from pathlib import Path

import pandas as pd

import workbook as wb
from workbook.dump import save_dump
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.generate import Service, kube_proxy_nft, kube_proxy_save
from workbook.lessons.lesson import setup, tidy
from workbook.nft.parse_text import parse_nft_text
from workbook.nft.trace import NftTracer

DATASETS = setup()

# %% [markdown]
# ## 1 · One cluster, written twice
#
# kube-dns with two endpoints and a web Service with one. `kube_proxy_save` writes what kube-proxy's
# iptables mode loads with `iptables-restore`; `kube_proxy_nft` what its nftables mode loads with
# `nft -f`.

# %%
cluster = [
    Service("kube-system", "kube-dns", "dns", "udp", "10.96.0.10", 53, [("10.244.1.5", 53), ("10.244.2.7", 53)]),
    Service("default", "web", "http", "tcp", "10.96.41.7", 80, [("10.244.1.9", 8080)]),
]
iptables_mode = wb.parse(kube_proxy_save(cluster))
nft_mode = parse_nft_text(kube_proxy_nft(cluster), "kube_proxy_nft")
tidy(pd.DataFrame([
    {"mode": "iptables", "rules": len(iptables_mode.rules), "chains": len(iptables_mode.chains)},
    {"mode": "nftables", "rules": sum(len(c.rules) for t in nft_mode.tables.values() for c in t.chains.values()),
     "chains": sum(len(t.chains) for t in nft_mode.tables.values())},
]))

# %% [markdown]
# In nftables mode each endpoint gets a chain `endpoint-HASH-namespace/name/proto/port__ip/port`, as
# each gets a `KUBE-SEP-…` chain in iptables mode:

# %%
sorted(name for t in nft_mode.tables.values() for name in t.chains if name.startswith("endpoint-"))

# %% [markdown]
# ### Exercise 8.1
# How many `KUBE-SEP-…` chains does the iptables mode write for this cluster?

# %%
answer = ...  # a number

# %%
check_answer("8.1 endpoint chains", answer, expected=len([c for c in iptables_mode.tables["nat"].chains
                                                         if c.startswith("KUBE-SEP-")]),
             hint="One per endpoint, in both modes: count the endpoints of the two Services.",
             common={2: "kube-dns has two endpoints, but web has one too."})

# %% [markdown]
# ## 2 · The same packet, traced through both
#
# A pod asks kube-dns, once through the iptables-mode rules and once through the nftables-mode table.

# %% [markdown]
# ### Predict, then run 8.a
# In how many ways (branches) does the packet leave the nftables-mode rules?

# %%
prediction = ...  # a number

# %%
query = wb.Packet("10.244.0.5", "10.96.0.10", "udp", 40000, 53)
by_iptables = wb.trace_packet(iptables_mode, query, node_ips=["192.168.0.2"])
by_nft = NftTracer(nft_mode).trace(query, ["192.168.0.2"])

# %%
check_prediction("8.a branches", prediction, outcome=len(by_nft.branches),
                 why="Two endpoints: iptables picks with `-m statistic --probability 0.5`, nftables with "
                     "`numgen random mod 2`; both give two ways, one half each.")

# %%
tidy(pd.DataFrame([{"mode": m, "branch": i + 1, "probability": b.probability, "DNAT to": b.dnat, "verdict": b.verdict}
                   for m, t in (("iptables", by_iptables), ("nftables", by_nft)) for i, b in enumerate(t.branches)]))

# %% [markdown]
# Side by side, the first branch of each: the rules that matched at PREROUTING.

# %%
def dnat_path(trace):
    steps = trace.steps
    steps = steps[(steps.branch == 0) & (steps.hook == "PREROUTING") & steps.matched & steps.position.notna()]
    return steps[["chain", "spec", "action"]].reset_index(drop=True)


pd.concat({"iptables mode": tidy(dnat_path(by_iptables)), "nftables mode": tidy(dnat_path(by_nft))}, axis=1)

# %% [markdown]
# The same two paths drawn: iptables mode first, then nftables mode (its chains sit in kube-proxy's
# own base chains, `nat-prerouting` at priority `dstnat`, beside the iptables-nft tables).

# %%
wb.draw_trace(by_iptables)

# %%
wb.draw_trace(by_nft)

# %% [markdown]
# ### Exercise 8.2
# In nftables mode, which expression picks the endpoint? Give its first word as nft prints it.

# %%
answer = ...  # a word

# %%
check_answer("8.2 endpoint picker", answer, expected="numgen",
             hint="Look at the rule of the service-… chain in the table above.",
             common={"statistic": "That is the iptables match; nftables mode writes a random number generator."})

# %% [markdown]
# ## 3 · What each view of an iptables-nft table hides
#
# On a node whose iptables is the nf_tables variant (the EKS node of the seed post) the same rules
# can be printed twice: `iptables-save` and `nft list ruleset`. Paired rule by rule, each view loses
# something:

# %%
from workbook.nft.views import compare_views

eks = wb.load_dump(DATASETS / "eks-node")
views = compare_views(eks.ruleset, eks.nft)
lost = views[views.lost_in_nft.map(len) > 0]
tidy(lost[["table", "chain", "position", "iptables", "nft", "lost_in_nft"]].head(8))

# %% [markdown]
# Comments are the biggest loss: `kube-system/kube-dns:dns cluster IP` tells you which Service a
# rule is for; the nft view keeps only the addresses. Native tables, such as kube-proxy's in
# nftables mode, exist **only** in the nft view.

# %% [markdown]
# ### Exercise 8.3
# kube-dns's `dns` port has two endpoints on the eks-node (chain `KUBE-SVC-TCOU7JCQXEZGVUNU`).
# How many of that chain's rules lose their `-m statistic` probability in the nft view?

# %%
answer = ...  # a number

# %%
svc = views[(views.table == "nat") & (views.chain == "KUBE-SVC-TCOU7JCQXEZGVUNU")]
check_answer("8.3 probabilities lost", answer,
             expected=int(svc.lost_in_nft.map(lambda lost: any("statistic" in x for x in lost)).sum()),
             hint="Two endpoints: the first jump has `--probability 0.5`; the last one needs none.",
             common={2: "The last jump takes every packet left over: it has no statistic match to lose."})

# %% [markdown]
# ## 4 · The blind-dump trap
#
# `datasets/nft-mode-node` is a node with kube-proxy in nftables mode. Take only its
# `iptables-save`, `lsmod` and kube-proxy's mode (what an older collector takes) and ask for findings.

# %% [markdown]
# ### Predict, then run 8.b
# Does `check` say that this dump cannot show kube-proxy's rules (yes / no)?

# %%
prediction = ...  # yes / no

# %%
node = DATASETS / "nft-mode-node"
only_iptables = save_dump({rel: (node / rel).read_text() for rel in
                           ("iptables/iptables-save.txt", "kernel/lsmod.txt", "kubelet/kube-proxy-mode.txt")},
                          Path(tempfile.mkdtemp(prefix="nfwb-08-")) / "only-iptables")
blind = wb.check(wb.load_dump(only_iptables))

# %%
check_prediction("8.b blind dump", prediction, outcome="yes" if any(f.id == "blind-dump" for f in blind) else "no",
                 why="iptables-save shows no Service rule at all; kube-proxy says nftables and lsmod shows "
                     "nf_tables, so the check says the dump is blind and how to collect `nft -a list ruleset`.")

# %%
tidy(blind.frame[["id", "severity", "title"]])

# %% [markdown]
# ## 5 · The stale conntrack entry
#
# The full dump holds `conntrack -L` too: real entries from real packets sent while kube-dns's
# coredns pod was replaced (see `datasets/nft-mode-node/README.md`). The rules forgot the old pod;
# conntrack did not.

# %%
full = wb.load_dump(node)
tidy(full.conntrack[["protocol", "orig_dst", "orig_sport", "reply_src", "service", "status"]])

# %%
stale = [f for f in wb.check(full) if f.id == "stale-conntrack-entry"]
print(stale[0].title)
print("\n".join(stale[0].fix))

# %% [markdown]
# The fix names the old endpoint (`--reply-src`), so it can never delete a live flow of the same
# Service.

# %% [markdown]
# ### Exercise 8.4
# To which address do the stale entries still send DNS queries?

# %%
answer = ...  # an IP address

# %%
check_answer("8.4 stale endpoint", answer, expected=full.conntrack.query("status == 'stale-endpoint'").reply_src.unique()[0],
             hint="The reply_src of the rows whose status is stale-endpoint.",
             common={"192.168.7.183": "That one is still an endpoint (status live)."})
