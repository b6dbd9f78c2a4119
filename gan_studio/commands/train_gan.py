"""`gan-studio train restgan|stackgan`: data preparation, the loop, and the final weights with manifest and card."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

from gan_studio.commands.train import with_given
from gan_studio.commands.train_record import (
    processes_phrase,
    run_folder,
    staged_training_record,
    write_final_checkpoint,
)
from gan_studio.models.checkpoint import save_checkpoint
from gan_studio.models.stackgan import GanConfig
from gan_studio.models.text import Vocabulary
from gan_studio.train import distributed as dist
from gan_studio.train.restgan import new_model, train_gan
from gan_studio.train.restgan_config import GanTrainConfig
from gan_studio.train.text_data import build_data, render_builtin

STAGE2_MODES = ("adversarial", "paired", "mixed")
TRAIN_SEED = 0  # built-in catalog seed of the training items (benchmarks use other seeds)


def _configs(args: argparse.Namespace) -> tuple[GanTrainConfig, GanConfig]:
    cfg = GanTrainConfig.tiny(args.model) if args.tiny else GanTrainConfig(variant=args.model)
    gan = GanConfig.tiny() if args.tiny else GanConfig()
    cfg = with_given(
        cfg,
        stage1_steps=args.stage1_steps,
        stage2_steps=args.stage2_steps,
        batch=args.batch,
        items=args.items,
        seed=args.seed,
        stage2_mode=args.stage2_mode,
        paired_share=getattr(args, "paired_share", None),
        aux_weight=args.aux_weight,
        aux_d_weight=args.aux_weight_d,
        layout_weight=args.layout_weight,
        layout_size=getattr(args, "layout_size", None),
        stage1_seconds=args.stage1_seconds,
        stage2_seconds=args.stage2_seconds,
        checkpoint_every=args.checkpoint_every,
        sample_every=args.sample_every,
    )
    return cfg, gan


def _load_data(args, cfg: GanTrainConfig, gan: GanConfig, table, out: Path, progress: bool):
    if args.data == "builtin":
        cache = Path(args.cache) if args.cache else out / "items.npz"
        images, titles, attrs = render_builtin(
            cache, TRAIN_SEED, cfg.items, gan.image_size, progress=progress
        )
        description = {
            "source": "builtin",
            "seed": TRAIN_SEED,
            "start": 0,
            "n": cfg.items,
            "description": f"built-in catalog seed {TRAIN_SEED}, items [0, {cfg.items}), rendered at "
            f"{gan.image_size * 2} px and area-downsampled to {gan.image_size} px",
        }
        return images, titles, attrs, description
    import numpy as np

    from gan_studio.models.resize import resize_uint8
    from gan_studio.train.catalog_source import open_training_catalog

    folder = Path(args.data)
    items = open_training_catalog(folder, table.words, "training")

    images = np.stack([resize_uint8(it.image, gan.image_size) for it in items])
    titles = [it.title for it in items]
    attrs = [it.attributes for it in items]
    return images, titles, attrs, {"source": "folder", "path": str(folder), "n": len(items)}


def _init_from(model, path: Path, variant: str) -> dict:
    """Start from a finished model's weights (generator, text encoder, conditioning augmentation); the
    discriminators start fresh. Its configuration and vocabulary must be the ones this run builds. Returns what the
    new manifest records of it (path, sha256 and its own training record, so the history stays in the card)."""
    from gan_studio.models.checkpoint import load_checkpoint

    state, manifest = load_checkpoint(path, architecture=variant)
    if manifest["config"] != model.config_dict():
        raise ValueError(
            f"--init {path} was trained with another configuration or vocabulary than this run builds "
            "(same --data, --items and model sizes are needed)"
        )
    model.load_state_dict(state)
    return {"path": str(path), "sha256": manifest["sha256"], "training": manifest.get("training", {})}


def training_history(training: dict) -> list[dict]:
    """The training records of a model and of every model it was initialized from, oldest first."""
    chain = [training]
    while isinstance(chain[-1].get("initialized_from"), dict):
        chain.append(chain[-1]["initialized_from"].get("training", {}))
    return chain[::-1]


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), {os.cpu_count()} CPU cores"
    return f"CPU ({os.cpu_count()} cores)"


def _run_lines(t: dict) -> str:
    c = t.get("config", {})
    rates = ", ".join(f"{k} {v:.2f} steps/s" for k, v in t.get("steps_per_s", {}).items())
    budget = ""
    if c.get("stage1_seconds") or c.get("stage2_seconds"):
        budget = f"; time budget stage I {c.get('stage1_seconds', 0):g} s, stage II {c.get('stage2_seconds', 0):g} s"
    where = t.get("device") or f"{t.get('threads', '?')} CPU thread(s)"
    layout_px = c.get("layout_size", 32)
    weights = [
        f"{label} {c[key]:g}"
        for key, label, default in (
            ("aux_weight", "generator auxiliary weight", 1.0),
            ("aux_d_weight", "discriminator auxiliary weight", 1.0),
            ("layout_weight", f"layout term weight (L1 at {layout_px} px, whole titles)", 0.0),
        )
        if c.get(key, default) != default
    ]
    if weights:
        budget += "; " + ", ".join(weights)
    return (
        f"- Command: `{t.get('command')}`\n"
        f"- Seed {t.get('seed')}; stage I {t.get('steps', {}).get('stage1')} steps, stage II "
        f"{t.get('steps', {}).get('stage2')} steps, batch {t.get('batch')}{budget}; stage II "
        f"{c.get('stage2_mode', 'adversarial')}\n"
        f"- Wall time {t.get('wall_time_s', 0) / 60:.1f} min on {where}{processes_phrase(t)} ({rates}), "
        f"torch threads {t.get('threads')}"
    )


def _how_started(i: int, run: dict) -> str:
    if i == 0:
        return "Started from random weights"
    if run.get("initialized_from", {}).get("state"):
        return "Continued from the run above: every network, the averages and the optimizer state (`--init-state`)"
    return "Continued from the weights above (discriminators fresh)"


def model_card(manifest: dict) -> str:
    t, m = manifest["training"], manifest["metrics"]
    variant = manifest["architecture"]
    gan = manifest["config"]["gan"]
    size, size1 = gan["image_size"], gan["stage1_size"]
    heads = "type/color/gender" if gan.get("backbone", "plain") == "plain" else "type/color/gender/length/fit"
    what = (
        "ReStGAN: recurrent StackGAN. An LSTM over the title's words (color words enter through the LAB color "
        f"table's cluster features) gives one condition per word prefix; stage I draws a {size1} px layout, stage "
        f"II refines it to {size} px. The auxiliary classifier: {heads} heads on both discriminators (trained "
        "on real labels; the generator is scored on what its title prefix states), and heads that read the "
        "stated type/gender/color/length/fit back from the LSTM state. Trained on random prefixes of every title."
        if variant == "restgan"
        else "StackGAN baseline: the same two-stage GAN conditioned on the whole title through the mean of ordinary "
        "word embeddings; no LSTM, no color table, no auxiliary classifier, trained on whole titles only."
    )
    backbone = (
        "Backbone (`gan_studio/models/backbone.py`): BigGAN residual up blocks with conditional batch norm on [z, c], "
        "FastGAN skip-layer excitation, a U-Net-like stage II that adds a residual to the upsampled stage-I image, "
        "residual discriminators with spectral norm, projection and matching-aware conditional logits."
        if gan.get("backbone", "plain") != "plain"
        else "Backbone: the plain 64 px StackGAN blocks (`gan_studio/models/stackgan.py`)."
    )
    runs = training_history(t)
    history = "\n".join(
        f"{i + 1}. {_how_started(i, r)}:\n" + _run_lines(r).replace("- ", "   - ") for i, r in enumerate(runs)
    )
    total = sum(r.get("wall_time_s", 0) for r in runs) / 60
    cfg = t.get("config", {})
    return f"""# {variant} ({size} px)

