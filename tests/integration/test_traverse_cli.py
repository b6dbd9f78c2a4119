"""`gan-studio traverse` end to end on a tiny untrained model: frames, metrics.json, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from gan_studio.cli import main
from tests.tiny_models import save_tiny_text_to_image

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

TITLE = "women's black pants petite capri"
FIX, VARY = "box:0,0,1,0.4", "rest"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_text_to_image(tmp_path_factory.mktemp("model"))


def _argv(model, out, *extra: str) -> list[str]:
    return [
        "traverse",
        "--title",
        TITLE,
        "--seed",
        "3",
        "--model",
        str(model),
        "--fix",
        FIX,
        "--vary",
        VARY,
        "--steps",
        "2",
        "--step-size",
        "0.5",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


def test_traverse_writes_frames_and_metrics(model, tmp_path, capsys):
    out = tmp_path / "path"
    assert main(_argv(model, out)) == 0
    assert "wrote 3 frames" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "frame_000.png",
        "frame_001.png",
        "frame_002.png",
        "metrics.json",
    ]
    frames = [np.asarray(Image.open(out / f"frame_{i:03d}.png")) for i in range(3)]
    assert frames[0].shape == frames[1].shape and frames[0].ndim == 3 and frames[0].dtype == np.uint8
    info = json.loads((out / "metrics.json").read_text())
    assert info["method"] == "reds" and info["fixed"] == [FIX] and info["varied"] == [VARY]
    assert info["units"] == {FIX: "RMS", VARY: "RMS"}
    assert info["both"] is False and info["seed"] == 3 and info["model"] == str(model)
    points = info["waypoints"]
    assert [p["waypoint"] for p in points] == [0, 1, 2]
    assert [p["file"] for p in points] == [f"frame_{i:03d}.png" for i in range(3)]
    assert points[0]["fixed"] == {FIX: 0.0} and points[0]["varied"] == {VARY: 0.0}
    assert points[0]["quotient"] is None and points[1]["quotient"] > 0
    for p in points[1:]:
        assert set(p["fixed"]) == {FIX} and set(p["varied"]) == {VARY}
        assert p["varied"][VARY] > 0
    assert not (out / ".metrics.json.tmp").exists()
    assert info["settings"]["exact"] is False and info["settings"]["refresh_every"] == 3  # the fast path


def test_traverse_exact_recomputes_the_jacobian_and_walks_the_same_first_step(model, tmp_path, capsys):
    fast, exact = tmp_path / "fast", tmp_path / "exact"
    assert main(_argv(model, fast, "--refresh-every", "2")) == 0
    assert main(_argv(model, exact, "--exact")) == 0
    f, e = (json.loads((p / "metrics.json").read_text()) for p in (fast, exact))
    assert e["settings"]["exact"] is True and f["settings"]["refresh_every"] == 2
    # Both start from the full Jacobian at the start: the first waypoint is the same.
    assert f["waypoints"][1]["varied"][VARY] == pytest.approx(e["waypoints"][1]["varied"][VARY], rel=1e-3)


def test_traverse_both_ways_and_a_baseline(model, tmp_path, capsys):
    out = tmp_path / "both"
    assert main(_argv(model, out, "--both", "--method", "random", "--scale", "2")) == 0
    info = json.loads((out / "metrics.json").read_text())
    assert [p["waypoint"] for p in info["waypoints"]] == [-2, -1, 0, 1, 2]
    assert [p["file"] for p in info["waypoints"]] == [f"frame_{i:03d}.png" for i in range(5)]
    assert all((out / f"frame_{i:03d}.png").is_file() for i in range(5))
    assert info["waypoints"][2]["fixed"] == {FIX: 0.0}  # the start, in the middle
    assert info["method"] == "random" and info["both"] is True
    assert info["settings"]["steps"] == 2 and info["settings"]["method"] == "random"
    width, height = Image.open(out / "frame_000.png").size
    assert width == height == 2 * 64  # --scale 2 on the tiny model's 64 px


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--steps", "1000"), "too many"),
        (("--step-size", "0"), "step size must be a positive"),
        (("--refresh-every", "0"), "refresh the Jacobian every 1..64"),
        (("--fix", "box:0,0,1,1", "--vary", "low:2"), "covers the whole image"),
        (("--fix", "wedge"), "unknown feature"),
        (("--vary", "attr:sleeve"), "is not an attribute the classifier knows"),
        (("--method", "diagonal"), None),
    ],
)
def test_bad_traversal_input_is_one_sentence(model, tmp_path, capsys, change, message):
    argv = _argv(model, tmp_path / "out")
    # Replace the flag's value given by _argv with the bad one (or add the flag).
    for flag, value in zip(change[::2], change[1::2], strict=True):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv[1:1] = [flag, value]
    if message is None:  # argparse's own refusal: exit code 2 and its usage line
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and "invalid choice" in capsys.readouterr().err
        return
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan-studio: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_fix_file_out_and_missing_model_are_one_sentence(model, tmp_path, capsys):
    argv = _argv(model, tmp_path / "out")
    i = argv.index("--fix")
    no_fix = argv[:i] + argv[i + 2 :]
    cases = [
        (no_fix, "at least one --fix"),
        (_argv(model, tmp_path / "file.txt"), "is a file, not a folder"),
        (_argv(tmp_path / "nope.safetensors", tmp_path / "out"), "does not exist"),
    ]
    (tmp_path / "file.txt").write_text("x")
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("gan-studio: ") and message in err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()
