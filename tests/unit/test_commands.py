"""The `gan-studio` parser: built without torch, numpy or Qt, with help texts that quote the layers' constants."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_parser_imports_nothing_heavy() -> None:
    script = textwrap.dedent(
        """
        import sys
        from gan_studio.cli import build_parser
        build_parser()
        heavy = sorted(m for m in ("torch", "numpy", "PIL", "PySide6", "skimage", "safetensors") if m in sys.modules)
        print(" ".join(heavy))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "", f"building the parser imported {done.stdout.strip()}"


def test_the_copied_constants_match_their_layers() -> None:
    from gan_studio.commands import bench, dataset, traverse
    from gan_studio.methods import features, handsoff, reds
    from gan_studio.metrics import bench_handsoff, bench_reds, bench_restgan, bench_stage2

    assert traverse.SPEC_HELP == features.SPEC_HELP
    assert traverse.METHODS == reds.METHODS
    assert traverse.MAX_STEPS == reds.MAX_STEPS
    assert dataset.DEFAULT_REFINE_STEPS == handsoff.DEFAULT_REFINE_STEPS
    assert bench.RESTGAN_HELD_OUT_SEED == bench_restgan.HELD_OUT_SEED
    assert bench.STAGE2_HELD_OUT_SEED == bench_stage2.HELD_OUT_SEED
    assert bench.HANDSOFF_TEST_SEED == bench_handsoff.TEST_SEED
    assert bench.REDS_PAIRS == len(bench_reds.PAIRS)


def test_every_sub_command_runs_a_function() -> None:
    from gan_studio.cli import build_parser

    argv = {
        "catalog": ["--out", "x"],
        "generate": ["t", "--out", "x.png"],
        "traverse": ["--title", "t", "--fix", "rest", "--out", "x"],
        "colortable": [],
        "train classifier": ["--out", "x"],
        "train restgan": ["--out", "x"],
        "train stackgan": ["--out", "x"],
        "train inversion": ["--out", "x"],
        "bench catalog": [],
        "bench classifier": [],
        "bench restgan": [],
        "bench reds": [],
        "bench stage2": ["--model", "a=b"],
        "bench handsoff": [],
        "bench soak": [],
        "bench gui-stalls": [],
        "dataset fit": ["--labels", "x", "--out", "y"],
        "dataset export": ["--model", "builtin", "--n", "1", "--out", "y"],
        "dataset merge": ["a", "--out", "y"],
    }
    parser = build_parser()
    for command, rest in argv.items():
        args = parser.parse_args([*command.split(), *rest])
        assert callable(args.func), command
