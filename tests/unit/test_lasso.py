"""The Qt-free lasso: polygon rasterization (pixel centers, even-odd), validation, add/subtract, undo/redo."""

from __future__ import annotations

import numpy as np
import pytest

from gan_studio.methods.lasso import (
    Lasso,
    LassoError,
    Polygon,
    clean_points,
    is_self_intersecting,
    lasso_from_polygons,
    rasterize_polygon,
)

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
BOWTIE = [(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)]


def reference_mask(points, size: int) -> np.ndarray:
    """Pixel-by-pixel ray casting (the textbook even-odd test) at each pixel center."""
    pts = np.asarray(points, dtype=float)
    out = np.zeros((size, size), dtype=bool)
    for row in range(size):
        for col in range(size):
            x, y = (col + 0.5) / size, (row + 0.5) / size
            inside = False
            for k in range(len(pts)):
                (x0, y0), (x1, y1) = pts[k], pts[(k + 1) % len(pts)]
                if (y0 <= y) != (y1 <= y) and x < x0 + (y - y0) / (y1 - y0) * (x1 - x0):
                    inside = not inside
            out[row, col] = inside
    return out


def test_square_rasterizes_to_exactly_its_pixel_block() -> None:
    mask = rasterize_polygon(SQUARE, 8)
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 2:6] = True  # centers 0.3125 .. 0.6875 lie inside [0.25, 0.75]
    np.testing.assert_array_equal(mask, expected)
    assert mask.dtype == bool and mask.shape == (8, 8)
    # the same square, clockwise and starting elsewhere, with a closing repeat of its first point
    np.testing.assert_array_equal(
        rasterize_polygon([*SQUARE[::-1][1:], SQUARE[::-1][0], SQUARE[3]], 8), expected
    )
    # the whole image; and a polygon reaching outside the image is cut at its border
    assert rasterize_polygon([(0, 0), (1, 0), (1, 1), (0, 1)], 5).all()
    big = rasterize_polygon([(-1, -1), (0.5, -1), (0.5, 2), (-1, 2)], 4)
    np.testing.assert_array_equal(big, np.repeat([[True, True, False, False]], 4, axis=0))


def test_centers_on_an_edge_follow_the_half_open_rule() -> None:
    # [0, 0.5] x [0, 0.5] at 3 px: center 0.5 (pixel 1) lies on the right/bottom edges, so it is outside;
    # the neighbouring square [0.5, 1] claims it instead (left/top edges are inside), never both.
    left = rasterize_polygon([(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)], 3)
    right = rasterize_polygon([(0.5, 0), (1, 0), (1, 0.5), (0.5, 0.5)], 3)
    assert left.sum() == 1 and left[0, 0]
    assert right[0, 1] and right[0, 2] and not (left & right).any()


def test_triangle_matches_a_hand_computed_mask() -> None:
    # Inside: x >= 0.1, y >= 0.1, x + y < 0.95. Centers (c + 0.5) / 8: c >= 1, r >= 1 and c + r <= 6.
    triangle = [(0.1, 0.1), (0.85, 0.1), (0.1, 0.85)]
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0, 1, 1, 1, 1, 1, 0, 0],
            [0, 1, 1, 1, 1, 0, 0, 0],
            [0, 1, 1, 1, 0, 0, 0, 0],
            [0, 1, 1, 0, 0, 0, 0, 0],
            [0, 1, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(rasterize_polygon(triangle, 8), expected)
    np.testing.assert_array_equal(Polygon(triangle).rasterize(8), expected)


def test_concave_and_random_polygons_match_ray_casting() -> None:
    notch = [
        (0.1, 0.1),
        (0.9, 0.1),
        (0.9, 0.9),
        (0.5, 0.4),
        (0.1, 0.9),
    ]  # an arrow-head: concave at (0.5, 0.4)
    np.testing.assert_array_equal(rasterize_polygon(notch, 23), reference_mask(notch, 23))
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(5, 12))
        # star-shaped around the center with gaps under 180 degrees between vertices: simple polygons
        angles = (np.arange(n) + rng.uniform(0, 0.9, n)) * 2 * np.pi / n
        radii = rng.uniform(0.1, 0.6, n)
        pts = np.stack([0.5 + radii * np.cos(angles), 0.5 + radii * np.sin(angles)], axis=1)
        np.testing.assert_array_equal(rasterize_polygon(pts, 17), reference_mask(pts, 17))
        assert not is_self_intersecting(pts)


