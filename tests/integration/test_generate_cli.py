"""`gan-studio generate` and `gan-studio train restgan|stackgan` end to end (tiny configs)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from gan_studio.cli import main
from tests.tiny_models import save_tiny_text_to_image


def test_generate_writes_the_image_and_one_step_per_word(tmp_path):
    model = save_tiny_text_to_image(tmp_path / "m")
    out, steps = tmp_path / "img.png", tmp_path / "steps"
    argv = ["generate", "women's black pants petite capri", "--seed", "7", "--model", str(model)]
    assert main([*argv, "--out", str(out), "--steps", str(steps)]) == 0
    info = json.loads((steps / "steps.json").read_text())
    assert [s["file"] for s in info["steps"]] == [f"step_0{i}.png" for i in range(5)]
    assert info["steps"][-1]["prefix"] == "women's black pants petite capri"
    final = np.asarray(Image.open(out))
    assert np.array_equal(final, np.asarray(Image.open(steps / "step_04.png")))
    again = tmp_path / "again.png"
    assert main([*argv, "--out", str(again)]) == 0
    assert np.array_equal(final, np.asarray(Image.open(again)))  # same seed, same image


def test_generate_bad_input_is_one_sentence(tmp_path, capsys):
    model = save_tiny_text_to_image(tmp_path / "m")
    assert main(["generate", "jeans", "--model", str(model), "--out", str(tmp_path / "x.txt")]) == 2
    assert "must end in" in capsys.readouterr().err
    assert main(["generate", "jeans", "--model", str(tmp_path / "nope.safetensors"), "--out", "a.png"]) == 2
    assert main(["generate", "👖 ??", "--model", str(model), "--out", str(tmp_path / "e.png")]) == 0
    assert "No word" in capsys.readouterr().err
    pickle = tmp_path / "model.pt"
    pickle.write_bytes(b"\x80\x04K\x01.")
    assert main(["generate", "jeans", "--model", str(pickle), "--out", str(tmp_path / "p.png")]) == 2


def test_train_restgan_tiny_writes_weights_manifest_and_card(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "restgan", "--tiny", "--no-progress", "--out", str(out)]) == 0
    manifest = json.loads((out / "restgan.json").read_text())
    assert manifest["architecture"] == "restgan"
    assert manifest["training"]["command"].startswith("gan-studio train restgan")
    assert "Seed 0" in (out / "restgan.md").read_text()
    assert main(["generate", "men's blue jeans", "--model", str(out / "restgan.safetensors"),
                 "--out", str(tmp_path / "g.png")]) == 0  # fmt: skip


def test_train_stackgan_on_a_catalog_folder_and_refuse_a_missing_one(tmp_path, capsys):
    folder = tmp_path / "cat"
    assert main(["catalog", "--n", "6", "--size", "64", "--out", str(folder)]) == 0
    out = tmp_path / "run"
    assert (
        main(["train", "stackgan", "--tiny", "--no-progress", "--data", str(folder), "--out", str(out)]) == 0
    )
    manifest = json.loads((out / "stackgan.json").read_text())
    assert manifest["data"] == {"source": "folder", "path": str(folder), "n": 6}
    assert main(["train", "restgan", "--tiny", "--data", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "neither 'builtin' nor a catalog folder" in capsys.readouterr().err
