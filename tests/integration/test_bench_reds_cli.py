"""`gan-studio bench reds` on a tiny model: a run split over two processes, then one run that reports."""

from __future__ import annotations

import json

from gan_studio.cli import main
from tests.tiny_models import save_tiny_text_to_image


def test_split_measurement_then_one_report(tmp_path):
    model = save_tiny_text_to_image(tmp_path / "model")
    common = ["bench", "reds", "--model", str(model), "--seeds", "2", "--pairs", "1", "--steps", "2",
              "--speed-waypoints", "1", "--reverse-chunk", "4096", "--out", str(tmp_path / "out")]  # fmt: skip
    for part, seeds in (("a", "0:1"), ("b", "1:2")):
        assert main([*common, "--measure-only", seeds, "--results", str(tmp_path / f"{part}.jsonl")]) == 0
    assert not (tmp_path / "out" / "reds.json").exists()  # measuring only writes no report
    both = tmp_path / "all.jsonl"
    both.write_text((tmp_path / "a.jsonl").read_text() + (tmp_path / "b.jsonl").read_text())
    assert main([*common, "--results", str(both)]) == 0
    data = json.loads((tmp_path / "out" / "reds.json").read_text())
    assert data["paths_resumed_from_results"] == 2 and data["paths_measured"] == 0
    assert data["speed"]["ms_per_waypoint_reds"] > 0


def test_results_of_other_weights_are_not_read_back(tmp_path):
    from gan_studio.models.checkpoint import save_checkpoint
    from tests.tiny_models import tiny_text_to_image

    results = tmp_path / "r.jsonl"
    common = ["bench", "reds", "--seeds", "1", "--pairs", "1", "--steps", "1", "--measure-only", "0:1",
              "--results", str(results), "--out", str(tmp_path / "o")]  # fmt: skip
    for seed in (0, 1):  # the same file and settings, other weights: measured again, not taken from the file
        model = tiny_text_to_image(seed=seed)
        path = save_checkpoint(model.state_dict(), tmp_path / f"m{seed}" / "restgan.safetensors",
                               architecture="restgan", config=model.config_dict(), training={"command": "test"})  # fmt: skip
        assert main([*common, "--model", str(path)]) == 0
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 2 and records[0]["settings"]["sha256"] != records[1]["settings"]["sha256"]


def test_no_reverse_skips_the_full_jacobian_and_says_so(tmp_path):
    model = save_tiny_text_to_image(tmp_path / "model")
    out = tmp_path / "out"
    args = ["bench", "reds", "--model", str(model), "--seeds", "1", "--pairs", "1", "--steps", "1",
            "--speed-waypoints", "1", "--no-reverse", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    speed = json.loads((out / "reds.json").read_text())["speed"]
    assert "ms_jacobian_reverse_full" not in speed and speed["ms_jacobian_forward"] > 0
    assert "not timed in this run (`--no-reverse`)" in (out / "reds.md").read_text()
    # A later run that asks for the reverse timing does not take the saved timings without it.
    assert main([a for a in args if a != "--no-reverse"] + ["--reverse-chunk", "4096"]) == 0
    assert "ms_jacobian_reverse_full" in json.loads((out / "reds.json").read_text())["speed"]


def test_fast_method_is_added_to_existing_results_and_compared_with_exact(tmp_path):
    model = save_tiny_text_to_image(tmp_path / "model")
    results = tmp_path / "r.jsonl"
    common = ["bench", "reds", "--model", str(model), "--seeds", "1", "--pairs", "1", "--steps", "2",
              "--speed-waypoints", "1", "--no-reverse", "--results", str(results), "--out", str(tmp_path / "o")]  # fmt: skip
    assert main([*common, "--measure-only", "0:1", "--methods", "reds,linear"]) == 0
    first = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(first) == 1 and set(first[0]["paths"]) == {"reds", "linear"}
    assert main([*common, "--methods", "reds-fast"]) == 0  # measures only the fast path, then reports
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 2 and set(records[1]["paths"]) == {"reds-fast"}
    data = json.loads((tmp_path / "o" / "reds.json").read_text())
    fast = data["summary"]["fast_vs_exact"]
    assert (
        fast["paths"] == 1
        and fast["ms_per_waypoint_fast_mean"] > 0
        and fast["drift_ratio_of_means"] is not None
    )
    assert data["speed"]["ms_per_waypoint_reds_fast_median"] > 0
    assert "Fast path (app default) against the exact path" in (tmp_path / "o" / "reds.md").read_text()


def test_unknown_method_is_one_sentence(tmp_path, capsys):
    assert main(["bench", "reds", "--seeds", "1", "--methods", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown method nope" in err and "Traceback" not in err
