"""`gan-studio dataset fit|export|merge`: HandsOff labeled synthetic datasets from the command line.

- ``dataset fit --labels DIR --out MODEL_DIR``: import a few labeled images, invert them, fit the label generator
  (:func:`gan_studio.methods.handsoff.fit_handsoff`);
- ``dataset export --model MODEL_DIR|builtin --n N --out DIR [--shard I/N] [--uncertainty-drop F]``: generate a
  labeled dataset (:func:`gan_studio.data.dataset_export.export_dataset`); an interrupted export continues when
  the same command runs again;
- ``dataset merge SHARD_DIR... --out DIR``: merge the shards of one export
  (:func:`gan_studio.data.dataset_merge.merge_exports`).

Bad input is a ``ValueError``/``FileNotFoundError``/``FileExistsError`` with one sentence, which ``gan-studio``
prints with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gan_studio.runtime.progress import ProgressBar

DEFAULT_EXPORT_BATCH = 16
# A copy of gan_studio.methods.handsoff.DEFAULT_REFINE_STEPS, so that the parser is built without importing torch
# (tests/unit/test_commands.py keeps it in step).
DEFAULT_REFINE_STEPS = 50


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dataset", help="HandsOff labeled datasets: fit a label generator, export, merge")
    dsub = p.add_subparsers(dest="dataset", required=True)
    f = dsub.add_parser("fit", help="fit a HandsOff label generator on a few labeled images")
    f.add_argument(
        "--labels",
        required=True,
        help="labeled images: a catalog folder, a mask folder (labelmap.txt + masks/), labelme or COCO JSON",
    )
    f.add_argument("--out", required=True, help="HandsOff model folder to write (must not exist or be empty)")
    f.add_argument("--generator", default="builtin", help="'builtin' (the shipped ReStGAN) or a checkpoint")
    f.add_argument(
        "--encoder",
        default="builtin",
        help="inversion encoder: 'builtin' or an inversion .safetensors checkpoint",
    )
    f.add_argument(
        "--backbone",
        default="builtin",
        help="perceptual backbone of the inversion: 'builtin' (the shipped attribute classifier) or a checkpoint",
    )
    f.add_argument("--steps", type=int, default=None, help="label generator optimizer steps (default 1000)")
    f.add_argument("--ensemble", type=int, default=None, help="segmentation ensemble size (default 10)")
    f.add_argument("--hidden", default=None, help="hidden widths of the per-pixel MLPs, e.g. 256,128")
    f.add_argument("--pixels-per-image", type=int, default=None, help="pixels sampled per image and step")
    f.add_argument(
        "--refine-steps",
        type=int,
        default=DEFAULT_REFINE_STEPS,
        help=f"Adam steps refining each inverted latent (default {DEFAULT_REFINE_STEPS}; 0 = encoder only)",
    )
    f.add_argument(
        "--keypoint-sigma",
        type=float,
        default=None,
        help="pixels, of the keypoint heatmap targets (default 4)",
    )
    f.add_argument(
        "--class-balance",
        type=float,
        default=None,
        help="segmentation class weights = pixel share ** -B (default 0.5; 0 = plain cross-entropy)",
    )
    f.add_argument("--seed", type=int, default=None, help="label generator seed (default 0)")
    f.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default cpu)")
    f.add_argument("--overwrite", action="store_true", help="replace an existing HandsOff model folder")
    f.add_argument("--no-progress", action="store_true")
    f.set_defaults(func=fit_command)

    e = dsub.add_parser("export", help="generate a labeled synthetic dataset with a HandsOff model")
    e.add_argument("--model", required=True, help="HandsOff model folder, or 'builtin'")
    e.add_argument("--n", type=int, required=True, help="number of items in the dataset")
    e.add_argument("--out", required=True, help="dataset folder (must not exist or be empty)")
    e.add_argument(
        "--shard", default=None, help="I/N: write only the I-th of N blocks (0-based); merge them later"
    )
    e.add_argument(
        "--uncertainty-drop",
        type=float,
        default=0.0,
        help="fraction of the most uncertain generated items to drop, in [0, 1) (HandsOff uses 0.1)",
    )
    e.add_argument("--seed", type=int, default=0, help="item k's latent comes from the seed (SEED, k)")
    e.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_EXPORT_BATCH,
        help=f"items rendered at once and written per journal entry (default {DEFAULT_EXPORT_BATCH}; "
        "shards to be merged need the same)",
    )
    e.add_argument("--generator", default=None, help="where the model's generator is now (same sha256)")
    e.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default cpu)")
    e.add_argument("--overwrite", action="store_true", help="replace a complete dataset at --out")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=export_command)

    m = dsub.add_parser("merge", help="merge the shards of one export into one dataset")
    m.add_argument("shards", nargs="+", help="the shard folders")
    m.add_argument("--out", required=True, help="dataset folder (must not exist or be empty)")
    m.add_argument("--overwrite", action="store_true", help="replace a complete dataset at --out")
    m.add_argument("--no-progress", action="store_true")
    m.set_defaults(func=merge_command)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if not widths or any(w < 1 for w in widths):
        raise ValueError(f"--hidden takes positive widths separated by commas (e.g. 256,128), not {text!r}")
    return widths


def _config(args: argparse.Namespace):
    from gan_studio.methods.label_generator import LabelGeneratorConfig

    changes = {
        "steps": args.steps,
        "ensemble_size": args.ensemble,
        "hidden": None if args.hidden is None else _hidden(args.hidden),
        "pixels_per_image": args.pixels_per_image,
        "keypoint_sigma": args.keypoint_sigma,
        "class_balance": args.class_balance,
        "seed": args.seed,
    }
    return replace(LabelGeneratorConfig(), **{k: v for k, v in changes.items() if v is not None})


class _Bar:
    """A :class:`ProgressBar` drawn from ``progress(fraction, message)`` callbacks, started by the first one, so
    that a command that fails before any progress prints only its error."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.enabled = total, label, enabled
        self.bar: ProgressBar | None = None

    def __call__(self, fraction: float, message: str) -> None:
        from gan_studio.runtime.progress import ProgressBar

        done = round(fraction * self.total)
        if self.bar is None:  # starts where a resumed export is, so that its rate counts this run only
            self.bar = ProgressBar(self.total, self.label, start=done, enabled=self.enabled)
        self.bar.update(done, message)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def fit_command(args: argparse.Namespace) -> int:
    from gan_studio.data.output_files import check_folder_target, output_errors
    from gan_studio.methods.handsoff import fit_handsoff
    from gan_studio.models.classifier import default_classifier_path, load_classifier
    from gan_studio.models.perceptual import PerceptualDistance

    config = _config(args)
    if args.refine_steps < 0:
        raise ValueError(f"--refine-steps must be 0 or more, not {args.refine_steps}")
    labels = Path(args.labels)
    if not labels.exists():
        raise FileNotFoundError(f"--labels {labels} does not exist")
    out = check_folder_target(args.out)  # before inverting anything
    backbone = default_classifier_path() if args.backbone == "builtin" else Path(args.backbone)
    if not backbone.is_file():
        raise FileNotFoundError(f"--backbone: no classifier checkpoint at {backbone}")
    perceptual = PerceptualDistance(load_classifier(backbone, device=args.device))
    bar = _Bar(100, "dataset fit (%)", not args.no_progress)
    try:
        with output_errors(out):  # the model folder is written atomically; this only words the failure
            model = fit_handsoff(
                labels,
                args.out,
                args.generator,
                args.encoder,
                config,
                args.refine_steps,
                progress=bar,
                perceptual=perceptual,
                overwrite=args.overwrite,
                device=args.device,
            )
    finally:
        bar.close()
    for warning in model.info["import"]["warnings"]:
        print(f"gan-studio: {warning}", file=sys.stderr)
    inversion = model.info["inversion"]
    psnr = inversion.get("psnr_mean")
    print(
        f"wrote {model.folder}: {', '.join(model.tasks)} from {len(model.item_ids)} labeled image(s)"
        + (f"; mean inversion PSNR {psnr:.1f} dB" if psnr is not None else "")
    )
    return 0


