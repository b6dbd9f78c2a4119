"""`train restgan --init W --init-state S`: a run continues another with every network and optimizer moment."""

from __future__ import annotations

from gan_studio.cli import main
from gan_studio.models.checkpoint import load_checkpoint, read_manifest


def _d_tensors(state_path):
    state, _ = load_checkpoint(state_path, architecture="restgan-training-state")
    return {k: v for k, v in state.items() if k.startswith(("d1.", "d2.", "text_aux.", "opt_d1."))}


def test_init_state_takes_the_discriminators_and_optimizers(tmp_path):
    base = tmp_path / "base"
    assert main(["train", "restgan", "--tiny", "--out", str(base), "--no-progress"]) == 0
    runs = {}
    for name, extra in (("kept", ["--init-state", str(base / "train_state.safetensors")]), ("fresh", [])):
        out = tmp_path / name
        argv = ["train", "restgan", "--tiny", "--init", str(base / "restgan.safetensors"), "--stage1-steps", "0",
                "--stage2-steps", "0", "--seed", "5", "--out", str(out), "--no-progress", *extra]  # fmt: skip
        assert main(argv) == 0
        runs[name] = out
    before = _d_tensors(base / "train_state.safetensors")
    kept = _d_tensors(runs["kept"] / "train_state.safetensors")
    fresh = _d_tensors(runs["fresh"] / "train_state.safetensors")
    assert set(kept) == set(before)
    assert all(kept[k].equal(v) for k, v in before.items())
    assert not all(fresh[k].equal(before[k]) for k in before if k.startswith("d1.") and k in fresh)
    manifest = read_manifest(runs["kept"] / "restgan.safetensors")
    assert manifest["training"]["initialized_from"]["state"]["sha256"]
    card = (runs["kept"] / "restgan.md").read_text()
    assert "every network, the averages and the optimizer state" in card


def test_init_state_needs_init(tmp_path, capsys):
    argv = ["train", "restgan", "--tiny", "--init-state", str(tmp_path / "s"), "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    assert "--init-state needs --init" in capsys.readouterr().err
