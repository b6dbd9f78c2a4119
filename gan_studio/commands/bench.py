"""`gan-studio bench …`: the arguments of every benchmark; each writes its report to docs/benchmarks/.

The measurements are in :mod:`gan_studio.metrics` (``bench_*``), imported only when a benchmark runs (most import
torch), so the constants shown in the help are copies (tests/unit/test_commands.py keeps them in step).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

from gan_studio.commands import bench_gui_stalls, bench_interactive

RESTGAN_HELD_OUT_SEED = 1001  # gan_studio.metrics.bench_restgan.HELD_OUT_SEED
STAGE2_HELD_OUT_SEED = 1001  # gan_studio.metrics.bench_stage2.HELD_OUT_SEED
HANDSOFF_TEST_SEED = 1005  # gan_studio.metrics.bench_handsoff.TEST_SEED
REDS_PAIRS = 5  # len(gan_studio.metrics.bench_reds.PAIRS)


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark and write docs/benchmarks/")
    bsub = p.add_subparsers(dest="bench", required=True)
    # (name, help, its arguments, what runs it), in the order the help lists them
    benchmarks = (
        ("catalog", "renderer speed (items/s on one core)", _catalog_arguments, _run("bench_catalog")),
        (
            "classifier",
            "held-out accuracy of the shipped attribute classifier",
            _classifier_arguments,
            _run("bench_classifier"),
        ),
        (
            "restgan",
            "ReStGAN vs the StackGAN baseline: IS, FID, accuracy, color, consistency",
            _restgan_arguments,
            _run_restgan,
        ),
        (
            "reds",
            "REDS vs linear/random/PCA/SeFa directions; forward vs reverse Jacobians",
            _reds_arguments,
            _run("bench_reds"),
        ),
        (
            "stage2",
            "stage-II ablation: paired vs purely adversarial on the same stage I",
            _stage2_arguments,
            _run("bench_stage2"),
        ),
        (
            "handsoff",
            "HandsOff's generated datasets vs training on the few real labels (mIoU, PCK, depth)",
            _handsoff_arguments,
            _run("bench_handsoff"),
        ),
        (
            "export",
            "HandsOff export: labeled images/s and labels on the drawn garment (IoU from the files)",
            _export_arguments,
            _run("bench_export"),
        ),
        (
            "pti",
            "HandsOff on real images: pivot vs pivotal tuning (PSNR, perceptual, mIoU vs true masks)",
            _pti_arguments,
            _run("bench_pti"),
        ),
        (
            "soak",
            "memory over long use: word-by-word generations and REDS waypoints",
            _soak_arguments,
            _run("bench_soak"),
        ),
        (
            "gui-stalls",
            "event-loop stalls of the real workspaces (offscreen) while jobs run",
            bench_gui_stalls.add_arguments,
            bench_gui_stalls.bench_gui_stalls_command,
        ),
        (
            "interactive",
            "word to pixels in Generate; REDS Run to last frame and scrubbing in Explore (real widgets)",
            bench_interactive.add_arguments,
            bench_interactive.bench_interactive_command,
        ),
    )
    for name, help_text, arguments, run in benchmarks:
        b = bsub.add_parser(name, help=help_text)
        arguments(b)
        b.set_defaults(func=_outputs_checked(run))


def _outputs_checked(run):
    """``run`` after checking, before any measuring, that ``--out`` (and ``--results``, ``--work`` where given) can
    be written: a read-only folder or a file in the way is one sentence at once, not after minutes of benchmark."""

    def checked(args: argparse.Namespace) -> int:
        from gan_studio.data.output_files import check_file_target, check_folder_target

        check_folder_target(args.out)
        if getattr(args, "results", None):
            check_file_target(args.results)
        if getattr(args, "work", None):
            check_folder_target(args.work)
        return run(args)

    return checked


def _run(module: str):
    """The runner of ``gan_studio.metrics.<module>``: imports it when the benchmark runs."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(f"gan_studio.metrics.{module}"), f"{module}_command")(args)

    return run


def changed_options(args: argparse.Namespace) -> list[str]:
    """The options of `bench restgan` that differ from the defaults, for the report's command line."""
    defaults = argparse.ArgumentParser()
    _restgan_arguments(defaults)
    d = vars(defaults.parse_args([]))
    out = []
    for key, value in vars(args).items():
        if key not in d or value == d[key]:
            continue
        flag = "--" + key.replace("_", "-")
        out += [flag] if isinstance(value, bool) else [flag, str(value)]
    return out


