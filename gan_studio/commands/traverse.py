"""`gan-studio traverse`: walk a latent path that varies some features and holds others, write its frames.

Writes ``frame_000.png …`` (in path order; with ``--both`` the start is in the middle) and ``metrics.json``: per
waypoint, the change of every fixed and every varied feature since the start, in each feature's unit.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

FRAME_FILES = r"frame_\d{3,}\.png"  # what a rerun into the same --out folder replaces
METRICS_FILE = "metrics.json"
# Copies of gan_studio.methods.features.SPEC_HELP and gan_studio.methods.reds.METHODS / MAX_STEPS, so that the
# parser is built without importing torch (tests/unit/test_commands.py keeps them in step).
SPEC_HELP = (
    "box:x0,y0,x1,y1 (fractions), mask:PATH, lasso, rest, low:SIGMA, high:SIGMA, attr:NAME, "
    "color:REGION (REGION = box:..., mask:PATH, lasso, rest, garment or all)"
)
METHODS = ("reds", "linear", "random", "pca", "sefa")
MAX_STEPS = 200


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("traverse", help="vary part of a garment image while holding the rest (REDS)")
    p.set_defaults(func=traverse_command)
    p.add_argument("--title", required=True, help="product title of the garment to explore")
    p.add_argument("--seed", type=int, default=0, help="noise seed of the starting image")
    p.add_argument(
        "--fix", action="append", default=[], help=f"feature to hold fixed (repeatable): {SPEC_HELP}"
    )
    p.add_argument("--vary", action="append", default=[], help="feature to vary (repeatable), same forms")
    p.add_argument("--method", choices=METHODS, default="reds")
    p.add_argument("--steps", type=int, default=8, help=f"waypoints after the start (1..{MAX_STEPS})")
    p.add_argument("--step-size", type=float, default=1.0, help="latent distance per waypoint")
    p.add_argument("--sign", type=int, choices=(1, -1), default=1, help="walk along (+1) or against (-1)")
    p.add_argument("--both", action="store_true", help="walk both ways from the start")
    p.add_argument(
        "--direction",
        type=int,
        default=None,
        help="eigenvector (reds, linear) or component (pca, sefa) index 0..9; default: the best",
    )
    p.add_argument("--random-seed", type=int, default=0, help="seed of the random direction / PCA samples")
    p.add_argument("--plain", action="store_true", help="reds without drift correction and progress term")
    p.add_argument("--jacobian", choices=("auto", "forward", "finite"), default="auto")
    p.add_argument(
        "--exact",
        action="store_true",
        help="reds: recompute the full Jacobian at every waypoint (slower; default: refresh it every "
        "--refresh-every waypoints and carry it by secant updates in between)",
    )
    p.add_argument(
        "--refresh-every",
        type=int,
        default=None,
        help="reds fast path: full Jacobian every N waypoints (1..64; default 3)",
    )
    p.add_argument("--model", default="builtin", help="'builtin' or a ReStGAN .safetensors checkpoint")
    p.add_argument("--scale", type=int, default=1, help="upscale written frames by this integer factor")
    p.add_argument("--out", required=True, help="folder for frame_000.png … and metrics.json")
    p.add_argument("--no-progress", action="store_true")


def traverse_command(args: argparse.Namespace) -> int:
    import torch

    from gan_studio.data.image_file import stage_image
    from gan_studio.data.output_files import StagedOutputs, check_folder_target
    from gan_studio.methods.features import FeatureContext, build_features
    from gan_studio.methods.reds import TraversalSettings, traverse_path
    from gan_studio.methods.restgan import TitleGenerator
    from gan_studio.runtime.progress import ProgressBar

    out = Path(args.out)
    if not 1 <= args.scale <= 16:
        raise ValueError("--scale must be between 1 and 16")
    if not args.fix:
        raise ValueError("give at least one --fix feature, e.g. --fix box:0.3,0.0,0.7,0.35")
    if not args.vary:
        raise ValueError("give at least one --vary feature, e.g. --vary rest")
    settings = TraversalSettings(
        method=args.method,
        steps=args.steps,
        step_size=args.step_size,
        sign=args.sign,
        direction=args.direction,
        seed=args.random_seed,
        jacobian=args.jacobian,
        correct=not args.plain,
        progress_weight=0.0 if args.plain else TraversalSettings.progress_weight,
        exact=bool(args.exact),
        refresh_every=TraversalSettings.refresh_every if args.refresh_every is None else args.refresh_every,
    ).check()
    path = None if args.model == "builtin" else Path(args.model)
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"--model {path} does not exist")
    check_folder_target(out)  # before computing anything: a walk takes minutes
    generator = TitleGenerator.load(path).protocol(args.title)
    latent = generator.sample_latent(1, args.seed)
    with torch.no_grad():
        start = generator.synthesize(latent)
    start_image = ((start[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    ctx = FeatureContext(generator.image_size, start_image=start_image)
    fixed, vary = build_features(args.fix, args.vary, ctx)
    total = args.steps * (2 if args.both else 1)
    bar = ProgressBar(total, "traverse", enabled=not args.no_progress)
    began = time.perf_counter()
    points = traverse_path(
        generator,
        latent,
        fixed,
        vary,
        settings,
        both=args.both,
        progress=lambda f, _m: bar.update(round(f * total)),
    )
    seconds = time.perf_counter() - began
    bar.close()
    records = []
    for i, p in enumerate(points):
        records.append(
            {
                "file": f"frame_{i:03d}.png",
                "waypoint": p.index,
                "fixed": p.fixed_change,
                "varied": p.varied_change,
                "quotient": p.quotient,
            }
        )
    info = {
        "title": args.title,
        "seed": args.seed,
        "model": str(path) if path else "builtin",
        "method": args.method,
        "fixed": [f.name for f in fixed],
        "varied": [f.name for f in vary],
        "units": {f.name: f.unit for f in (*fixed, *vary)},
        "settings": {k: v for k, v in vars(settings).items()},
        "both": bool(args.both),
        "seconds": round(seconds, 3),
        "waypoints": records,
    }
    # Every frame and metrics.json land together or not at all; a rerun's stale frames go (see StagedOutputs).
    with StagedOutputs() as outputs:
        outputs.folder(out, own=FRAME_FILES, index=METRICS_FILE)
        for p, record in zip(points, records, strict=True):
            stage_image(outputs, out / record["file"], p.image, args.scale)
        outputs.add_text(out / METRICS_FILE, json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    last = points[-1]
    fixed_txt = ", ".join(f"{k} {v:.4f}" for k, v in last.fixed_change.items())
    varied_txt = ", ".join(f"{k} {v:.4f}" for k, v in last.varied_change.items())
    print(f"wrote {len(points)} frames and metrics.json to {out} ({seconds:.1f} s)")
    print(f"last waypoint: fixed {fixed_txt}; varied {varied_txt}")
    return 0
