"""``pd``: pandas, imported on first use (a plain save file with no finding never needs it)."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["pd"]


class _LazyPandas:
    """Stands for the pandas module; the first attribute looked up imports it.

    >>> pd.DataFrame({"a": [1]}).shape
    (1, 1)
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("pandas"), name)


pd: Any = _LazyPandas()
