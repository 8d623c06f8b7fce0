# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Istio: `unable to initialize table 'nat'`
#
# The seed post's first known issue (the Korean blog post *[AWS EKS] (5) EKS 스터디 2주차 ( iptables - CNI HOST PORT CHAIN )*, written for the CloudNet@ team's AEWS study (2nd cohort); upstream: istio/istio#44118): pods with an
# Istio sidecar never start, because the `istio-init` container keeps failing with
#
# ```
# xtables parameter problem: iptables-restore: unable to initialize table 'nat'
# ```

# %%
# Setup: the workbook library, pandas, the self-checks and the folder of example datasets
import pandas as pd

import workbook as wb
from workbook.lessons.exercises import check_answer, check_prediction
from workbook.lessons.lesson import setup, tidy

DATASETS = setup()

# %% [markdown]
# ### Background: two iptables in one kernel
#
# `iptables` is a command; two different kernel subsystems can sit behind it:
#
# * **legacy** (`iptables-legacy`): the x_tables subsystem. Each table is a kernel module:
#   `ip_tables`, `iptable_nat`, `iptable_filter`, `iptable_mangle`, `iptable_raw`;
# * **nf_tables** (`iptables-nft`): the same commands translated into nftables, served by
#   `nf_tables`, `nft_chain_nat` and `nft_compat` (which runs the old `xt_*` matches).
#
# The host and a container can disagree. `istio-init` runs the `iptables-restore` **of its own
# image**; in the Istio versions of the issue that was the legacy one, so it needed the legacy
# `iptable_nat` module. A host that only ever used iptables-nft never loaded it, and the init
# container cannot load kernel modules itself.

# %%
import graphviz
g = graphviz.Digraph(graph_attr={"rankdir": "LR"}, node_attr={"shape": "box", "style": "rounded"})
g.node("host", "host tools\niptables v1.8 (nf_tables)")
g.node("init", "istio-init container\niptables-restore (legacy)")
g.node("nft", "nf_tables\nnft_chain_nat, nft_compat", style="rounded,filled", fillcolor="#e6f4ea")
g.node("xt", "x_tables\nip_tables, iptable_nat", style="rounded,filled,dashed", fillcolor="#fdecea")
g.edge("host", "nft", label="loaded")
g.edge("init", "xt", label="needs: not loaded!", color="#c5221f", fontcolor="#c5221f")
g

# %% [markdown]
# ## 1 · Read the node's modules
#
# The post's `lsmod` on the EKS worker before the fix (quoted from the post; the post shows
# these lines):

# %%
lsmod_before = r"""
Module                  Size  Used by
nft_chain_nat          16384  7
nf_nat                 57344  3 xt_nat,nft_chain_nat,xt_MASQUERADE
nfnetlink_acct         16384  4 xt_nfacct
xt_conntrack           16384  19
nf_conntrack          184320  7 xt_conntrack,nf_nat,xt_state,xt_nat,nf_conntrack_netlink,xt_connmark,xt_MASQUERADE
nf_defrag_ipv6         24576  1 nf_conntrack
nf_defrag_ipv4         16384  1 nf_conntrack
xt_comment             16384  96
nft_compat             20480  169
nf_tables             311296  354 nft_compat,nft_chain_nat,nft_limit
nfnetlink              20480  8 nft_compat,nfnetlink_acct,nf_conntrack_netlink,nf_tables
"""

mods = wb.parse(lsmod_before, format="lsmod")
tidy(mods.frame)

# %% [markdown]
# `Used by` tells who holds a module. `nf_tables` is used 354 times, `nft_compat` 169 times:
# this host's rules live in nf_tables.

# %%
from workbook.checks.modules import ISTIO_MODULES, LEGACY_TABLE_MODULES

pd.DataFrame({"module": [*LEGACY_TABLE_MODULES, "nf_tables", "nft_compat"],
              "loaded": ["yes" if m in mods else "no" for m in [*LEGACY_TABLE_MODULES, "nf_tables", "nft_compat"]]})

