"""`gan-studio bench soak` on a tiny model: a few rounds of typed words and waypoints, RSS sampled, a report."""

from __future__ import annotations

import json

from gan_studio.cli import main
from gan_studio.metrics.bench_soak import rss_bytes
from tests.tiny_models import save_tiny_text_to_image


def test_a_short_soak_writes_the_curve_and_the_growth(tmp_path):
    model = save_tiny_text_to_image(tmp_path / "model")
    out = tmp_path / "out"
    argv = ["bench", "soak", "--model", str(model), "--generations", "24", "--waypoints", "3", "--rounds", "3",
            "--samples-per-round", "2", "--threads", "1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((out / "soak.json").read_text())
    s = data["soak"]
    assert s["generations"] == 24 and s["waypoints"] == 3 and s["traversals"] == 3
    assert s["image_size"] == 64 and s["warmup_rounds"] == 1
    assert s["rss_end_mb"] > 0 and len(s["samples"]) >= 1 + 3
    assert s["growth_after_warmup_mb"] == s["rss_end_mb"] - s["rss_after_warmup_mb"]
    assert data["command"].startswith("gan-studio bench soak --model") and data["weights_sha256"]
    md = (out / "soak.md").read_text()
    assert "growth after the warm-up" in md and "torch threads 1" in md and "soak.png" in md
    assert (out / "soak.png").stat().st_size > 1000


def test_bad_counts_are_one_sentence(tmp_path, capsys):
    assert main(["bench", "soak", "--rounds", "1", "--out", str(tmp_path)]) == 2
    assert main(["bench", "soak", "--waypoints", "3", "--rounds", "4", "--out", str(tmp_path)]) == 2
    assert "--waypoints (3) must be 0 or at least --rounds (4)" in capsys.readouterr().err
    assert rss_bytes() > 10 * 2**20
