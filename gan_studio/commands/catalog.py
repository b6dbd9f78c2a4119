"""`gan-studio catalog`: render the built-in apparel catalog into a catalog folder (see :mod:`gan_studio.data.layout`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

MIN_SIZE = 32
MAX_SIZE = 1024


def add_arguments(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="render the built-in apparel catalog to a folder")
    p.add_argument("--n", type=int, default=64, help="number of items")
    p.add_argument("--size", type=int, default=128, help="image size in pixels")
    p.add_argument(
        "--seed", type=int, default=0, help="catalog seed; items are deterministic per (seed, index)"
    )
    p.add_argument("--start", type=int, default=0, help="first item index")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    return catalog_command(args)  # looked up when it runs, so that a test can replace it


def _check_args(args: argparse.Namespace) -> None:
    if args.n <= 0:
        raise ValueError(f"--n must be a positive number of items, not {args.n}")
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        raise ValueError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {args.size}")
    if args.start < 0:
        raise ValueError(f"--start must be 0 or more, not {args.start}")


class _ProgressLine:
    """A single self-overwriting progress line on stderr, redrawn at most a few times a second."""

    def __init__(self, stream=sys.stderr, interval: float = 0.25) -> None:
        self.stream = stream
        self.interval = interval
        self.last = 0.0
        self.drawn = False

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self.last < self.interval:
            return
        self.last = now
        self.drawn = True
        self.stream.write(f"\rcatalog: {message} ({100 * fraction:3.0f}%)")
        self.stream.flush()

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def catalog_command(args: argparse.Namespace) -> int:
    """Render items ``start .. start + n - 1`` of catalog ``seed`` at ``size`` pixels into ``out``."""
    _check_args(args)
    from gan_studio.data.catalog import iter_items
    from gan_studio.data.catalog_writer import write_catalog
    from gan_studio.data.output_files import check_folder_target, output_errors

    out = Path(args.out)
    check_folder_target(out)
    manifest = {
        "source": "gan-studio catalog (built-in renderer)",
        "seed": args.seed,
        "start": args.start,
        "size": args.size,
    }
    items = iter_items(args.seed, args.start, args.n, args.size)
    progress = _ProgressLine()
    started = time.perf_counter()
    try:
        with output_errors(out):  # write_catalog is atomic; this only words its OSErrors
            write_catalog(items, out, manifest=manifest, progress=progress, total=args.n)
    finally:
        progress.end()
    elapsed = max(time.perf_counter() - started, 1e-9)
    print(f"{out} ({args.n} items, {args.n / elapsed:.1f} items/s)")
    return 0
