"""The resumable state of a one-network training run (the classifier's, the inversion encoder's), written by rank 0.

The network and its optimizer go through :func:`~gan_studio.models.checkpoint.save_training_state` under the
network's name (tensors ``model.…`` or ``encoder.…``) with the run's counters; the manifest's training record, for
people, repeats the counters with the run's seed. Every rank reads it back with
:func:`~gan_studio.models.checkpoint.load_training_state`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from gan_studio.models.checkpoint import save_training_state
from gan_studio.train import distributed as dist


def save_network_state(
    path: Path,
    architecture: str,
    name: str,
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    cfg,
    **counters: float,
) -> None:
    """Rank 0 writes ``network`` (rebuilt from its ``config.to_dict()``) and ``optimizer`` with ``counters``
    (``[stage,] step, wall_time_s`` in seconds) for the run configured by the dataclass ``cfg`` (with a ``seed``).

    Each file is written atomically; the caller adds a barrier where every rank gets here.
    """
    if not dist.is_main():
        return
    wall = counters["wall_time_s"]
    record = {**{k: v for k, v in counters.items() if k != "wall_time_s"}, "seed": cfg.seed}
    save_training_state(
        path,
        architecture=architecture,
        model_config=network.config.to_dict(),
        train_config=asdict(cfg),
        modules={name: network},
        optimizers=optimizer,
        counters=counters,
        training={**record, "wall_time_s": round(wall, 3)},
    )
