"""HandsOff's label generator: ensemble math, keypoint decoding, a tiny end-to-end fit, save/load, cancel, memory."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES
from gan_studio.methods.hypercolumns import pixel_grid
from gan_studio.methods.label_generator import (
    ARCHITECTURE,
    WEIGHTS_NAME,
    LabelGenerator,
    LabelGeneratorConfig,
    fit_label_generator,
    image_uncertainties,
)
from gan_studio.methods.label_heads import (
    drop_most_uncertain,
    gaussian_targets,
    js_uncertainty,
    majority_vote,
    pixels_near,
)
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.models.checkpoint import CheckpointError, manifest_path
from gan_studio.models.keypoints import decode_heatmaps
from gan_studio.runtime.cancel import Cancelled, CancelToken
from tests.tiny_models import tiny_text_to_image


class ToyGenerator(nn.Module):
    """A 32 px generator protocol whose RGB is a per-pixel (1x1) function of its last block, so labels that are a
    function of the image are exactly learnable from its hypercolumns."""

    latent_dim = 8
    image_size = 32

    def __init__(self, seed: int = 0):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.fc = nn.Linear(8, 16 * 16)
            self.convs = nn.ModuleList(
                [nn.Conv2d(16, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 4, 3, padding=1)]
            )
            self.to_rgb = nn.Conv2d(4, 3, 1)
        self.eval()

    def sample_latent(self, n: int, seed: int) -> torch.Tensor:
        return torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))

    def synthesize(self, latent: torch.Tensor, features: bool = False):
        x = F.relu(self.fc(latent)).reshape(-1, 16, 4, 4)
        maps = [x]
        for conv in self.convs:
            x = F.relu(conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)))
            maps.append(x)
        image = torch.tanh(self.to_rgb(x))
        return (image, maps) if features else image


def _red_labels(generator, latents, threshold):
    """mask = pixels whose red channel exceeds ``threshold``; depth there = 2 m + 10 x (red - threshold)."""
    with torch.no_grad():
        red = generator.synthesize(latents)[:, 0].numpy()
    masks = (red > threshold).astype(np.uint8)
    depths = np.where(masks > 0, 2.0 + 10.0 * (red - threshold), 0.0).astype(np.float32)
    return [{"mask": m, "depth": d} for m, d in zip(masks, depths, strict=True)]


# ----------------------------------------------------------------------------------------------- ensemble math


def test_js_uncertainty_is_zero_when_members_agree_and_positive_when_they_disagree():
    agree = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]).expand(4, -1, -1)  # (M=4, N=2, K=3)
    assert torch.allclose(js_uncertainty(agree), torch.zeros(2), atol=1e-6)
    sure_apart = torch.eye(2)[:, None, :]  # two members, each certain of a different class
    assert math.isclose(float(js_uncertainty(sure_apart)[0]), math.log(2), rel_tol=1e-6)
    mild = torch.tensor([[[0.6, 0.4]], [[0.4, 0.6]]])
    assert 0 < float(js_uncertainty(mild)[0]) < math.log(2)


def test_majority_vote_and_ties_go_to_the_mean_probability():
    probs = torch.tensor(
        [
            [[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]],
            [[0.5, 0.4, 0.1], [0.1, 0.8, 0.1]],
            [[0.1, 0.1, 0.8], [0.3, 0.1, 0.6]],
        ]
    )  # pixel 0: votes 0, 0, 2 -> 0; pixel 1: votes 0, 1, 2 (a three-way tie) -> 1 has the highest mean
    assert majority_vote(probs).tolist() == [0, 1]
    # Two classes with two votes each: the mean probability decides, even against the single most confident.
    probs = torch.tensor([[[0.9, 0.1]], [[0.55, 0.45]], [[0.2, 0.8]], [[0.4, 0.6]]])
    assert majority_vote(probs).tolist() == [0]


def test_drop_most_uncertain_at_the_users_fraction():
    scores = [0.1, 0.9, 0.5, 0.2, 0.5]
    assert drop_most_uncertain(scores, 0.0).all()
    assert drop_most_uncertain(scores, 0.4).tolist() == [
        True,
        False,
        False,
        True,
        True,
    ]  # ties: the later goes
    assert drop_most_uncertain(scores, 0.2).tolist() == [True, False, True, True, True]
    assert not drop_most_uncertain(scores, 1.0).any()
    assert drop_most_uncertain(np.array([0.3, 0.1, 0.2]), 0.5).tolist() == [False, True, True]  # floor(1.5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="between 0 and 1"):
            drop_most_uncertain(scores, bad)


# --------------------------------------------------------------------------------------------------- keypoints


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_keypoint_decode_recovers_a_synthetic_heatmap_within_half_a_pixel(sigma):
    size = 48
    truth = torch.tensor(
        [[20.3, 30.8, 2], [5.5, 5.5, 2], [0.2, 47.7, 2], [47.9, 12.4, 2], [33.01, 0.99, 2], [10.0, 10.0, 0]]
    )
    heat = gaussian_targets(truth, pixel_grid(size), sigma).T.reshape(len(truth), size, size)
    heat[-1] *= 0.2  # a keypoint whose peak stays under the threshold is not visible
    got = decode_heatmaps(heat, threshold=0.5, radius=max(1, round(2 * sigma)))
    assert got.shape == (len(truth), 3) and got.dtype == np.float32
    assert np.abs(got[:-1, :2] - truth[:-1, :2].numpy()).max() < 0.5
    assert np.abs(got[:2, :2] - truth[:2, :2].numpy()).max() < 0.1  # away from edges, well under
    assert got[:-1, 2].tolist() == [2] * 5 and got[-1].tolist() == [0, 0, 0]


def test_gaussian_targets_and_pixels_near_keypoints():
    kps = torch.tensor([[10.5, 4.5, 2.0], [0.0, 0.0, 0.0]])
    targets = gaussian_targets(kps, torch.tensor([[10, 4], [12, 4]]), sigma=2.0)
    assert targets[0, 0] == 1.0 and math.isclose(float(targets[1, 0]), math.exp(-4 / 8), rel_tol=1e-6)
    near = pixels_near(kps, 200, 2.0, 32, torch.Generator().manual_seed(0))
    assert near.shape == (400, 2) and near.min() >= 0 and near.max() < 32
    around = near[:200].float() - torch.tensor([10.0, 4.0])
    assert around.abs().max() < 16 and around.norm(dim=1).median() < 5
    assert (near[200:].float() - torch.tensor([0.0, 0.0])).norm(dim=1).median() > 8  # unlabeled: uniform


# --------------------------------------------------------------------------------------- end to end, on a toy


@pytest.fixture(scope="module")
def toy():
    return ToyGenerator()


def test_labels_that_the_features_determine_are_learned(toy):
    train, held_out = toy.sample_latent(8, seed=0), toy.sample_latent(4, seed=1)
    with torch.no_grad():
        threshold = float(toy.synthesize(train)[:, 0].median())  # half the pixels are "red"
    config = LabelGeneratorConfig(
        tasks=("segmentation", "depth"),
        ensemble_size=3,
        head="pixel",
        hidden=(32, 16),
        steps=300,
        images_per_step=4,
        pixels_per_image=256,
        class_names=("background", "red"),
    )
    model = fit_label_generator(toy, train, _red_labels(toy, train, threshold), config)
    results = model.predict(toy, held_out)
    truth = _red_labels(toy, held_out, threshold)
    accuracy = np.mean([(r["mask"] == t["mask"]).mean() for r, t in zip(results, truth, strict=True)])
    assert accuracy > 0.9, accuracy
    for r, t in zip(results, truth, strict=True):
        both = (r["mask"] > 0) & (t["mask"] > 0)
        error = np.abs(r["depth"] - t["depth"])[both].mean()
        assert error < 0.5 * t["depth"][t["mask"] > 0].std(), error  # far better than guessing the mean
        assert np.all(r["depth"][r["mask"] == 0] == 0)
    record = model.training_record
    assert record["images_used"] == 8 and record["labels"]["segmentation"] == 8
    # Held at once: one step's hypercolumns (4 images x 256 pixels x (36 block + 3 image + 2 position)
    # channels x 4 bytes), not all pixels.
    assert record["memory"]["peak_hypercolumn_bytes"] == 4 * 256 * (36 + 5) * 4
    assert record["memory"]["renders"] == 8  # each image rendered once, its native maps cached
    # Uncertain images are the ones to drop: scores are finite, non-negative and rank images.
    scores = image_uncertainties(results)
    assert np.all(scores >= 0) and drop_most_uncertain(scores, 0.25).sum() == 3


def test_memory_held_does_not_grow_with_the_number_of_images(toy):
    config = LabelGeneratorConfig(
        tasks=("segmentation",),
        ensemble_size=2,
        head="pixel",
        hidden=(8,),
        steps=3,
        images_per_step=2,
        pixels_per_image=64,
        feature_cache_mb=0,  # render every step's images again: nothing is kept per image
        class_names=("background", "red"),
    )
    peaks = []
    for n in (4, 12):  # from one render batch (4) up
        latents = toy.sample_latent(n, seed=2)
        labels = _red_labels(toy, latents, 0.0)
        memory = fit_label_generator(toy, latents, labels, config).training_record["memory"]
        assert memory["cache_bytes"] == 0 and memory["renders"] == n + 3 * 2
        peaks.append((memory["peak_batch_bytes"], memory["peak_hypercolumn_bytes"], memory["peak_bytes"]))
    assert peaks[0] == peaks[1]


# ------------------------------------------------------------------------- all tasks on the text-to-image model


@pytest.fixture(scope="module")
def protocol():
    return TitleGenerator(tiny_text_to_image("restgan")).protocol("men's blue jeans")


def _catalog_like_labels(protocol, latents):
    """Masks, keypoints and depth shaped like the catalog's (the values follow the image, loosely)."""
    size = protocol.image_size
    with torch.no_grad():
        images = protocol.synthesize(latents)
    labels = []
    for i, image in enumerate(images):
        gray = image.mean(0).numpy()
        mask = np.digitize(gray, np.quantile(gray, [0.3, 0.5, 0.7, 0.85])).astype(np.uint8)  # classes 0..4
        depth = np.where(mask > 0, 2.0 + gray, 0.0).astype(np.float32)
        kps = np.zeros((len(KEYPOINTS), 3), np.float32)
        kps[:, 0] = np.linspace(8, size - 8, len(KEYPOINTS))
        kps[:, 1] = size / 2 + 3 * i
        kps[:, 2] = 2
        kps[1, 2] = 1  # labeled but hidden
        kps[2] = 0  # not labeled in this image
        labels.append({"mask": mask, "keypoints": kps, "depth": depth})
    if len(labels) > 2:  # not every image carries every label
        labels[1]["mask"] = None
        labels[2] = {"keypoints": None, "depth": labels[2]["depth"]}
    return labels