def _run_restgan(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_restgan import bench_restgan_command

    args.changed_options = changed_options(args)
    return bench_restgan_command(args, on_screen=qt_latency)


def qt_latency(titles: list[str], gen, seed: int) -> dict:
    """Word to pixels on screen via ``gan_studio.qt.latency.measure_word_to_pixels`` when Qt is installed."""
    try:
        has_qt = importlib.util.find_spec("PySide6") is not None
    except (ImportError, ValueError):
        has_qt = False
    if not has_qt:
        return {"measured": False, "reason": "PySide6 is not installed"}
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from gan_studio.qt.latency import measure_word_to_pixels
    except (ImportError, AttributeError) as exc:
        return {"measured": False, "reason": f"gan_studio.qt.latency is not available ({exc})"}
    try:
        got = measure_word_to_pixels(titles, gen, seed=seed)
    except (ImportError, AttributeError, RuntimeError, ValueError, TypeError, KeyError, OSError) as exc:
        # an optional measurement must not lose the rest of the benchmark
        return {"measured": False, "reason": f"measure_word_to_pixels failed: {type(exc).__name__}: {exc}"}
    keys = (
        "incremental_median_ms",
        "scratch_median_ms",
        "n",
        "incremental_ms",
        "scratch_ms",
        "debounce_ms",
        "device",
    )
    out = {"measured": True, **{k: got.get(k) for k in keys if k in got}}
    inc, scr = out.get("incremental_median_ms"), out.get("scratch_median_ms")
    out["speedup"] = (scr / inc) if inc and scr is not None else None
    return out


def _int_list(text: str) -> list[int]:
    try:
        values = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("label counts must be positive integers")
    return values


def _catalog_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--out", default="docs/benchmarks")


def _classifier_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--model", default="builtin")
    p.add_argument("--out", default="docs/benchmarks")


def _restgan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=1000, help="held-out titles (and real items for FID)")
    p.add_argument(
        "--n-words", type=int, default=200, help="of those, titles generated word by word (consistency)"
    )
    p.add_argument(
        "--n-latency", type=int, default=20, help="of those, titles typed word by word for latency"
    )
    p.add_argument(
        "--restgan", default=None, help="ReStGAN weights (.safetensors; default: the shipped model)"
    )
    p.add_argument(
        "--stackgan", default=None, help="StackGAN weights (.safetensors; default: the shipped model)"
    )
    p.add_argument("--classifier", default=None, help="attribute classifier (default: the shipped one)")
    p.add_argument(
        "--catalog-seed",
        type=int,
        default=RESTGAN_HELD_OUT_SEED,
        help="built-in catalog seed of the held-out titles; the real-vs-real floor uses the next seed",
    )
    p.add_argument("--seed", type=int, default=0, help="noise seed: held-out title i is drawn with seed + i")
    p.add_argument(
        "--capri-seeds", type=int, default=20, help="noise seeds of the capri row (the method's own example)"
    )
    p.add_argument(
        "--out", default="docs/benchmarks", help="folder for restgan.md, restgan.json and the figure"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's own; use 1 while another job keeps the cores busy)",
    )
    p.add_argument("--no-qt", action="store_true", help="skip the on-screen (Qt) word-to-pixels latency")
    p.add_argument(
        "--condition-noise",
        type=float,
        default=None,
        help="scale of the conditioning-augmentation noise at inference for both models (default: the app's)",
    )


def _reds_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, default=50, help="starting latents (seeds 0..N-1), titles cycled")
    p.add_argument(
        "--measure-only",
        default=None,
        metavar="A:B",
        help="measure the paths of seeds A..B-1 into --results and stop (no timing, no report): split a run over "
        "processes, then concatenate their results and run once more without it to report",
    )
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--step-size", type=float, default=1.0)
    p.add_argument(
        "--pairs", type=int, default=4, help=f"use the first N of the {REDS_PAIRS} fixed/vary pairs"
    )
    p.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods to measure (default all: reds, reds-plain, reds-fast, linear, random, pca, "
        "sefa); results already in --results are kept, so e.g. --methods reds-fast adds the fast path to them",
    )
    p.add_argument("--speed-waypoints", type=int, default=3, help="waypoints timed for the speed comparison")
    p.add_argument(
        "--reverse-chunk", type=int, default=512, help="VJPs per batch for the reverse-mode Jacobian"
    )
    p.add_argument(
        "--no-reverse",
        action="store_true",
        help="skip timing the full reverse-mode Jacobian (minutes per call at 128 px; the report says so)",
    )
    p.add_argument("--model", default="builtin", help="'builtin' or a ReStGAN checkpoint")
    p.add_argument("--results", default=None, help="JSONL of per-path results (resumes); default in --out")
    p.add_argument("--out", default="docs/benchmarks")


