"""The packet tracer: walk one packet through a ruleset's hooks, tables and chains (see :mod:`.walk`)."""

from ..routing import Route, parse_routes
from ..vocab import PROTOCOLS
from .walk import INDEX_MIN_RULES, MAX_DEPTH, MAX_STEPS, MEMO_AFTER_STEPS, Tracer, family_mismatch
from .walk import ipsets_from_save, trace_packet

__all__ = ["trace_packet", "Tracer", "ipsets_from_save", "parse_routes", "Route", "INDEX_MIN_RULES", "PROTOCOLS",
           "MAX_DEPTH", "MAX_STEPS", "MEMO_AFTER_STEPS", "family_mismatch"]
