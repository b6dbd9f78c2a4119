"""The lasso region a user draws on an image, Qt-free (the labelme pattern: a plain polygon model, no widgets).

A :class:`Polygon` is a closed outline of float64 (N, 2) points ``(x, y)`` in fractions of the image (0..1, x to
the right, y down), so it does not depend on the image's size or on how large the canvas shows it. A :class:`Lasso`
is an ordered list of operations, each adding or subtracting one polygon, with undo and redo; :meth:`Lasso.mask`
turns it into the boolean (S, S) region that traversal features use (``FeatureContext.lasso``).

A pixel belongs to a polygon when its center lies inside by the even-odd rule; centers exactly on an edge follow
the usual half-open convention (top and left edges inside, bottom and right edges outside), so two polygons that
share an edge never both claim the pixels on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MODES = ("add", "subtract")
MIN_AREA = 1e-9  # in squared image fractions: below this a polygon is a line or a point, not a region


class LassoError(ValueError):
    """A polygon that cannot be a lasso region (too few points, no area, crossing itself); one sentence."""


def _as_points(points: object) -> np.ndarray:
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise LassoError("a lasso needs a list of (x, y) points") from None
    if array.size == 0:
        return np.zeros((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise LassoError(f"a lasso needs (x, y) points, got an array of shape {array.shape}")
    if not np.isfinite(array).all():
        raise LassoError("a lasso point is not a finite number")
    return array


def clean_points(points: object) -> np.ndarray:
    """``points`` as float64 (N, 2) without repeated consecutive points (a closing repeat of the first included)."""
    array = _as_points(points)
    if len(array) < 2:
        return array
    keep = np.ones(len(array), dtype=bool)
    keep[1:] = np.any(array[1:] != array[:-1], axis=1)
    array = array[keep]
    while len(array) > 1 and np.array_equal(array[0], array[-1]):
        array = array[:-1]
    return array


def polygon_area(points: np.ndarray) -> float:
    """Signed area by the shoelace formula (positive when counter-clockwise in x-right, y-up axes)."""
    x, y = points[:, 0], points[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _orientation(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Sign of the cross product (q - p) x (r - p), broadcast over leading axes: 1, -1 or 0 (collinear)."""
    cross = (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (
        r[..., 0] - p[..., 0]
    )
    return np.sign(cross)


def _on_segment(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Whether r lies in the bounding box of segment pq (used once p, q, r are known to be collinear)."""
    return (
        (np.minimum(p[..., 0], q[..., 0]) <= r[..., 0])
        & (r[..., 0] <= np.maximum(p[..., 0], q[..., 0]))
        & (np.minimum(p[..., 1], q[..., 1]) <= r[..., 1])
        & (r[..., 1] <= np.maximum(p[..., 1], q[..., 1]))
    )


def segments_intersect(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Whether segments a0-a1 and b0-b1 share a point (crossing, touching or overlapping); broadcasts."""
    o1, o2 = _orientation(a0, a1, b0), _orientation(a0, a1, b1)
    o3, o4 = _orientation(b0, b1, a0), _orientation(b0, b1, a1)
    crossing = (o1 * o2 < 0) & (o3 * o4 < 0)
    touching = (
        ((o1 == 0) & _on_segment(a0, a1, b0))
        | ((o2 == 0) & _on_segment(a0, a1, b1))
        | ((o3 == 0) & _on_segment(b0, b1, a0))
        | ((o4 == 0) & _on_segment(b0, b1, a1))
    )
    return crossing | touching


def is_self_intersecting(points: object) -> bool:
    """Whether any two non-adjacent edges of the closed polygon meet (cross, touch or overlap).

    Edges i and i+1 share a vertex and are not compared; a polygon with fewer than 4 distinct points cannot
    cross itself. Runs in O(N^2) memory-light blocks, fine for the few hundred points of a freehand lasso.
    """
    pts = clean_points(points)
    n = len(pts)
    if n < 4:
        return False
    starts, ends = pts, np.roll(pts, -1, axis=0)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the last edge is adjacent to the first
    i, j = i[keep], j[keep]
    block = 200_000
    for k in range(0, len(i), block):
        ii, jj = i[k : k + block], j[k : k + block]
        if segments_intersect(starts[ii], ends[ii], starts[jj], ends[jj]).any():
            return True
    return False


def rasterize_polygon(points: object, size: int) -> np.ndarray:
    """The pixels of a ``size`` x ``size`` image whose centers lie inside the polygon -> bool (size, size).

    ``points`` are (x, y) in image fractions; the even-odd rule decides inside, so the polygon need not be
    convex. Each edge crossing a row's center line toggles every pixel of that row to the left of the crossing.
    """
    size = int(size)
    if size <= 0:
        raise ValueError(f"the mask size must be positive, got {size}")
    pts = clean_points(points)
    if len(pts) < 3:
        return np.zeros((size, size), dtype=bool)
    px = pts * size - 0.5  # pixel-center coordinates: center of pixel k is at k
    x0, y0 = px[:, 0], px[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    rows = np.arange(size, dtype=np.float64)
    # (edges, rows): the edge crosses the row's center line; half-open in y so a vertex is counted once.
    crosses = (y0[:, None] <= rows[None, :]) != (y1[:, None] <= rows[None, :])
    e, r = np.nonzero(crosses)
    t = (rows[r] - y0[e]) / (y1[e] - y0[e])  # y0 != y1 wherever the row is crossed
    x_cross = x0[e] + t * (x1[e] - x0[e])
    # Pixel centers strictly left of the crossing are toggled: columns 0 .. ceil(x_cross) - 1.
    stop = np.clip(np.ceil(x_cross), 0, size).astype(np.int64)
    toggles = np.zeros((size, size + 1), dtype=np.int64)
    np.add.at(toggles, (r, np.zeros_like(stop)), 1)
    np.add.at(toggles, (r, stop), -1)
    return (np.cumsum(toggles[:, :size], axis=1) % 2).astype(bool)


@dataclass(frozen=True, eq=False)
class Polygon:
    """A closed outline: float64 (N, 2) points (x, y) in image fractions, N >= 3, with area, not crossing itself.

    Construction cleans repeated consecutive points and raises :class:`LassoError` for an unusable outline.
    """

    points: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        pts = clean_points(self.points)
        if len(pts) < 3:
            raise LassoError("a lasso needs at least three distinct points; drag around the region to select")
        if is_self_intersecting(pts):
            raise LassoError("the lasso crosses itself; draw one loop around the region without crossing it")
        if abs(polygon_area(pts)) < MIN_AREA:
            raise LassoError("the lasso encloses no area; drag around the region instead of along a line")
        pts.setflags(write=False)
        object.__setattr__(self, "points", pts)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def area(self) -> float:
        """Area in squared image fractions (1.0 is the whole image)."""
        return abs(polygon_area(self.points))

    def rasterize(self, size: int) -> np.ndarray:
        return rasterize_polygon(self.points, size)


@dataclass(frozen=True)
class Operation:
    """One step of a lasso: add or subtract a polygon."""

    mode: str
    polygon: Polygon


class Lasso:
    """An ordered list of add/subtract polygon operations with undo and redo.

    Every change (add, clear) is one undoable step; a new change after an undo drops the redo steps. The mask is
    the operations replayed in order on an empty image.
    """

    def __init__(self) -> None:
        self._state: tuple[Operation, ...] = ()
        self._undo: list[tuple[Operation, ...]] = []
        self._redo: list[tuple[Operation, ...]] = []
        self._masks: dict[int, np.ndarray] = {}

    # --- reading ----------------------------------------------------------------------------------------------
    @property
    def operations(self) -> tuple[Operation, ...]:
        return self._state

    def is_empty(self) -> bool:
        """True when no operation is left (a lasso whose subtractions removed everything is not 'empty')."""
        return not self._state

    def __len__(self) -> int:
        return len(self._state)

    def mask(self, size: int) -> np.ndarray:
        """The region at ``size`` x ``size`` pixels -> bool (size, size) (a fresh copy)."""
        size = int(size)
        cached = self._masks.get(size)
        if cached is None:
            cached = np.zeros((size, size), dtype=bool)
            for op in self._state:
                region = op.polygon.rasterize(size)
                cached = cached | region if op.mode == "add" else cached & ~region
            self._masks[size] = cached
        return cached.copy()

    # --- changing ---------------------------------------------------------------------------------------------
    def add(self, points: object, mode: str = "add") -> Operation:
        """Add (or subtract) the polygon through ``points``; raises :class:`LassoError` and changes nothing if
        the polygon is unusable."""
        if mode not in MODES:
            raise LassoError(f"unknown lasso mode {mode!r}; use 'add' or 'subtract'")
        polygon = points if isinstance(points, Polygon) else Polygon(points)
        op = Operation(mode, polygon)
        self._set(self._state + (op,))
        return op

    def clear(self) -> bool:
        """Remove every operation (one undoable step); returns False when there was nothing to clear."""
        if not self._state:
            return False
        self._set(())
        return True

    def _set(self, state: tuple[Operation, ...]) -> None:
        self._undo.append(self._state)
        self._redo.clear()
        self._state = state
        self._masks.clear()

    # --- history ----------------------------------------------------------------------------------------------
    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Go back one step; returns False when there is none."""
        return self._step(self._undo, self._redo)

    def redo(self) -> bool:
        """Go forward one undone step; returns False when there is none."""
        return self._step(self._redo, self._undo)

    def _step(self, source: list[tuple[Operation, ...]], keep: list[tuple[Operation, ...]]) -> bool:
        """Make the newest state of ``source`` current and keep the current one on ``keep``."""
        if not source:
            return False
        keep.append(self._state)
        self._state = source.pop()
        self._masks.clear()
        return True


def lasso_from_polygons(polygons: Sequence[tuple[str, object]]) -> Lasso:
    """A lasso built from (mode, points) pairs in order (tests, restoring a saved lasso)."""
    lasso = Lasso()
    for mode, points in polygons:
        lasso.add(points, mode)
    return lasso
