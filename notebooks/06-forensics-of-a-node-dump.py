# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Forensics of a node dump
#
# At 3 a.m. you do not reproduce, you **collect**: save the node's rules, modules and addresses
# once, then take them apart calmly. This notebook loads a dump, looks at it from a few angles
# and lists what is wrong, with the commands that would fix it.

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ## 1 · What a dump is
#
# A folder with one file per command and a `MANIFEST.json` saying which command produced which
# file, when, and with which exit code (the **nfwb-dump/1** layout). The loader also reads
# an EKS log-collector archive, a sosreport, or a plain folder of files.
#
# Choose the dump here (this notebook is written for `datasets/eks-node`; any dump works):

# %% tags=["parameters"]
DUMP = DATASETS / "eks-node"

# %%
dump = wb.load_dump(DUMP)
print(dump.layout, "dump of", dump.manifest.get("host") if dump.manifest else "?", "—", len(dump.rulesets), "ruleset(s)")
tidy(pd.DataFrame(dump.manifest["files"])[["path", "command", "exit_code", "size"]]) if dump.manifest else None

# %% [markdown]
# ### Exercise 6.1
# `dump.node_ips` lists the addresses this node owns, read from `ip -o addr`. How many are there
# (loopback and IPv6 included)? Print `dump.node_ips` to see them.

# %%
answer = ...  # a number

# %%
check_answer("6.1 node addresses", answer, expected=len(dump.node_ips),
             hint="len(dump.node_ips)",
             common={1: "192.168.3.215 is the address you would name, but loopback (127.0.0.1, ::1) and the "
                        "IPv6 link-local one count too."})

# %% [markdown]
# ## 2 · The rules as tables
#
# The main IPv4 ruleset, its chains, and which component owns each rule:

# %%
rs = dump.ruleset
rs

# %%
rules = rs.rules
rules.fillna({"owner": "(no known owner)"}).groupby(["table", "owner"]).size().rename("rules").reset_index()

# %% [markdown]
# ### Exercise 6.2
# Which chain of this node holds the **most** rules? (Any table.)

# %%
answer = ...  # a chain name

# %%
biggest = rs.chains.sort_values("rules", ascending=False).iloc[0]
check_answer("6.2 biggest chain", answer, expected=biggest["chain"],
             hint="Sort rs.chains by the rules column.",
             common={"PREROUTING": "PREROUTING holds only a few jumps; the biggest chain is one they lead to."})

# %% [markdown]
# ### The node's hooks
#
# Which chains of this node hang on which hook, drawn from its own tables:

# %%
wb.draw_hooks(rs)

# %% [markdown]
# ## 3 · The AWS rows of nat PREROUTING
#
# The post also printed this node's nat PREROUTING through `column -t`, the one output of the
# post the other notebooks do not quote. The dump keeps it as it was printed (quoted from the post):

# %%
column_t = dump.text("notes/seed-nat-PREROUTING-column-t.txt")
print(column_t)

# %% [markdown]
# `column -t` aligns on **every** space, so each comment is torn into columns (`/*`, `AWS,`,
# `outbound`, `connections`, `*/`). `wb.parse` reads it anyway and puts every rule back together:

# %%
seen_pre = wb.parse(column_t)
tidy(seen_pre.rules[["position", "pkts", "target", "in_interface", "comment", "spec"]])

# %% [markdown]
# Row by row:
#
# 1. **`KUBE-SERVICES`**, kube-proxy's Service rules (notebook 03). A packet to a ClusterIP is
#    DNATed in there, and a DNAT ends the nat table's PREROUTING walk: such a packet never reaches
#    rows 2 and 3.
# 2. **`AWS-CONNMARK-CHAIN-0`**, only for packets coming **in on `eni+`**: the AWS VPC CNI names the
#    node's end of every pod's veth `eni…`, and nat sees only the first packet of a connection, so
#    this row sees *connections that pods start*. The chain, in this dump:

