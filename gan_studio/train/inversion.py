"""Training the inversion encoder (HandsOff step 1) on a frozen generator, in two stages.

- **Stage 1**, latent regression: every step draws fresh latents ``w`` from the generator, renders ``G(w)`` and
  trains the encoder to predict ``w`` from the image (mean squared error in standardized latent coordinates).
- **Stage 2**, reconstruction, capped at ``stage2_steps``: the loss compares the image drawn from the predicted
  latent with the image drawn from the true one, ``perceptual(G(E(G(w))), G(w))`` plus a pixel mean squared error,
  plus a small stage-1 term that keeps the prediction anchored near the true latent. The objective is very
  nonconvex (many latents draw nearly the same image) and left alone it drifts to latents the generator renders
  well but that are off its prior; the cap on its steps and the anchor are part of the method.

The generator and the perceptual backbone are frozen (``requires_grad`` off, eval mode); gradients flow through the
generator to the encoder only. Batch ``step`` of a stage comes from ``sample_latent(batch, seed * 1_000_003 + k)``
with ``k`` the step counted over the whole run (stage 2 continues after stage 1's steps), a pure function of
(seed, stage, step), so a killed run resumed from its folder repeats the uninterrupted run exactly.

Under torchrun (see :mod:`gan_studio.train.distributed`) every process draws that same batch of latents and trains
the DDP-wrapped encoder on its rows of it (the encoder has group norm, nothing to synchronize; the frozen networks
run in eval mode); rank 0 alone writes the log, samples and state.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gan_studio.data.output_files import append_line, write_file, write_text
from gan_studio.methods.inversion import generator_device, generator_module, prepare_images
from gan_studio.models.checkpoint import load_training_state
from gan_studio.models.inversion import InversionConfig, InversionEncoder
from gan_studio.models.perceptual import PerceptualDistance
from gan_studio.runtime.progress import ProgressBar
from gan_studio.train import distributed as dist
from gan_studio.train.network_state import save_network_state
from gan_studio.train.outcome import StagedOutcome

STATE_NAME = "train_state.safetensors"
STATE_ARCHITECTURE = "inversion-encoder-training-state"
LOG_NAME = "log.jsonl"
STATS_SEED = 2**40  # + seed: the latents that set the standardization (never a training batch)
SAMPLE_SEED = 2**41  # + seed: the latents shown in the sample grids
SAMPLE_CATALOG = (7, 0, 6)  # built-in catalog seed, first index, count of the real items in the sample grids


@dataclass(frozen=True)
class InversionTrainConfig:
    """Defaults chosen on validation items (built-in catalog seed 7, 200 real items, and 200 generated images),
    never on the benchmark's held-out seed; see the measurements below the class."""

    stage1_steps: int = 2400
    stage2_steps: int = 400  # the cap on the nonconvex reconstruction stage
    batch: int = 32
    lr1: float = 1e-3
    lr2: float = 3e-4
    lr_floor: float = 0.1  # each stage's learning rate decays (cosine) to this fraction of its start
    perceptual_weight: float = 1.0
    pixel_weight: float = 10.0  # per-pixel mean squared error, images in [-1, 1]
    latent_weight: float = 0.1  # stage 2's anchor: standardized latent mean squared error
    seed: int = 0
    stats_samples: int = 4096
    checkpoint_every: int = 100
    log_every: int = 10
    sample_every: int = 500

    def __post_init__(self) -> None:
        if self.stage1_steps < 0 or self.stage2_steps < 0:
            raise ValueError("the step counts of both stages must be >= 0")
        if self.batch < 1:
            raise ValueError("the batch must hold at least one latent")
        if self.stats_samples < 2:
            raise ValueError("stats_samples must be >= 2")

    @classmethod
    def tiny(cls) -> InversionTrainConfig:
        return cls(stage1_steps=4, stage2_steps=2, batch=4, stats_samples=64, checkpoint_every=2, log_every=1,
                   sample_every=3)  # fmt: skip


