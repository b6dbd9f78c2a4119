"""`gan-studio bench pti`: does pivotal tuning put a real image's labels on its garment?

Held-out real catalog items (seed 1005, at the generator's size, never trained on) are inverted with the HandsOff
model's inversion encoder and ``--refine-steps`` latent refinement steps (the pivot), then each gets
:func:`~gan_studio.methods.pivotal_tuning.pivotal_tune` (``--pti-steps``). For both the pivot (the original
generator) and the tuned copy it reports the reconstruction's perceptual distance and PSNR to the real image, and
the label generator's segmentation of the reconstruction scored against the item's **true** part mask (mIoU over
all items, one confusion matrix, background included and excluded): that is how well labels read from the
generator fit the real image.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from gan_studio.metrics.report import write_report

REAL_SEED = 1005


def bench_pti_command(args) -> int:
    from gan_studio.data.attributes import PART_NAMES
    from gan_studio.data.catalog import render_item
    from gan_studio.methods.handsoff import load_handsoff, open_encoder
    from gan_studio.methods.inversion import invert, prepare_images
    from gan_studio.methods.pivotal_tuning import PivotalTuningConfig, pivotal_tune
    from gan_studio.metrics.dense_scores import pck, segmentation_scores
    from gan_studio.models.perceptual import load_perceptual

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = load_handsoff(args.model)
    generator = model.open_generator()
    encoder, _ = open_encoder(args.encoder)
    perceptual = load_perceptual()
    size = int(generator.image_size)
    items = [render_item(REAL_SEED, i, size) for i in range(args.first, args.first + args.items)]
    images = np.stack([it.image for it in items])
    inverted = invert(encoder, generator, images, refine_steps=args.refine_steps, perceptual=perceptual)
    targets = prepare_images(images, size)
    config = PivotalTuningConfig(steps=args.pti_steps, lr=args.lr, seed=args.seed)
    rows, pred_before, pred_after, kp_before, kp_after = [], [], [], [], []
    for i, item in enumerate(items):
        latent = torch.from_numpy(inverted.latents[i : i + 1])
        tuned = pivotal_tune(generator, latent, targets[i : i + 1], perceptual, config)
        before = model.predict(generator, latent, batch_size=1)[0]
        after = model.predict(tuned.generator, latent, batch_size=1)[0]
        pred_before.append(before["mask"])
        pred_after.append(after["mask"])
        kp_before.append(before["keypoints"])
        kp_after.append(after["keypoints"])
        rows.append(
            {
                "id": item.id,
                "perceptual_before": round(tuned.perceptual_before, 4),
                "perceptual_after": round(tuned.perceptual_after, 4),
                "psnr_before": round(tuned.psnr_before, 2),
                "psnr_after": round(tuned.psnr_after, 2),
                "locality_mse": round(tuned.locality_mse, 5),
                "step_kept": tuned.steps_kept,
            }
        )
        if not args.quiet:
            print(f"{i + 1}/{len(items)} {rows[-1]}", flush=True)
    truth = np.stack([it.mask for it in items])
    n_classes = len(PART_NAMES)
    seg_before = segmentation_scores(truth, np.stack(pred_before), n_classes, PART_NAMES)
    seg_after = segmentation_scores(truth, np.stack(pred_after), n_classes, PART_NAMES)
    true_kps = np.stack([it.keypoints for it in items])
    pck_before = pck(true_kps, np.stack(kp_before), size)[0] if kp_before[0] is not None else None
    pck_after = pck(true_kps, np.stack(kp_after), size)[0] if kp_after[0] is not None else None
    summary = {
        k: round(float(np.mean([r[k] for r in rows])), 4)
        for k in ("perceptual_before", "perceptual_after", "psnr_before", "psnr_after")
    }
    data = {
        "command": args.command_line,
        "items": f"catalog seed {REAL_SEED} items [{args.first}, {args.first + args.items}) at {size} px",
        "refine_steps": args.refine_steps,
        "pti": config.__dict__,
        "summary": summary,
        "segmentation_before": seg_before,
        "segmentation_after": seg_after,
        "pck_before": pck_before,
        "pck_after": pck_after,
        "per_item": rows,
        "seconds": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(),
    }
    md = "\n".join(
        [
            "# HandsOff on real images: pivot vs pivotal tuning",
            "",
            f"Command: `{args.command_line}` ({data['seconds']:.0f} s, torch threads {data['threads']}).",
            "",
            (
                f"{args.items} held-out real items ({data['items']}), inverted with the model's encoder and "
                f"{args.refine_steps} refinement steps (the pivot), then {args.pti_steps} steps of pivotal tuning "
                f"(Adam {args.lr} on a copy of the generator; locality weight {config.locality_weight}). Segmentation: "
                "the label generator's mask of the reconstruction against the item's true part mask."
            ),
            "",
            "| | perceptual distance | PSNR (dB) | mIoU (%) | mIoU w/o bg (%) | PCK@0.05 (%) |",
            "|---|---|---|---|---|---|",
            (
                f"| pivot (latent only) | {summary['perceptual_before']:.4f} | {summary['psnr_before']:.2f} | "
                f"{100 * seg_before['miou']:.1f} | {100 * seg_before['miou_no_background']:.1f} | "
                f"{_pct(pck_before)} |"
            ),
            (
                f"| + pivotal tuning | {summary['perceptual_after']:.4f} | {summary['psnr_after']:.2f} | "
                f"{100 * seg_after['miou']:.1f} | {100 * seg_after['miou_no_background']:.1f} | "
                f"{_pct(pck_after)} |"
            ),
        ]
    )
    jpath, mpath = write_report(args.out, args.name, data, md)
    print(md)
    print(f"wrote {mpath} and {jpath}")
    return 0


def _pct(value) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.1f}"