def test_bad_polygons_are_rejected_with_one_sentence() -> None:
    assert is_self_intersecting(BOWTIE)
    assert not is_self_intersecting(SQUARE)
    assert is_self_intersecting(
        [(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.3, 0.1), (0.1, 0.5)]
    )  # a vertex touches
    cases = {
        "crosses itself": BOWTIE,
        "three distinct points": [(0.1, 0.1), (0.5, 0.5), (0.5, 0.5), (0.1, 0.1)],
        "no area": [(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)],
    }
    for words, points in cases.items():
        with pytest.raises(LassoError, match=words) as info:
            Polygon(points)
        assert str(info.value).count(".") == 0 and "\n" not in str(info.value)
    for bad in ([(0.1, 0.2, 0.3)], [(0.1, float("nan")), (0.2, 0.2), (0.3, 0.1)], "abc"):
        with pytest.raises(LassoError):
            Polygon(bad)
    assert clean_points([(0, 0), (0, 0), (1, 0), (1, 1), (0, 0)]).tolist() == [[0, 0], [1, 0], [1, 1]]

    lasso = Lasso()
    with pytest.raises(LassoError):
        lasso.add(BOWTIE)
    with pytest.raises(LassoError, match="mode"):
        lasso.add(SQUARE, "xor")
    assert lasso.is_empty() and not lasso.can_undo()  # a rejected shape changes nothing


def test_subtract_carves_a_hole() -> None:
    lasso = Lasso()
    lasso.add([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
    lasso.add(SQUARE, "subtract")
    expected = np.ones((8, 8), dtype=bool)
    expected[2:6, 2:6] = False
    np.testing.assert_array_equal(lasso.mask(8), expected)
    # order matters: adding the square back fills the hole; subtracting first then adding leaves it full
    lasso.add(SQUARE)
    assert lasso.mask(8).all()
    only_subtract = lasso_from_polygons([("subtract", SQUARE)])
    assert not only_subtract.mask(8).any() and not only_subtract.is_empty()


def test_undo_redo_and_clear() -> None:
    lasso = Lasso()
    assert not lasso.can_undo() and not lasso.can_redo() and not lasso.undo() and not lasso.redo()
    assert not lasso.clear()  # nothing to clear: no step recorded
    lasso.add(SQUARE)
    lasso.add([(0.0, 0.0), (0.25, 0.0), (0.25, 0.25), (0.0, 0.25)])
    both = lasso.mask(8)
    assert both.sum() == 16 + 4
    mask = lasso.mask(8)
    mask[:] = False  # callers get a copy
    assert lasso.mask(8).sum() == 20

    assert lasso.undo() and lasso.mask(8).sum() == 16 and lasso.can_redo()
    assert lasso.redo() and np.array_equal(lasso.mask(8), both) and not lasso.can_redo()
    assert lasso.clear() and lasso.is_empty() and not lasso.mask(8).any()
    assert lasso.undo() and np.array_equal(lasso.mask(8), both)  # clear is one undoable step
    assert lasso.undo() and lasso.undo() and lasso.is_empty() and not lasso.can_undo()
    assert lasso.redo() and len(lasso) == 1
    lasso.add(BOWTIE[:3])  # a new step drops the redo tail
    assert not lasso.can_redo() and len(lasso) == 2
    assert [op.mode for op in lasso.operations] == ["add", "add"]
    assert lasso.mask(16).shape == (16, 16)  # any size, from the same fractions