# %% [markdown]
# ### Exercise 5.1
# Which of the four legacy table modules (`iptable_nat`, `iptable_mangle`, `iptable_filter`,
# `iptable_raw`) are **missing** from this lsmod? Give a list.

# %%
answer = ...  # a list of module names

# %%
check_answer("5.1 missing legacy tables", answer, expected=[m for m in LEGACY_TABLE_MODULES if m not in mods],
             hint="Use `name in mods` for each one.",
             common={("iptable_nat",): "iptable_nat is the one istio-init's error names, but look at the other "
                                       "three too: none of the legacy table modules is loaded."})

# %% [markdown]
# ## 2 · The fix: load the modules at every boot
#
# `systemd-modules-load` reads `/etc/modules-load.d/*.conf` at boot and loads every module
# named there. The post writes one file and loads the modules once by hand so that no reboot
# is needed:
#
# ```bash
# cat > /etc/modules-load.d/istio-iptables.conf <<'EOF'
# iptable_nat
# iptable_mangle
# iptable_filter
# iptable_raw
# EOF
# for m in iptable_nat iptable_mangle iptable_filter iptable_raw; do modprobe $m; done
# ```
#
# The fix in the Istio issue adds the modules of the matches and targets istio-init's rules use,
# `xt_REDIRECT` (`-j REDIRECT`) and `xt_owner` (`-m owner`). (Another way out is Istio CNI, which
# writes the rules from a node agent that uses the host's own iptables.) The checks of section 4
# look for exactly these, from one list in the library:

# %%
print("table modules (the post's .conf file):", ", ".join(LEGACY_TABLE_MODULES))
print("modules of istio-init's matches:      ", ", ".join(ISTIO_MODULES))

# %% [markdown]
# And `lsmod` afterwards (quoted from the post; it shows the new lines):

# %%
lsmod_after = r"""
Module                  Size  Used by
iptable_raw            16384  0
iptable_filter         16384  0
iptable_mangle         16384  0
iptable_nat            16384  0
"""

mods_after = wb.parse(lsmod_after, format="lsmod")
tidy(mods_after.frame)

# %% [markdown]
# ### Exercise 5.2
# Right after `modprobe`, nothing uses the new modules yet. What is the `used_by_count` of
# `iptable_nat` in the second lsmod?

# %%
answer = ...  # a number

# %%
used = mods_after.frame.set_index("module")["used_by_count"]
check_answer("5.2 iptable_nat users", answer, expected=int(used["iptable_nat"]),
             hint="Look at the `Used by` column, or at mods_after.frame.",
             common={16384: "16384 is the module's size in bytes; `Used by` is the next column."},
             explain="The count grows once istio-init creates its nat rules with the legacy backend.")

# %% [markdown]
# ## 3 · The same node as two dumps
#
# `datasets/istio-missing-modules` holds the EKS worker before and after the fix. First, what the
# failing pod said (`kubectl logs <pod> -c istio-init`, kept in the dump's notes):

# %%
from workbook.lessons.lesson import Folded

broken = wb.load_dump(DATASETS / "istio-missing-modules" / "before")
fixed = wb.load_dump(DATASETS / "istio-missing-modules" / "after")
Folded(broken.text("notes/istio-init-error.txt"), "unable to initialize table", summary="the whole istio-init log")

# %% [markdown]
# The dump holds the host's rules as each tool shows them: `iptables` (the node's default binary,
# which here is iptables-nft), `iptables-legacy`, and the same rules again in the `-L` and `-S`
# notations. Count the rules in each:

# %%
pd.DataFrame({"as shown by": list(broken.rulesets), "rules": [len(r) for r in broken.rulesets.values()]})

# %% [markdown]
# ### Exercise 5.3
# Which backend holds this node's own rules: `nft` or `legacy`?

# %%
answer = ...  # "nft" or "legacy"

