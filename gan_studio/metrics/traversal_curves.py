"""Traversal curves: fixed-feature drift as a function of varied-feature change, compared at equal varied change.

A path gives one (varied, fixed) pair per waypoint, starting at (0, 0). ``drift_at(path, v)`` is the fixed change
when the path first reaches varied change ``v`` (linear interpolation between waypoints along the running maximum
of the varied change), or None if it never does. Two methods are compared on the same start at the largest
varied change both reach.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def drift_at(varied: Sequence[float], fixed: Sequence[float], target: float) -> float | None:
    """Fixed change where the path first reaches varied change ``target``; None if it never does."""
    v = np.asarray(varied, dtype=np.float64)
    f = np.asarray(fixed, dtype=np.float64)
    if target <= v[0]:
        return float(f[0])
    reached = np.flatnonzero(v >= target)
    if len(reached) == 0:
        return None
    i = int(reached[0])
    v0, v1, f0, f1 = v[i - 1], v[i], f[i - 1], f[i]
    t = 0.0 if v1 <= v0 else (target - v0) / (v1 - v0)
    return float(f0 + t * (f1 - f0))


def compare_at_equal_change(
    ours: tuple[Sequence[float], Sequence[float]], theirs: tuple[Sequence[float], Sequence[float]]
) -> tuple[float, float, float] | None:
    """(level, our drift, their drift) at the largest varied change both paths reach; None if either is flat."""
    level = min(float(np.max(ours[0])), float(np.max(theirs[0])))
    if level <= 1e-9:
        return None
    a = drift_at(ours[0], ours[1], level)
    b = drift_at(theirs[0], theirs[1], level)
    if a is None or b is None:
        return None
    return level, a, b


def mean_curve(paths: Sequence[tuple[Sequence[float], Sequence[float]]]) -> tuple[list[float], list[float]]:
    """Waypoint-wise mean (varied, fixed) over paths of the same length, for plotting."""
    v = np.mean([np.asarray(p[0], dtype=np.float64) for p in paths], axis=0)
    f = np.mean([np.asarray(p[1], dtype=np.float64) for p in paths], axis=0)
    return v.tolist(), f.tolist()
