"""Reading single cells from a loader row (a pandas Series or a plain mapping)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def value(row: Any, key: str) -> Any:
    """``row[key]``, with every kind of missing (absent, None, NaN, NA, NaT) as ``None``."""
    cell = row.get(key) if hasattr(row, "get") else None
    if cell is None or cell is pd.NA or cell is pd.NaT:
        return None
    if isinstance(cell, float) and math.isnan(cell):
        return None
    return cell


def number(row: Any, key: str, low: float, high: float, clip: bool = False) -> float | None:
    """A finite number from ``row[key]``: clipped to ``low..high``, or ``None`` outside it."""
    cell = value(row, key)
    if cell is None:
        return None
    result = float(cell)
    if not math.isfinite(result):
        return None
    if clip:
        return min(max(result, low), high)
    return result if low <= result <= high else None
