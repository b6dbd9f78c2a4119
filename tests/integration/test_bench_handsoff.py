"""`gan-studio bench handsoff` end to end with tiny settings on the shipped models (seconds, not the real run)."""

from __future__ import annotations

import json

from gan_studio.cli import main


def test_bench_handsoff_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "bench"
    argv = [
        "bench", "handsoff", "--labels", "2", "--seeds", "1", "--test-items", "4", "--synthetic", "4",
        "--steps", "2", "--fit-steps", "2", "--refine-steps", "2", "--finetune-steps", "2", "--threads", "1",
        "--quiet", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    data = json.loads((out / "handsoff.json").read_text())
    md = (out / "handsoff.md").read_text()
    assert {r["method"] for r in data["runs"]} == {"handsoff", "handsoff_ft", "real", "transfer"}
    block = data["summary"]["2"]
    for method in ("handsoff", "handsoff_ft", "real", "transfer"):
        assert block["methods"][method]["seeds"] == 1
        assert 0.0 <= block["methods"][method]["miou"]["mean"] <= 1.0
    handsoff = next(r for r in data["runs"] if r["method"] == "handsoff")["handsoff"]
    assert handsoff["generated"] == 4 and handsoff["candidates"] == 5  # 10 % dropped
    assert handsoff["labeled_images_per_second"] > 0
    assert block["target"]["best_baseline"] in ("real", "transfer")
    assert block["targets"]["handsoff_ft"]["best_baseline"] in ("real", "transfer")
    ft = next(r for r in data["runs"] if r["method"] == "handsoff_ft")
    assert ft["training"]["steps"] == 2 and ft["training"]["items"] == 2  # fine-tuned on the 2 real items
    assert "handsoff" not in ft  # the fit and generation are counted once, in the handsoff row
    assert "s1005_000000" in data["data"]["test"]
    for name in (
        "HandsOff",
        "fine-tuned on the real items",
        "real items",
        "transfer",
        "mIoU",
        "PCK@0.05",
        "AbsRel",
        "bench handsoff",
        "4 downstream",
    ):
        assert name in md
    runs = (out / "handsoff_runs.jsonl").read_text().splitlines()
    assert len(runs) == 4
    out_text = capsys.readouterr().out
    assert "HandsOff (generated dataset only) - best baseline" in out_text
    assert "fine-tuned on the real items - best baseline" in out_text

    # A second run with the same settings resumes: nothing is trained again.
    assert main(argv) == 0
    assert len((out / "handsoff_runs.jsonl").read_text().splitlines()) == 4

    # Other fine-tuning settings measure the fine-tuned row again (with the handsoff row it starts from) only.
    assert main([*argv, "--finetune-steps", "3"]) == 0
    again = [json.loads(line) for line in (out / "handsoff_runs.jsonl").read_text().splitlines()[4:]]
    assert [r["method"] for r in again] == ["handsoff", "handsoff_ft"]
    assert again[1]["training"]["steps"] == 3


def test_bench_handsoff_split_over_processes_then_reported(tmp_path, capsys):
    out = tmp_path / "bench"
    base = [
        "bench", "handsoff", "--labels", "2", "--seeds", "2", "--test-items", "4", "--synthetic", "4",
        "--steps", "2", "--fit-steps", "2", "--refine-steps", "2", "--finetune-steps", "2", "--threads", "1",
        "--quiet", "--out", str(out),
    ]  # fmt: skip
    for part in ("0:1", "1:2"):
        assert main([*base, "--measure-only", part, "--results", str(tmp_path / f"r{part[0]}.jsonl")]) == 0
        assert not (out / "handsoff.json").exists()
        assert len((tmp_path / f"r{part[0]}.jsonl").read_text().splitlines()) == 4
    merged = tmp_path / "all.jsonl"
    merged.write_text((tmp_path / "r0.jsonl").read_text() + (tmp_path / "r1.jsonl").read_text())
    assert main([*base, "--results", str(merged)]) == 0
    data = json.loads((out / "handsoff.json").read_text())
    assert data["runs_read_back"] == 8 and len(merged.read_text().splitlines()) == 8  # nothing measured again
    assert data["summary"]["2"]["methods"]["handsoff"]["seeds"] == 2
    assert main([*base, "--measure-only", "1:3"]) == 2
    assert "--measure-only takes A:B" in capsys.readouterr().err


def test_bench_handsoff_rejects_bad_settings(tmp_path, capsys):
    assert main(["bench", "handsoff", "--labels", "2", "--steps", "0", "--out", str(tmp_path)]) == 2
    assert "--steps" in capsys.readouterr().err
