"""The batches of a ReStGAN / StackGAN run: batch ``step`` of a stage is a pure function of (seed, stage, step).

So a resumed run draws exactly the batches the uninterrupted run would have. Under torchrun every process draws the
whole global batch (items, prefixes, mismatch pairs, noise) and keeps its own rows of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gan_studio.models.stackgan import GanConfig
from gan_studio.train.restgan_config import GanTrainConfig
from gan_studio.train.text_data import TextImageData


@dataclass
class Batch:
    real: torch.Tensor  # (B, 3, S, S) in [-1, 1] at the final size
    ids: torch.Tensor  # (B, T)
    k: torch.Tensor  # (B,) prefix length used as the condition
    labels: torch.Tensor  # (B, 5) of the item
    stated: torch.Tensor  # (B, 5) what the prefix states
    mismatch_ok: torch.Tensor  # (B,) the rolled image contradicts this row's prefix
    full: torch.Tensor  # (B,) the condition is the whole title
    z: torch.Tensor
    eps: torch.Tensor


def sample_batch(
    data: TextImageData,
    cfg: GanTrainConfig,
    gan: GanConfig,
    step: int,
    stage: int,
    rows: slice | None = None,
    bank: torch.Tensor | None = None,
) -> Batch:
    """Batch ``step`` of ``stage``: a pure function of (seed, stage, step), so a resumed run repeats it exactly.

    ``rows``: this process's rows of the batch (all by default); everything is drawn for the whole batch first.
    ``bank``: ``data.images`` as a uint8 tensor already on the training device (the batch is then drawn there,
    with no copy from the host); without it the batch is on the CPU.
    """
    rows = slice(None) if rows is None else rows
    rng = np.random.default_rng([cfg.seed, stage, step])
    idx = rng.integers(len(data), size=cfg.batch)
    lengths = data.lengths[idx]
    if cfg.variant == "restgan":
        k = np.where(rng.random(cfg.batch) < cfg.full_title_p, lengths, rng.integers(0, lengths + 1))
    else:
        k = lengths
    stated = data.stated[idx, k]
    labels = data.labels[idx]
    other = np.roll(labels, 1, axis=0)
    if cfg.variant == "restgan":
        # Only a contradiction of what the prefix states makes the other image a mismatch.
        mismatch_ok = ((stated >= 0) & (other >= 0) & (stated != other)).any(axis=1)
    else:
        mismatch_ok = ((labels[:, :3] != other[:, :3]) & (labels[:, :3] >= 0)).any(axis=1)
        mismatch_ok |= np.array([data.titles[i] != data.titles[j] for i, j in zip(idx, np.roll(idx, 1))]) & (
            labels[:, 0] < 0
        )
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    z = torch.randn(cfg.batch, gan.z_dim, generator=gen)
    eps = torch.randn(cfg.batch, gan.cond_dim, generator=gen)
    idx = idx[rows]
    if bank is None:
        pixels, device = torch.from_numpy(data.images[idx]), torch.device("cpu")
    else:
        device = bank.device
        pixels = bank[torch.from_numpy(idx).to(device)]
    real = pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return Batch(
        real=real,
        ids=torch.from_numpy(data.ids[idx]).to(device),
        k=torch.from_numpy(k[rows]).to(device),
        labels=torch.from_numpy(labels[rows]).to(device),
        stated=torch.from_numpy(stated[rows]).to(device),
        mismatch_ok=torch.from_numpy(mismatch_ok[rows]).to(device),
        full=torch.from_numpy(k[rows] == lengths[rows]).to(device),
        z=z[rows].to(device),
        eps=eps[rows].to(device),
    )
