"""Traversal features: the ``--fix`` / ``--vary`` spec language, regions, bands, LAB color and attributes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.func import jvp

from gan_studio.data.color import rgb_to_lab as rgb_to_lab_numpy
from gan_studio.methods.features import (
    Feature,
    FeatureContext,
    FeatureError,
    build_features,
    gaussian_blur,
    parse_feature,
    region_of,
    rgb_to_lab,
)
from gan_studio.methods.regions import RegionError, box_mask, check_region, garment_mask
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

S = 16
TOP = box_mask((0.0, 0.0, 1.0, 0.5), S)


def _images(n: int = 2, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, S, S, generator=g, dtype=torch.float64) * 1.8 - 0.9).to(dtype)


@pytest.fixture(scope="module")
def classifier() -> AttributeClassifier:
    torch.manual_seed(0)
    return AttributeClassifier(ClassifierConfig(in_size=32, width=4)).eval()


# --------------------------------------------------------------------------------------------- the specs


def test_box_and_rest_are_complements():
    fixed, vary = build_features(["box:0,0,1,0.5"], ["rest"], FeatureContext(S))
    assert [f.name for f in fixed] == ["box:0,0,1,0.5"] and [f.name for f in vary] == ["rest"]
    assert fixed[0].kind == vary[0].kind == "pixels" and fixed[0].linear and fixed[0].unit == "RMS"
    np.testing.assert_array_equal(fixed[0].region, TOP)
    np.testing.assert_array_equal(vary[0].region, ~TOP)
    # rest on the fixed side: the complement of the union of every varied region
    fixed, vary = build_features(["rest"], ["box:0,0,0.5,0.5", "box:0.5,0.5,1,1"], FeatureContext(S))
    union = vary[0].region | vary[1].region
    np.testing.assert_array_equal(fixed[0].region, ~union)
    # box corners in any order, blank specs ignored, kind case-insensitive
    fixed, _ = build_features(["BOX:1,0.5,0,0", " "], ["rest"], FeatureContext(S))
    np.testing.assert_array_equal(fixed[0].region, TOP)


def test_mask_png_is_read_at_the_image_size(tmp_path):
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[:32] = 255
    Image.fromarray(mask).save(tmp_path / "top.png")
    feature = parse_feature(f"mask:{tmp_path / 'top.png'}", FeatureContext(S))
    assert feature.kind == "pixels"
    np.testing.assert_array_equal(feature.region, TOP)
    # A transparent PNG: the opaque part is the region, whatever its color.
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[4:, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "bottom.png")
    bottom = parse_feature(f"mask:{tmp_path / 'bottom.png'}", FeatureContext(S))
    np.testing.assert_array_equal(bottom.region, ~TOP)


def test_lasso_and_band_and_color_kinds(tmp_path):
    lasso = np.zeros((S, S), dtype=bool)
    lasso[4:8, 4:8] = True
    start = np.full((S, S, 3), 255, dtype=np.uint8)
    start[2:10, 3:12] = (200, 30, 30)
    ctx = FeatureContext(S, lasso=lasso, start_image=start)
    assert parse_feature("lasso", ctx).region.sum() == 16
    low, high = parse_feature("low:2", ctx), parse_feature("high:2.5", ctx)
    assert (low.kind, high.kind) == ("low", "high") and low.linear and high.linear and low.unit == "RMS"
    garment = parse_feature("color:garment", ctx)
    assert garment.kind == "color" and not garment.linear and garment.unit == "delta E"
    np.testing.assert_array_equal(garment.region, garment_mask(start))
    assert garment.region.sum() == 8 * 9
    assert parse_feature("color:all", ctx).region.all()
    assert parse_feature("color:lasso", ctx).region.sum() == 16
    assert parse_feature("color:box:0,0,1,0.5", ctx).region.sum() == S * S // 2
    _fixed, vary = build_features(["box:0,0,1,0.5"], ["color:rest"], ctx)
    np.testing.assert_array_equal(vary[0].region, ~TOP)


def test_garment_of_a_blank_image_falls_back_to_the_centre():
    mask = garment_mask(np.full((S, S, 3), 255, dtype=np.uint8))
    assert 0 < mask.mean() < 1 and mask[S // 2, S // 2]


@pytest.mark.parametrize(
    ("fixed", "vary", "message"),
    [
        (["wedge:1"], ["rest"], "unknown feature 'wedge:1'"),
        (["box:1.2,0,1.5,1"], ["rest"], "lies outside the image"),
        (["box:0,0,1"], ["rest"], "four numbers"),
        (["box:0,0,a,1"], ["rest"], "four numbers"),
        (["box:0,0,nan,1"], ["rest"], "finite"),
        (["box:0,0,1,1"], ["low:2"], "covers the whole image"),
        (["box:0.5,0.5,0.5,0.5"], ["rest"], "is empty"),
        (["rest"], ["low:2"], "there are none"),
        (["rest"], ["rest"], "cannot be on both sides"),
        (["box:0,0,1,0.5"], ["low:0"], "above 0"),
        (["box:0,0,1,0.5"], ["high:-1"], "above 0"),
        (["box:0,0,1,0.5"], ["low:500"], "at most 64"),
        (["box:0,0,1,0.5"], ["low:wide"], "needs a width"),
        (["box:0,0,1,0.5"], ["low"], "needs a width"),
        (["lasso"], ["rest"], "no lasso is drawn"),
        (["box:0,0,1,0.5"], ["color:garment"], "needs the starting image"),
        (["box:0,0,1,0.5"], ["color:"], "color: needs a region"),
        (["box:0,0,1,0.5"], ["color:low:2"], "is not a region"),
        (["mask:"], ["rest"], "needs a file"),
        ([], ["rest"], "nothing to hold fixed"),
        (["box:0,0,1,0.5"], ["  "], "nothing to vary"),
    ],
)
def test_bad_specs_are_one_sentence(fixed, vary, message):
    with pytest.raises(FeatureError, match=message) as info:
        build_features(fixed, vary, FeatureContext(S))
    assert "\n" not in str(info.value)


def test_mask_file_errors(tmp_path):
    with pytest.raises(FeatureError, match="does not exist"):
        parse_feature(f"mask:{tmp_path / 'nope.png'}", FeatureContext(S))
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(FeatureError, match="not an image PIL can read"):
        parse_feature(f"mask:{tmp_path / 'junk.png'}", FeatureContext(S))
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(tmp_path / "black.png")
    with pytest.raises(FeatureError, match="is empty"):
        parse_feature(f"mask:{tmp_path / 'black.png'}", FeatureContext(S))
    Image.fromarray(np.full((8, 8), 255, dtype=np.uint8)).save(tmp_path / "white.png")
    with pytest.raises(FeatureError, match="covers the whole image"):
        parse_feature(f"mask:{tmp_path / 'white.png'}", FeatureContext(S))


def test_region_errors_are_value_errors():
    assert issubclass(RegionError, ValueError) and issubclass(FeatureError, ValueError)
    with pytest.raises(RegionError, match="is empty"):
        check_region(np.zeros((S, S), dtype=bool))
    assert check_region(TOP) is TOP
    with pytest.raises(FeatureError, match="is not a region"):
        region_of("high:3", FeatureContext(S))


# ------------------------------------------------------------------------------------- pixels and bands


@pytest.mark.parametrize("spec", ["box:0.2,0.1,0.9,0.6", "low:1.5", "high:1.5"])
def test_linear_features_are_linear_and_their_jvp_is_autograds(spec):
    feature = parse_feature(spec, FeatureContext(S))
    x, y = _images(2, 1), _images(2, 2)
    torch.testing.assert_close(feature(2 * x - 3 * y), 2 * feature(x) - 3 * feature(y), atol=1e-5, rtol=1e-5)
    image, tangents = _images(1, 3), _images(4, 4)
    expected = jvp(feature.fn, (image.expand(4, -1, -1, -1).contiguous(),), (tangents,))[1]
    torch.testing.assert_close(feature.jvp(image, tangents), expected, atol=1e-6, rtol=1e-5)


def test_pixel_change_is_rms_in_unit_intensity():
    feature = parse_feature("box:0,0,1,0.5", FeatureContext(S))
    base = _images(1, 5)
    moved = base.clone()
    moved[:, :, : S // 2] += 0.2  # 0.2 in [-1, 1] is 0.1 in [0, 1]
    moved[:, :, S // 2 :] -= 0.7  # outside the region: no change
    assert float(Feature.change(feature(base), feature(moved))[0]) == pytest.approx(0.1, rel=1e-5)


@pytest.mark.parametrize("sigma", [0.5, 2.0, 64.0])
def test_gaussian_blur_keeps_a_constant_and_bands_sum_to_the_image(sigma):
    constant = torch.full((2, 3, S, S), 0.37)
    torch.testing.assert_close(gaussian_blur(constant, sigma), constant)
    images = _images(2, 6)
    blurred = gaussian_blur(images, sigma)
    assert blurred.shape == images.shape
    assert blurred.std() < images.std()  # it smooths
    ctx = FeatureContext(S)
    low, high = parse_feature(f"low:{sigma}", ctx), parse_feature(f"high:{sigma}", ctx)
    pixels = images.reshape(2, -1) * (0.5 / np.sqrt(3 * S * S))
    torch.testing.assert_close(low(images) + high(images), pixels, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------------------------------------- color


def test_torch_lab_matches_the_numpy_one():
    rng = np.random.default_rng(0)
    rgb = rng.random((500, 3))
    rgb[:50] *= 0.04  # dark colors: the linear part of the sRGB curve
    rgb[50:53] = [[0, 0, 0], [1, 1, 1], [1, 0, 0]]
    expected = rgb_to_lab_numpy(rgb)
    images = torch.from_numpy(rgb.T[None] * 2 - 1)  # (1, 3, 500) in [-1, 1], float64
    got = rgb_to_lab(images)[0].T.numpy()
    np.testing.assert_allclose(got, expected, atol=1e-3)
    got32 = rgb_to_lab(images.float())[0].T.double().numpy()
    np.testing.assert_allclose(got32, expected, atol=2e-2)
    grid = torch.from_numpy(rgb[:16].T.reshape(1, 3, 4, 4) * 2 - 1)  # image-shaped input
    np.testing.assert_allclose(rgb_to_lab(grid)[0].reshape(3, -1).T.numpy(), expected[:16], atol=1e-3)


def test_color_change_is_delta_e():
    feature = parse_feature("color:box:0,0,1,0.5", FeatureContext(S))
    a_rgb, b_rgb = np.array([0.8, 0.2, 0.1]), np.array([0.1, 0.3, 0.7])
    a = torch.from_numpy(a_rgb * 2 - 1).view(1, 3, 1, 1).expand(1, 3, S, S).clone()
    b = a.clone()
    b[:, :, : S // 2] = torch.from_numpy(b_rgb * 2 - 1).view(1, 3, 1, 1)
    expected = np.linalg.norm(rgb_to_lab_numpy(a_rgb) - rgb_to_lab_numpy(b_rgb))
    assert float(Feature.change(feature(a), feature(b))[0]) == pytest.approx(expected, abs=1e-3)
    assert float(Feature.change(feature(a), feature(a))[0]) == 0.0


def test_color_jvp_matches_finite_differences():
    feature = parse_feature("color:box:0.25,0.25,0.75,0.75", FeatureContext(S))
    image = _images(1, 7, torch.float64)
    tangents = _images(3, 8, torch.float64)
    got = feature.jvp(image, tangents)
    h = 1e-5
    finite = (feature(image + h * tangents) - feature(image - h * tangents)) / (2 * h)
    torch.testing.assert_close(got, finite, atol=1e-5, rtol=1e-5)


# -------------------------------------------------------------------------------------------- attributes


def test_attribute_feature_uses_the_given_classifier_lazily(classifier):
    calls = []

    def loader():
        calls.append(1)
        return classifier

    ctx = FeatureContext(S, classifier_loader=loader)
    build_features(["box:0,0,1,0.5"], ["rest"], ctx)
    assert calls == []  # no attr: spec, no classifier
    _fixed, vary = build_features(["box:0,0,1,0.5"], ["attr:length", "ATTR:Fit"], ctx)
    assert calls == [1]  # loaded once, shared
    length = vary[0]
    assert length.kind == "attribute" and not length.linear and length.unit == "probability"
    probs = length(_images(2, 9))
    n_lengths = dict(zip(classifier.head_names, (h.out_features for h in classifier.heads), strict=True))[
        "length"
    ]
    assert probs.shape == (2, n_lengths)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))
    assert not any(p.requires_grad for p in classifier.parameters())


def test_attribute_jvp_matches_finite_differences(classifier):
    feature = parse_feature("attr:type", FeatureContext(S, classifier_loader=lambda: classifier))
    image, tangents = _images(1, 10), _images(2, 11)
    got = feature.jvp(image, tangents)
    h = 1e-2
    finite = (feature(image + h * tangents) - feature(image - h * tangents)) / (2 * h)
    torch.testing.assert_close(got, finite, atol=2e-3, rtol=5e-2)
    big = FeatureContext(48, classifier_loader=lambda: classifier)  # larger than in_size: area resize
    out = parse_feature("attr:gender", big)(torch.zeros(1, 3, 48, 48))
    torch.testing.assert_close(out.sum(-1), torch.ones(1))


def test_unknown_attribute_and_missing_name(classifier):
    ctx = FeatureContext(S, classifier_loader=lambda: classifier)
    with pytest.raises(FeatureError, match="attr:sleeve is not an attribute.*length"):
        parse_feature("attr:sleeve", ctx)
    with pytest.raises(FeatureError, match="attr: needs an attribute"):
        parse_feature("attr:", ctx)
