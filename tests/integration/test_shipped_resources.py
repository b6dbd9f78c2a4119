"""The shipped weights and color table: they load, their hashes check, and they still do their job."""

import json
import pickle

import numpy as np
import pytest

from gan_studio.cli import main
from gan_studio.data.attributes import CLASSIFIER_HEADS
from gan_studio.data.colortable import ColorTable
from gan_studio.models.checkpoint import file_sha256
from gan_studio.models.classifier import default_classifier_path, load_classifier
from gan_studio.resources import resource_path
from gan_studio.train.classifier import color_words_to_clusters, evaluate_classifier, render_labeled


def test_shipped_classifier_manifest_matches_its_weights_and_the_color_table():
    path = default_classifier_path()
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["sha256"] == file_sha256(path)
    assert manifest["data"]["color_clusters"] == len(ColorTable.load())
    # the color head is tied to the table it was trained with
    assert manifest["data"]["color_table_sha256"] == file_sha256(resource_path("color_table.json"))
    assert path.stat().st_size < 5_000_000  # shipped weights stay small
    assert path.with_suffix(".md").read_text().startswith("# Attribute classifier")


def test_shipped_classifier_recognizes_unseen_catalog_items():
    model = load_classifier()
    # catalog seed 4242 was never used in training (seed 0) or its held-out evaluation (seed 1)
    images, labels = render_labeled(4242, 96, model.config.in_size)
    labels = color_words_to_clusters(labels, ColorTable.load().cluster_of)
    acc = evaluate_classifier(model, (images, labels))
    for head in CLASSIFIER_HEADS:
        assert acc[head] >= 0.93, (head, acc)


def test_cli_refuses_a_pickle_checkpoint_in_one_sentence(tmp_path, capsys):
    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps({"weights": np.zeros(3)}))
    code = main(["bench", "classifier", "--model", str(evil), "--n", "4", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "never unpickles" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_folder_without_titles_csv(tmp_path, capsys):
    (tmp_path / "cat" / "images").mkdir(parents=True)
    out = tmp_path / "run"
    code = main(["train", "classifier", "--data", str(tmp_path / "cat"), "--out", str(out), "--tiny"])
    err = capsys.readouterr().err
    assert code == 2
    assert "titles.csv" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("word", ["chartreuse"])
def test_unknown_color_word_is_a_clear_error(word):
    with pytest.raises(ValueError, match=f"unknown color word '{word}'"):
        ColorTable.load().cluster_of(word)


@pytest.mark.parametrize("architecture", ["restgan", "stackgan"])
def test_shipped_text_to_image_models_load_check_and_draw(architecture):
    from gan_studio.methods.restgan import TitleGenerator, default_model_path

    path = default_model_path(architecture)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["architecture"] == architecture and manifest["sha256"] == file_sha256(path)
    assert path.stat().st_size < 16_000_000  # shipped weights stay small
    training = manifest["training"]
    assert training["command"].startswith(f"gan-studio train {architecture}")
    assert isinstance(training["seed"], int) and training["wall_time_s"] > 0
    # both models had the same data and the same step and time budgets; where a time budget ended a stage, the
    # steps done may differ a little (run 5: 1470 + 790 against 1480 + 800)
    other = "stackgan" if architecture == "restgan" else "restgan"
    other_manifest = json.loads(default_model_path(other).with_suffix(".json").read_text())
    budget_keys = ("stage1_steps", "stage2_steps", "stage1_seconds", "stage2_seconds", "batch")
    mine, theirs = training["config"], other_manifest["training"]["config"]
    assert all(mine[k] == theirs[k] for k in budget_keys)
    for stage, done in training["steps"].items():
        assert abs(other_manifest["training"]["steps"][stage] - done) <= 0.02 * max(done, 1)
    assert other_manifest["data"] == manifest["data"]
    gen = TitleGenerator.load(architecture=architecture)
    a = gen.generate("women's black pants petite capri", seed=7)
    assert np.array_equal(a.image, gen.generate("women's black pants petite capri", seed=7).image)
    assert a.image.shape == (128, 128, 3) and a.image.std() > 10  # a picture, not a flat field
