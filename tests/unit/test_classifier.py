"""The attribute classifier: shapes, loading, and its training loop (tiny, synthetic where the renderer is absent)."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_studio.cli import main
from gan_studio.data.attributes import (
    CLASSIFIER_HEADS,
    COLOR_GROUPS,
    COLOR_WORDS,
    FITS,
    GENDERS,
    LENGTHS,
    TYPES,
    Attributes,
)
from gan_studio.data.item import CatalogItem
from gan_studio.models.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from gan_studio.models.classifier import (
    ARCHITECTURE,
    AttributeClassifier,
    ClassifierConfig,
    decode_predictions,
    encode_attributes,
    images_to_tensor,
    load_classifier,
)
from gan_studio.runtime.progress import ProgressBar, format_duration
from gan_studio.train.classifier import (
    TrainConfig,
    augment,
    evaluate_classifier,
    lr_at,
    train_loop,
)

TINY = ClassifierConfig(in_size=32, width=8)
SIZES = TINY.head_sizes()


def _synthetic(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    labels = np.stack([rng.integers(0, SIZES[h], n) for h in CLASSIFIER_HEADS], axis=1)
    return images, labels


# ------------------------------------------------------------------------------------------------- model


@pytest.mark.parametrize("size", [24, 32, 48, 64, 100])
def test_forward_shapes_for_any_input_size(size):
    model = AttributeClassifier(TINY).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    out = model(x)
    assert list(out) == list(CLASSIFIER_HEADS)
    for head, logits in out.items():
        assert logits.shape == (2, SIZES[head])
    assert model.features(x).shape == (2, 16 * TINY.width)
    maps = model.block_features(x)
    w, s = TINY.width, TINY.in_size
    assert [tuple(m.shape) for m in maps] == [
        (2, w, s // 2, s // 2),
        (2, 2 * w, s // 4, s // 4),
        (2, 4 * w, s // 8, s // 8),
        (2, 8 * w, s // 16, s // 16),
    ]


def test_default_model_is_small_and_color_head_follows_config():
    model = AttributeClassifier(ClassifierConfig(n_colors=9))
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert model.heads[CLASSIFIER_HEADS.index("color")].out_features == 9
    assert model.features(torch.zeros(1, 3, 64, 64)).shape == (1, 256)


def test_bad_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="N, 3, H, W"):
        AttributeClassifier(TINY)(torch.zeros(1, 1, 32, 32))


def test_predict_returns_labels_and_keeps_mode():
    model = AttributeClassifier(TINY).train()
    pred = model.predict(torch.zeros(5, 3, 40, 40), batch=2)
    assert model.training
    for head in CLASSIFIER_HEADS:
        assert pred[head].dtype == torch.long and pred[head].shape == (5,)
        assert 0 <= int(pred[head].min()) and int(pred[head].max()) < SIZES[head]
    readable = decode_predictions(pred, 0)
    assert readable["type"] in TYPES and isinstance(readable["color"], int)


def test_images_to_tensor_and_encode_attributes():
    img = np.full((2, 4, 4, 3), 255, np.uint8)
    img[1] = 0
    t = images_to_tensor(img)
    assert t.shape == (2, 3, 4, 4) and t[0].min() == 1.0 and t[1].max() == -1.0
    a = Attributes("jeans", "women's", "navy", "ankle", "skinny")
    assert encode_attributes(a, 3) == [1, 1, 3, 1, 0]


def test_load_classifier_round_trip_and_refusals(tmp_path):
    model = AttributeClassifier(TINY)
    path = save_checkpoint(
        model.state_dict(),
        tmp_path / "c.safetensors",
        architecture=ARCHITECTURE,
        config=TINY.to_dict(),
        metrics={"heldout_accuracy": {}},
    )
    loaded = load_classifier(path)
    assert not loaded.training and loaded.config == TINY
    assert loaded.manifest["architecture"] == ARCHITECTURE
    x = torch.rand(3, 3, 32, 32)
    model.eval()
    for head in CLASSIFIER_HEADS:
        assert torch.allclose(loaded(x)[head], model(x)[head])
    with pytest.raises(CheckpointError, match="train classifier"):
        load_classifier(tmp_path / "missing.safetensors")
    other = save_checkpoint(model.state_dict(), tmp_path / "o.safetensors", architecture="other", config={})
    with pytest.raises(CheckpointError, match="'other'"):
        load_classifier(other)


# ---------------------------------------------------------------------------------------------- training


def test_augment_keeps_shape_and_is_deterministic():
    x = torch.rand(4, 3, 16, 16)
    a = augment(x, torch.Generator().manual_seed(3), 2, True)
    b = augment(x, torch.Generator().manual_seed(3), 2, True)
    assert a.shape == x.shape and torch.equal(a, b)
    assert torch.equal(augment(x, torch.Generator(), 0, False), x)


def test_lr_schedule_warms_up_and_decays():
    cfg = TrainConfig(steps=100, warmup=10, lr=1.0)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) < 0.05
    assert all(lr_at(s, cfg) >= lr_at(s + 1, cfg) for s in range(10, 99))


def test_train_loop_logs_checkpoints_and_resumes(tmp_path):
    images, labels = _synthetic(24)
    cfg = TrainConfig.tiny()  # 6 steps, checkpoint every 3
    out = tmp_path / "run"
    result = train_loop(images, labels, cfg, TINY, out, progress=False)
    assert (result.step, result.resumed_from) == (6, 0)
    assert not result.model.training
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6]
    assert all(np.isfinite(r["loss"]) and "loss_color" in r for r in log)
    _, manifest = load_checkpoint(
        out / "checkpoint.safetensors", architecture="attribute-classifier-train-state"
    )
    assert manifest["extra"]["step"] == 6

    more = replace(cfg, steps=9)
    result2 = train_loop(images, labels, more, TINY, out, progress=False)
    assert (result2.step, result2.resumed_from) == (9, 6)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log][-2:] == [8, 9]

    # Already done: nothing to train, same weights back.
    result3 = train_loop(images, labels, more, TINY, out, progress=False)
    assert (result3.step, result3.resumed_from) == (9, 9)
    assert result3.last_loss == pytest.approx(log[-1]["loss"])
    for k, v in result2.model.state_dict().items():
        assert torch.equal(result3.model.state_dict()[k], v)

    with pytest.raises(CheckpointError, match="different network"):
        train_loop(images, labels, more, ClassifierConfig(in_size=32, width=4), out, progress=False)


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    import gan_studio.train.classifier as tc

    images, labels = _synthetic(24, seed=1)
    cfg = TrainConfig(steps=5, batch=4, warmup=1, checkpoint_every=100, log_every=1)
    straight = train_loop(images, labels, cfg, TINY, tmp_path / "a", progress=False)

    real_step = tc._train_step
    calls = {"n": 0}

    def interrupting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(tc, "_train_step", interrupting)
    with pytest.raises(KeyboardInterrupt):
        train_loop(images, labels, cfg, TINY, tmp_path / "b", progress=False)
    monkeypatch.setattr(tc, "_train_step", real_step)
    resumed = train_loop(images, labels, cfg, TINY, tmp_path / "b", progress=False)
    assert resumed.resumed_from == 3 and resumed.step == 5
    for k, v in straight.model.state_dict().items():
        assert torch.allclose(resumed.model.state_dict()[k].float(), v.float(), atol=1e-6), k


def test_train_loop_rejects_bad_labels(tmp_path):
    images, labels = _synthetic(4)
    labels[0, CLASSIFIER_HEADS.index("color")] = 99
    with pytest.raises(ValueError, match="color labels"):
        train_loop(images, labels, TrainConfig.tiny(), TINY, tmp_path, progress=False)


def test_evaluate_classifier_on_arrays_and_items():
    model = AttributeClassifier(TINY).eval()
    images, labels = _synthetic(6)
    acc = evaluate_classifier(model, (images, labels))
    assert list(acc) == list(CLASSIFIER_HEADS) and all(0.0 <= v <= 1.0 for v in acc.values())
    # Labels equal to the predictions score 1.
    pred = model.predict(images_to_tensor(images))
    perfect = evaluate_classifier(model, (images, {h: pred[h].numpy() for h in CLASSIFIER_HEADS}))
    assert all(v == 1.0 for v in perfect.values())
    items = [
        CatalogItem(f"i{i}", "t", images[i], Attributes("jeans", "men's", "navy", "full", "slim"))
        for i in range(3)
    ]
    acc_items = evaluate_classifier(model, items, cluster_of=lambda w: 2)
    assert set(acc_items) == set(CLASSIFIER_HEADS)


def test_progress_bar_text():
    import io

    stream = io.StringIO()
    bar = ProgressBar(10, "train", stream=stream)
    bar.update(5, "loss 1.000", force=True)
    bar.close()
    text = stream.getvalue()
    assert "5/10" in text and "loss 1.000" in text and "it/s" in text and "ETA" in text
    assert format_duration(3725) == "1:02:05" and format_duration(65) == "1:05"
    quiet = io.StringIO()
    ProgressBar(3, enabled=False, stream=quiet).update(1, force=True)
    assert quiet.getvalue() == ""


# ----------------------------------------------------------------------------------------------- command

GROUP_OF = {w: i for i, ws in enumerate(COLOR_GROUPS.values()) for w in ws}


def _fake_item(seed: int, index: int, size: int) -> CatalogItem:
    rng = np.random.default_rng([seed, index])
    t = TYPES[rng.integers(len(TYPES))]
    color = COLOR_WORDS[rng.integers(len(COLOR_WORDS))]
    attrs = Attributes(t, GENDERS[rng.integers(3)], color, LENGTHS[rng.integers(5)], FITS[rng.integers(5)])
    image = np.full((size, size, 3), 245, np.uint8)
    image[size // 4 : size - 2, size // 3 : 2 * size // 3] = rng.integers(0, 256, 3)
    return CatalogItem(f"{seed}-{index}", f"{color} {t}", image, attrs)


class _FakeTable:
    @classmethod
    def load(cls, path=None, verify=True):
        return cls()

    def __len__(self):
        return len(COLOR_GROUPS)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(GROUP_OF)

    def cluster_of(self, word: str) -> int:
        return GROUP_OF[word]


def _stand_in(name: str) -> types.ModuleType:
    """A copy of module ``name`` whose attributes the caller then replaces: everything else it exports stays real,
    so a module first imported while the stand-in is in ``sys.modules`` still finds the names it imports."""
    real = importlib.import_module(name)
    module = types.ModuleType(name)
    module.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    return module


@pytest.fixture
def fake_catalog(monkeypatch):
    """Stand-ins for the renderer, the color table and the folder reader, so the command's mechanics are tested."""
    catalog = _stand_in("gan_studio.data.catalog")
    catalog.render_item = _fake_item
    colortable = _stand_in("gan_studio.data.colortable")
    colortable.ColorTable = _FakeTable
    reader = _stand_in("gan_studio.data.catalog_reader")
    reader.read_catalog = lambda path, color_words=None: [_fake_item(5, i, 48 + i % 3) for i in range(20)]
    monkeypatch.setitem(sys.modules, "gan_studio.data.catalog", catalog)
    monkeypatch.setitem(sys.modules, "gan_studio.data.colortable", colortable)
    monkeypatch.setitem(sys.modules, "gan_studio.data.catalog_reader", reader)