TINY = LabelGeneratorConfig(ensemble_size=3, hidden=(16, 8), steps=6, images_per_step=2, pixels_per_image=128)


@pytest.fixture(scope="module")
def fitted(protocol):
    latents = protocol.sample_latent(4, seed=0)
    losses, reports = [], []
    model = fit_label_generator(
        protocol,
        latents,
        _catalog_like_labels(protocol, latents),
        TINY,
        progress=lambda f, m: reports.append((f, m)),
        on_loss=lambda step, l: losses.append((step, l)),
    )
    return model, losses, reports


def test_all_three_tasks_train_and_predict(protocol, fitted):
    model, losses, reports = fitted
    assert model.tasks == ("segmentation", "keypoints", "depth")
    assert [s for s, _ in losses] == list(range(TINY.steps))
    assert all(set(l) <= {"segmentation", "keypoints", "depth"} and l for _, l in losses)
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    record = model.training_record
    assert record["labels"] == {"segmentation": 2, "keypoints": 3, "depth": 4}
    assert record["seconds"] > 0 and record["memory"]["peak_bytes"] > 0

    size = protocol.image_size
    results = model.predict(protocol, protocol.sample_latent(3, seed=9), batch_size=2)
    assert len(results) == 3
    for r in results:
        assert r["image"].shape == (size, size, 3) and r["image"].dtype == np.uint8
        assert r["mask"].shape == (size, size) and r["mask"].dtype == np.uint8
        assert r["mask"].max() < len(PART_NAMES)
        assert r["mask_uncertainty"].shape == (size, size) and r["mask_uncertainty"].min() >= 0
        assert math.isclose(r["uncertainty"], float(r["mask_uncertainty"].mean()), rel_tol=1e-5)
        assert r["keypoints"].shape == (len(KEYPOINTS), 3) and set(r["keypoints"][:, 2]) <= {0.0, 2.0}
        assert r["depth"].shape == (size, size) and r["depth"].dtype == np.float32
        assert np.all(r["depth"][r["mask"] == 0] == 0)