# %%
tidy(rs.rules.query("table == 'nat' and chain == 'AWS-CONNMARK-CHAIN-0'")[["position", "pkts", "spec"]])

# %% [markdown]
#    A destination inside the VPC (`192.168.0.0/16`) returns at once; any other gets bit `0x80`
#    set in the **connection's** mark (`CONNMARK --set-xmark 0x80/0x80`), which conntrack keeps for
#    every later packet of that connection, both ways.
# 3. **`CONNMARK restore mask 0x80`** (saved as `--restore-mark --nfmask 0x80 --ctmask 0x80`), for
#    the first packet of every connection, from any interface: it copies bit `0x80` of the
#    connection's mark onto the **packet's** mark. Routing, right after PREROUTING, can read the
#    packet mark (`ip rule … fwmark`), not the connection's. For the later packets of pod
#    connections the mangle table's *"AWS, primary ENI"* rules do the same restore (mangle, unlike
#    nat, sees every packet).
#
# **Why all this?** On EKS a pod's address may belong to a *secondary* network interface (ENI) of
# the node, and the CNI adds a policy-routing rule per pod so that its traffic leaves through the
# ENI its address belongs to: replies to a client outside the VPC that came in through that ENI
# go back the same way. But a connection the pod itself opens to the outside is source-NATed to
# the node's **primary** address (`AWS-SNAT-CHAIN-0` in POSTROUTING, exercise 6.4), so it must leave
# through the primary ENI. The mark says so: the CNI's rule `fwmark 0x80/0x80 lookup main` comes
# before the per-pod rules, and the main table routes through the primary ENI.
#
# ### Predict 6.a
# The kube-ops-view pod (`192.168.3.98`, behind `eni5d1d36193a1`) opens a connection to
# `8.8.8.8`, outside the VPC. Before you run the traces: which rule of `AWS-CONNMARK-CHAIN-0` decides
# for its first packet, **1** (RETURN) or **2** (set the mark)?

# %%
prediction = ...  # 1 or 2

# %%
def connmark_rule(dst):
    """The trace from the pod to ``dst``, and the AWS-CONNMARK-CHAIN-0 rule that matched (None: not reached)."""
    t = wb.trace_packet(rs, wb.Packet("192.168.3.98", dst, "udp", sport=40000, dport=53, in_iface="eni5d1d36193a1"),
                        node_ips=dump.node_ips)
    hit = [s.position for s in t.branches[0].steps
           if s.chain == "AWS-CONNMARK-CHAIN-0" and s.matched and s.position is not None]
    return t, (hit[0] if hit else None)

rows = []
for dst, what in [("8.8.8.8", "outside the VPC"), ("192.168.1.77", "a pod in the VPC"),
                  ("10.100.0.10", "kube-dns's ClusterIP")]:
    t, rule = connmark_rule(dst)
    rows.append({"to": f"{dst} ({what})", "AWS-CONNMARK-CHAIN-0 rule": rule or "not reached",
                 "connection marked 0x80": "yes" if rule == 2 else "no",
                 "DNAT to": ", ".join(d or "" for d in t.destinations)})
tidy(pd.DataFrame(rows))

# %%
check_prediction("6.a the mark for 8.8.8.8", prediction, outcome=connmark_rule("8.8.8.8")[1],
                 why="8.8.8.8 is outside 192.168.0.0/16, so rule 1 (RETURN) does not match and rule 2 marks the "
                     "connection: it will leave through the primary ENI, SNATed to the node's address. A pod in "
                     "the VPC returns at rule 1; a ClusterIP is DNATed in KUBE-SERVICES and never gets here.",
                 common={1: "Rule 1 returns only for destinations inside the VPC's 192.168.0.0/16."})

# %% [markdown]
# ### Exercise 6.6
# The counters of the `column -t` listing tell how many first packets each row saw. How many first
# packets were **DNATed by `KUBE-SERVICES`** (so they never reached the last row)?

# %%
answer = ...  # a number

