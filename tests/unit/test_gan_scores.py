"""The math of the GAN scores (gan_studio.metrics.gan_scores) on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from gan_studio.data.color import lab_to_rgb
from gan_studio.data.colortable import ColorTable
from gan_studio.metrics import gan_scores as gs

# ---------------------------------------------------------------------------------------------- inception score


def test_inception_score_is_one_for_identical_confident_predictions():
    probs = np.tile(np.eye(5)[2], (40, 1))
    mean, std = gs.inception_score(probs, splits=4)
    assert mean == pytest.approx(1.0)
    assert std == pytest.approx(0.0)


def test_inception_score_is_one_for_uniform_predictions():
    mean, _ = gs.inception_score(np.full((30, 6), 1 / 6), splits=3)
    assert mean == pytest.approx(1.0)


def test_inception_score_is_k_for_confident_predictions_spread_over_k_classes():
    k = 7
    probs = np.tile(np.eye(k), (10, 1))  # every split of 7 consecutive rows holds each class once
    mean, std = gs.inception_score(probs, splits=10)
    assert mean == pytest.approx(k, rel=1e-6)
    assert std == pytest.approx(0.0, abs=1e-6)


def test_inception_score_between_one_and_k_and_splits_capped_by_n():
    rng = np.random.default_rng(0)
    probs = gs.softmax(rng.normal(size=(3, 4)) * 3)
    mean, std = gs.inception_score(probs, splits=10)  # 3 rows -> 3 splits of one row: each scores 1
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0)
    probs = gs.softmax(rng.normal(size=(200, 4)) * 3)
    mean, _ = gs.inception_score(probs, splits=2)
    assert 1.0 < mean < 4.0


def test_inception_score_rejects_empty():
    with pytest.raises(ValueError):
        gs.inception_score(np.zeros((0, 3)))


# ---------------------------------------------------------------------------------------------------------- FID


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(1).normal(size=(300, 16))
    assert gs.fid(x, x) == pytest.approx(0.0, abs=1e-6)


def test_fid_of_a_shifted_copy_is_the_squared_shift():
    x = np.random.default_rng(2).normal(size=(500, 8))
    shift = np.array([1.0, -2.0, 0.5, 0, 0, 0, 0, 3.0])
    assert gs.fid(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-6)


def test_fid_of_independent_shifted_gaussians_is_about_the_squared_shift():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20000, 4))
    b = rng.normal(size=(20000, 4)) + np.array([2.0, 0.0, 0.0, 0.0])
    assert gs.fid(a, b) == pytest.approx(4.0, abs=0.1)


def test_frechet_distance_of_gaussians_with_different_scales():
    # 1-D: (mu1 - mu2)^2 + (s1 - s2)^2
    d = gs.frechet_distance(np.array([0.0]), np.array([[4.0]]), np.array([1.0]), np.array([[1.0]]))
    assert d == pytest.approx(1.0 + 1.0)


def test_fid_with_fewer_samples_than_dimensions_is_finite():
    rng = np.random.default_rng(4)
    value = gs.fid(rng.normal(size=(3, 64)), rng.normal(size=(4, 64)))
    assert np.isfinite(value) and value >= 0.0


def test_fid_rejects_too_few_or_mismatched_features():
    with pytest.raises(ValueError):
        gs.fid(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(ValueError):
        gs.fid(np.zeros((5, 4)), np.zeros((5, 3)))


# ------------------------------------------------------------------------------------------------------- color


def test_color_error_is_zero_at_the_centroid():
    table = ColorTable.load()
    lab = np.array(table.clusters[table.cluster_of("navy")].lab)
    assert float(gs.color_error(lab, lab)) == pytest.approx(0.0, abs=1e-9)


def test_garment_lab_of_a_centroid_colored_garment_on_white_background():
    table = ColorTable.load()
    lab = np.array(table.clusters[table.cluster_of("red")].lab)
    rgb = np.round(lab_to_rgb(lab) * 255).astype(np.uint8)
    image = np.full((64, 64, 3), 246, np.uint8)  # the catalog's near-white background
    image[16:56, 20:44] = rgb
    errors = gs.image_color_errors([image], lab[None])
    assert errors.shape == (1,)
    assert errors[0] < 1.0  # only the uint8 rounding of the swatch
    other = np.array(table.clusters[table.cluster_of("green")].lab)
    assert gs.image_color_errors([image], other[None])[0] > 30


# ------------------------------------------------------------------------------------------ attribute accuracy


def test_attribute_accuracy_skips_unstated():
    pred = np.array([[0, 1], [1, 1], [2, 0], [0, 0]])
    target = np.array([[0, -1], [1, 0], [0, -1], [-1, -1]])
    acc = gs.attribute_accuracy(pred, target, ("type", "fit"))
    assert acc["type"] == {"accuracy": pytest.approx(2 / 3), "n": 3}
    assert acc["fit"] == {"accuracy": 0.0, "n": 1}
    none = gs.attribute_accuracy(pred[:1], np.full((1, 2), -1), ("type", "fit"))
    assert none["type"] == {"accuracy": None, "n": 0}


# --------------------------------------------------------------------------------------- incremental consistency

# Three words over two heads (columns: type, color). Word 1 states type 2, word 2 states nothing (a brand),
# word 3 states color 5.
STATED = np.array([[-1, -1], [2, -1], [2, -1], [2, 5]])


def test_effect_counts():
    pred = np.array([[0, 0], [2, 0], [2, 0], [2, 5]])
    hits, total = gs.effect_counts(STATED, pred, [0, 1])
    assert total.tolist() == [1, 1] and hits.tolist() == [1, 1]
    pred_missed = np.array([[0, 0], [1, 0], [2, 0], [2, 3]])
    hits, total = gs.effect_counts(STATED, pred_missed, [0, 1])
    assert hits.tolist() == [0, 0] and total.tolist() == [1, 1]


def test_kept_counts_conditional_and_unconditional():
    # type shown after word 1, lost after word 2 (the brand), back after word 3.
    pred = np.array([[0, 0], [2, 0], [1, 0], [2, 5]])
    kept, total = gs.kept_counts(STATED, pred, [0, 1], conditional=True)
    # word 2: type shown before and lost -> counted, not kept; word 3: type not shown before -> not counted
    assert total.tolist() == [1, 0] and kept.tolist() == [0, 0]
    held, total = gs.kept_counts(STATED, pred, [0, 1], conditional=False)
    # type was stated before words 2 and 3 and not changed by them; predicted after word 3 only
    assert total.tolist() == [2, 0] and held.tolist() == [1, 0]
    steady = np.array([[0, 0], [2, 0], [2, 0], [2, 5]])
    kept, total = gs.kept_counts(STATED, steady, [0, 1])
    assert kept.tolist() == total.tolist() == [2, 0]


def test_a_restated_attribute_switch_is_an_effect_not_a_keep():
    stated = np.array([[-1], [1], [3]])  # "pants" then "jeans": the type changes
    pred = np.array([[0], [1], [3]])
    assert [x.tolist() for x in gs.effect_counts(stated, pred, [0])] == [[2], [2]]
    assert [x.tolist() for x in gs.kept_counts(stated, pred, [0])] == [[0], [0]]


def test_word_kinds():
    assert gs.word_kinds(STATED) == ["attribute", "nothing", "attribute"]
    assert gs.word_kinds(STATED, [False, True, False]) == ["attribute", "detail", "attribute"]
    with pytest.raises(ValueError):
        gs.word_kinds(STATED, [False])


def test_pixel_and_feature_change():
    images = np.zeros((3, 4, 4, 3), np.uint8)
    images[1] = 255
    images[2] = 255
    images[2, :2] = 0  # half the pixels back to black
    assert gs.pixel_change(images).tolist() == pytest.approx([1.0, 0.5])
    feats = np.array([[0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])
    assert gs.feature_change(feats).tolist() == pytest.approx([5.0, 0.0])


def test_consistency_summary_pools_titles():
    pred = np.array([[0, 0], [2, 0], [2, 0], [2, 5]])
    seq = {
        "stated": STATED,
        "pred": pred,
        "pixel_change": np.array([0.3, 0.01, 0.2]),
        "feature_change": np.array([4.0, 0.5, 6.0]),
    }
    other = dict(seq, pred=np.array([[0, 0], [1, 0], [1, 0], [1, 5]]))  # type never shown
    out = gs.consistency_summary([seq, other], {"type": 0, "color": 1}, ("type", "color"))
    assert out["titles"] == 2
    assert out["takes_effect"]["value"] == pytest.approx(3 / 4) and out["takes_effect"]["n"] == 4
    assert out["takes_effect"]["by_head"]["type"] == {"value": 0.5, "n": 2}
    assert out["kept"]["value"] == 1.0 and out["kept"]["n"] == 2  # only the first title showed the type
    assert out["held"]["value"] == pytest.approx(2 / 4)
    ch = out["change"]
    assert ch["nothing"]["pixel"] == pytest.approx(0.01) and ch["nothing"]["n"] == 2
    assert ch["attribute"]["pixel"] == pytest.approx(0.25) and ch["attribute"]["n"] == 4
    assert ch["detail"] == {"pixel": None, "feature": None, "n": 0}
    assert ch["ratio_nothing_to_attribute_pixel"] == pytest.approx(0.01 / 0.25)
    assert ch["ratio_nothing_to_attribute_feature"] == pytest.approx(0.5 / 5.0)


def test_consistency_summary_of_nothing():
    out = gs.consistency_summary([], {"type": 0}, ("type",))
    assert out["titles"] == 0 and out["kept"]["value"] is None
    assert out["change"]["ratio_nothing_to_attribute_pixel"] is None
