"""The stage-II ablation end to end on tiny models: two stage IIs on one frozen stage I, then the bench."""

from __future__ import annotations

import json

from gan_studio.cli import main
from gan_studio.models.checkpoint import load_checkpoint


def test_fresh_stage2_on_a_frozen_stage1_then_bench(tmp_path):
    base = tmp_path / "base"
    assert main(["train", "restgan", "--tiny", "--out", str(base), "--no-progress"]) == 0
    weights = {}
    for mode in ("paired", "adversarial"):
        out = tmp_path / mode
        argv = ["train", "restgan", "--tiny", "--init", str(base / "restgan.safetensors"), "--fresh-stage2",
                "--stage1-steps", "0", "--stage2-steps", "2", "--stage2-mode", mode, "--out", str(out),
                "--no-progress"]  # fmt: skip
        assert main(argv) == 0
        weights[mode] = out / "restgan.safetensors"
    base_state, _ = load_checkpoint(base / "restgan.safetensors")
    for mode, path in weights.items():
        state, manifest = load_checkpoint(path)
        # stage I is the base model's, untouched; the manifest keeps the history
        assert all(state[k].equal(v) for k, v in base_state.items() if k.startswith("stage1."))
        assert manifest["training"]["initialized_from"]["stage2"] == "fresh (random weights)"
        assert manifest["training"]["config"]["stage2_mode"] == mode
    report = tmp_path / "report"
    argv = ["bench", "stage2", "--n", "8", "--out", str(report)]
    argv += [a for mode, p in weights.items() for a in ("--model", f"{mode}={p}")]
    assert main(argv) == 0
    data = json.loads((report / "stage2_ablation.json").read_text())
    assert set(data["results"]) == {"paired", "adversarial"}
    assert all(r["fid"] >= 0 and r["stage2_psnr_on_real"] > 0 for r in data["results"].values())


def test_fresh_stage2_needs_init(tmp_path, capsys):
    assert main(["train", "restgan", "--tiny", "--fresh-stage2", "--out", str(tmp_path / "x")]) == 2
    assert "--fresh-stage2 only makes sense with --init" in capsys.readouterr().err
