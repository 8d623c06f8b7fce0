"""Collect a node dump ("nfwb-dump/1") locally, in a network namespace, or over SSH (many hosts in parallel)."""

# transport.py runs one command on a node (locally, in a namespace, over SSH) into a capped spool;
# session.py runs all of a host's commands in one shell with framed results; plan.py says what to
# collect; run.py drives a host from discovery to MANIFEST.json (benchmarks/collect_bench.py
# measures the session against one channel per command).

from .plan import TABLES, plan_commands
from .run import CollectResult, collect, collect_local, collect_ssh
from .transport import CollectError, parse_target

__all__ = ["collect", "collect_local", "collect_ssh", "CollectResult", "CollectError", "parse_target",
           "plan_commands", "TABLES"]