# %%
counts = {name: len(r) for name, r in broken.rulesets.items()}
legacy = sum(n for name, n in counts.items() if "legacy" in name)
check_answer("5.3 host backend", answer, expected="legacy" if legacy > 0 else "nft",
             hint="iptables-legacy-save shows nothing on this node.",
             common={"legacy": "istio-init wanted legacy, but the host's own rules are all in the nft view; "
                               "iptables-legacy shows 0 rules."},
             explain="The kubelet even leaves a hint: its KUBE-IPTABLES-HINT chain sits in the nft mangle table.")

# %% [markdown]
# What the fix changed in the kernel's module list (the rules did not change at all):

# %%
added = sorted(fixed.modules.names - broken.modules.names)
print("loaded by the fix:", ", ".join(added))

# %% [markdown]
# ### Exercise 5.4
# How many modules does the `after` lsmod list that the `before` one does not?

# %%
answer = ...  # a number

# %%
check_answer("5.4 modules added by the fix", answer, expected=len(added),
             hint="Four were loaded by hand; one more came along as their dependency.",
             common={4: "Four were named in the .conf file, but the kernel loaded one more they depend on."},
             explain="ip_tables, the legacy core, is loaded as a dependency of the iptable_* modules.")

# %% [markdown]
# Once the modules were there, istio-init succeeded. Its rules live in the **pod's** network
# namespace, not the host's; the dump kept them (`iptables-legacy-save` in the pod). Every
# outgoing TCP connection is redirected to the sidecar on port 15001, every incoming one to 15006:

# %%
pod = wb.parse(fixed.text("notes/istio-init-pod-iptables-legacy-save.txt"))
wb.draw_chains(pod, "nat")

# %% [markdown]
# ## 4 · Let the checks find it
#
# The checks compare the modules with what the node's tools need, and explain the fix:

# %%
broken_findings = wb.check(broken)
broken_findings

# %%
fixed_findings = wb.check(fixed)
fixed_findings

# %% [markdown]
# ### Exercise 5.5
# How many findings are left after the fix?

# %%
answer = ...  # a number

# %%
check_answer("5.5 findings after the fix", answer, expected=len(fixed_findings),
             hint="len(fixed_findings)",
             common={1: "1 was before the fix; the second table is the fixed node's."})

# %% [markdown]
# ### Break it yourself: unload a module
#
# On the fixed node, someone runs `modprobe -r iptable_nat` (or a reboot happens before the
# `.conf` file is in place). Take the fixed node's `lsmod`, drop `iptable_nat`, and check the
# node again with that module list (nothing is unloaded anywhere: `modules=` replaces the dump's
# own list for this check only).
#
# ### Predict 5.a
# Before you run the check: how many **findings** will it report?

# %%
prediction = ...  # a number

# %%
lsmod_fixed = fixed.text("kernel/lsmod.txt")
unloaded = "\n".join(ln for ln in lsmod_fixed.splitlines() if not ln.startswith("iptable_nat ")) + "\n"
again = wb.check(fixed, modules=unloaded)
again

# %%
check_prediction("5.a findings without iptable_nat", prediction, outcome=len(again),
                 why="one module is enough to bring the finding back: istio-init's `iptables-restore` asks "
                     "for the nat table first, and fails on it as in the log above.",
                 common={0: "The other three table modules are still there, but the nat table is the one "
                            "istio-init needs first."})

# %% [markdown]
# ## 5 · Check your own node
#
# The checker below starts with the post's lsmod. Replace it with the output of `lsmod` from one of
# your nodes and press **Check**:

# %%
from workbook.view.widgets import ModuleChecker
ModuleChecker(lsmod_before)

# %% [markdown]
# ### Exercise 5.6
# Replace the text in the checker with the post's second lsmod (print it with
# `print(lsmod_after)`), press **Check**: how many modules does it report missing now?

# %%
answer = ...  # a number

# %%
from workbook.view.widgets import missing_modules
check_answer("5.6 missing after the fix", answer, expected=len(missing_modules(lsmod_after)),
             hint="The second lsmod lists the four iptable_* modules.",
             common={4: "4 were missing with the first lsmod; paste the second one."})

# %% [markdown]
# Next: [06 · forensics of a node dump](06-forensics-of-a-node-dump.ipynb).
