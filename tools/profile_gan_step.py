"""Per-step overhead of the GAN training step: ms per step of `train_step` on a tiny config (batch 2, 16 px,
one thread), where the arithmetic is negligible and what is left is dispatch: a proxy for how launch-bound the
step is on a GPU.

    .venv/bin/python tools/profile_gan_step.py restgan     # or stackgan
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

from gan_studio.data.colortable import ColorTable
from gan_studio.models.stackgan import GanConfig
from gan_studio.models.text import Vocabulary
from gan_studio.train.restgan import GanTrainConfig, build_trainer, new_model, sample_batch, train_step
from gan_studio.train.text_data import build_data, render_builtin


def main(variant: str) -> None:
    torch.set_num_threads(1)
    table = ColorTable.load()
    with tempfile.TemporaryDirectory() as tmp:
        images, titles, attrs = render_builtin(Path(tmp) / "items.npz", 0, 200, 16)
    vocab = Vocabulary.from_titles(titles, extra=table.words)
    data = build_data(images, titles, attrs, vocab, table.cluster_of, {})
    cfg = GanTrainConfig(variant=variant, batch=2)
    gan = GanConfig(z_dim=8, cond_dim=8, text_dim=16, g_channels=4, g2_channels=4, d_channels=4, stage1_size=8,
                    image_size=16)  # fmt: skip
    model = new_model(cfg, gan, vocab, table)
    tr = build_trainer(model, cfg)
    model.train()
    for stage in (1, 2):
        for i in range(3):  # warm-up
            train_step(tr, sample_batch(data, cfg, gan, i, stage), cfg, stage, i)
        n, t = 20, time.perf_counter()
        for i in range(n):
            train_step(tr, sample_batch(data, cfg, gan, i, stage), cfg, stage, i)
        print(f"{variant} stage {stage}: {(time.perf_counter() - t) / n * 1000:.1f} ms per step")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "restgan")
