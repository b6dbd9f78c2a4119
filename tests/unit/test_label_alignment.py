"""The on-garment IoU of exported labels, measured from the files alone."""

import numpy as np
from PIL import Image

from gan_studio.data.catalog import render_item
from gan_studio.metrics.label_alignment import export_alignment, garment_region, item_alignment, mask_iou


def _photo(size=32, box=(8, 4, 24, 28), color=(40, 60, 120), background=(244, 243, 241)):
    image = np.empty((size, size, 3), np.uint8)
    image[:] = background
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = color
    return image


def test_garment_region_finds_a_light_garment_on_an_off_white_background():
    image = _photo(color=(222, 220, 214))  # cream on near-white: only ~22 levels apart
    region = garment_region(image)
    assert region[4:28, 8:24].all() and region.sum() == 16 * 24


def test_item_alignment_is_one_on_the_garment_and_drops_when_labels_spill():
    image = _photo()
    mask = np.zeros((32, 32), np.uint8)
    mask[4:28, 8:24] = 2
    assert item_alignment(image, mask) == 1.0
    mask[:, :] = 1  # everything labeled: IoU = garment area / image area
    assert abs(item_alignment(image, mask) - 16 * 24 / 32**2) < 1e-9
    assert mask_iou(np.zeros((3, 3), bool), np.zeros((3, 3), bool)) == 1.0


def test_garment_region_agrees_with_true_masks_of_real_items():
    ious = [item_alignment(it.image, it.mask) for it in (render_item(1005, i, 128) for i in range(12))]
    assert np.median(ious) > 0.93


def test_export_alignment_reads_images_and_masks(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    image = _photo()
    good = np.zeros((32, 32), np.uint8)
    good[4:28, 8:24] = 1
    bad = np.zeros((32, 32), np.uint8)
    bad[0:16, :] = 1
    for name, mask in (("a", good), ("b", bad)):
        Image.fromarray(image).save(tmp_path / "images" / f"{name}.png")
        Image.fromarray(mask).save(tmp_path / "masks" / f"{name}.png")
    out = export_alignment(tmp_path)
    assert out["items"] == 2 and out["ious"]["a"] == 1.0 and out["ious"]["b"] < 0.5
    assert out["share_at_0.9"] == 0.5
