"""Label overlays composed in numpy: masks, keypoints, depth."""

from __future__ import annotations

import numpy as np
import pytest

from gan_studio.data.attributes import PARTS
from gan_studio.data.item import CatalogItem
from gan_studio.data.overlay import (
    OVERLAYS,
    colorize_depth,
    colorize_mask,
    compose,
    compose_all,
    draw_keypoints,
    overlay_mask,
)


def _item(size=32) -> CatalogItem:
    image = np.full((size, size, 3), 240, np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[8:24, 8:16] = 2
    mask[8:24, 16:24] = 3
    depth = np.zeros((size, size), np.float32)
    depth[mask > 0] = np.linspace(1.9, 2.1, size, dtype=np.float32)[None, :].repeat(size, 0)[mask > 0]
    kps = np.array([[8, 8, 2], [24, 8, 2], [16, 14, 1]] + [[0, 0, 0]] * 6, np.float32)
    return CatalogItem("a", "t", image, None, mask, kps, depth)


def test_mask_colors_follow_the_part_palette() -> None:
    mask = np.array([[0, 1], [2, 200]], np.uint8)
    rgb = colorize_mask(mask)
    assert tuple(rgb[0, 1]) == PARTS[1][1] and tuple(rgb[1, 0]) == PARTS[2][1]
    assert tuple(rgb[1, 1]) == (255, 255, 255)  # beyond the palette
    custom = colorize_mask(mask, np.array([[0, 0, 0], [1, 2, 3], [4, 5, 6]]))
    assert tuple(custom[1, 0]) == (4, 5, 6)


def test_mask_overlay_leaves_background_alone() -> None:
    item = _item()
    out = overlay_mask(item.image, item.mask)
    assert out.dtype == np.uint8 and out.shape == item.image.shape
    assert np.array_equal(out[item.mask == 0], item.image[item.mask == 0])
    assert not np.array_equal(out[item.mask == 2], item.image[item.mask == 2])
    # a mask at another resolution is resized to the image (nearest neighbour)
    big = overlay_mask(np.full((64, 64, 3), 240, np.uint8), item.mask)
    assert big.shape == (64, 64, 3)


def test_depth_colormap_spans_near_to_far() -> None:
    depth = np.array([[0.0, 1.0, 2.0]], np.float32)
    rgb = colorize_depth(depth)
    assert tuple(rgb[0, 0]) == (0, 0, 0)
    assert tuple(rgb[0, 1]) == (253, 231, 37) and tuple(rgb[0, 2]) == (68, 1, 84)
    assert not colorize_depth(np.zeros((2, 2), np.float32)).any()


def test_keypoints_are_drawn_only_where_labeled() -> None:
    item = _item()
    out = draw_keypoints(item.image, item.keypoints)
    assert not np.array_equal(out[8, 8], item.image[8, 8])
    assert np.array_equal(out[0, 31], item.image[0, 31])  # far from every point and line
    assert np.array_equal(item.image, np.full_like(item.image, 240))  # input untouched


def test_compose_all_gives_every_available_view() -> None:
    item = _item()
    views = compose_all(item)
    assert set(views) == set(OVERLAYS)
    for a in OVERLAYS:
        for b in OVERLAYS:
            if a < b:
                assert not np.array_equal(views[a], views[b]), (a, b)
    bare = CatalogItem("b", "t", item.image)
    assert set(compose_all(bare)) == {"none"}
    assert np.array_equal(compose(item.image, "parts"), item.image)  # no mask: plain photo
    with pytest.raises(ValueError):
        compose(item.image, "normals")