def test_save_load_round_trip_gives_identical_predictions(protocol, fitted, tmp_path):
    model, _, _ = fitted
    path = model.save(tmp_path / "labels")
    assert path.name == WEIGHTS_NAME
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["architecture"] == ARCHITECTURE
    assert manifest["data"]["class_names"] == list(PART_NAMES)
    assert manifest["data"]["keypoint_names"] == list(KEYPOINTS)
    assert manifest["config"]["label_generator"]["ensemble_size"] == 3
    assert manifest["training"]["images_used"] == 4 and "peak_bytes" in manifest["training"]["memory"]

    loaded = LabelGenerator.load(tmp_path / "labels")
    latents = protocol.sample_latent(2, seed=11)
    before, after = model.predict(protocol, latents), loaded.predict(protocol, latents)
    for a, b in zip(before, after, strict=True):
        for key in ("image", "mask", "mask_uncertainty", "keypoints", "depth"):
            assert np.array_equal(a[key], b[key]), key
        assert a["uncertainty"] == b["uncertainty"]
    torch.testing.assert_close(loaded.norm_std, model.norm_std, rtol=0, atol=0)
    assert loaded.training_record["images_used"] == 4


def test_load_refuses_pickles_and_manifests_that_do_not_fit(fitted, tmp_path):
    model, _, _ = fitted
    pickle = tmp_path / "label_generator.pt"
    torch.save(model.state_dict(), pickle)
    with pytest.raises(CheckpointError, match="pickle"):
        LabelGenerator.load(pickle)
    path = model.save(tmp_path / "m")
    manifest = json.loads(manifest_path(path).read_text())
    manifest["config"]["label_generator"]["ensemble_size"] = 5
    manifest_path(path).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="do not fit"):
        LabelGenerator.load(path)
    manifest["config"]["label_generator"]["colour"] = 1
    manifest_path(path).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="cannot use"):
        LabelGenerator.load(path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        LabelGenerator.load(tmp_path / "nowhere")


def test_predict_refuses_another_generator(fitted, toy):
    model, _, _ = fitted
    with pytest.raises(ValueError, match="trained on a generator"):
        model.predict(toy, toy.sample_latent(1, seed=0))


def test_cancel_stops_the_fit(protocol):
    latents = protocol.sample_latent(2, seed=0)
    labels = _catalog_like_labels(protocol, latents)
    token = CancelToken()
    steps = []

    def on_loss(step, _):
        steps.append(step)
        if step == 2:
            token.cancel()

    config = LabelGeneratorConfig(
        ensemble_size=2, hidden=(8,), steps=50, images_per_step=1, pixels_per_image=32
    )
    with pytest.raises(Cancelled):
        fit_label_generator(protocol, latents, labels, config, cancel=token, on_loss=on_loss)
    assert steps == [0, 1, 2]
    with pytest.raises(Cancelled):  # cancelled before it starts: not one step
        fit_label_generator(protocol, latents, labels, config, cancel=token, on_loss=on_loss)
    assert steps == [0, 1, 2]


def test_bad_labels_and_settings_are_refused(protocol):
    latents = protocol.sample_latent(2, seed=0)
    size = protocol.image_size
    good = np.zeros((size, size), np.uint8)
    with pytest.raises(ValueError, match="one label dict per latent"):
        fit_label_generator(protocol, latents, [{"mask": good}], TINY)
    with pytest.raises(ValueError, match="not"):
        fit_label_generator(protocol, latents, [{"mask": good}, {"mask": good[:5]}], TINY)
    with pytest.raises(ValueError, match="classes 9..9"):
        fit_label_generator(protocol, latents, [{"mask": good}, {"mask": good + 9}], TINY)
    with pytest.raises(ValueError, match="no image is labeled"):
        fit_label_generator(protocol, latents, [{"mask": good}, {}], LabelGeneratorConfig(tasks=("depth",)))
    with pytest.raises(ValueError, match="tasks"):
        LabelGeneratorConfig(tasks=("captions",))
    assert LabelGeneratorConfig.from_dict(TINY.to_dict()) == TINY


# ---------------------------------------------------------------------------------------- conv head (spatial trunk)


@pytest.mark.parametrize("wide", [0, 2])
def test_trunk_features_at_sampled_pixels_equal_the_whole_image_features(toy, wide):
    from gan_studio.methods.spatial_trunk import SpatialTrunk

    with torch.no_grad():
        _, maps = toy.synthesize(toy.sample_latent(2, seed=3), features=True)
    channels = [int(f.shape[1]) for f in maps]
    trunk = SpatialTrunk(channels, width=6, context=2, wide=wide)
    for p in trunk.parameters():  # non-zero biases too, so every term shows
        nn.init.normal_(p, std=0.3)
    mean, std = torch.randn(sum(channels)) * 0.1, torch.rand(sum(channels)) + 0.5
    with torch.no_grad():
        whole = trunk(maps, 32, mean, std)  # (2, 32 * 32, 6)
        pixels = torch.randint(0, 32, (2, 50, 2))
        sampled = trunk(maps, 32, mean, std, pixels)
    flat = pixels[..., 1] * 32 + pixels[..., 0]
    expected = torch.stack([whole[b, flat[b]] for b in range(2)])
    assert sampled.shape == (2, 50, 6)
    assert torch.allclose(sampled, expected, atol=1e-5)


def test_the_conv_head_learns_labels_and_never_builds_whole_hypercolumns(toy):
    train, held_out = toy.sample_latent(8, seed=0), toy.sample_latent(4, seed=1)
    with torch.no_grad():
        threshold = float(toy.synthesize(train)[:, 0].median())
    config = LabelGeneratorConfig(
        tasks=("segmentation", "depth"),
        ensemble_size=3,
        head="conv",
        width=16,
        hidden=(16,),
        steps=150,
        images_per_step=4,
        pixels_per_image=256,
        class_names=("background", "red"),
    )
    model = fit_label_generator(toy, train, _red_labels(toy, train, threshold), config)
    assert model.trunk is not None and model.segmentation.members[0].net[0].in_features == 16
    results = model.predict(toy, held_out)
    truth = _red_labels(toy, held_out, threshold)
    accuracy = np.mean([(r["mask"] == t["mask"]).mean() for r, t in zip(results, truth, strict=True)])
    assert accuracy > 0.9, accuracy
    assert all(r["uncertainty"] >= 0 and r["mask_uncertainty"].shape == (32, 32) for r in results)
    # The most held at once is the statistics pass's sampled hypercolumns (4 images x 256 pixels x 41 channels),
    # never those of whole images (4 x 32 x 32 x 41).
    assert model.training_record["memory"]["peak_hypercolumn_bytes"] == 4 * 256 * 41 * 4


def test_models_saved_before_the_conv_head_load_as_pixel_heads():
    data = LabelGeneratorConfig(head="pixel", hidden=(8,)).to_dict()
    del data["head"], data["width"], data["context"]
    assert LabelGeneratorConfig.from_dict(data).head == "pixel"
    with pytest.raises(ValueError, match="head"):
        LabelGeneratorConfig(head="transformer")


def test_channels_first_prediction_equals_the_modules():
    from gan_studio.methods.label_heads import (
        PixelMLP,
        SegmentationEnsemble,
        ensemble_vote,
        mlp_channels_first,
    )

    ensemble = SegmentationEnsemble(6, (8, 5), 4, members=5, seed=1)
    for module in ensemble.modules():  # running statistics as after training, not the identity
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            nn.init.normal_(module.weight)
    ensemble.eval()
    x = torch.randn(300, 6) * 3
    with torch.no_grad():
        probs = ensemble(x).softmax(-1)
        mask, js = ensemble_vote(ensemble, x.T.contiguous())
        mlp = PixelMLP(6, (7,), 3).eval()
        assert torch.allclose(mlp_channels_first(mlp, x.T), mlp(x).T, atol=1e-5)
    assert torch.equal(mask, majority_vote(probs))
    assert torch.allclose(js, js_uncertainty(probs), atol=1e-5)


def test_fused_members_give_each_members_own_outputs_whatever_their_shapes():
    from gan_studio.methods.label_heads import (
        FusedMembers,
        PixelMLP,
        folded_layers,
        members_channels_first,
        mlp_channels_first,
    )

    x = torch.randn(6, 50)
    same = [folded_layers(PixelMLP(6, (8, 5), 4).eval()) for _ in range(3)]
    mixed = same[:2] + [folded_layers(PixelMLP(6, (7,), 4).eval())]
    for members in (same, mixed):
        expected = torch.stack([mlp_channels_first(m, x) for m in members])
        fused = FusedMembers(members)
        assert (fused.separate is None) == (members is same)
        for given in (members, fused):
            assert torch.allclose(members_channels_first(given, x), expected, atol=1e-5)


def test_class_balance_weighs_rare_parts_up_and_keeps_the_average_pixel_at_one():
    from types import SimpleNamespace

    from gan_studio.methods.label_generator_fitting import _Labels, _Trainer

    mask = torch.zeros(100, dtype=torch.long)
    mask[:10] = 1  # a part on 10 % of the pixels, background on 90 %
    model = LabelGenerator(
        LabelGeneratorConfig(class_names=("background", "part", "unused"), ensemble_size=2, hidden=(4,)),
        [3],
        10,
        ("segmentation",),
    )
    trainer = _Trainer(SimpleNamespace(size=10), _Labels({0: mask}, {}, {}), model, 1)
    w = trainer.class_weights
    assert w[2] == 0 and torch.isclose(0.9 * w[0] + 0.1 * w[1], torch.tensor(1.0))
    assert torch.isclose(w[1] / w[0], torch.tensor(3.0))  # (0.1 / 0.9) ** -0.5
    none = LabelGenerator(
        LabelGeneratorConfig(
            class_names=("background", "part"), class_balance=0.0, ensemble_size=2, hidden=(4,)
        ),
        [3],
        10,
        ("segmentation",),
    )
    assert _Trainer(SimpleNamespace(size=10), _Labels({0: mask}, {}, {}), none, 1).class_weights is None


def test_the_wide_path_lets_a_pixel_see_the_far_side_of_the_image():
    from gan_studio.methods.spatial_trunk import SpatialTrunk

    torch.manual_seed(0)
    maps = [torch.randn(1, 3, 16, 16), torch.randn(1, 2, 64, 64)]
    changed = [maps[0].clone(), maps[1]]
    changed[0][..., 0, 0] += 5.0  # one corner cell of the coarse block
    mean, std = torch.zeros(5), torch.ones(5)
    reach = {}
    for wide in (0, 3):
        trunk = SpatialTrunk([3, 2], width=8, context=2, wide=wide)
        for p in trunk.parameters():
            nn.init.normal_(p, std=0.3)
        with torch.no_grad():
            a, b = trunk(maps, 64, mean, std), trunk(changed, 64, mean, std)
        far = 63 * 64 + 63  # the opposite corner
        reach[wide] = float((a[0, far] - b[0, far]).abs().max())
    assert reach[0] == 0.0 and reach[3] > 1e-4, reach


def test_part_pixels_fall_inside_each_part_and_old_models_had_none():
    from types import SimpleNamespace

    from gan_studio.methods.label_generator_fitting import _Labels, _Trainer

    size = 12
    mask = torch.zeros(size, size, dtype=torch.long)
    mask[2:4, 5:7] = 1  # a small part; class 2 is absent from the image
    config = LabelGeneratorConfig(
        tasks=("segmentation",), class_names=("background", "part", "absent"), ensemble_size=2, hidden=(4,),
        pixels_per_image=10, part_pixels=7,
    )  # fmt: skip
    model = LabelGenerator(config, [3], size, ("segmentation",))
    trainer = _Trainer(SimpleNamespace(size=size), _Labels({0: mask.reshape(-1)}, {}, {}), model, 1)
    pixels = trainer.pixels([0])
    assert pixels.shape == (1, 10 + 2 * 7, 2)
    part = pixels[0, 10:17]
    assert bool((mask[part[:, 1], part[:, 0]] == 1).all())
    assert bool(((pixels >= 0) & (pixels < size)).all())
    old = LabelGeneratorConfig().to_dict()
    del old["part_pixels"], old["wide"]
    restored = LabelGeneratorConfig.from_dict(old)
    assert restored.part_pixels == 0 and restored.wide == 0
    with pytest.raises(ValueError, match="part_pixels"):
        LabelGeneratorConfig(part_pixels=-1)
