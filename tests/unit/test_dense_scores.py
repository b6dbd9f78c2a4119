"""Dense scores (gan_studio.metrics.dense_scores) on hand-made arrays with known answers, and the label-consistent
flip of the downstream training's augmentation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES
from gan_studio.metrics import dense_scores as ds

# ------------------------------------------------------------------------------------------------------ mIoU


def test_perfect_segmentation_has_miou_one():
    gt = np.array([[[0, 1], [2, 2]]])
    out = ds.segmentation_scores(gt, gt.copy(), 3)
    assert out["miou"] == pytest.approx(1.0)
    assert out["miou_no_background"] == pytest.approx(1.0)
    assert out["pixel_accuracy"] == pytest.approx(1.0)


def test_miou_by_hand_pooled_over_images_with_and_without_background():
    # image 1: gt [0 0 1 1], pred [0 1 1 1]; image 2: gt [0 0 0 2], pred [0 0 0 0]
    gt = np.array([[[0, 0, 1, 1]], [[0, 0, 0, 2]]])
    pred = np.array([[[0, 1, 1, 1]], [[0, 0, 0, 0]]])
    out = ds.segmentation_scores(gt, pred, 4, ["bg", "a", "b", "c"])
    # class 0: I = 4, U = 6 (gt 5 + pred 5 - 4) -> 4/6; class 1: I = 2, U = 3 -> 2/3; class 2: I = 0, U = 1 -> 0
    # class 3: neither labeled nor predicted -> left out
    assert out["iou"] == {"bg": pytest.approx(4 / 6), "a": pytest.approx(2 / 3), "b": 0.0, "c": None}
    assert out["miou"] == pytest.approx((4 / 6 + 2 / 3 + 0) / 3)
    assert out["miou_no_background"] == pytest.approx((2 / 3 + 0) / 2)
    assert out["pixel_accuracy"] == pytest.approx(6 / 8)


def test_a_class_only_predicted_counts_as_zero():
    gt = np.zeros((1, 2, 2), int)
    pred = np.array([[[0, 0], [0, 1]]])
    out = ds.segmentation_scores(gt, pred, 2)
    assert out["iou"]["1"] == 0.0
    assert out["miou"] == pytest.approx((3 / 4 + 0) / 2)


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError):
        ds.confusion_matrix(np.zeros(3, int), np.zeros(4, int), 2)
    with pytest.raises(ValueError):
        ds.confusion_matrix(np.array([0, 2]), np.array([0, 1]), 2)


# ------------------------------------------------------------------------------------------------------- PCK


def test_pck_counts_only_visible_keypoints_within_five_percent_of_the_size():
    gt = np.array([[[10, 10, 2], [20, 20, 2], [30, 30, 1], [40, 40, 0], [50, 50, 2]]], np.float32)
    pred = gt.copy()
    pred[0, 0, :2] += (3.0, 0.0)  # 3.0 px <= 0.05 * 64 = 3.2 px: hit
    pred[0, 1, :2] += (2.4, 2.4)  # 3.39 px: miss
    pred[0, 2, :2] += (30, 0)  # hidden in the ground truth: not scored
    pred[0, 3, :2] += (30, 0)  # not labeled: not scored
    pred[0, 4, 2] = 0  # visible but not located: miss
    value, n = ds.pck(gt, pred, 64)
    assert n == 3
    assert value == pytest.approx(1 / 3)
    assert ds.pck(gt, pred, 64, alpha=0.1)[0] == pytest.approx(2 / 3)


def test_pck_is_nan_without_visible_keypoints():
    gt = np.zeros((2, 3, 3), np.float32)
    value, n = ds.pck(gt, gt, 64)
    assert n == 0 and math.isnan(value)


# ----------------------------------------------------------------------------------------------------- depth


def test_depth_errors_on_defined_pixels_only():
    gt = np.array([[2.0, 4.0], [0.0, 0.0]])
    pred = np.array([[2.5, 3.0], [9.0, 0.0]])  # errors 0.5 and -1.0 where defined; the rest is ignored
    out = ds.depth_errors(gt, pred)
    assert out["pixels"] == 2
    assert out["rmse"] == pytest.approx(math.sqrt((0.25 + 1.0) / 2))
    assert out["absrel"] == pytest.approx((0.5 / 2 + 1.0 / 4) / 2)


def test_dense_scores_combines_the_three():
    mask = np.zeros((1, 64, 64), np.uint8)
    mask[0, 10:20, 10:20] = 2
    depth = np.where(mask > 0, 2.0, 0.0).astype(np.float32)
    kps = np.array([[[15.0, 15.0, 2.0]]], np.float32)
    gt = {"mask": mask, "keypoints": kps, "depth": depth}
    out = ds.dense_scores(gt, {"mask": mask, "keypoints": kps, "depth": depth * 1.1}, len(PART_NAMES))
    assert out["miou"] == pytest.approx(1.0)
    assert out["pck"] == pytest.approx(1.0) and out["pck_keypoints"] == 1
    assert out["depth_absrel"] == pytest.approx(0.1, rel=1e-5)
    assert out["depth_rmse"] == pytest.approx(0.2, rel=1e-5)
    assert out["depth_pixels"] == 100


# ------------------------------------------------------------------------ augmentation keeps labels consistent


def test_flip_permutation_swaps_left_and_right_names():
    from gan_studio.train.dense_training import flip_permutation

    assert [PART_NAMES[i] for i in flip_permutation(PART_NAMES)][2:4] == ["right_leg", "left_leg"]
    mirrored = [KEYPOINTS[i] for i in flip_permutation(KEYPOINTS)]
    assert mirrored[:3] == ["waist_right", "waist_left", "crotch"]
    assert mirrored[5] == "hem_right_outer" and mirrored[6] == "hem_right_inner"
    with pytest.raises(ValueError):
        flip_permutation(["left_arm"])


def test_flip_augmentation_moves_labels_with_the_image():
    from gan_studio.data.catalog import render_item
    from gan_studio.train.dense_training import DenseTrainingConfig, augment, stack_items

    item = render_item(1006, 3, 64)
    data = stack_items([item])
    cfg = DenseTrainingConfig(flip=1.0, scale=0.0, shift=0.0, brightness=0.0, cutout=0.0)
    out = augment(data, cfg, torch.Generator().manual_seed(0))
    assert torch.allclose(out.images, data.images.flip(-1), atol=1e-5)
    left, right = PART_NAMES.index("left_leg"), PART_NAMES.index("right_leg")
    flipped = data.masks.flip(-1)
    assert torch.equal(out.masks == left, flipped == right)
    assert torch.equal(out.masks == right, flipped == left)
    assert torch.allclose(out.depths, data.depths.flip(-1))
    k = KEYPOINTS.index("knee_left")
    original = data.keypoints[0, KEYPOINTS.index("knee_right")]
    if original[2] > 0:
        assert out.keypoints[0, k, 0] == pytest.approx(64 - float(original[0]), abs=1e-4)
        assert out.keypoints[0, k, 1] == pytest.approx(float(original[1]), abs=1e-4)


def test_shift_moves_keypoints_with_the_mask():
    from gan_studio.train.dense_training import DenseData, DenseTrainingConfig, augment

    mask = torch.zeros(1, 16, 16, dtype=torch.long)
    mask[0, 4, 6] = 1  # pixel (x=6, y=4), centre (6.5, 4.5)
    data = DenseData(
        torch.zeros(1, 3, 16, 16), mask, torch.tensor([[[6.5, 4.5, 2.0]]]), torch.zeros(1, 16, 16)
    )
    cfg = DenseTrainingConfig(flip=0.0, scale=0.0, shift=0.1, brightness=0.0, cutout=0.0)
    out = augment(data, cfg, torch.Generator().manual_seed(3))
    assert out.keypoints[0, 0, 2] == 2.0
    ys, xs = torch.nonzero(out.masks[0] == 1, as_tuple=True)
    assert len(xs) == 1
    x, y = float(out.keypoints[0, 0, 0]), float(out.keypoints[0, 0, 1])
    assert (x, y) != (6.5, 4.5)  # it moved
    assert int(xs[0]) <= x < int(xs[0]) + 1 and int(ys[0]) <= y < int(ys[0]) + 1  # into the labeled pixel


def test_class_weights_favor_rare_classes_and_cap_absent_ones():
    from gan_studio.train.dense_training import class_weights

    masks = torch.tensor([[0] * 80 + [1] * 16 + [2] * 4])  # frequencies .8, .16, .04; median .16
    w = class_weights(masks, 4, 0.5, cap=10.0)
    assert w.tolist() == pytest.approx([math.sqrt(0.16 / 0.8), 1.0, 2.0, 10.0])
    assert class_weights(masks, 4, 0.0) is None
