"""The built-in catalog renderer: determinism, attribute combinations, and labels that agree with the image."""

import numpy as np
import pytest

from gan_studio.data.attributes import (
    COLOR_LAB,
    FLARE_LENGTHS,
    KEYPOINTS,
    PART_NAMES,
    TYPE_FITS,
    TYPE_LENGTHS,
)
from gan_studio.data.catalog import BACKGROUND, attributes_of, render_item
from gan_studio.data.titles import GENDER_WORDS, TYPE_WORDS

ITEMS = [render_item(5, i, 96) for i in range(80)]


def test_same_seed_and_index_give_identical_items():
    a, b = render_item(3, 17, 64), render_item(3, 17, 64)
    assert a.id == b.id and a.title == b.title and a.attributes == b.attributes
    for name in ("image", "mask", "keypoints", "depth"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_different_indices_and_seeds_differ():
    assert not np.array_equal(render_item(3, 17, 64).image, render_item(3, 18, 64).image)
    assert not np.array_equal(render_item(3, 17, 64).image, render_item(4, 17, 64).image)


def test_attributes_of_matches_render_without_rendering():
    for i in range(20):
        assert attributes_of(5, i) == ITEMS[i].attributes


def test_shapes_and_dtypes():
    it = render_item(0, 0, 128)
    assert it.image.shape == (128, 128, 3) and it.image.dtype == np.uint8
    assert it.mask.shape == (128, 128) and it.mask.dtype == np.uint8
    assert it.depth.shape == (128, 128) and it.depth.dtype == np.float32
    assert it.keypoints.shape == (len(KEYPOINTS), 3)
    assert it.mask.max() < len(PART_NAMES)


def test_attribute_combinations_are_the_allowed_ones():
    for it in ITEMS:
        a = it.attributes
        assert a.length in TYPE_LENGTHS[a.type]
        assert a.fit in TYPE_FITS[a.type]
        if a.fit == "bootcut":
            assert a.length in FLARE_LENGTHS
        assert a.color in COLOR_LAB


def test_titles_state_gender_type_and_color():
    for it in ITEMS:
        a, title = it.attributes, it.title
        assert a.color.lower() in title.lower()
        stated = GENDER_WORDS[a.gender] + {"men's": ("for Men",), "women's": ("for Women",)}.get(a.gender, ())
        assert any(w in title for w in stated), title
        assert any(w in title for w in TYPE_WORDS[a.type]), title


def test_mask_foreground_matches_the_garment_pixels():
    bg = np.round(BACKGROUND * 255)
    for it in ITEMS:
        fg = it.mask > 0
        # pixels more than one pixel (8-neighbourhood) from the mask edge agree exactly with the mask;
        # the edge itself is antialiased
        core, near = fg.copy(), fg.copy()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = np.roll(np.roll(fg, dy, axis=0), dx, axis=1)
                core &= shifted
                near |= shifted
        outside = ~near
        # background pixels are the near-white backdrop, garment pixels are not the backdrop
        diff = np.abs(it.image.astype(float) - bg).max(-1)
        assert diff[outside].max() <= 8, it.id
        assert np.mean(diff[core] > 8) > 0.97, it.id
        assert fg.sum() > 0.08 * fg.size


def test_keypoints_fall_on_the_garment():
    for it in ITEMS:
        for x, y, v in it.keypoints:
            if v == 2:
                assert it.mask[int(y), int(x)] > 0, (it.id, x, y)
        labeled = it.keypoints[:, 2] > 0
        assert labeled.sum() >= 7  # waist corners, crotch and hem corners are always labeled


def test_knees_unlabeled_only_when_the_hem_is_above_the_knee():
    for it in ITEMS:
        knees = it.keypoints[3:5, 2]
        if it.attributes.length == "short":
            assert (knees == 0).all()
        elif it.attributes.length in ("full", "ankle", "capri"):
            assert (knees == 2).all()


def test_depth_is_defined_exactly_on_the_garment():
    for it in ITEMS:
        fg = it.mask > 0
        assert (it.depth[fg] > 0).all()
        assert (it.depth[~fg] == 0).all()
        assert 1.5 < it.depth[fg].min() and it.depth[fg].max() <= 2.0


def test_depth_is_nearest_where_the_shading_says_the_surface_faces_the_camera():
    it = render_item(0, 1, 128)
    row = it.depth[int(0.45 * 128)]
    fg = row > 0
    # each leg bulges towards the camera: depth in its middle is smaller than at its edges
    assert row[fg].min() < row[fg][0] and row[fg].min() < row[fg][-1]


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_any_size_renders(size):
    it = render_item(1, 2, size)
    assert it.image.shape == (size, size, 3)
    assert (it.mask > 0).sum() > 0.05 * size * size


def test_every_part_appears_in_the_catalog():
    seen = set()
    for it in ITEMS:
        seen |= set(np.unique(it.mask).tolist())
    assert seen == set(range(len(PART_NAMES)))


def test_too_small_size_is_refused():
    with pytest.raises(ValueError, match="at least 16"):
        render_item(0, 0, 8)
