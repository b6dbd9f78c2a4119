"""`gan-studio train classifier|restgan|stackgan|inversion`: the arguments of every training command.

The work is in :mod:`gan_studio.commands.train_classifier`, :mod:`gan_studio.commands.train_gan` and
:mod:`gan_studio.commands.train_inversion`, imported only when a command runs (they import torch).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any, TypeVar

C = TypeVar("C")

DEFAULT_EVAL_N = 200  # held-out real items the inversion encoder is scored on


def add_arguments(sub: argparse._SubParsersAction) -> None:
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
    c.set_defaults(func=_run_classifier)
    r = tsub.add_parser(
        "restgan", help="ReStGAN: LSTM over title prefixes, color table, auxiliary classifier"
    )
    _gan_arguments(r)
    r.set_defaults(func=_run_gan)
    s = tsub.add_parser(
        "stackgan", help="StackGAN baseline: whole-title bag of words, no LSTM/color table/aux"
    )
    _gan_arguments(s)
    s.set_defaults(func=_run_gan)
    i = tsub.add_parser("inversion", help="HandsOff inversion encoder: image -> generator latent")
    _inversion_arguments(i)
    i.set_defaults(func=_run_inversion)


def with_given(config: C, **options: Any) -> C:
    """``config`` with the options the command line gave (``None``: not given, the config's value stays)."""
    return replace(config, **{k: v for k, v in options.items() if v is not None})


def _run_classifier(args: argparse.Namespace) -> int:
    from gan_studio.commands.train_classifier import train_classifier_command

    return train_classifier_command(args)


def _run_gan(args: argparse.Namespace) -> int:
    from gan_studio.commands.train_gan import train_restgan_command

    return train_restgan_command(args)


def _run_inversion(args: argparse.Namespace) -> int:
    from gan_studio.commands.train_inversion import train_inversion_command

    return train_inversion_command(args)


def _gan_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="builtin", help="'builtin' or a catalog folder")
    p.add_argument("--out", required=True, help="run folder: state, log, samples, final weights")
    p.add_argument("--stage1-steps", type=int, default=None)
    p.add_argument("--stage2-steps", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument(
        "--stage1-seconds", type=float, default=None, help="end stage I after this long (this run)"
    )
    p.add_argument(
        "--stage2-seconds", type=float, default=None, help="end stage II after this long (this run)"
    )
    p.add_argument("--checkpoint-every", type=int, default=None, help="steps between resumable states")
    p.add_argument("--sample-every", type=int, default=None, help="steps between sample grids")
    p.add_argument("--items", type=int, default=None, help="built-in items to train on")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--cache", default=None, help="render cache (.npz) to share between runs")
    p.add_argument(
        "--init", default=None, help="start from this finished model's weights (discriminators fresh)"
    )
    p.add_argument(
        "--init-state",
        default=None,
        help="with --init: also take the discriminators, text heads, averages and optimizer moments from this "
        "train_state.safetensors of the run that wrote the --init weights",
    )
    p.add_argument(
        "--fresh-stage2",
        action="store_true",
        help="with --init: keep its stage I, start stage II from random weights",
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument(
        "--device", default="auto", help="'auto' (CUDA if present, else CPU), 'cpu', 'cuda' or 'cuda:N'"
    )
    p.add_argument(
        "--stage2-mode",
        choices=("paired", "adversarial", "mixed"),
        default=None,
        help="stage II's input: stage I's drawings (adversarial, StackGAN's original, the default), or real images "
        "downsampled, with reconstruction and feature matching (paired), or both in one batch (mixed)",
    )
    p.add_argument(
        "--paired-share",
        type=float,
        default=None,
        help="with --stage2-mode mixed: share of each batch's rows whose input is the real image (0.5)",
    )
    p.add_argument(
        "--aux-weight",
        type=float,
        default=None,
        help="ReStGAN: weight of the generator's auxiliary term (1.0)",
    )
    p.add_argument(
        "--aux-weight-d",
        type=float,
        default=None,
        help="ReStGAN: weight of the discriminators' auxiliary term on real labels (1.0)",
    )
    p.add_argument(
        "--layout-weight",
        type=float,
        default=None,
        help="weight of the layout term: L1 to the row's real image at --layout-size px, on whole-title rows "
        "(0, off)",
    )
    p.add_argument(
        "--layout-size",
        type=int,
        default=None,
        help="side in px at which the layout term compares (32; a stage drawing fewer px compares at its own)",
    )
    p.add_argument("--tiny", action="store_true", help="tiny config for tests")
    p.add_argument("--no-progress", action="store_true")


def _inversion_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="run folder: state, log, samples, final weights")
    p.add_argument(
        "--model", dest="generator", default="builtin", help="'builtin' (the shipped ReStGAN) or a checkpoint"
    )
    p.add_argument(
        "--backbone",
        default="builtin",
        help="perceptual backbone: 'builtin' (the shipped attribute classifier) or a classifier checkpoint",
    )
    p.add_argument("--stage1-steps", type=int, default=None, help="latent-regression steps")
    p.add_argument("--stage2-steps", type=int, default=None, help="cap on the perceptual fine-tuning steps")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument(
        "--eval-n",
        type=int,
        default=None,
        help=f"held-out real items scored at the end (default {DEFAULT_EVAL_N}, 8 with --tiny; 0 skips)",
    )
    p.add_argument("--tiny", action="store_true", help="tiny config for tests")
    p.add_argument("--no-progress", action="store_true")