{what}

{backbone}

## How it was trained ({len(runs)} run(s), {total:.1f} min of training in all)

{history}

- Data: {manifest["data"].get("description", manifest["data"])}
- Hinge loss, spectral norm in the discriminators, matching-aware conditional logit (projection), TTUR
  (G {cfg.get("lr_g")}, D {cfg.get("lr_d")}), EMA {cfg.get("ema")} of the generator weights (shipped). Stage II
  "paired": its input is the real image area-downsampled to {size1} px, with L1 reconstruction (weight
  {cfg.get("rec_weight")}) and discriminator feature matching (weight {cfg.get("fm_weight")}) beside the
  adversarial terms; "adversarial": its input is the frozen stage I's drawing; "mixed": a share
  ({cfg.get("paired_share", 0.5)}) of each batch's rows as "paired" (L1 reconstruction only), the rest as "adversarial".

## Results

{json.dumps(m, indent=1) if m else "See docs/benchmarks/restgan.md (`gan-studio bench restgan`)."}

## Using it

The app draws with the conditioning-augmentation noise scaled by 0.25 (`DEFAULT_CONDITION_NOISE` in
`gan_studio/methods/restgan.py`, chosen on validation titles); `gan-studio generate --condition-noise 1.0` draws as
in training.

## Limitations

