"""Training ReStGAN and its StackGAN baseline: stage I (with the text encoder), then stage II on frozen stage I.

:func:`train_gan` runs (or resumes) both stages into a run folder: the loss log, sample grids, and the resumable
training state (every network, the averaged generator, the optimizers, the stage and step) that a restarted run
continues from. The run's settings are :mod:`~gan_studio.train.restgan_config`'s, its batches
:mod:`~gan_studio.train.restgan_batch`'s, and one step with its losses is in :mod:`~gan_studio.train.restgan_step`.
Under torchrun rank 0 alone writes, and every rank resumes from the state rank 0 wrote.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_studio.data.output_files import append_line, write_file
from gan_studio.models.checkpoint import load_training_state
from gan_studio.models.stackgan import GanConfig
from gan_studio.models.text import TextConfig, Vocabulary
from gan_studio.models.text_to_image import TextToImage, to_uint8
from gan_studio.runtime.progress import ProgressBar
from gan_studio.train import distributed as dist
from gan_studio.train.interrupt import deferred_interrupt
from gan_studio.train.network_state import save_run_state
from gan_studio.train.outcome import StagedOutcome
from gan_studio.train.restgan_batch import sample_batch
from gan_studio.train.restgan_config import GanTrainConfig
from gan_studio.train.restgan_step import Trainer, build_trainer, train_step
from gan_studio.train.text_data import TextImageData

SAMPLE_TITLES = (
    "women's black pants petite capri",
    "men's blue jeans slim",
    "Northfield Unisex Olive Cargo Pants Wide Leg",
    "Womens Pink Skinny Ankle Length Leggings",
    "Harlow Men's Khaki Shorts Knee Length Pleated",
    "Gray Unisex Joggers Drawstring",
)


# ------------------------------------------------------------------------------------------------- samples


@torch.no_grad()
def prefix_images(model: TextToImage, title: str, seed: int, stage: int = 2) -> tuple[list[str], np.ndarray]:
    """Word prefixes of ``title`` (known words only, the empty prefix first) and their images (K+1, S, S, 3)."""
    from gan_studio.data.title_words import split_words

    words = [w.text for w in split_words(title) if w.text in model.vocab]
    ids = torch.tensor([model.vocab.encode(words)], dtype=torch.long).reshape(1, -1)
    h = model.encoder.prefix_conditions(ids)[0]
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(1, model.gan_config.z_dim, generator=gen).expand(len(h), -1)
    eps = torch.randn(1, model.gan_config.cond_dim, generator=gen).expand(len(h), -1)
    c, _, _ = model.ca(h, eps)
    image1, _ = model.stage1(z, c)
    image = model.stage2(image1, c)[0] if stage == 2 else image1
    prefixes = [" ".join(words[:k]) for k in range(len(words) + 1)]
    return prefixes, to_uint8(image)


def write_sample_grid(model: TextToImage, path: Path, stage: int, seed: int = 0) -> None:
    """One row per sample title, one column per word prefix; stage-I images are upsampled to the row height."""
    rows = []
    size = model.image_size
    for r, title in enumerate(SAMPLE_TITLES):
        _, imgs = prefix_images(model, title, seed + r, stage)
        if imgs.shape[1] != size:
            imgs = np.repeat(np.repeat(imgs, size // imgs.shape[1], axis=1), size // imgs.shape[2], axis=2)
        rows.append(np.concatenate(list(imgs), axis=1))
    width = max(r.shape[1] for r in rows)
    grid = np.full((size * len(rows), width, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        grid[i * size : (i + 1) * size, : row.shape[1]] = row
    write_file(path, lambda f: Image.fromarray(grid).save(f, format="PNG"), make_parents=True)  # atomic


# ------------------------------------------------------------------------------------------------- state


STATE_NAME = "train_state.safetensors"


def save_state(tr: Trainer, out: Path, stage: int, step: int, cfg: GanTrainConfig, wall: float) -> None:
    """Rank 0 writes (each file atomically), then every rank waits for it: a restarted job finds the state whole."""
    save_run_state(
        out / STATE_NAME,
        f"{cfg.variant}-training-state",
        tr.model.config_dict(),
        tr.modules(),
        tr.optimizers(),
        cfg,
        stage=stage,
        step=step,
        wall_time_s=wall,
    )
    dist.barrier()


def load_state(tr: Trainer, out: Path, cfg: GanTrainConfig) -> tuple[int, int, float]:
    """Restores ``tr`` from ``out``; returns (stage, step done in that stage, wall time so far)."""
    return load_state_file(tr, out / STATE_NAME, cfg)


def load_state_file(tr: Trainer, path: Path, cfg: GanTrainConfig) -> tuple[int, int, float]:
    """Restores ``tr`` from a training-state file; returns (stage, step done in that stage, wall time so far).

    The state's model configuration (sizes, vocabulary) must be the one ``tr`` was built with."""
    c = load_training_state(
        path,
        architecture=f"{cfg.variant}-training-state",
        model_config=tr.model.config_dict(),
        modules=tr.modules(),
        optimizers=tr.optimizers(),
        counters=("stage", "step", "wall_time_s"),
        what="configuration or vocabulary",
    )
    return int(c["stage"]), int(c["step"]), float(c["wall_time_s"])


def new_model(cfg: GanTrainConfig, gan: GanConfig, vocab: Vocabulary, table) -> TextToImage:
    recurrent = cfg.variant == "restgan"
    n_feat = len(table) + 3 if recurrent else 0
    text = TextConfig(
        kind="recurrent" if recurrent else "bag",
        vocab_size=len(vocab),
        hidden_dim=gan.text_dim,
        embed_dim=min(64, gan.text_dim),
        n_color_features=n_feat,
    )
    return TextToImage(
        text,
        gan,
        vocab.words,
        table.word_to_cluster if recurrent else None,
        [c.lab for c in table.clusters] if recurrent else None,
    )


