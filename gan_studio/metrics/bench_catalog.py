"""`gan-studio bench catalog`: how fast the built-in catalog renders, on one core."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PIL import Image

from gan_studio.data.catalog import render_item
from gan_studio.data.contact_sheet import contact_sheet
from gan_studio.metrics.report import write_report


def _pin_to_one_core() -> bool:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return True
    except (AttributeError, OSError):
        return False


def measure_render_speed(n: int, size: int, seed: int = 11, repeats: int = 3) -> dict:
    """Items per second for ``render_item`` (image + mask + keypoints + depth + title), best of ``repeats``."""
    render_item(seed, 0, size)  # warm caches (grids, textures)
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(n):
            render_item(seed, r * n + i, size)
        rates.append(n / (time.perf_counter() - t0))
    return {"n": n, "size": size, "seed": seed, "repeats": repeats, "items_per_s": rates}


def bench_catalog_command(args) -> int:
    pinned = _pin_to_one_core()
    sizes = sorted({64, 128, args.size})
    results = [measure_render_speed(args.n, s) for s in sizes]
    out = Path(args.out)
    sheet = (
        out.parent / "catalog_contact_sheet.png"
        if out.name == "benchmarks"
        else out / "catalog_contact_sheet.png"
    )
    # a 256-color palette PNG (as save_contact_sheet writes it), written with the report
    image = Image.fromarray(contact_sheet(per_row=6, size=128)).quantize(256, method=Image.Quantize.MEDIANCUT)
    rows = [
        f"| {r['size']} | {max(r['items_per_s']):.0f} | {min(r['items_per_s']):.0f} | {r['n']} x {r['repeats']} |"
        for r in results
    ]
    md = "\n".join(
        [
            "# Built-in catalog: rendering speed",
            "",
            (
                f"Command: `gan-studio bench catalog --n {args.n}`. One process pinned to one core: {pinned}. "
                "Each item is the full record: image, part mask, keypoints, depth, title and attributes."
            ),
            "",
            "| size (px) | items/s (best run) | items/s (worst run) | items x runs |",
            "|---|---|---|---|",
            *rows,
            "",
            "Target: at least 200 items/s at 128 px on one core.",
            "",
            f"Contact sheet (one row per garment type, seed 0): `{sheet.as_posix()}`.",
        ]
    )
    data = {
        "command": f"gan-studio bench catalog --n {args.n}",
        "pinned_one_core": pinned,
        "results": results,
    }
    figures = {sheet: lambda f: image.save(f, format="PNG", optimize=True)}
    jpath, mpath = write_report(out, "catalog", data, md, figures=figures)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0
