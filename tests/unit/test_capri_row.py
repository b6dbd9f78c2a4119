"""The capri row's measures on pictures whose garment height and color are known."""

from __future__ import annotations

import numpy as np
import pytest

from gan_studio.metrics.capri_row import garment_height, garment_mask, measure_pair


def _picture(top: int, bottom: int, rgb=(20, 20, 20), speckle: bool = False) -> np.ndarray:
    image = np.full((128, 128, 3), 250, np.uint8)
    image[top:bottom, 40:88] = rgb
    if speckle:  # a stray dark pixel far below the garment must not count as garment
        image[126, 5] = (0, 0, 0)
    return image


def test_height_comes_from_the_largest_region_only():
    mask = garment_mask(_picture(10, 110, speckle=True))
    assert garment_height(mask) == 100
    assert garment_height(np.zeros((8, 8), bool)) == 0


def test_a_faint_speckle_trail_under_the_hem_does_not_lengthen_the_garment():
    image = _picture(10, 90)
    image[90:120, 60:62] = (215, 215, 215)  # faint, thin, attached to the hem
    image[90:100, 70:71] = (30, 30, 30)  # dark but one pixel wide
    assert garment_height(garment_mask(image)) == 80


@pytest.mark.parametrize("size", [64, 128])
def test_heights_of_real_catalog_items_match_their_part_masks(size):
    from gan_studio.data.catalog import render_item

    for index in range(12):
        item = render_item(0, index, size)
        rows = np.flatnonzero((np.asarray(item.mask) > 0).any(axis=1))
        true = rows[-1] - rows[0] + 1
        assert abs(garment_height(garment_mask(item.image)) - true) <= 0.1 * true, (index, item.attributes)


def test_a_shorter_garment_of_the_same_color_passes():
    row = measure_pair(_picture(10, 110), _picture(10, 70, speckle=True))
    assert row["height_ratio"] == 0.6 and row["color_difference"] < 1.0 and row["passed"]


def test_the_same_height_or_another_color_fails():
    same_height = measure_pair(_picture(10, 110), _picture(10, 108))
    assert not same_height["passed"] and same_height["height_ratio"] > 0.85
    green = measure_pair(_picture(10, 110), _picture(10, 70, rgb=(20, 90, 30)))
    assert not green["passed"] and green["color_difference"] > 10.0
