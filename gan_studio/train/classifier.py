"""Training of the attribute classifier (the command, `gan-studio train classifier`, is in
:mod:`gan_studio.commands.train_classifier`).

Data. ``--data builtin`` renders catalog items with seed :data:`TRAIN_SEED`, indices ``[0, train_items)``; held-out
evaluation uses seed :data:`HELDOUT_SEED`, which training never sees. Items are rendered at the network's input
size (the renderer antialiases its own edges), then kept as one uint8 tensor in memory and cached in the run folder (``train_items.npz``) so a resumed run does not render again. The cache stores
color *words*; their color-table clusters are looked up on every start, so a rebuilt table never mislabels.
``--data DIR`` reads a catalog folder; a fixed 10% of its items (by a seeded permutation) is held out.

Recipe. Sum of cross-entropies over the heads, AdamW, linear warm-up then cosine decay, and augmentation that keeps
every attribute: a translation of a few pixels (edges replicated, i.e. background) and horizontal flips (the legs
are mirror images). No color jitter: color is one of the labels.

Resuming. Every ``checkpoint_every`` steps (and on Ctrl-C) the model and optimizer state go to
``OUT/checkpoint.safetensors`` + ``OUT/checkpoint.json``; a new run with the same ``--out`` continues from there,
also when asked for more steps. Batches and augmentation are drawn from a generator seeded by (seed, step), so a
resumed run draws the same batches an uninterrupted one would. The loss log is ``OUT/log.jsonl``.

Under torchrun (see :mod:`gan_studio.train.distributed`) every process draws that same global batch and
augmentation and trains on its share of the rows, with batch norm over the global batch; rank 0 alone writes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gan_studio.data.attributes import CLASSIFIER_HEADS, COLOR_WORDS, FITS, GENDERS, LENGTHS, TYPES
from gan_studio.data.item import CatalogItem
from gan_studio.data.output_files import append_line, write_file
from gan_studio.models.checkpoint import load_training_state
from gan_studio.models.classifier import (
    AttributeClassifier,
    ClassifierConfig,
    encode_attributes,
    images_to_tensor,
)
from gan_studio.models.resize import resize_uint8
from gan_studio.runtime.progress import ProgressBar
from gan_studio.train import distributed as dist
from gan_studio.train.network_state import save_network_state

TRAIN_SEED = 0
HELDOUT_SEED = 1
STATE_ARCHITECTURE = "attribute-classifier-train-state"
CHECKPOINT_NAME = "checkpoint.safetensors"
FINAL_NAME = "classifier.safetensors"
LOG_NAME = "log.jsonl"


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings; the network's own settings are a :class:`ClassifierConfig`."""

    steps: int = 2500
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: int = 100
    train_items: int = 6000
    eval_items: int = 1000
    translate: float = 0.05  # max shift as a fraction of the input size
    flip: bool = True
    seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 10

    @classmethod
    def tiny(cls) -> TrainConfig:
        return cls(steps=6, batch=8, warmup=2, train_items=24, eval_items=8, checkpoint_every=3, log_every=2)


TINY_MODEL = ClassifierConfig(in_size=32, width=4)


@dataclass
class TrainResult:
    model: AttributeClassifier
    step: int
    wall_time_s: float
    resumed_from: int
    last_loss: float | None


# ----------------------------------------------------------------------------------------------------- data


def _attribute_indices(item: CatalogItem) -> list[int]:
    """Labels with the color as an index into COLOR_WORDS (mapped to clusters later)."""
    a = item.attributes
    if a is None:
        raise ValueError(f"catalog item {item.id} has no attributes; the classifier needs labeled items")
    return [
        TYPES.index(a.type),
        GENDERS.index(a.gender),
        COLOR_WORDS.index(a.color),
        LENGTHS.index(a.length),
        FITS.index(a.fit),
    ]


