"""What the training commands write about a run into the model's manifest (``training``) and read back for its card,
and how they write into their run folder: checked before any work, and the final weights, manifest and card as one set
through the atomic writer (:mod:`gan_studio.data.output_files`)."""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from gan_studio.data.output_files import (
    StagedOutputs,
    check_folder_target,
    output_errors,
    output_errors_in,
)
from gan_studio.train import distributed as dist
from gan_studio.train.outcome import StagedOutcome


def staged_training_record(
    args: argparse.Namespace, cfg: Any, outcome: StagedOutcome, started: float, **more: Any
) -> dict[str, Any]:
    """The ``training`` entry of a two-stage run (``train restgan|stackgan|inversion``).

    The command line, seed, steps and batch; the wall time over every run that trained the model and this run's
    (``started``: ``time.monotonic()`` when this run began), in s; each stage's steps per second; torch's threads
    and the number of processes; then ``more`` (what only this command records) and the whole train config ``cfg``
    (a dataclass with ``seed`` and ``batch``).
    """
    return {
        "command": "gan-studio " + " ".join(shlex.quote(a) for a in args.argv),
        "seed": cfg.seed,
        "steps": outcome.steps,
        "batch": cfg.batch,
        "wall_time_s": round(outcome.wall_time_s, 1),
        "this_run_s": round(time.monotonic() - started, 1),
        "steps_per_s": {k: round(v, 3) for k, v in outcome.steps_per_s.items()},
        "threads": torch.get_num_threads(),
        "processes": dist.world_size(),
        **more,
        "config": asdict(cfg),
    }


def processes_phrase(training: dict) -> str:
    """`` in each of N processes`` for a run of N > 1 processes (torchrun), nothing for one: for the model card."""
    n = training.get("processes", 1)
    return f" in each of {n} processes" if n > 1 else ""


@contextmanager
def run_folder(out: str | Path) -> Iterator[Path]:
    """The run folder ``--out``, checked before any work (a read-only folder, a file in the way or a full disk is one
    sentence at once, not after the data is rendered) and created. An ``OSError`` writing into it becomes one sentence
    naming it (:func:`~gan_studio.data.output_files.output_errors_in`); folders made for it are removed again when the
    run fails before writing anything into them, while a run that got as far as a resumable state keeps it."""
    out = check_folder_target(out)
    missing = [p for p in (out, *out.parents) if not p.exists()]
    with output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
    try:
        with output_errors_in(out):
            yield out
    except BaseException:
        for folder in missing:  # innermost first; one that holds something stays, and so do its parents
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def write_final_checkpoint(weights: Path, save: Callable[[Path], object]) -> Path:
    """Write the final checkpoint ``weights`` with ``save(path)`` (``save_checkpoint``: weights, manifest, card) into a
    staging folder, then move the files into place together: a full disk at the card leaves the previous model whole
    and no stray file; the error names ``weights``."""
    weights = Path(weights)
    with StagedOutputs() as staged:
        staged.add_written(weights, lambda folder: save(folder / weights.name))
    return weights
