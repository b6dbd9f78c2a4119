"""`gan-studio train inversion`: the HandsOff inversion encoder for a trained ReStGAN, with manifest and card."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from gan_studio.commands.train import DEFAULT_EVAL_N, with_given
from gan_studio.commands.train_record import (
    processes_phrase,
    run_folder,
    staged_training_record,
    write_final_checkpoint,
)
from gan_studio.models.checkpoint import read_manifest
from gan_studio.models.inversion import InversionConfig, save_inversion
from gan_studio.train import distributed as dist
from gan_studio.train.inversion import InversionTrainConfig, train_inversion


def configs_from_args(args: argparse.Namespace) -> InversionTrainConfig:
    for flag, value, least in (
        ("--stage1-steps", args.stage1_steps, 0),
        ("--stage2-steps", args.stage2_steps, 0),
        ("--batch", args.batch, 1),
    ):
        if value is not None and value < least:
            raise ValueError(f"{flag} must be at least {least}, got {value}")
    cfg = with_given(
        InversionTrainConfig.tiny() if args.tiny else InversionTrainConfig(),
        stage1_steps=args.stage1_steps,
        stage2_steps=args.stage2_steps,
        batch=args.batch,
        seed=args.seed,
    )
    if cfg.stage1_steps + cfg.stage2_steps < 1:
        raise ValueError("--stage1-steps plus --stage2-steps must be at least 1")
    return cfg


def _shown_path(arg: str, path: Path) -> str:
    """How the manifest names a checkpoint: shipped ones relative to the resources, so the record travels."""
    return f"builtin (resources/{path.parent.name}/{path.name})" if arg == "builtin" else str(path)


def _generator_description(arg: str, path: Path) -> dict:
    manifest = read_manifest(path)
    return {
        "path": _shown_path(arg, path),
        "architecture": manifest["architecture"],
        "sha256": manifest["sha256"],
        "trained_with": manifest.get("training", {}).get("command"),
    }


def model_card(manifest: dict) -> str:
    t, d, m, c = manifest["training"], manifest["data"], manifest["metrics"], manifest["config"]
    tc = t["config"]
    rates = ", ".join(f"{k} {v:.2f} steps/s" for k, v in t.get("steps_per_s", {}).items())

    def row(name: str, key: str, s: dict) -> str:
        return (
            f"| {name} | {key.removeprefix('refine_')} | {s['perceptual_mean']:.4f} ± {s['perceptual_std']:.4f} "
            f"| {s['psnr_mean']:.2f} ± {s['psnr_std']:.2f} |"
        )

    if m:
        lines = ["| images | refine steps | perceptual distance | PSNR (dB) |", "|---|---|---|---|"]
        for name in ("real", "generated"):
            lines += [row(name, k, s) for k, s in m.get(name, {}).items()]
        results = (
            "\n".join(lines) + f"\n\nReal items: {m['held_out']['description']} (never seen in training)."
        )
    else:
        results = "Not measured in this run (`--eval-n 0`); see `gan-studio bench handsoff`."
    gen, backbone = d["generator"], d["perceptual_backbone"]
    return f"""# Inversion encoder ({c["image_size"]} px -> {c["latent_dim"]}-d latent)

HandsOff step 1: a small CNN (strided conv blocks with group norm, width {c["width"]}, then two linear layers) that
predicts the generator latent of an image, in standardized latent coordinates.

- Generator: {gen["path"]} ({gen["architecture"]}, sha256 {gen["sha256"][:16]}); its weights were never changed.
- Perceptual backbone: {backbone["path"]} (sha256 {backbone["sha256"][:16]}).

## How it was trained

- Command: `{t["command"]}`
- Seed {t["seed"]}; batch {t["batch"]}; wall time {t["wall_time_s"] / 60:.1f} min on {t["threads"]} CPU thread(s){processes_phrase(t)}
  ({rates})
- Stage 1, {t["steps"]["stage1"]} steps: regression of the latent from the image it draws (mean squared error in
  standardized coordinates), Adam at {tc["lr1"]} with cosine decay.
- Stage 2, capped at {t["steps"]["stage2"]} steps: perceptual distance between the images drawn from the predicted
  and from the true latent (weight {tc["perceptual_weight"]}) + pixel mean squared error (weight
  {tc["pixel_weight"]}) + standardized latent error (weight {tc["latent_weight"]}), Adam at {tc["lr2"]} with cosine
  decay. The objective is very nonconvex; the cap is part of the method.