def render_labeled(
    seed: int, n: int, size: int, *, start: int = 0, progress: bool = False, label: str = "render"
) -> tuple[np.ndarray, np.ndarray]:
    """Render built-in items ``seed, [start, start + n)`` at ``size`` (the renderer antialiases its edges).

    Returns images (n, size, size, 3) uint8 and labels (n, 5) int64 in :data:`CLASSIFIER_HEADS` order with the
    color column holding an index into :data:`COLOR_WORDS` (see :func:`color_words_to_clusters`).
    """
    from gan_studio.data.catalog import render_item

    images = np.empty((n, size, size, 3), np.uint8)
    labels = np.empty((n, len(CLASSIFIER_HEADS)), np.int64)
    bar = ProgressBar(n, label, enabled=progress)
    for i in range(n):
        images[i] = (item := render_item(seed, start + i, size)).image
        labels[i] = _attribute_indices(item)
        bar.update(i + 1)
    bar.close()
    return images, labels


def _renderer_fingerprint(size: int) -> str:
    """Hash of one rendered item: a changed renderer invalidates the cache."""
    from gan_studio.data.catalog import render_item

    return hashlib.sha256(np.ascontiguousarray(render_item(TRAIN_SEED, 0, size).image).tobytes()).hexdigest()


def cached_render(
    cache: Path, seed: int, n: int, size: int, *, progress: bool = False, label: str = "render"
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`render_labeled`, read from / written to the ``.npz`` ``cache`` when it matches the request."""
    meta = {
        "seed": seed,
        "n": n,
        "size": size,
        "render_size": size,
        "renderer": _renderer_fingerprint(size),
        # The labels are indices into these lists; a reordered vocabulary must not reuse them.
        "vocabulary": hashlib.sha256(repr((TYPES, GENDERS, COLOR_WORDS, LENGTHS, FITS)).encode()).hexdigest(),
    }
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                if json.loads(str(z["meta"])) == meta:
                    return z["images"], z["labels"]
        except (OSError, ValueError, KeyError):
            pass  # unreadable or stale cache: render again
    images, labels = render_labeled(seed, n, size, progress=progress, label=label)
    # Atomic, through a temporary name of this process's own: processes that share the folder may write it at once.
    write_file(cache, lambda f: np.savez(f, images=images, labels=labels, meta=np.array(json.dumps(meta))))
    return images, labels


def color_words_to_clusters(labels: np.ndarray, cluster_of: Callable[[str], int]) -> np.ndarray:
    """Replace the color column (COLOR_WORDS indices) with color-table clusters."""
    lut = np.array([int(cluster_of(w)) for w in COLOR_WORDS], np.int64)
    out = labels.copy()
    c = CLASSIFIER_HEADS.index("color")
    out[:, c] = lut[labels[:, c]]
    return out


def items_to_arrays(
    items: Sequence[CatalogItem], size: int, cluster_of: Callable[[str], int]
) -> tuple[np.ndarray, np.ndarray]:
    """Catalog items of any size -> images (n, size, size, 3) uint8 and labels (n, 5) with color clusters."""
    images = np.empty((len(items), size, size, 3), np.uint8)
    labels = np.empty((len(items), len(CLASSIFIER_HEADS)), np.int64)
    for i, item in enumerate(items):
        if item.attributes is None:
            raise ValueError(f"catalog item {item.id} has no attributes; the classifier needs labeled items")
        images[i] = resize_uint8(item.image, size)
        labels[i] = encode_attributes(item.attributes, cluster_of(item.attributes.color))
    return images, labels


# ------------------------------------------------------------------------------------------------- training


def augment(
    x: torch.Tensor,
    gen: torch.Generator,
    translate: int,
    flip: bool,
    rows: slice | None = None,
    batch: int | None = None,
) -> torch.Tensor:
    """Shift each image by up to ``translate`` pixels (edges replicated) and mirror half of them.

    The random numbers are drawn for a batch of ``batch`` images (default ``len(x)``) of which ``x`` holds
    ``rows`` (default all): a process training on its rows of the global batch augments them as one process
    would augment the whole batch.
    """
    n, _, h, w = x.shape
    total, rows = (n if batch is None else batch), (slice(None) if rows is None else rows)
    if translate > 0:
        p = translate
        padded = F.pad(x, (p, p, p, p), mode="replicate")
        offsets = torch.randint(0, 2 * p + 1, (total, 2), generator=gen)[rows].tolist()
        x = torch.stack([padded[i, :, oy : oy + h, ox : ox + w] for i, (oy, ox) in enumerate(offsets)])
    if flip:
        mirror = (torch.rand(total, generator=gen) < 0.5)[rows]
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    return x


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 2% of ``lr`` at ``steps``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    span = max(1, cfg.steps - cfg.warmup)
    t = min(1.0, (step - cfg.warmup) / span)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * t)))


def _make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _save_state(path: Path, model, opt, step: int, wall: float, cfg: TrainConfig) -> None:
    """Written by rank 0 only (each file atomically); the caller adds a barrier where every rank gets here."""
    save_network_state(path, STATE_ARCHITECTURE, "model", model, opt, cfg, step=step, wall_time_s=wall)


def _load_state(path: Path, model, opt, mcfg: ClassifierConfig) -> tuple[int, float]:
    c = load_training_state(
        path,
        architecture=STATE_ARCHITECTURE,
        model_config=mcfg.to_dict(),
        modules={"model": model},
        optimizers=opt,
    )
    return int(c["step"]), float(c["wall_time_s"])


def _train_step(model, opt, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
    """One AdamW step on the summed cross-entropies; returns the per-head losses (detached)."""
    for group in opt.param_groups:
        group["lr"] = lr
    logits = model(x)
    losses = torch.stack([F.cross_entropy(logits[h], y[:, j]) for j, h in enumerate(CLASSIFIER_HEADS)])
    opt.zero_grad(set_to_none=True)
    losses.sum().backward()
    opt.step()
    return losses.detach()


def train_loop(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    cfg: TrainConfig,
    model_config: ClassifierConfig,
    out: Path,
    *,
    progress: bool = True,
) -> TrainResult:
    """Train on images (N, S, S, 3) uint8 with labels (N, 5) int64 (heads in :data:`CLASSIFIER_HEADS` order).

    Resumes from ``out/checkpoint.safetensors`` when present; writes it every ``cfg.checkpoint_every`` steps, at the
    end and on Ctrl-C; appends the loss to ``out/log.jsonl``. Returns the model in eval mode.

    Under torchrun each process trains on its rows of every global batch of ``cfg.batch`` (which must split evenly)
    and only rank 0 writes; every rank resumes from the checkpoint rank 0 wrote.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images_t = torch.as_tensor(images)
    labels_t = torch.as_tensor(labels, dtype=torch.long)
    if images_t.ndim != 4 or images_t.dtype != torch.uint8 or images_t.shape[-1] != 3:
        raise ValueError(f"expected (N, H, W, 3) uint8 images, got {tuple(images_t.shape)} {images_t.dtype}")
    if labels_t.shape != (images_t.shape[0], len(CLASSIFIER_HEADS)):
        raise ValueError(f"expected labels of shape ({images_t.shape[0]}, {len(CLASSIFIER_HEADS)})")
    sizes = model_config.head_sizes()
    for j, head in enumerate(CLASSIFIER_HEADS):
        if labels_t.numel() and (labels_t[:, j].min() < 0 or labels_t[:, j].max() >= sizes[head]):
            raise ValueError(f"{head} labels fall outside [0, {sizes[head]})")

    torch.manual_seed(cfg.seed)
    model = AttributeClassifier(model_config)
    opt = _make_optimizer(model, cfg)
    ckpt = out / CHECKPOINT_NAME
    step, wall = 0, 0.0
    had_state = ckpt.exists()
    if had_state:
        step, wall = _load_state(ckpt, model, opt, model_config)
    resumed_from = step
    translate = round(cfg.translate * images_t.shape[1])
    n = images_t.shape[0]
    mine = dist.rows(cfg.batch)  # this process's rows of every batch (all of them in a single process)
    net = dist.wrap(model)

    model.train()
    bar = ProgressBar(cfg.steps, "train classifier", start=step, enabled=progress and dist.is_main())
    t_start = time.monotonic()
    running: list[torch.Tensor] = []
    last_loss: float | None = None
    with open(out / LOG_NAME if dist.is_main() else os.devnull, "a", encoding="utf-8") as log:
        try:
            while step < cfg.steps:
                gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
                idx = torch.randint(0, n, (cfg.batch,), generator=gen)[mine]
                x = augment(images_to_tensor(images_t[idx]), gen, translate, cfg.flip, mine, cfg.batch)
                lr = lr_at(step, cfg)
                running.append(_train_step(net, opt, x, labels_t[idx], lr))
                step += 1
                if step % cfg.log_every == 0 or step == cfg.steps:
                    mean = dist.all_reduce_mean(torch.stack(running).mean(0))
                    running.clear()
                    last_loss = float(mean.sum())
                    record = {
                        "step": step,
                        "loss": round(last_loss, 5),
                        "lr": lr,
                        "wall_time_s": round(wall + time.monotonic() - t_start, 2),
                    }
                    record.update({f"loss_{h}": round(float(v), 5) for h, v in zip(CLASSIFIER_HEADS, mean)})
                    append_line(log, json.dumps(record))  # whole lines; a full disk is one sentence
                bar.update(step, f"loss {last_loss:.3f}" if last_loss is not None else "")
                if step % cfg.checkpoint_every == 0 and step < cfg.steps:
                    _save_state(ckpt, model, opt, step, wall + time.monotonic() - t_start, cfg)
                    dist.barrier()
        except KeyboardInterrupt:
            _save_state(ckpt, model, opt, step, wall + time.monotonic() - t_start, cfg)
            raise
        finally:
            bar.close()
    wall += time.monotonic() - t_start
    if step > resumed_from or not had_state:
        _save_state(ckpt, model, opt, step, wall, cfg)
        dist.barrier()
    if last_loss is None:
        last_loss = _last_logged_loss(out / LOG_NAME)
    dist.revert_batch_norm(model)
    model.eval()
    return TrainResult(model, step, wall, resumed_from, last_loss)


def _last_logged_loss(path: Path) -> float | None:
    """The loss of the last line of a run's log (a run resumed after it finished trains no step of its own)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return float(json.loads(lines[-1])["loss"]) if lines else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------------------------- evaluation


def evaluate_classifier(
    model: AttributeClassifier,
    data: Sequence[CatalogItem] | tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor | dict],
    *,
    cluster_of: Callable[[str], int] | None = None,
    batch: int = 128,
) -> dict[str, float]:
    """Accuracy per head (fraction in [0, 1]).

    ``data`` is either ``(images, labels)`` — images (N, H, W, 3) uint8 or (N, 3, H, W) float in [-1, 1], labels
    (N, 5) in :data:`CLASSIFIER_HEADS` order or a dict head -> (N,) — or a sequence of catalog items with attributes,
    whose color words are mapped with ``cluster_of`` (default: the shipped color table).
    """
    if isinstance(data, tuple):
        images, labels = data
        x = images_to_tensor(images)
        if isinstance(labels, dict):
            y = {h: torch.as_tensor(np.asarray(labels[h]), dtype=torch.long) for h in CLASSIFIER_HEADS}
        else:
            lab = torch.as_tensor(np.asarray(labels), dtype=torch.long)
            y = {h: lab[:, j] for j, h in enumerate(CLASSIFIER_HEADS)}
    else:
        if cluster_of is None:
            from gan_studio.data.colortable import ColorTable

            cluster_of = ColorTable.load().cluster_of
        arr, lab = items_to_arrays(list(data), model.config.in_size, cluster_of)
        x = images_to_tensor(arr)
        y = {h: torch.as_tensor(lab[:, j]) for j, h in enumerate(CLASSIFIER_HEADS)}
    if x.shape[0] == 0:
        raise ValueError("no items to evaluate the classifier on")
    pred = model.predict(x, batch=batch)
    return {h: float((pred[h].cpu() == y[h]).float().mean()) for h in CLASSIFIER_HEADS}


def majority_baseline(labels: np.ndarray) -> dict[str, float]:
    """Accuracy of always answering the most common class, per head (what chance looks like here)."""
    out = {}
    for j, h in enumerate(CLASSIFIER_HEADS):
        counts = np.bincount(np.asarray(labels)[:, j])
        out[h] = float(counts.max() / counts.sum()) if counts.size else 0.0
    return out