# %%
pkts = seen_pre.rules.set_index("position")["pkts"]
check_answer("6.6 DNATed by KUBE-SERVICES", answer, expected=int(pkts[1] - pkts[3]),
             hint="Every first packet that KUBE-SERVICES does not DNAT goes on and meets row 3, which has no "
                  "match at all; row 2 always comes back.",
             common={int(pkts[1]): "That is every first packet that entered KUBE-SERVICES; some of them came out "
                                   "again and were counted by row 3.",
                     int(pkts[1] - pkts[2] - pkts[3]): "Row 2 does not stop packets: the chain returns, or the "
                                                       "CONNMARK target lets the packet go on to row 3."},
             explain="36909 − 26383 = 10526 first packets went to a Service's pod.")

# %% [markdown]
# ## 4 · Findings
#
# Each finding names the evidence (the rules or files that show it), who owns the rules, and
# the exact commands that would fix it. Nothing is ever run for you.

# %%
findings = wb.check(dump)
findings

# %%
tidy(findings.frame)

# %% [markdown]
# A healthy node gives few or no findings. The other datasets are not healthy: check every dump
# of the `datasets` folder in one go (with a progress bar):

# %%
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
tidy(sweep[["dump", *counts, "titles"]])

# %% [markdown]
# ### Exercise 6.3
# Which dump has the **most errors** (findings of severity `error`)? (Its folder name as in the
# `dump` column.)

# %%
answer = ...  # e.g. "eks-node"

# %%
check_answer("6.3 most errors", answer, expected=sweep.sort_values("error", ascending=False, kind="stable").iloc[0]["dump"],
             hint="Sort the sweep table by its error column.")

# %% [markdown]
# ## 5 · Explore and share
#
# Browse tables, chains and rules, and filter them:

# %%
from workbook.view.widgets import DumpExplorer
DumpExplorer(dump)

# %% [markdown]
# Or trace a packet of your own:

# %%
from workbook.view.widgets import TracerForm
TracerForm(dump, src="192.168.3.98", dst="10.100.0.10", proto="udp", dport=53)

# %% [markdown]
# One self-contained HTML report with everything above, to attach to a ticket:

# %%
from pathlib import Path

from workbook.view.report import write_report
report = write_report(dump, Path("eks-node-report.html"))
print("written:", Path(report).resolve(), f"({Path(report).stat().st_size // 1024} KiB)")

# %% [markdown]
# ### Exercise 6.4
# With the explorer, open the nat table's `AWS-SNAT-CHAIN-0` (the AWS VPC CNI's source NAT for
# traffic leaving the VPC). How many rules does it have?

# %%
answer = ...  # a number

# %%
snat = rs.chains.query("table == 'nat' and chain == 'AWS-SNAT-CHAIN-0'")
check_answer("6.4 AWS-SNAT-CHAIN-0", answer, expected=int(snat["rules"].iloc[0]) if len(snat) else None,
             hint="Pick table nat and the chain in the explorer, or look in rs.chains.",
             common={1: "There is a RETURN for the VPC's CIDR before the SNAT rule: count both."})

# %% [markdown]
# ## 6 · Collect from your own node
#
# `workbook.collect` runs the same commands on your nodes over SSH (with paramiko) and writes the
# same layout, one folder per host. Nothing on a node is changed: it only reads
# (`iptables-save -c`, both backends, `lsmod`, `ip -o addr`, …).
#
# The cell below is **off by default**: set `COLLECT = True` and fill in the host when you want
# to use it. Collecting needs SSH access, usually as root or with `--sudo`.

# %%
from pathlib import Path

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

# %% [markdown]
# ### Exercise 6.5
# Which file of an nfwb dump would you open to see the exact command that produced
# `iptables/iptables-save.txt`?

# %%
answer = ...  # a file name

# %%
check_answer("6.5 which file", answer, expected="MANIFEST.json",
             hint="It lists every file with its command, time and exit code.")

# %% [markdown]
# Next: [07 · live kernel lab](07-live-kernel-lab.ipynb).
