"""What the training commands write about a run into the model's manifest (``training``) and read back for its card."""

from __future__ import annotations

import argparse
import shlex
import time
from dataclasses import asdict
from typing import Any

import torch

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