# Measured on validation items with the shipped ReStGAN and classifier, encoder width 32 and hidden 512, on a GPU
# for speed (encoder alone; perceptual distance on real items / generated images): stage 1 alone at lr1 3e-4 / 1e-3 / 3e-3 for 2400 steps .411 / .398 / .445 (real); at
# 1e-3 for 600 / 1200 / 2400 / 4800 steps .431 / .428 / .398 / .381 real, .123 / .117 / .078 / .047 generated.
# 400 stage-2 steps after 2400 stage-1 steps: lr2 3e-5 / 1e-4 / 3e-4 .387 / .384 / .382; latent weight 0 / 0.1 / 1
# .382 / .384 / .383; pixel weight 1 / 10 .384 / .378 (PSNR 23.1 / 23.3 dB); lr2 3e-4 with pixel weight 10 .374,
# 23.4 dB, against .379 for 3000 + 200 steps of the same cost. Stage 2 costs about 2.6 stage-1 steps per step.


def latent_seed(cfg: InversionTrainConfig, stage: int, step: int) -> int:
    """The ``sample_latent`` seed of batch ``step`` (0-based) of ``stage``."""
    return cfg.seed * 1_000_003 + step + (cfg.stage1_steps if stage == 2 else 0)


def lr_at(cfg: InversionTrainConfig, stage: int, step: int) -> float:
    """Cosine decay from the stage's rate to ``lr_floor`` times it over the stage's steps."""
    base, total = (cfg.lr1, cfg.stage1_steps) if stage == 1 else (cfg.lr2, cfg.stage2_steps)
    t = step / max(1, total)
    return base * (cfg.lr_floor + (1.0 - cfg.lr_floor) * 0.5 * (1.0 + math.cos(math.pi * t)))


def freeze(module_or_generator) -> None:
    """Turn off gradients and put in eval mode an ``nn.Module``, or the ``model`` of a protocol wrapper."""
    module = generator_module(module_or_generator)
    if module is not None:
        module.requires_grad_(False).eval()


# ------------------------------------------------------------------------------------------------- one step


Predict = Callable[
    [torch.Tensor], torch.Tensor
]  # images -> standardized latents: the encoder's (or its wrapper)


def stage1_loss(
    encoder: InversionEncoder, generator, w: torch.Tensor, predict: Predict | None = None
) -> tuple[torch.Tensor, dict]:
    with torch.no_grad():
        x = generator.synthesize(w)
    loss = F.mse_loss((predict or encoder.standardized)(x), encoder.standardize(w))
    return loss, {"loss": float(loss.detach()), "latent": float(loss.detach())}


def stage2_loss(
    encoder: InversionEncoder,
    generator,
    perceptual: PerceptualDistance,
    w: torch.Tensor,
    cfg: InversionTrainConfig,
    predict: Predict | None = None,
) -> tuple[torch.Tensor, dict]:
    with torch.no_grad():
        x = generator.synthesize(w)
        target_feats = perceptual.features(x)
    u = (predict or encoder.standardized)(x)
    recon = generator.synthesize(encoder.unstandardize(u))
    perc = perceptual.compare(perceptual.features(recon), target_feats).mean()
    pixel = F.mse_loss(recon, x)
    latent = F.mse_loss(u, encoder.standardize(w))
    loss = cfg.perceptual_weight * perc + cfg.pixel_weight * pixel + cfg.latent_weight * latent
    parts = {"loss": loss, "perceptual": perc, "pixel": pixel, "latent": latent}
    return loss, {k: float(v.detach()) for k, v in parts.items()}


def train_step(
    encoder: InversionEncoder,
    generator,
    perceptual: PerceptualDistance | None,
    opt: torch.optim.Optimizer,
    cfg: InversionTrainConfig,
    stage: int,
    step: int,
    predict: Predict | None = None,
) -> dict[str, float]:
    """One step on this process's rows (all of them in a single process) of batch ``step`` of ``stage``."""
    w = generator.sample_latent(cfg.batch, latent_seed(cfg, stage, step))
    w = dist.shard(w).to(encoder.latent_mean.device)
    for group in opt.param_groups:
        group["lr"] = lr_at(cfg, stage, step)
    if stage == 1:
        loss, logged = stage1_loss(encoder, generator, w, predict)
    else:
        assert perceptual is not None
        loss, logged = stage2_loss(encoder, generator, perceptual, w, cfg, predict)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return logged


