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
# Setup: the workbook library, pandas, the self-check and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.exercises import check_answer
from workbook.lesson import setup

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
import pandas as pd
pd.DataFrame(dump.manifest["files"])[["path", "command", "exit_code", "size"]] if dump.manifest else None

# %% [markdown]
# ### Exercise 6.1
# `dump.node_ips` lists the addresses this node owns, read from `ip -o addr`. How many are there
# (loopback and IPv6 included)? Print `dump.node_ips` to see them.

# %%
answer = ...  # a number

# %%
check_answer("6.1 node addresses", answer, expected=len(dump.node_ips),
             hint="len(dump.node_ips)")

# %% [markdown]
# ## 2 · The rules as tables
#
# The main IPv4 ruleset, its chains, and which component owns each rule:

# %%
rs = dump.ruleset
rs

# %%
rules = rs.rules
rules.groupby(["table", "owner"], dropna=False).size().rename("rules").reset_index()

# %% [markdown]
# ### Exercise 6.2
# Which chain of this node holds the **most** rules? (Any table.)

# %%
answer = ...  # a chain name

# %%
biggest = rs.chains.sort_values("rules", ascending=False).iloc[0]
check_answer("6.2 biggest chain", answer, expected=biggest["chain"],
             hint="Sort rs.chains by the rules column.")

# %% [markdown]
# ### The node's hooks
#
# Which chains of this node hang on which hook, drawn from its own tables:

# %%
wb.draw_hooks(rs)

# %% [markdown]
# ## 3 · Findings
#
# Each finding names the evidence (the rules or files that show it), who owns the rules, and
# the exact commands that would fix it. Nothing is ever run for you.

# %%
findings = wb.check(dump)
findings

# %%
findings.frame

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
sweep[["dump", *counts, "titles"]]

# %% [markdown]
# ### Exercise 6.3
# Which dump has the **most** findings? (Its folder name as in the `dump` column.)

# %%
answer = ...  # e.g. "eks-node"

# %%
check_answer("6.3 most findings", answer, expected=sweep.sort_values("findings", ascending=False).iloc[0]["dump"],
             hint="Sort the sweep table by findings.")

# %% [markdown]
# ## 4 · Explore and share
#
# Browse tables, chains and rules, and filter them:

# %%
from workbook.widgets import DumpExplorer
DumpExplorer(dump)

# %% [markdown]
# Or trace a packet of your own:

# %%
from workbook.widgets import TracerForm
TracerForm(dump, src="192.168.3.98", dst="10.100.0.10", proto="udp", dport=53)

# %% [markdown]
# One self-contained HTML report with everything above, to attach to a ticket:

# %%
from pathlib import Path

from workbook.report import write_report
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
             hint="Pick table nat and the chain in the explorer, or look in rs.chains.")

# %% [markdown]
# ## 5 · Collect from your own node
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
