"""`gan-studio dataset fit|export|merge` end to end (tiny generator, untrained tiny inversion encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gan_studio.cli import main
from gan_studio.data.catalog_reader import read_catalog
from gan_studio.models.inversion import InversionConfig, InversionEncoder, save_inversion
from gan_studio.models.text_to_image import load_text_to_image
from tests.tiny_models import save_tiny_text_to_image

TINY_FIT = [
    "--steps",
    "3",
    "--ensemble",
    "2",
    "--hidden",
    "16,8",
    "--pixels-per-image",
    "64",
    "--refine-steps",
    "0",
]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dataset_cli")
    generator = save_tiny_text_to_image(root / "generator")
    model = load_text_to_image(generator, "restgan")
    encoder = save_inversion(
        InversionEncoder(InversionConfig.tiny(model.image_size, model.latent_dim)),
        root / "inversion.safetensors",
    )
    labels = root / "labels"
    assert (
        main(["catalog", "--n", "3", "--size", "64", "--out", str(labels)]) == 0
    )  # a labeled catalog folder
    out = root / "model"
    argv = ["dataset", "fit", "--labels", str(labels), "--out", str(out), "--generator", str(generator)]
    assert main([*argv, "--encoder", str(encoder), *TINY_FIT, "--no-progress"]) == 0
    return {"root": root, "model": out, "generator": generator, "encoder": encoder, "labels": labels}


def _one_sentence(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("gan-studio: ") and "\n" not in err and "Traceback" not in err
    return err


def test_fit_writes_a_handsoff_model(fitted):
    info = json.loads((fitted["model"] / "handsoff.json").read_text())
    assert info["generator"]["kind"] == "checkpoint"
    assert info["generator"]["path"] == str(fitted["generator"].resolve())
    assert info["inversion_encoder"]["path"] == str(fitted["encoder"].resolve())
    assert [item["id"] for item in info["items"]] == ["s0_000000", "s0_000001", "s0_000002"]
    assert info["settings"]["steps"] == 3 and info["settings"]["hidden"] == [16, 8]
    assert (fitted["model"] / "label_generator.safetensors").is_file()


def test_export_then_shards_and_merge(fitted, tmp_path, capsys):
    model = str(fitted["model"])
    out = tmp_path / "ds"
    export = ["dataset", "export", "--model", model, "--n", "6", "--batch", "3", "--no-progress"]
    assert main([*export, "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    for name in (
        "titles.csv",
        "labelmap.txt",
        "annotations.json",
        "depth.json",
        "uncertainty.csv",
        "manifest.json",
    ):
        assert (out / name).is_file(), name
    catalog = read_catalog(out)
    assert len(catalog) == 6 and catalog.has_masks and catalog.has_keypoints and catalog.has_depth
    assert all(catalog.titles)  # the title each latent was drawn with

    shards = [tmp_path / f"shard{i}" for i in range(2)]
    for i, shard in enumerate(shards):
        assert main([*export, "--shard", f"{i}/2", "--out", str(shard)]) == 0
    assert "merge all shards" in capsys.readouterr().out
    merged = tmp_path / "merged"
    assert main(["dataset", "merge", *map(str, shards), "--out", str(merged), "--no-progress"]) == 0
    assert read_catalog(merged).ids == catalog.ids
    assert (merged / "annotations.json").read_bytes() == (out / "annotations.json").read_bytes()

    assert main([*export, "--out", str(out)]) == 2  # complete: not replaced unless asked
    assert "already holds a complete dataset" in _one_sentence(capsys)
    assert main([*export, "--n", "2", "--out", str(out), "--overwrite"]) == 0
    assert len(read_catalog(out)) == 2


def test_bad_input_is_one_sentence_and_exit_2(fitted, tmp_path, capsys, monkeypatch):
    fit = [
        "dataset",
        "fit",
        "--generator",
        str(fitted["generator"]),
        "--encoder",
        str(fitted["encoder"]),
        *TINY_FIT,
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*fit, "--labels", str(empty), "--out", str(tmp_path / "m1"), "--no-progress"]) == 2
    assert "is empty" in _one_sentence(capsys)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "a.json").write_text('{"shapes": [oops')
    assert main([*fit, "--labels", str(corrupt), "--out", str(tmp_path / "m2"), "--no-progress"]) == 2
    assert "a.json" in _one_sentence(capsys)
    assert main([*fit, "--labels", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m3")]) == 2
    assert "does not exist" in _one_sentence(capsys)
    assert (
        main([*fit, "--labels", str(fitted["labels"]), "--out", str(fitted["model"]), "--no-progress"]) == 2
    )
    assert "already holds a HandsOff model" in _one_sentence(capsys)
    assert (
        main([*fit, "--labels", str(fitted["labels"]), "--out", str(tmp_path / "m4"), "--hidden", "a,b"]) == 2
    )
    assert "--hidden" in _one_sentence(capsys)
    assert not any((tmp_path / f"m{i}").exists() for i in range(1, 5))

    export = [
        "dataset",
        "export",
        "--model",
        str(fitted["model"]),
        "--n",
        "4",
        "--batch",
        "2",
        "--no-progress",
    ]
    (tmp_path / "file").write_text("in the way")
    assert main([*export, "--out", str(tmp_path / "file" / "ds")]) == 2
    assert "a file is in the way" in _one_sentence(capsys)
    assert main([*export, "--out", str(tmp_path / "ds"), "--shard", "2/2"]) == 2
    assert "shard 2/2 does not exist" in _one_sentence(capsys)
    assert main([*export, "--out", str(tmp_path / "ds"), "--uncertainty-drop", "1"]) == 2
    assert "uncertainty drop" in _one_sentence(capsys)
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(tmp_path / "no_resources"))
    assert main([*export[:3], "builtin", *export[4:], "--out", str(tmp_path / "ds")]) == 2
    assert "no built-in HandsOff model" in _one_sentence(capsys)
    assert main(["dataset", "merge", str(fitted["labels"]), "--out", str(tmp_path / "merged")]) == 2
    assert "not a dataset export" in _one_sentence(capsys)
