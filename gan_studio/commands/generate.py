"""`gan-studio generate TITLE --seed N --out IMG [--steps DIR]`: one image, or one per word prefix."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
STEP_FILES = r"step_\d{2,}\.png"  # what a rerun into the same --steps folder replaces
STEPS_INDEX = "steps.json"


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="draw a garment for a product title (ReStGAN)")
    p.set_defaults(func=generate_command)
    p.add_argument("title", help='product title, e.g. "women\'s black pants petite capri"')
    p.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the same images")
    p.add_argument("--out", required=True, help="image file to write (.png, .jpg, ...)")
    p.add_argument(
        "--steps", default=None, help="also write step_00.png, ... (one per word prefix) and steps.json"
    )
    p.add_argument("--model", default="builtin", help="'builtin' or a .safetensors checkpoint")
    p.add_argument("--architecture", choices=("restgan", "stackgan"), default="restgan")
    p.add_argument("--scale", type=int, default=1, help="upscale written images by this integer factor")
    p.add_argument(
        "--condition-noise",
        type=float,
        default=None,
        help="scale of the conditioning-augmentation noise (default: the app's; 1.0 = as in training)",
    )


def generate_command(args: argparse.Namespace) -> int:
    from gan_studio.data.image_file import stage_image
    from gan_studio.data.output_files import StagedOutputs, check_file_target, check_folder_target
    from gan_studio.methods.restgan import TitleGenerator

    out = Path(args.out)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"--out {out} must end in one of {', '.join(IMAGE_SUFFIXES)}")
    if not 1 <= args.scale <= 16:
        raise ValueError("--scale must be between 1 and 16")
    path = None if args.model == "builtin" else Path(args.model)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"--model {path} does not exist")
    if args.condition_noise is not None and not 0.0 <= args.condition_noise <= 2.0:
        raise ValueError("--condition-noise must be between 0 and 2")
    check_file_target(out)  # before any work: an unwritable destination fails at once
    steps = Path(args.steps) if args.steps else None
    if steps is not None:
        check_folder_target(steps)
    gen = TitleGenerator.load(path, architecture=args.architecture, condition_noise=args.condition_noise)
    result = gen.generate(args.title, args.seed)
    if result.parsed.message:
        print(f"gan-studio: {result.parsed.message}", file=sys.stderr)
    records = []
    # The image and every step are written together or not at all (see StagedOutputs).
    with StagedOutputs() as outputs:
        stage_image(outputs, out, result.image, args.scale)
        if steps is not None:
            outputs.folder(steps, own=STEP_FILES, index=STEPS_INDEX)
            # One file per word prefix: step_00 is the first word; a title with no known word gets the empty prefix.
            first = 1 if len(result.images) > 1 else 0
            for i, k in enumerate(range(first, len(result.images))):
                name = f"step_{i:02d}.png"
                stage_image(outputs, steps / name, result.images[k], args.scale)
                records.append({"file": name, "words": k, "prefix": result.prefixes[k]})
            info = {
                "title": result.parsed.title,
                "seed": args.seed,
                "model": gen.name,
                "unknown_words": result.parsed.unknown_words,
                "steps": records,
            }
            outputs.add_text(steps / STEPS_INDEX, json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
    if steps is not None:
        print(f"wrote {len(records)} step images and {STEPS_INDEX} to {steps}")
    return 0
