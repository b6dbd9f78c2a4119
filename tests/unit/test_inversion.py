"""Inversion (HandsOff step 1): the perceptual distance, the encoder, its two-stage training and refinement."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from gan_studio.methods.inversion import invert, prepare_images
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.metrics.inversion_quality import reconstruction_quality
from gan_studio.models.checkpoint import CheckpointError, read_manifest
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.models.inversion import (
    InversionConfig,
    InversionEncoder,
    load_inversion,
    save_inversion,
)
from gan_studio.models.perceptual import PerceptualDistance
from gan_studio.train.inversion import (
    LOG_NAME,
    STATE_NAME,
    InversionTrainConfig,
    latent_seed,
    stage1_loss,
    train_inversion,
)
from tests.tiny_models import tiny_text_to_image


class LinearGenerator:
    """A toy generator of the protocol: the image is a fixed random linear map of the latent, squashed by tanh.

    Its images depend strongly on the latent, unlike a tiny untrained GAN's, so a few steps show learning.
    """

    latent_dim = 6
    image_size = 16

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.weight = torch.randn(self.latent_dim, 3 * 16 * 16, generator=g) / self.latent_dim**0.5

    def sample_latent(self, n: int, seed: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(int(seed)))

    def synthesize(self, latent: torch.Tensor, features: bool = False) -> torch.Tensor:
        return torch.tanh(latent @ self.weight).reshape(-1, 3, 16, 16)


@pytest.fixture
def perceptual() -> PerceptualDistance:
    torch.manual_seed(0)
    return PerceptualDistance(AttributeClassifier(ClassifierConfig(in_size=32, width=4)))


@pytest.fixture(scope="module")
def tiny_generator():
    model = tiny_text_to_image()
    return TitleGenerator(model, name="restgan").catalog_protocol(["men's blue jeans", "women's black pants"])


def _images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ------------------------------------------------------------------------------------------------- perceptual


def test_perceptual_distance_is_zero_for_identical_images_positive_otherwise_and_symmetric(perceptual):
    a, b = _images(3, 32, 0), _images(3, 32, 1)
    assert torch.equal(perceptual(a, a.clone()), torch.zeros(3))
    d_ab, d_ba = perceptual(a, b), perceptual(b, a)
    assert d_ab.shape == (3,)
    assert (d_ab > 0).all() and (d_ab <= 4).all()
    assert torch.allclose(d_ab, d_ba)
    # per image: a batch does not change an image's distance (the backbone runs on its running statistics)
    assert torch.allclose(perceptual(a[:1], b[:1]), d_ab[:1], atol=1e-6)


def test_perceptual_backbone_is_frozen_and_stays_in_eval_mode(perceptual):
    perceptual.train()
    assert not perceptual.backbone.training
    assert not any(p.requires_grad for p in perceptual.backbone.parameters())
    a = _images(2, 32, 0).requires_grad_(True)
    perceptual(a, _images(2, 32, 1)).sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    with pytest.raises(TypeError, match="block_features"):
        PerceptualDistance(torch.nn.Linear(2, 2))


# ------------------------------------------------------------------------------------------------- encoder


def test_encoder_maps_images_to_latents_in_standardized_coordinates():
    enc = InversionEncoder(InversionConfig(image_size=32, latent_dim=10, width=4, hidden=16))
    assert enc(_images(5, 32)).shape == (5, 10)
    latents = torch.randn(100, 10) * torch.linspace(0.1, 3, 10) + 2.0
    enc.fit_latent_stats(latents)
    assert torch.allclose(enc.standardize(latents).std(dim=0), torch.ones(10), atol=1e-5)
    assert torch.allclose(enc.unstandardize(enc.standardize(latents)), latents, atol=1e-5)
    # untrained, it predicts the average latent
    assert torch.allclose(enc(_images(2, 32)), latents.mean(0).expand(2, -1), atol=1e-5)
    with pytest.raises(ValueError, match="expects"):
        enc(_images(1, 64))
    with pytest.raises(ValueError, match="power-of-two"):
        InversionConfig(image_size=48)


def test_encoder_round_trips_through_a_checkpoint_and_load_refuses_pickle(tmp_path, monkeypatch):
    torch.manual_seed(0)
    enc = InversionEncoder(InversionConfig(image_size=16, latent_dim=6, width=4, hidden=8))
    torch.nn.init.normal_(enc.fc2.weight)
    enc.fit_latent_stats(torch.randn(50, 6) * 3)
    path = save_inversion(enc, tmp_path / "inv.safetensors", training={"command": "test"})
    assert read_manifest(path)["architecture"] == "inversion-encoder"
    loaded = load_inversion(path)
    x = _images(3, 16)
    assert torch.equal(loaded(x), enc.eval()(x))
    assert loaded.manifest["config"] == enc.config.to_dict()

    def no_unpickling(*args, **kwargs):
        raise AssertionError("a pickle was loaded")

    monkeypatch.setattr(torch, "load", no_unpickling)
    monkeypatch.setattr(pickle, "load", no_unpickling)
    torch.save(enc.state_dict(), tmp_path / "inv.pt")
    with pytest.raises(CheckpointError, match="pickle"):
        load_inversion(tmp_path / "inv.pt")
    disguised = tmp_path / "disguised.safetensors"
    disguised.write_bytes((tmp_path / "inv.pt").read_bytes())
    with pytest.raises(CheckpointError, match="pickle"):
        load_inversion(disguised)
    with pytest.raises(CheckpointError, match="train inversion"):
        load_inversion(tmp_path / "missing.safetensors")


# ------------------------------------------------------------------------------------------------- training


def test_a_few_stage1_steps_lower_the_latent_loss(tmp_path, perceptual):
    gen = LinearGenerator()
    cfg = InversionTrainConfig(stage1_steps=40, stage2_steps=0, batch=16, lr1=3e-3, stats_samples=256,
                               checkpoint_every=100, log_every=10, sample_every=1000)  # fmt: skip
    enc_cfg = InversionConfig(image_size=16, latent_dim=6, width=8, hidden=32)
    held = gen.sample_latent(64, 999_999)
    torch.manual_seed(0)
    before = InversionEncoder(enc_cfg)
    before.fit_latent_stats(gen.sample_latent(256, 2**40))
    with torch.no_grad():
        loss_before = float(stage1_loss(before, gen, held)[0])
    out = train_inversion(gen, perceptual, cfg, tmp_path / "run", enc_cfg)
    with torch.no_grad():
        loss_after = float(stage1_loss(out.encoder, gen, held)[0])
    assert loss_after < 0.5 * loss_before, (loss_before, loss_after)


def test_batches_are_a_pure_function_of_seed_stage_and_step():
    cfg = InversionTrainConfig(stage1_steps=10, seed=3)
    seeds = [latent_seed(cfg, 1, k) for k in range(10)] + [latent_seed(cfg, 2, k) for k in range(5)]
    assert len(set(seeds)) == len(seeds)
    assert latent_seed(cfg, 1, 4) == 3 * 1_000_003 + 4


def _weights(encoder) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in encoder.state_dict().items()}


@pytest.mark.parametrize("how", ["stopped between steps", "killed inside a step"])
def test_a_stopped_run_resumes_bit_exactly(tmp_path, tiny_generator, perceptual, how):
    gen = tiny_generator
    cfg = InversionTrainConfig.tiny()  # 4 + 2 steps, checkpoints every 2
    enc_cfg = InversionConfig.tiny(gen.image_size, gen.latent_dim)
    full = train_inversion(gen, perceptual, cfg, tmp_path / "a", enc_cfg)
    log = [json.loads(line) for line in (tmp_path / "a" / LOG_NAME).read_text().splitlines()]
    assert [(e["stage"], e["step"]) for e in log] == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2)]
    assert all(np.isfinite(e["loss"]) for e in log)
    assert {"perceptual", "pixel", "latent"} <= set(log[-1])
    assert sorted(p.name for p in (tmp_path / "a" / "samples").iterdir()) == [
        "stage1_000003.png", "stage1_000004.png", "stage2_000002.png"
    ]  # fmt: skip

    calls = {"n": 0}
    if how == "stopped between steps":

        def cancel():  # before stage-1 step 3 (0-based): saved exactly there
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt

        run = {"cancel": cancel}
        target = gen
    else:
        # Inside stage-1 step 3: the weights may be half-updated, so the run resumes from step 2's checkpoint.
        class Dies:
            latent_dim, image_size, model = gen.latent_dim, gen.image_size, gen.model

            def sample_latent(self, n, seed):
                if n == cfg.batch:
                    calls["n"] += 1
                    if calls["n"] == 4:
                        raise KeyboardInterrupt
                return gen.sample_latent(n, seed)

            def synthesize(self, latent, features=False):
                return gen.synthesize(latent, features)

        run, target = {}, Dies()
    with pytest.raises(KeyboardInterrupt):
        train_inversion(target, perceptual, cfg, tmp_path / "b", enc_cfg, **run)
    saved = read_manifest(tmp_path / "b" / STATE_NAME)["extra"]
    assert (saved["stage"], saved["step"]) == ((1, 3) if how == "stopped between steps" else (1, 2))
    resumed = train_inversion(gen, perceptual, cfg, tmp_path / "b", enc_cfg)
    a, b = _weights(full.encoder), _weights(resumed.encoder)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resume diverged"
    relog = [json.loads(line) for line in (tmp_path / "b" / LOG_NAME).read_text().splitlines()]
    assert [(e["stage"], e["step"]) for e in relog] == [(e["stage"], e["step"]) for e in log]
    assert [e["loss"] for e in relog] == [e["loss"] for e in log]


def test_training_never_touches_the_generator(tmp_path, tiny_generator, perceptual):
    before = {k: v.clone() for k, v in tiny_generator.model.state_dict().items()}
    cfg = InversionTrainConfig.tiny()
    train_inversion(tiny_generator, perceptual, cfg, tmp_path / "run",
                    InversionConfig.tiny(tiny_generator.image_size, tiny_generator.latent_dim))  # fmt: skip
    after = tiny_generator.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in tiny_generator.model.parameters())


# ------------------------------------------------------------------------------------------------- inversion


def test_refinement_lowers_the_reconstruction_loss_and_never_moves_the_generator(perceptual):
    gen = LinearGenerator()
    torch.manual_seed(0)
    enc = InversionEncoder(InversionConfig(image_size=16, latent_dim=6, width=4, hidden=8))
    enc.fit_latent_stats(gen.sample_latent(256, 1))
    images = gen.synthesize(gen.sample_latent(4, 2))
    plain = invert(enc, gen, images, perceptual=perceptual)
    refined = invert(enc, gen, images, refine_steps=30, lr=0.1, perceptual=perceptual, batch=3)
    assert plain.latents.shape == (4, 6) and plain.reconstructions.shape == (4, 16, 16, 3)
    assert plain.reconstructions.dtype == np.uint8
    assert refined.perceptual.mean() < 0.5 * plain.perceptual.mean()
    assert (refined.psnr >= plain.psnr - 1e-3).all() and refined.psnr.mean() > plain.psnr.mean() + 3
    # each image refines alone: the batch it sits in does not matter
    alone = invert(enc, gen, images[3:], refine_steps=30, lr=0.1, perceptual=perceptual)
    assert np.allclose(alone.latents, refined.latents[3:], atol=1e-4)


def test_refinement_takes_no_gradient_into_a_real_generator(tiny_generator, perceptual):
    enc = InversionEncoder(InversionConfig.tiny(tiny_generator.image_size, tiny_generator.latent_dim))
    images = np.full((2, 40, 30, 3), 200, np.uint8)  # another size and aspect: resized to the generator's
    seen = []
    got = invert(enc, tiny_generator, images, refine_steps=2, perceptual=perceptual,
                 progress=lambda f, m: seen.append(f))  # fmt: skip
    assert got.reconstructions.shape == (2, 64, 64, 3)
    assert all(p.grad is None for p in tiny_generator.model.parameters())
    assert seen and seen[-1] == pytest.approx(1.0)


def test_prepare_images_accepts_uint8_and_float_and_resizes():
    assert prepare_images(np.zeros((8, 8, 3), np.uint8), 16).shape == (1, 3, 16, 16)
    t = prepare_images(np.full((2, 32, 20, 3), 255, np.uint8), 16)
    assert t.shape == (2, 3, 16, 16) and torch.allclose(t, torch.ones_like(t))
    assert prepare_images(_images(2, 32), 16).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError):
        prepare_images(np.zeros((2, 8, 8), np.uint8), 16)


def test_reconstruction_quality_reports_mean_and_std_per_budget(perceptual):
    gen = LinearGenerator()
    enc = InversionEncoder(InversionConfig(image_size=16, latent_dim=6, width=4, hidden=8))
    q = reconstruction_quality(enc, gen, n=3, seed=1003, refine_steps=(0, 2), perceptual=perceptual)
    for name in ("real", "generated"):
        assert set(q[name]) == {"refine_0", "refine_2"}
        s = q[name]["refine_2"]
        assert {"perceptual_mean", "perceptual_std", "psnr_mean", "psnr_std"} <= set(s)
        assert s["perceptual_mean"] <= q[name]["refine_0"]["perceptual_mean"] + 1e-6
    assert q["held_out"]["catalog_seed"] == 1003 and q["held_out"]["n"] == 3