# ------------------------------------------------------------------------------------------------- samples


@torch.no_grad()
def sample_rows(encoder: InversionEncoder, generator, seed: int) -> np.ndarray:
    """A grid: generated images and their reconstructions, then real validation items and theirs (uint8)."""
    size = generator.image_size
    n = SAMPLE_CATALOG[2]
    fake = generator.synthesize(generator.sample_latent(n, SAMPLE_SEED + seed))
    real = prepare_images(_sample_items(size), size)
    rows = []
    for images in (fake, real.to(fake.device)):
        rows += [images, generator.synthesize(encoder(images))]
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)  # (3, rows*S, n*S)
    return ((grid.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


@functools.lru_cache(maxsize=2)
def _sample_items(size: int) -> np.ndarray:
    """The real items of the sample grids, rendered at twice ``size`` as the GAN's training items were."""
    from gan_studio.data.catalog import render_item

    cat_seed, start, n = SAMPLE_CATALOG
    return np.stack([render_item(cat_seed, start + i, 2 * size).image for i in range(n)])


def write_samples(encoder: InversionEncoder, generator, path: Path, seed: int) -> None:
    was_training = encoder.training
    encoder.eval()
    rows = Image.fromarray(sample_rows(encoder, generator, seed))
    write_file(path, lambda f: rows.save(f, format="PNG"), make_parents=True)  # atomic
    encoder.train(was_training)


# ------------------------------------------------------------------------------------------------- state


def save_state(
    path: Path, encoder: InversionEncoder, opt, stage: int, step: int, cfg: InversionTrainConfig, wall: float
) -> None:
    """Written by rank 0 only (each file atomically); the caller adds a barrier where every rank gets here."""
    save_network_state(
        path, STATE_ARCHITECTURE, "encoder", encoder, opt, cfg, stage=stage, step=step, wall_time_s=wall
    )


def load_state(
    path: Path, encoder: InversionEncoder, make_opt, cfg: InversionTrainConfig
) -> tuple[torch.optim.Optimizer, int, int, float]:
    """Restore ``encoder`` from ``path``; returns (optimizer, stage, steps done in it, wall time so far).

    Step counts may change between runs (to extend one); the encoder, seed and batch may not.
    """
    # Either stage's optimizer will do: the saved param groups, the stage's learning rate included, replace its own.
    opt = make_opt(1)
    c = load_training_state(
        path,
        architecture=STATE_ARCHITECTURE,
        model_config=encoder.config.to_dict(),
        modules={"encoder": encoder},
        optimizers=opt,
        counters=("stage", "step", "wall_time_s"),
        same_train={"seed": cfg.seed, "batch": cfg.batch},
        what="encoder",
    )
    return opt, int(c["stage"]), int(c["step"]), float(c["wall_time_s"])


def _trim_log(path: Path, stage: int, step: int) -> None:
    """Drop log lines past (stage, step): a run killed between checkpoints repeats those steps on resume."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a line cut short by the kill
        if (e.get("stage", 0), e.get("step", 0)) <= (stage, step):
            kept.append(line)
    write_text(path, "".join(f"{line}\n" for line in kept))  # atomic: a full disk leaves the old log whole


# ------------------------------------------------------------------------------------------------- loop


@dataclass(kw_only=True)
class TrainOutcome(StagedOutcome):
    encoder: InversionEncoder  # in eval mode
    last: dict[str, dict[str, float]]  # stage -> the losses of its last step (this run's)


def train_inversion(
    generator,
    perceptual: PerceptualDistance,
    cfg: InversionTrainConfig,
    out: Path,
    encoder_config: InversionConfig | None = None,
    *,
    progress: bool = False,
    cancel=None,
) -> TrainOutcome:
    """Run (or resume from ``out``) both stages; returns the encoder in eval mode.

    ``generator`` follows the generator protocol; ``cancel()``, when given, is called before every step (it may
    raise to stop the run). The state is saved every ``checkpoint_every`` steps, at the end of each stage and when
    the run is interrupted between steps; ``out/log.jsonl`` gets the losses every ``log_every`` steps.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    encoder_config = encoder_config or InversionConfig(
        image_size=generator.image_size, latent_dim=generator.latent_dim
    )
    if (encoder_config.image_size, encoder_config.latent_dim) != (generator.image_size, generator.latent_dim):
        raise ValueError("the encoder's image size and latent size must be the generator's")
    freeze(generator)
    perceptual.requires_grad_(False).eval()
    torch.manual_seed(cfg.seed)
    encoder = InversionEncoder(encoder_config)
    device = generator_device(generator)
    encoder.to(device)

    def make_opt(stage: int) -> torch.optim.Adam:
        return torch.optim.Adam(
            encoder.parameters(), lr=cfg.lr1 if stage == 1 else cfg.lr2, betas=(0.9, 0.999)
        )

    state_path = out / STATE_NAME
    if state_path.is_file():
        opt, stage, done, wall = load_state(state_path, encoder, make_opt, cfg)
        if dist.is_main():
            _trim_log(out / LOG_NAME, stage, done)
    else:
        encoder.fit_latent_stats(generator.sample_latent(cfg.stats_samples, STATS_SEED + cfg.seed))
        opt, stage, done, wall = make_opt(1), 1, 0, 0.0
    dist.rows(cfg.batch)  # checks that the batch splits evenly over the processes
    predict = dist.wrap(encoder, call=lambda e, images: e.standardized(images))
    main = dist.is_main()
    rates: dict[str, float] = {}
    last: dict[str, dict[str, float]] = {}
    with open(out / LOG_NAME if main else os.devnull, "a", encoding="utf-8") as log:
        for s, total in ((1, cfg.stage1_steps), (2, cfg.stage2_steps)):
            if s < stage:
                continue
            if s > stage:
                opt, done = make_opt(s), 0  # stage 2 starts on a fresh optimizer at its own rate
            encoder.train()
            bar = ProgressBar(total, f"inversion stage {s}", start=done, enabled=progress and main)
            t0 = time.monotonic()
            step = done
            at_boundary = True
            try:
                while step < total:
                    if cancel is not None:
                        cancel()
                    at_boundary = False
                    losses = train_step(encoder, generator, perceptual, opt, cfg, s, step, predict)
                    step += 1
                    at_boundary = True
                    if dist.is_distributed() and (step % cfg.log_every == 0 or step == total):
                        mean = dist.all_reduce_mean(torch.tensor(list(losses.values()), dtype=torch.float64))
                        losses = dict(zip(losses, mean.tolist(), strict=True))  # the global batch's
                    last[f"stage{s}"] = losses
                    if step % cfg.log_every == 0 or step == total:
                        record = {"stage": s, "step": step, **{k: round(v, 5) for k, v in losses.items()}}
                        record["lr"] = lr_at(cfg, s, step - 1)
                        record["wall_time_s"] = round(wall + time.monotonic() - t0, 2)
                        append_line(log, json.dumps(record))  # whole lines; a full disk is one sentence
                    bar.update(step, " ".join(f"{k} {v:.4f}" for k, v in losses.items() if k != "latent"))
                    if (step % cfg.sample_every == 0 or step == total) and main:
                        write_samples(
                            encoder, generator, out / "samples" / f"stage{s}_{step:06d}.png", cfg.seed
                        )
                    if step % cfg.checkpoint_every == 0 and step < total:
                        save_state(state_path, encoder, opt, s, step, cfg, wall + time.monotonic() - t0)
                        dist.barrier()
            except BaseException:
                # Ctrl-C or a cancel between steps: keep the exact position. A stop inside a step may leave the
                # weights half-updated, so such a run resumes from its last checkpoint instead.
                if at_boundary:
                    save_state(state_path, encoder, opt, s, step, cfg, wall + time.monotonic() - t0)
                raise
            finally:
                bar.close()
            elapsed = time.monotonic() - t0
            wall += elapsed
            rates[f"stage{s}"] = (step - done) / elapsed if elapsed > 0 and step > done else 0.0
            save_state(state_path, encoder, opt, s, step, cfg, wall)
            dist.barrier()
            stage, done = s + 1, 0
    encoder.eval()
    steps = {"stage1": cfg.stage1_steps, "stage2": cfg.stage2_steps}
    return TrainOutcome(encoder=encoder, steps=steps, wall_time_s=wall, steps_per_s=rates, last=last)