def test_command_builtin_tiny_writes_classifier_and_resumes(tmp_path, fake_catalog, capsys):
    out = tmp_path / "run"
    assert main(["train", "classifier", "--tiny", "--out", str(out), "--no-progress"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    for name in (
        "classifier.safetensors",
        "classifier.json",
        "classifier.md",
        "checkpoint.safetensors",
        "checkpoint.json",
        "log.jsonl",
        "train_items.npz",
        "heldout_items.npz",
    ):
        assert (out / name).is_file(), name
    model = load_classifier(out / "classifier.safetensors")
    m = model.manifest
    assert m["config"]["n_colors"] == len(COLOR_GROUPS)
    assert m["training"]["steps"] == 6 and "--tiny" in m["training"]["command"]
    assert m["data"]["train"]["seed"] == 0 and m["data"]["heldout"]["seed"] == 1
    assert set(m["metrics"]["heldout_accuracy"]) == set(CLASSIFIER_HEADS)
    assert "Held-out accuracy" in (out / "classifier.md").read_text()

    assert main(["train", "classifier", "--tiny", "--steps", "8", "--out", str(out), "--no-progress"]) == 0
    m2 = load_classifier(out / "classifier.safetensors").manifest
    assert m2["training"]["steps"] == 8 and m2["training"]["resumed_from_step"] == 6


def test_command_folder_data(tmp_path, fake_catalog):
    folder = tmp_path / "catalog"
    folder.mkdir()
    out = tmp_path / "run"
    assert (
        main(["train", "classifier", "--tiny", "--data", str(folder), "--out", str(out), "--no-progress"])
        == 0
    )
    m = load_classifier(out / "classifier.safetensors").manifest
    assert m["data"]["source"] == "folder" and m["data"]["heldout"]["n"] == 2


def test_command_bad_arguments_are_one_sentence(tmp_path, fake_catalog, capsys):
    assert (
        main(["train", "classifier", "--tiny", "--steps", "0", "--out", str(tmp_path), "--no-progress"]) == 2
    )
    assert "--steps must be at least 1" in capsys.readouterr().err
    missing = tmp_path / "nope"
    assert main(["train", "classifier", "--tiny", "--data", str(missing), "--out", str(tmp_path / "r")]) == 2


@pytest.mark.skipif(
    importlib.util.find_spec("gan_studio.data.catalog") is None
    or importlib.util.find_spec("gan_studio.data.colortable") is None,
    reason="the built-in catalog renderer or color table is not written yet",
)
def test_command_builtin_tiny_with_real_renderer(tmp_path):
    from gan_studio.resources import resource_path

    if not resource_path("color_table.json").is_file():
        pytest.skip("resources/color_table.json has not been built yet")
    out = tmp_path / "run"
    assert main(["train", "classifier", "--tiny", "--out", str(out), "--no-progress"]) == 0
    model = load_classifier(Path(out) / "classifier.safetensors")
    assert set(model.manifest["metrics"]["heldout_accuracy"]) == set(CLASSIFIER_HEADS)


def test_cached_render_reuses_its_cache(tmp_path, fake_catalog):
    from gan_studio.train.classifier import cached_render

    calls = []
    catalog = sys.modules["gan_studio.data.catalog"]
    catalog.render_item = lambda seed, index, size: calls.append(index) or _fake_item(seed, index, size)
    images, labels = cached_render(tmp_path / "c.npz", 0, 5, 16)
    assert images.shape == (5, 16, 16, 3) and labels.shape == (5, 5)
    first = len(calls)  # five items and the renderer fingerprint
    images2, labels2 = cached_render(tmp_path / "c.npz", 0, 5, 16)
    assert len(calls) == first + 1  # only the fingerprint
    assert np.array_equal(images, images2) and np.array_equal(labels, labels2)
    cached_render(tmp_path / "c.npz", 0, 6, 16)  # a different request renders again
    assert len(calls) == first + 1 + 7
