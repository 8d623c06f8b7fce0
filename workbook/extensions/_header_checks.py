"""Header field vocabularies shared by the tos/dscp matches and the TOS/DSCP targets.

(ext-targets: these two tables are ext-header's, copied name for name so that merging the two
branches keeps ext-header's module of the same name, a superset of this one.)
"""

from __future__ import annotations

#: symbolic TOS values of libxt_tos (they compare under the mask 0x3f)
TOS_NAMES = {"minimize-delay": 0x10, "maximize-throughput": 0x08, "maximize-reliability": 0x04,
             "minimize-cost": 0x02, "normal-service": 0x00}
#: DiffServ class names of ``--dscp-class`` (RFC 2474, 2597, 3246, 5865)
DSCP_CLASSES = {**{f"cs{i}": i * 8 for i in range(8)}, "be": 0, "ef": 46, "va": 44,
                **{f"af{c}{d}": c * 8 + d * 2 for c in range(1, 5) for d in range(1, 4)}}
