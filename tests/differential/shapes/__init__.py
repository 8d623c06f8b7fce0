"""One generator per real-world ruleset shape: ``generate(rnd, seed) -> Shaped``."""

from __future__ import annotations

import random

from . import aws_vpc, calico, cni_portmap, docker, firewalld, hardening, istio, raw_mangle, ufw
from ._base import Hint, Shaped

GENERATORS = {m.SHAPE: m.generate for m in (docker, cni_portmap, calico, aws_vpc, istio, ufw, firewalld,
                                               raw_mangle, hardening)}


def shaped(shape: str, seed: int) -> Shaped:
    """The ruleset of ``shape`` that ``seed`` gives (the same one every time)."""
    return GENERATORS[shape](random.Random(f"{shape}:{seed}"), seed)


__all__ = ["GENERATORS", "Hint", "Shaped", "shaped"]
