"""Collect a node dump ("nfwb-dump/1") locally, in a network namespace, or over SSH (many hosts in parallel)."""

# transport.py: the runner interface, one command run locally or in a namespace into a capped spool;
# ssh.py: the same over SSH (paramiko, host keys); session.py: all of a host's commands in one shell,
# results framed; plan.py: what to collect; run.py: a host from discovery to MANIFEST.json, hosts in
# parallel (benchmarks/collect_bench.py measures the session against one channel per command).

from .plan import TABLES, plan_commands
from .run import CollectResult, collect, collect_local, collect_ssh
from .ssh import parse_target
from .transport import CollectError

__all__ = ["collect", "collect_local", "collect_ssh", "CollectResult", "CollectError", "parse_target",
           "plan_commands", "TABLES"]
