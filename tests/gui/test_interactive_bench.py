"""`gan-studio bench interactive` on a tiny model: Generate's word to pixels and Explore's Run/scrub, real widgets."""

from __future__ import annotations

import json

import pytest

from gan_studio.cli import main
from gan_studio.commands.bench_interactive import percentile
from tests.tiny_models import save_tiny_text_to_image

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def test_percentile_interpolates_between_order_statistics() -> None:
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.5
    assert percentile([5.0], 0.95) == 5.0
    assert percentile(list(range(101)), 0.95) == pytest.approx(95.0)
    assert percentile([], 0.5) != percentile([], 0.5)  # nan


def test_the_bench_measures_both_phases_and_writes_the_tables(qapp, tmp_path) -> None:
    model = save_tiny_text_to_image(tmp_path / "model")
    out = tmp_path / "out"
    argv = ["bench", "interactive", "--model", str(model), "--titles", "2", "--waypoints", "2", "--runs", "1",
            "--scrub-passes", "2", "--threads", "1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((out / "interactive.json").read_text())
    g, e = data["generate"], data["explore"]
    words = sum(g["words"])
    assert g["n"] == words == len(g["incremental_ms"]) == len(g["scratch_ms"]) and words >= 4
    assert 0 < g["incremental_median_ms"] <= g["incremental_p95_ms"]
    assert g["generator_alone"]["n"] == 3 * words and g["generator_alone"]["median_ms"] > 0
    for mode in ("fast", "exact"):
        r = e[mode]
        assert len(r["runs"]) == 1 and 0 < r["run_to_first_median_ms"] <= r["run_to_last_median_ms"]
        # 3 frames (start + 2 waypoints), two passes there and back: 6 slider values, each a new frame
        assert r["scrub"]["slider_values"] == 6 and r["scrub"]["frames_painted"] >= 4
    assert data["torch_threads"] == 1 and data["command"].startswith("gan-studio bench interactive --model")
    md = (out / "interactive.md").read_text()
    assert "| incremental session (the app) |" in md and "| fast |" in md and "| exact |" in md
    assert "Goal: 2 waypoints ≤ 0.75 s (8 in 3 s)" in md


def test_bad_options_are_one_sentence(tmp_path, capsys) -> None:
    assert main(["bench", "interactive", "--phases", "typing", "--out", str(tmp_path)]) == 2
    assert "unknown phase typing" in capsys.readouterr().err
    assert main(["bench", "interactive", "--runs", "0", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "interactive.json").exists()
