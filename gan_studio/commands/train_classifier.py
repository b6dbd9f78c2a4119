"""`gan-studio train classifier`: the attribute classifier's data, the loop of :mod:`gan_studio.train.classifier`,
and the final weights with manifest and model card."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from gan_studio.commands.train import with_given
from gan_studio.commands.train_record import processes_phrase, run_folder, write_final_checkpoint
from gan_studio.data.attributes import CLASSIFIER_HEADS
from gan_studio.models.checkpoint import file_sha256, save_checkpoint
from gan_studio.models.classifier import ARCHITECTURE, ClassifierConfig
from gan_studio.train import distributed as dist
from gan_studio.train.classifier import (
    FINAL_NAME,
    HELDOUT_SEED,
    TINY_MODEL,
    TRAIN_SEED,
    TrainConfig,
    cached_render,
    color_words_to_clusters,
    evaluate_classifier,
    items_to_arrays,
    majority_baseline,
    train_loop,
)


def configs_from_args(args: argparse.Namespace, n_colors: int) -> tuple[TrainConfig, ClassifierConfig]:
    cfg = TrainConfig.tiny() if args.tiny else TrainConfig()
    mcfg = TINY_MODEL if args.tiny else ClassifierConfig()
    mcfg = replace(mcfg, n_colors=n_colors)
    cfg = with_given(cfg, seed=args.seed, steps=args.steps, batch=args.batch, train_items=args.train_items)
    mcfg = with_given(mcfg, in_size=args.size)
    for name, value in (
        ("--steps", cfg.steps),
        ("--batch", cfg.batch),
        ("--train-items", cfg.train_items),
        ("--size", mcfg.in_size),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if mcfg.in_size < 16:
        raise ValueError(f"--size must be at least 16 pixels, got {mcfg.in_size}")
    return cfg, mcfg


def command_line(args: argparse.Namespace) -> str:
    parts = ["gan-studio train classifier", f"--data {args.data}", f"--out {args.out}", f"--seed {args.seed}"]
    for flag, value in (
        ("--steps", args.steps),
        ("--batch", args.batch),
        ("--size", args.size),
        ("--train-items", args.train_items),
    ):
        if value is not None:
            parts.append(f"{flag} {value}")
    if args.tiny:
        parts.append("--tiny")
    return " ".join(parts)


def _split_folder(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed held-out 10% of a user catalog (at least one item when there are two or more)."""
    perm = np.random.default_rng(12345).permutation(n)
    k = max(1, n // 10) if n >= 2 else 0
    return np.sort(perm[k:]), np.sort(perm[:k])


def _model_card(manifest_like: dict) -> str:
    m = manifest_like
    acc = m["metrics"]["heldout_accuracy"]
    base = m["metrics"]["heldout_majority_baseline"]
    rows = "\n".join(f"| {h} | {acc[h]:.3f} | {base[h]:.3f} |" for h in CLASSIFIER_HEADS)
    c = m["config"]
    return f"""# Attribute classifier

A small CNN (4 blocks, each a stride-2 3x3 conv-BN-ReLU then a 3x3 conv-BN-ReLU, with
{c["width"]}-{2 * c["width"]}-{4 * c["width"]}-{8 * c["width"]} channels; global average and max pooling; one linear
head per attribute) over {c["in_size"]}x{c["in_size"]} RGB images in
[-1, 1]. It predicts garment type, gender, color cluster ({c["n_colors"]} clusters of the color table), length and fit.

**Intended use:** evaluation only: attribute accuracy, inception score per attribute, FID on its
{16 * c["width"]}-d penultimate features, and a perceptual distance on its block features. It must never be a
training signal for a generator, or those numbers would measure how well the generator fooled it.

## Training

- Command: `{m["training"]["command"]}`
- Seed {m["training"]["seed"]}, {m["training"]["steps"]} steps of batch {m["training"]["batch"]},
  {m["training"]["wall_time_s"]:.0f} s of training on {m["training"]["threads"]} CPU threads{processes_phrase(m["training"])}.
- Data: {m["data"]["description"]}
- Augmentation: shifts of a few pixels and horizontal flips; no color jitter (color is a label).

## Held-out accuracy ({m["data"]["heldout"]["n"]} items never seen in training)

| head | accuracy | majority-class baseline |
|---|---|---|
{rows}

## Limitations

Trained on {"procedurally rendered catalog photos" if m["data"]["source"] == "builtin" else "one catalog folder"}:
front views of a single garment on a near-white background. Its color head is tied to the color table it was trained
with (sha256 `{m["data"].get("color_table_sha256") or "unknown"}`); a rebuilt table needs a retrained classifier.
"""


def train_classifier_command(args: argparse.Namespace) -> int:
    with dist.session("cpu"), run_folder(args.out):  # a process group only under torchrun
        return _train_classifier(args)


def _train_classifier(args: argparse.Namespace) -> int:
    from gan_studio.data.colortable import ColorTable

    table = ColorTable.load(verify=False)  # a rebuilt table is what a new classifier is trained for
    cfg, mcfg = configs_from_args(args, len(table))
    out = Path(args.out)  # checked and created by run_folder
    progress = not args.no_progress and dist.is_main()
    t0 = time.monotonic()

    from gan_studio.resources import resource_path

    table_file = getattr(table, "path", None) or resource_path("color_table.json")
    table_sha = file_sha256(table_file) if Path(table_file).is_file() else None
    if args.data == "builtin":
        images, labels = dist.prepare_in_turn(
            lambda: cached_render(
                out / "train_items.npz",
                TRAIN_SEED,
                cfg.train_items,
                mcfg.in_size,
                progress=progress,
                label="render training items",
            )
        )
        images_ev, labels_ev = dist.prepare_in_turn(
            lambda: cached_render(
                out / "heldout_items.npz",
                HELDOUT_SEED,
                cfg.eval_items,
                mcfg.in_size,
                progress=progress,
                label="render held-out items",
            )
        )
        labels = color_words_to_clusters(labels, table.cluster_of)
        labels_ev = color_words_to_clusters(labels_ev, table.cluster_of)
        data = {
            "source": "builtin",
            "description": f"built-in catalog, seed {TRAIN_SEED}, items [0, {cfg.train_items}), rendered at "
            f"{mcfg.in_size} px",
            "train": {"seed": TRAIN_SEED, "start": 0, "n": cfg.train_items, "render_size": mcfg.in_size},
            "heldout": {
                "seed": HELDOUT_SEED,
                "start": 0,
                "n": cfg.eval_items,
                "render_size": mcfg.in_size,
            },
        }
    else:
        from gan_studio.train.catalog_source import open_training_catalog

        folder = Path(args.data)
        items = open_training_catalog(folder, table.words, "the classifier")
        all_images, all_labels = items_to_arrays(items, mcfg.in_size, table.cluster_of)
        train_idx, held_idx = _split_folder(len(items))
        ids = list(getattr(items, "ids", None) or [item.id for item in items])
        images, labels = all_images[train_idx], all_labels[train_idx]
        images_ev, labels_ev = all_images[held_idx], all_labels[held_idx]
        data = {
            "source": "folder",
            "description": f"catalog folder {folder}, {len(train_idx)} items for training, a fixed 10% held out",
            "path": str(folder),
            "train": {"n": len(train_idx)},
            "heldout": {"n": len(held_idx), "ids": [ids[i] for i in held_idx]},
        }
    data["color_table_sha256"] = table_sha
    data["color_clusters"] = len(table)
    data_time = time.monotonic() - t0

    result = train_loop(images, labels, cfg, mcfg, out, progress=progress)
    if not dist.is_main():
        return 0  # rank 0 evaluates and writes the final weights
    model = result.model
    heldout = evaluate_classifier(model, (images_ev, labels_ev))
    n_train_eval = min(len(images), max(cfg.eval_items, 1))
    train_acc = evaluate_classifier(model, (images[:n_train_eval], labels[:n_train_eval]))
    metrics = {
        "heldout_accuracy": heldout,
        "heldout_mean_accuracy": float(np.mean(list(heldout.values()))),
        "heldout_majority_baseline": majority_baseline(labels_ev),
        "train_accuracy": train_acc,
        "final_loss": result.last_loss,
    }
    training = {
        "command": command_line(args),
        "seed": cfg.seed,
        "steps": result.step,
        "batch": cfg.batch,
        "config": asdict(cfg),
        "resumed_from_step": result.resumed_from,
        "wall_time_s": round(result.wall_time_s, 2),
        "data_time_s": round(data_time, 2),
        "threads": torch.get_num_threads(),
        "processes": dist.world_size(),
        "torch_version": torch.__version__,
    }
    card = _model_card({"config": mcfg.to_dict(), "training": training, "data": data, "metrics": metrics})
    final = write_final_checkpoint(
        out / FINAL_NAME,
        lambda path: save_checkpoint(
            model.state_dict(),
            path,
            architecture=ARCHITECTURE,
            config=mcfg.to_dict(),
            training=training,
            data=data,
            metrics=metrics,
            card=card,
        ),
    )
    summary = ", ".join(f"{h} {heldout[h]:.3f}" for h in CLASSIFIER_HEADS)
    print(f"wrote {final} after {result.step} steps; held-out accuracy: {summary}")
    return 0