def export_command(args: argparse.Namespace) -> int:
    from gan_studio.data.dataset_export import export_dataset
    from gan_studio.data.dataset_plan import parse_shard, shard_range
    from gan_studio.data.output_files import check_folder_target
    from gan_studio.methods.handsoff import load_handsoff

    shard = parse_shard(args.shard) if args.shard is not None else (0, 1)
    block = shard_range(args.n, args.uncertainty_drop, shard, args.batch)  # checks the numbers first
    check_folder_target(args.out)  # before loading the model
    model = load_handsoff(args.model, device=args.device)
    bar = _Bar(len(block), "dataset export", not args.no_progress)
    out = Path(args.out)
    try:
        try:
            result = export_dataset(
                model,
                out,
                args.n,
                seed=args.seed,
                uncertainty_drop=args.uncertainty_drop,
                shard=shard,
                batch=args.batch,
                generator=args.generator,
                overwrite=args.overwrite,
                progress=bar,
                device=args.device,
            )
        finally:
            bar.close()
    except KeyboardInterrupt:
        print(
            "gan-studio: interrupted; run the same command again to continue where it stopped",
            file=sys.stderr,
        )
        return 130
    notes = []
    if result.dropped:
        notes.append(f"{result.dropped} most uncertain of {result.candidates} dropped")
    if result.resumed:
        notes.append(f"continued after {result.resumed} items written before")
    if shard[1] > 1:
        notes.append(f"shard {shard[0]}/{shard[1]}: merge all shards with `gan-studio dataset merge`")
    print(f"wrote {result.path}: {result.kept} items" + (f" ({'; '.join(notes)})" if notes else ""))
    return 0


def merge_command(args: argparse.Namespace) -> int:
    from gan_studio.data.dataset_merge import merge_exports
    from gan_studio.data.output_files import check_folder_target

    check_folder_target(args.out)
    bar = _Bar(100, "dataset merge (%)", not args.no_progress)
    try:
        result = merge_exports(args.shards, args.out, overwrite=args.overwrite, progress=bar)
    finally:
        bar.close()
    print(
        f"wrote {result.path}: {result.kept} items from {len(args.shards)} shard(s)"
        + (f" ({result.dropped} most uncertain of {result.candidates} dropped)" if result.dropped else "")
    )
    return 0
