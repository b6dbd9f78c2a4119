"""The resumable state of a training run (ReStGAN's, the classifier's, the inversion encoder's), written by rank 0.

The networks and their optimizers go through :func:`~gan_studio.models.checkpoint.save_training_state` under their
names (tensors ``model.…``, ``encoder.…`` or ``g.…``, ``d1.…`` …) with the run's counters; the manifest's training
record, for people, repeats the counters with the run's seed. Every rank reads it back with
:func:`~gan_studio.models.checkpoint.load_training_state`, which needs only the tensors, the configs and the
counters: a state written before the record was added (ReStGAN's, whose record was empty) resumes the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gan_studio.models.checkpoint import Optimizers, save_training_state
from gan_studio.train import distributed as dist


def save_run_state(
    path: Path,
    architecture: str,
    model_config: Mapping[str, Any],
    modules: Mapping[str, nn.Module],
    optimizers: Optimizers,
    cfg,
    **counters: float,
) -> None:
    """Rank 0 writes ``modules`` (rebuilt from ``model_config``) and ``optimizers`` (one, or several by name) with
    ``counters`` (``[stage,] step, wall_time_s`` in seconds) for the run configured by the dataclass ``cfg`` (with a
    ``seed``).

    Each file is written atomically; the caller adds a barrier where every rank gets here.
    """
    if not dist.is_main():
        return
    wall = counters["wall_time_s"]
    record = {**{k: v for k, v in counters.items() if k != "wall_time_s"}, "seed": cfg.seed}
    save_training_state(
        path,
        architecture=architecture,
        model_config=model_config,
        train_config=asdict(cfg),
        modules=modules,
        optimizers=optimizers,
        counters=counters,
        training={**record, "wall_time_s": round(wall, 3)},
    )


def save_network_state(
    path: Path,
    architecture: str,
    name: str,
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    cfg,
    **counters: float,
) -> None:
    """:func:`save_run_state` of one network (rebuilt from its ``config.to_dict()``) saved as ``name``."""
    save_run_state(path, architecture, network.config.to_dict(), {name: network}, optimizer, cfg, **counters)
