"""`gan-studio train inversion` end to end on tiny models: weights, manifest, card, log; bad input exits 2."""

from __future__ import annotations

import json

import pytest
import torch

from gan_studio.cli import main
from gan_studio.models.checkpoint import read_manifest, save_checkpoint
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.models.inversion import load_inversion
from tests.tiny_models import save_tiny_text_to_image


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    generator = save_tiny_text_to_image(folder)
    torch.manual_seed(0)
    classifier = AttributeClassifier(ClassifierConfig(in_size=32, width=4))
    backbone = save_checkpoint(
        classifier.state_dict(),
        folder / "classifier.safetensors",
        architecture="attribute-classifier",
        config=classifier.config.to_dict(),
    )
    return generator, backbone


def _argv(models, out, *extra: str) -> list[str]:
    generator, backbone = models
    return ["train", "inversion", "--out", str(out), "--model", str(generator), "--backbone", str(backbone),
            "--tiny", "--no-progress", "--eval-n", "2", "--seed", "5", *extra]  # fmt: skip


def test_tiny_training_writes_weights_manifest_card_and_log(models, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_argv(models, out, "--stage1-steps", "3", "--threads", "1")) == 0
    assert "wrote" in capsys.readouterr().out
    weights = out / "inversion.safetensors"
    manifest = read_manifest(weights)
    assert manifest["architecture"] == "inversion-encoder"
    t = manifest["training"]
    assert t["command"].startswith("gan-studio train inversion --out") and "--seed 5" in t["command"]
    assert t["seed"] == 5 and t["steps"] == {"stage1": 3, "stage2": 2} and t["wall_time_s"] >= 0
    assert manifest["data"]["generator"]["sha256"] == read_manifest(models[0])["sha256"]
    real = manifest["metrics"]["real"]["refine_0"]
    assert real["psnr_mean"] > 0 and manifest["metrics"]["held_out"]["catalog_seed"] == 1003
    card = (out / "inversion.md").read_text()
    assert t["command"] in card and "Seed 5" in card and "seed 1003" in card
    encoder = load_inversion(weights)
    assert encoder.config.latent_dim == 16 and encoder.config.image_size == 64
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [(e["stage"], e["step"]) for e in log][-1] == (2, 2)
    # a finished run asked again resumes at its end and trains nothing more
    assert main(_argv(models, out, "--stage1-steps", "3")) == 0
    assert len((out / "log.jsonl").read_text().splitlines()) == len(log)
    # ... but not with another seed: the batches would no longer be the run's
    capsys.readouterr()
    assert main(_argv(models, out, "--stage1-steps", "3", "--seed", "6")) == 2
    assert "seed 5, not 6" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--batch", "0"), "--batch"),
        (("--model", "missing.safetensors"), "no checkpoint"),
        (("--eval-n", "-1"), "--eval-n"),
        (("--stage1-steps", "0", "--stage2-steps", "0"), "at least 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_sentence(models, tmp_path, capsys, extra, message):
    assert main(_argv(models, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gan-studio: ") and message in err and "\n" not in err and "Traceback" not in err


def test_a_pickled_generator_is_refused_without_unpickling(models, tmp_path, capsys):
    evil = tmp_path / "restgan.pt"
    torch.save({"weights": torch.zeros(1)}, evil)
    assert main(_argv((evil, models[1]), tmp_path / "run")) == 2
    assert "pickle" in capsys.readouterr().err
