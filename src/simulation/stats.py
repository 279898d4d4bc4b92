"""Quantiles of simulated waits and latencies, computed the way numpy does by default."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile"]


def percentile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) of sorted, non-empty data, interpolating between ranks (numpy's default)."""
    if not ordered:
        raise ValueError("percentile of no data")
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