Trained only on procedurally rendered front views of one garment on a near-white background; words outside the
vocabulary ({len(manifest["config"]["words"])} words) are ignored. The shipped attribute classifier that scores it was
never a training signal.
"""


def training_device(name: str | None) -> torch.device:
    """``--device``: "auto" (the default) takes CUDA when there is one, else the CPU; under torchrun each process
    takes its local rank's GPU."""
    name = name or "auto"
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for, but this machine has no CUDA device")
        if device.index is None:
            device = torch.device("cuda", dist.local_rank() if dist.requested_world_size() > 1 else 0)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return device


def train_restgan_command(args: argparse.Namespace) -> int:
    device = training_device(getattr(args, "device", None))
    with dist.session(device), run_folder(args.out):  # a process group only under torchrun
        return _train_restgan(args, device)


def _train_restgan(args: argparse.Namespace, device: torch.device) -> int:
    import time

    from gan_studio.data.colortable import ColorTable

    table = ColorTable.load()
    cfg, gan = _configs(args)
    least_stage1 = 0 if args.init else 1  # a finished model's stage I may be kept as it is
    if cfg.stage1_steps < least_stage1 or cfg.stage2_steps < 0 or cfg.batch < 2:
        raise ValueError(f"--stage1-steps must be >= {least_stage1}, --stage2-steps >= 0 and --batch >= 2")
    if args.fresh_stage2 and not args.init:
        raise ValueError("--fresh-stage2 only makes sense with --init")
    if not (cfg.aux_weight >= 0 and cfg.aux_d_weight >= 0 and cfg.layout_weight >= 0):  # also refuses nan
        raise ValueError("--aux-weight, --aux-weight-d and --layout-weight must be numbers >= 0")
    if cfg.layout_size < 1:
        raise ValueError("--layout-size must be a whole number of pixels >= 1")
    init_state = Path(args.init_state) if getattr(args, "init_state", None) else None
    if init_state is not None and (not args.init or args.fresh_stage2):
        raise ValueError("--init-state needs --init (the weights that run wrote) and no --fresh-stage2")
    if init_state is not None and not init_state.is_file():
        raise ValueError(f"--init-state {init_state} is not a file")
    if cfg.stage2_mode not in STAGE2_MODES:
        raise ValueError(f"--stage2-mode must be one of {', '.join(STAGE2_MODES)}, not {cfg.stage2_mode!r}")
    if not 0.0 < cfg.paired_share < 1.0:
        raise ValueError("--paired-share must be between 0 and 1 (exclusive)")
    out = Path(args.out)  # checked and created by run_folder
    progress = not args.no_progress and dist.is_main()
    if args.threads:
        torch.set_num_threads(args.threads)
    # Rank 0 renders (and caches) the items first; the other processes then read its cache.
    images, titles, attrs, description = dist.prepare_in_turn(
        lambda: _load_data(args, cfg, gan, table, out, progress)
    )
    # Both variants get the same vocabulary: the catalog's words seen twice, plus every color-table word.
    vocab = Vocabulary.from_titles(titles, extra=table.words)
    data = build_data(images, titles, attrs, vocab, table.cluster_of, description)
    torch.manual_seed(cfg.seed)  # the generator's initial weights follow --seed too
    model = new_model(cfg, gan, vocab, table)
    init = _init_from(model, Path(args.init), cfg.variant) if args.init else None
    if args.fresh_stage2:  # stage II from random weights on the given stage I (the stage-II ablation)
        from gan_studio.models.stackgan import stage_modules

        model.stage2 = stage_modules(gan)[1](gan)
        init = {**init, "stage2": "fresh (random weights)"}
    if init_state is not None:
        from gan_studio.models.checkpoint import file_sha256

        init = {**init, "state": {"path": str(init_state), "sha256": file_sha256(init_state)}}
    t0 = time.monotonic()
    outcome = train_gan(data, model, cfg, out, progress=progress, device=device, init_state=init_state)
    if not dist.is_main():
        return 0  # rank 0 writes the final weights
    training = staged_training_record(
        args, cfg, outcome, t0, device=_device_name(device), **({"initialized_from": init} if init else {})
    )
    weights = out / f"{cfg.variant}.safetensors"
    manifest_like = {
        "architecture": cfg.variant,
        "config": outcome.model.config_dict(),
        "training": training,
        "data": description,
        "metrics": {},
    }
    write_final_checkpoint(
        weights,
        lambda path: save_checkpoint(
            outcome.model.state_dict(),
            path,
            architecture=cfg.variant,
            config=manifest_like["config"],
            training=training,
            data=description,
            card=model_card(manifest_like),
        ),
    )
    print(f"wrote {weights}")
    return 0