# ------------------------------------------------------------------------------------------------- loop


def _out_of_time(elapsed: float, budget: float, device: torch.device) -> bool:
    """Whether this stage's time budget (counted in this run) is spent, on any rank (all ranks stop together)."""
    late = torch.tensor([1.0 if elapsed >= budget else 0.0], device=device)
    return bool(dist.global_sum(late).item() > 0) if dist.is_distributed() else bool(late.item())


@dataclass(kw_only=True)
class TrainOutcome(StagedOutcome):
    model: TextToImage  # the averaged generator's weights, on the CPU


def train_gan(
    data: TextImageData,
    model: TextToImage,
    cfg: GanTrainConfig,
    out: Path,
    *,
    progress: bool = False,
    cancel=None,
    device: str | torch.device = "cpu",
    init_state: Path | None = None,
) -> TrainOutcome:
    """Run (or resume) both stages into ``out``; returns the EMA model (on the CPU).

    Under torchrun each process trains on its rows of every batch of ``cfg.batch`` (which must split evenly);
    rank 0 alone writes the log, samples and state, and every rank resumes from the state rank 0 wrote.
    ``device``: where the networks and the images live (a CUDA device keeps the whole image set there).
    ``init_state``: another run's training-state file to continue from when ``out`` has none of its own: every
    network (discriminators, text heads and averages included) and the optimizers' moments are taken from it, and
    this run counts its own steps from 0 (with its own seed, batch and stage-II mode).
    """
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    model.to(device)
    nhwc = (
        cfg.channels_last and model.gan_config.backbone != "plain" and device.type == "cpu"
    )  # measured there
    if nhwc:  # before the averaged copies are made, so they share the layout
        model.to(memory_format=torch.channels_last)
    tr = build_trainer(model, cfg)
    for module in (tr.d1, tr.d2, tr.text_aux):
        if module is not None:
            module.to(device)
            if nhwc:
                module.to(memory_format=torch.channels_last)
    bank = torch.from_numpy(data.images).to(device) if device.type != "cpu" else None
    stage, done, wall = 1, 0, 0.0
    if (out / STATE_NAME).is_file():
        stage, done, wall = load_state(tr, out, cfg)
    elif init_state is not None:
        load_state_file(tr, init_state, cfg)
    mine = dist.rows(cfg.batch)
    main = dist.is_main()
    log = (out / "log.jsonl" if main else Path(os.devnull)).open("a", encoding="utf-8")
    rates: dict[str, float] = {}
    steps = {"stage1": cfg.stage1_steps, "stage2": cfg.stage2_steps}
    stop = ExitStack()
    interrupted = stop.enter_context(deferred_interrupt(enabled=not dist.is_distributed()))
    try:
        for s, total in ((1, cfg.stage1_steps), (2, cfg.stage2_steps)):
            if s < stage:
                continue
            start = done if s == stage else 0
            model.train()
            bar = ProgressBar(total, f"{cfg.variant} stage {s}", enabled=progress and main)
            bar.update(start)
            t0 = time.monotonic()
            budget = cfg.stage1_seconds if s == 1 else cfg.stage2_seconds
            for step in range(start, total):
                if cancel is not None:
                    cancel()
                b = sample_batch(data, cfg, model.gan_config, step, s, mine, bank)
                losses = train_step(tr, b, cfg, s, step)
                n = step + 1
                if n % cfg.log_every == 0 or n == total:
                    values = torch.stack(list(losses.values())).double().cpu()
                    if dist.is_distributed():  # the mean over ranks: the loss of the global batch
                        values = dist.all_reduce_mean(values)
                    logged = dict(zip(losses, values.tolist(), strict=True))
                    append_line(  # whole lines only: a full disk is one sentence naming the log
                        log,
                        json.dumps({"stage": s, "step": n, **{k: round(v, 4) for k, v in logged.items()}}),
                    )
                    bar.update(n, f"D {logged['loss_d']:.2f} G {logged['loss_g']:.2f}")
                    if budget and n < total and _out_of_time(time.monotonic() - t0, budget, device):
                        total = n  # this stage's budget is spent: finish it here (sample, save) as if planned
                        steps[f"stage{s}"] = n
                if (n % cfg.sample_every == 0 or n == total) and main:
                    write_sample_grid(tr.shipped_model().cpu(), out / "samples" / f"stage{s}_{n:06d}.png", s)
                    model.train()
                if n % cfg.checkpoint_every == 0 or n == total or interrupted():
                    save_state(tr, out, s, n, cfg, wall + time.monotonic() - t0)
                if interrupted():  # Ctrl-C / the Train workspace's Cancel: stopped after a whole step, saved
                    raise KeyboardInterrupt
                if n == total:
                    break
            elapsed = time.monotonic() - t0
            wall += elapsed
            rates[f"stage{s}"] = (total - start) / elapsed if elapsed > 0 and total > start else 0.0
            bar.close()
            if s == 1:
                # Stage II starts on fresh state saved at its step 0.
                save_state(tr, out, 2, 0, cfg, wall)
            stage, done = s + 1, 0
    finally:
        stop.close()
        log.close()
    dist.revert_batch_norm(model)
    return TrainOutcome(model=tr.shipped_model().cpu(), steps=steps, wall_time_s=wall, steps_per_s=rates)