def _stage2_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", action="append", required=True, help="NAME=PATH of a ReStGAN checkpoint (repeat)"
    )
    p.add_argument("--n", type=int, default=300, help="held-out titles and real items")
    p.add_argument("--seed", type=int, default=0, help="noise seed of title i is seed + i")
    p.add_argument(
        "--catalog-seed",
        type=int,
        default=STAGE2_HELD_OUT_SEED,
        help="built-in catalog seed of the titles (another than bench restgan's 1001 to choose between models)",
    )
    p.add_argument("--name", default="stage2_ablation", help="report file name (NAME.md, NAME.json)")
    p.add_argument("--out", default="docs/benchmarks")


def _handsoff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", type=_int_list, default=[16, 50], help="labeled item counts, e.g. 16,50")
    p.add_argument("--seeds", type=int, default=3, help="benchmark seeds 0..N-1 (each its own labeled set)")
    p.add_argument(
        "--measure-only",
        default=None,
        metavar="A:B",
        help="measure seeds A..B-1 into --results and stop (no report): run seeds in parallel processes, each "
        "with its own --results, then concatenate the files and run once more without it to report",
    )
    p.add_argument(
        "--test-items", type=int, default=500, help=f"held-out real items (catalog seed {HANDSOFF_TEST_SEED})"
    )
    p.add_argument("--synthetic", type=int, default=2000, help="generated items per HandsOff dataset")
    p.add_argument("--drop", type=float, default=0.1, help="fraction of most uncertain candidates dropped")
    p.add_argument("--steps", type=int, default=600, help="downstream training steps (every method)")
    p.add_argument("--batch", type=int, default=32, help="downstream training batch")
    p.add_argument(
        "--finetune-steps",
        type=int,
        default=300,
        help="steps the fine-tuned HandsOff row trains on the real items after the generated dataset",
    )
    p.add_argument("--finetune-lr", type=float, default=1e-3, help="learning rate of those steps")
    p.add_argument("--fit-steps", type=int, default=1000, help="label generator steps")
    p.add_argument("--refine-steps", type=int, default=50, help="inversion refinement steps per labeled item")
    p.add_argument(
        "--ensemble", type=int, default=10, help="segmentation ensemble members of the label generator"
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--results", default=None, help="JSONL of per-run results (resumes); default in --out")
    p.add_argument("--out", default="docs/benchmarks")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="builtin", help="HandsOff model folder, or 'builtin'")
    p.add_argument("--n", type=int, default=200, help="items to export")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=None, help="export chunk size (default: the export's)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--real-items", type=int, default=100, help="real items scoring the garment finder")
    p.add_argument("--work", default=None, help="folder for the temporary export (default: the system's)")
    p.add_argument("--name", default="handsoff_export", help="report name under --out")
    p.add_argument("--out", default="docs/benchmarks")


def _pti_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="builtin", help="HandsOff model folder, or 'builtin'")
    p.add_argument("--encoder", default="builtin", help="inversion encoder: 'builtin' or a checkpoint")
    p.add_argument("--items", type=int, default=20, help="held-out real items (catalog seed 1005)")
    p.add_argument("--first", type=int, default=0, help="first item index (another range for validation)")
    p.add_argument("--refine-steps", type=int, default=50)
    p.add_argument("--pti-steps", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-4, help="Adam step on the generator copy's weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--name", default="handsoff_pti", help="report name under --out")
    p.add_argument("--out", default="docs/benchmarks")
    p.set_defaults(command_line="gan-studio bench pti " + " ".join(sys.argv[3:]))


def _soak_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--generations", type=int, default=10_000, help="word-by-word generations (one per word)")
    p.add_argument("--waypoints", type=int, default=200, help="REDS waypoints in all")
    p.add_argument("--rounds", type=int, default=20, help="rounds interleaving generations and one traversal")
    p.add_argument(
        "--warmup", type=float, default=0.2, help="fraction of the rounds before growth is measured"
    )
    p.add_argument("--samples-per-round", type=int, default=5, help="RSS samples during each round")
    p.add_argument("--model", default="builtin", help="'builtin' or a ReStGAN checkpoint")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's own; 1 under load)"
    )
    p.add_argument("--out", default="docs/benchmarks")