- Perceptual distance: LPIPS-style over the backbone's block features (unit-normalized channels, squared
  difference, spatial mean, uniform mean over blocks; no learned LPIPS weights exist for this domain).
- Data: {d["latents"]}; fresh latents every step, nothing reused.

## Results

{results}

## Using it

`gan_studio.methods.inversion.invert(encoder, generator, images, refine_steps=K)`; refinement runs Adam on each
image's latent from the encoder's prediction (perceptual + pixel loss) and keeps the best latent seen.

## Limitations

It inverts into the latent space of one generator: another generator (or retrained weights) needs its own encoder.
Trained only on generated images; a real image the generator cannot draw exactly comes back as the nearest garment
it can draw (compare the real and generated rows above).
"""


def train_inversion_command(args: argparse.Namespace) -> int:
    # a process group only under torchrun; the generator is loaded on the CPU
    with dist.session("cpu"), run_folder(args.out):
        return _train_inversion(args)


def _train_inversion(args: argparse.Namespace) -> int:
    from gan_studio.methods.restgan import DEFAULT_TITLE_SOURCE, TitleGenerator, default_model_path
    from gan_studio.models.classifier import default_classifier_path, load_classifier
    from gan_studio.models.perceptual import PerceptualDistance

    cfg = configs_from_args(args)
    eval_n = args.eval_n if args.eval_n is not None else (8 if args.tiny else DEFAULT_EVAL_N)
    if eval_n < 0:
        raise ValueError("--eval-n must be >= 0")
    if args.threads is not None and args.threads < 1:
        raise ValueError("--threads must be at least 1")
    out = Path(args.out)  # checked and created by run_folder
    gen_path = default_model_path("restgan") if args.generator == "builtin" else Path(args.generator)
    backbone_path = default_classifier_path() if args.backbone == "builtin" else Path(args.backbone)
    for what, p in (("--model", gen_path), ("--backbone", backbone_path)):
        if not p.is_file():
            raise FileNotFoundError(f"{what}: no checkpoint at {p}")
    if args.threads:
        torch.set_num_threads(args.threads)
    architecture = read_manifest(gen_path)["architecture"]
    title_generator = TitleGenerator.load(gen_path, architecture=architecture)
    generator = title_generator.catalog_protocol()
    perceptual = PerceptualDistance(load_classifier(backbone_path))
    encoder_config = (
        InversionConfig.tiny(generator.image_size, generator.latent_dim)
        if args.tiny
        else InversionConfig(image_size=generator.image_size, latent_dim=generator.latent_dim)
    )
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    progress = not args.no_progress and dist.is_main()
    outcome = train_inversion(generator, perceptual, cfg, out, encoder_config, progress=progress)
    if not dist.is_main():
        return 0  # rank 0 evaluates and writes the final weights
    metrics = {}
    if eval_n:
        from gan_studio.metrics.inversion_quality import reconstruction_quality

        metrics = reconstruction_quality(
            outcome.encoder, generator, n=eval_n, refine_steps=(0,), perceptual=perceptual
        )
    seed, start, n_titles = DEFAULT_TITLE_SOURCE
    final_losses = {k: {n: round(v, 5) for n, v in d.items()} for k, d in outcome.last.items()}
    training = staged_training_record(args, cfg, outcome, t0, final_losses=final_losses)
    data = {
        "generator": _generator_description(args.generator, gen_path),
        "perceptual_backbone": {
            "path": _shown_path(args.backbone, backbone_path),
            "sha256": read_manifest(backbone_path)["sha256"],
        },
        "latents": f"sample_latent of the catalog-conditioned generator: z ~ N(0, I), a random title of built-in "
        f"catalog seed {seed} items [{start}, {start + n_titles}) (the generator's training titles) per latent, "
        f"condition noise scaled by {title_generator.condition_noise}; batch k (counted over both stages) is "
        f"sample_latent(batch, {cfg.seed} * 1000003 + k)",
    }
    weights = out / "inversion.safetensors"
    manifest_like = {
        "config": outcome.encoder.config.to_dict(),
        "training": training,
        "data": data,
        "metrics": metrics,
    }
    write_final_checkpoint(
        weights,
        lambda path: save_inversion(
            outcome.encoder,
            path,
            training=training,
            data=data,
            metrics=metrics,
            card=model_card(manifest_like),
        ),
    )
    if metrics:
        real = metrics["real"]["refine_0"]
        print(
            f"held-out real items: perceptual {real['perceptual_mean']:.4f}, PSNR {real['psnr_mean']:.2f} dB",
        )
    print(f"wrote {weights}")
    return 0
