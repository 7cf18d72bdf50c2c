"""Queue wait as a mergeable histogram: fixed bucket bounds, so two replicas' counts (or
two hours') add up bucket by bucket, and a percentile is known to within one bucket.
Pure."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

# Upper bounds in seconds; the last bucket (index len(BOUNDS)) holds everything longer.
# Close together where people notice (under two minutes), wider where any wait is too long.
BOUNDS: tuple[int, ...] = (
    5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 14400,
)  # fmt: skip
OVERFLOW = len(BOUNDS)


def bucket_of(seconds: float) -> int:
    """The bucket a wait of ``seconds`` falls in (bucket i holds (BOUNDS[i-1], BOUNDS[i]])."""
    return bisect.bisect_left(BOUNDS, max(0.0, seconds))


def upper(bucket: int) -> float:
    """The most a wait in ``bucket`` can be (the overflow bucket: infinity)."""
    return float(BOUNDS[bucket]) if bucket < OVERFLOW else float("inf")


def merge(*histograms: Mapping[int, int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for histogram in histograms:
        for bucket, count in histogram.items():
            found[bucket] = found.get(bucket, 0) + count
    return found


def percentile(histogram: Mapping[int, int], fraction: float, ceiling: float | None = None) -> float | None:
    """The upper bound of the bucket holding the ``fraction`` quantile (a wait no longer
    than the true one's bucket allows), capped at ``ceiling`` (the longest wait seen,
    which also stands in for the overflow bucket's infinity); None without samples."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(total * fraction - 1e-9))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            found = upper(bucket)
            return min(found, ceiling) if ceiling is not None else found
    return ceiling
