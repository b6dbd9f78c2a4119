"""`gan-studio` entry point. No sub-command launches the GUI; sub-commands run headless.

Each sub-command lives in the module that owns it; this file only wires argparse to them and turns expected
errors (bad input) into one clear sentence on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys


class UserError(Exception):
    """Bad input from the user: printed as one sentence, exit code 2."""


def _add_catalog(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="render the built-in apparel catalog to a folder")
    p.add_argument("--n", type=int, default=64, help="number of items")
    p.add_argument("--size", type=int, default=128, help="image size in pixels")
    p.add_argument(
        "--seed", type=int, default=0, help="catalog seed; items are deterministic per (seed, index)"
    )
    p.add_argument("--start", type=int, default=0, help="first item index")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.set_defaults(func=_run_catalog)


def _run_catalog(args: argparse.Namespace) -> int:
    from gan_studio.data.catalog_command import catalog_command

    return catalog_command(args)


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one of the app's models")
    tsub = p.add_subparsers(dest="model", required=True)
    c = tsub.add_parser("classifier", help="attribute classifier (type, gender, color, length, fit)")
    c.add_argument("--data", default="builtin", help="'builtin' or a catalog folder")
    c.add_argument("--out", required=True, help="run folder: checkpoints, log, final weights")
    c.add_argument("--steps", type=int, default=None, help="optimizer steps (default from the config)")
    c.add_argument("--batch", type=int, default=None)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--size", type=int, default=None, help="input size in pixels")
    c.add_argument("--train-items", type=int, default=None, help="number of training items rendered")
    c.add_argument("--tiny", action="store_true", help="tiny config for tests")
    c.add_argument("--no-progress", action="store_true")
    c.set_defaults(func=_run_train_classifier)
    from gan_studio.train.restgan_command import add_arguments

    r = tsub.add_parser(
        "restgan", help="ReStGAN: LSTM over title prefixes, color table, auxiliary classifier"
    )
    add_arguments(r)
    r.set_defaults(func=_run_train_gan)
    s = tsub.add_parser(
        "stackgan", help="StackGAN baseline: whole-title bag of words, no LSTM/color table/aux"
    )
    add_arguments(s)
    s.set_defaults(func=_run_train_gan)
    from gan_studio.train.inversion_command import add_arguments as add_inversion_arguments

    i = tsub.add_parser("inversion", help="HandsOff inversion encoder: image -> generator latent")
    add_inversion_arguments(i)
    i.set_defaults(func=_run_train_inversion)


def _run_train_classifier(args: argparse.Namespace) -> int:
    from gan_studio.train.classifier import train_classifier_command

    return train_classifier_command(args)


def _run_train_gan(args: argparse.Namespace) -> int:
    from gan_studio.train.restgan_command import train_restgan_command

    return train_restgan_command(args)


def _run_train_inversion(args: argparse.Namespace) -> int:
    from gan_studio.train.inversion_command import train_inversion_command

    return train_inversion_command(args)


def _add_generate(sub: argparse._SubParsersAction) -> None:
    from gan_studio.methods.generate_command import add_arguments

    p = sub.add_parser("generate", help="draw a garment for a product title (ReStGAN)")
    add_arguments(p)
    p.set_defaults(func=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from gan_studio.methods.generate_command import generate_command

    return generate_command(args)


def _add_traverse(sub: argparse._SubParsersAction) -> None:
    from gan_studio.methods.traverse_command import add_arguments

    p = sub.add_parser("traverse", help="vary part of a garment image while holding the rest (REDS)")
    add_arguments(p)
    p.set_defaults(func=_run_traverse)


def _run_traverse(args: argparse.Namespace) -> int:
    from gan_studio.methods.traverse_command import traverse_command

    return traverse_command(args)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark and write docs/benchmarks/")
    bsub = p.add_subparsers(dest="bench", required=True)
    r = bsub.add_parser("catalog", help="renderer speed (items/s on one core)")
    r.add_argument("--n", type=int, default=1000)
    r.add_argument("--size", type=int, default=128)
    r.add_argument("--out", default="docs/benchmarks")
    r.set_defaults(func=_run_bench_catalog)
    c = bsub.add_parser("classifier", help="held-out accuracy of the shipped attribute classifier")
    c.add_argument("--n", type=int, default=2000)
    c.add_argument("--model", default="builtin")
    c.add_argument("--out", default="docs/benchmarks")
    c.set_defaults(func=_run_bench_classifier)
    from gan_studio.metrics.bench_restgan import add_arguments

    g = bsub.add_parser(
        "restgan", help="ReStGAN vs the StackGAN baseline: IS, FID, accuracy, color, consistency"
    )
    add_arguments(g)
    g.set_defaults(func=_run_bench_restgan)
    from gan_studio.metrics.bench_reds import add_arguments as add_reds_arguments

    d = bsub.add_parser(
        "reds", help="REDS vs linear/random/PCA/SeFa directions; forward vs reverse Jacobians"
    )
    add_reds_arguments(d)
    d.set_defaults(func=_run_bench_reds)
    from gan_studio.metrics.bench_stage2 import add_arguments as add_stage2_arguments

    s2 = bsub.add_parser("stage2", help="stage-II ablation: paired vs purely adversarial on the same stage I")
    add_stage2_arguments(s2)
    s2.set_defaults(func=_run_bench_stage2)
    from gan_studio.metrics.bench_handsoff import add_arguments as add_handsoff_arguments

    h = bsub.add_parser(
        "handsoff", help="HandsOff's generated datasets vs training on the few real labels (mIoU, PCK, depth)"
    )
    add_handsoff_arguments(h)
    h.set_defaults(func=_run_bench_handsoff)
    from gan_studio.metrics.bench_soak import add_arguments as add_soak_arguments

    k = bsub.add_parser("soak", help="memory over long use: word-by-word generations and REDS waypoints")
    add_soak_arguments(k)
    k.set_defaults(func=_run_bench_soak)
    from gan_studio.metrics.bench_gui_stalls import add_arguments as add_stalls_arguments

    st = bsub.add_parser(
        "gui-stalls", help="event-loop stalls of the real workspaces (offscreen) while jobs run"
    )
    add_stalls_arguments(st)
    st.set_defaults(func=_run_bench_gui_stalls)


def _run_bench_soak(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_soak import bench_soak_command

    return bench_soak_command(args)


def _run_bench_gui_stalls(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_gui_stalls import bench_gui_stalls_command

    return bench_gui_stalls_command(args)


def _run_bench_stage2(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_stage2 import bench_stage2_command

    return bench_stage2_command(args)


def _run_bench_handsoff(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_handsoff import bench_handsoff_command

    return bench_handsoff_command(args)


def _run_bench_reds(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_reds import bench_reds_command

    return bench_reds_command(args)


def _run_bench_restgan(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_restgan import bench_restgan_command

    return bench_restgan_command(args)


def _run_bench_catalog(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_catalog import bench_catalog_command

    return bench_catalog_command(args)


def _run_bench_classifier(args: argparse.Namespace) -> int:
    from gan_studio.metrics.bench_classifier import bench_classifier_command

    return bench_classifier_command(args)


def _add_colortable(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("colortable", help="measure catalog colors and rebuild the LAB color table")
    p.add_argument("--n", type=int, default=3000, help="items measured")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=14, help="number of clusters")
    p.add_argument("--out", default=None, help="JSON path (default: the shipped resources/color_table.json)")
    p.set_defaults(func=_run_colortable)


def _run_colortable(args: argparse.Namespace) -> int:
    from gan_studio.data.colortable import colortable_command

    return colortable_command(args)


def _add_dataset(sub: argparse._SubParsersAction) -> None:
    from gan_studio.data.dataset_command import add_arguments

    p = sub.add_parser("dataset", help="HandsOff labeled datasets: fit a label generator, export, merge")
    add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gan-studio", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check the installation (shipped weights and their hashes, generation, dataset export, the window "
        "offscreen) and exit 0 if all is well",
    )
    sub = parser.add_subparsers(dest="command")
    _add_catalog(sub)
    _add_train(sub)
    _add_generate(sub)
    _add_traverse(sub)
    _add_bench(sub)
    _add_colortable(sub)
    _add_dataset(sub)
    return parser


def _sentence(exc: Exception) -> str:
    """The message of an expected error; a bare ``OSError`` ("[Errno 13] Permission denied: 'x'") reworded as
    "x: permission denied" (the writers word their own failures: :mod:`gan_studio.data.output_files`)."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        reason = exc.strerror[:1].lower() + exc.strerror[1:]
        return f"{exc.filename}: {reason}" if exc.filename else reason
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.self_test:
        from gan_studio.selftest import run_self_test

        return run_self_test()
    if args.command is None:
        from gan_studio.qt.app import run_app

        return run_app()
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, OSError) as exc:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank fails alike: one line, from rank 0
            print(f"gan-studio: {_sentence(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":
            print("gan-studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
