"""`gan-studio bench export`: how fast a HandsOff model exports a labeled dataset, and whether its labels lie on
the garments it draws.

It runs the real export (:func:`gan_studio.data.dataset_export.export_dataset`, the same code as
``gan-studio dataset export``: chunks, journal, atomic rename) of ``--n`` items into a temporary folder and reports

- **labeled images / s**: exported items (all three label kinds when the model has them) per second of the export
  call, the model and generator already loaded (loading them is reported beside it);
- **on-garment IoU** from the written files alone (:mod:`gan_studio.metrics.label_alignment`): each item's part
  mask (every class but the background) against the garment found in its own PNG; median, mean, 10th percentile
  and the share of items at 0.9 or more;
- the **ceiling** of that IoU: the same garment finder against the true part masks of real catalog items (seed
  1005) at the generator's size;
- the load average before and after, since the machine is shared.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from gan_studio.metrics.report import write_report

REAL_SEED = 1005  # held-out real catalog items (never trained on)


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # not every OS has it
        return []


def measure_export(
    model_source: str, n: int, seed: int = 0, batch: int | None = None, work: str | Path | None = None
) -> dict:
    """Export ``n`` items with the HandsOff model ``model_source`` (a folder or ``"builtin"``) and measure it."""
    from gan_studio.data.dataset_export import export_dataset
    from gan_studio.data.dataset_plan import DEFAULT_BATCH
    from gan_studio.methods.handsoff import load_handsoff
    from gan_studio.metrics.label_alignment import export_alignment

    started = time.perf_counter()
    model = load_handsoff(model_source)
    generator = model.open_generator()
    load_seconds = time.perf_counter() - started
    tmp = Path(tempfile.mkdtemp(prefix="bench_export_", dir=work))
    try:
        load_before = _load()
        t0 = time.perf_counter()
        result = export_dataset(
            model, tmp / "dataset", n, seed=seed, batch=batch or DEFAULT_BATCH, generator=generator
        )
        seconds = time.perf_counter() - t0
        load_after = _load()
        alignment = export_alignment(result.path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "model": model_source,
        "generator": model.generator_spec,
        "label_generator_sha256": model.fingerprint,
        "tasks": list(model.tasks),
        "image_size": int(generator.image_size),
        "n": n,
        "seed": seed,
        "batch": batch or DEFAULT_BATCH,
        "export_seconds": round(seconds, 3),
        "load_seconds": round(load_seconds, 3),
        "labeled_images_per_second": round(n / seconds, 3),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "alignment": alignment,
    }


def finder_ceiling(size: int, n: int = 100) -> dict:
    """The garment finder against true part masks on ``n`` real catalog items of seed 1005 at ``size`` px."""
    from gan_studio.data.catalog import render_item
    from gan_studio.metrics.label_alignment import finder_iou_on_real

    out = finder_iou_on_real(render_item(REAL_SEED, i, size) for i in range(n))
    out.pop("ious")
    return out


def _markdown(data: dict, command: str) -> str:
    e, a, c = data["export"], data["export"]["alignment"], data["finder_ceiling"]
    gen = e["generator"]
    lines = [
        "# HandsOff export: speed and labels on the drawn garment",
        "",
        (
            f"Command: `{command}` (torch threads {data['threads']}; load average {e['load_average_before']} before "
            f"the export, {e['load_average_after']} after it, on a shared 2-core machine)."
        ),
        "",
        (
            f"Model: {e['model']} (label generator sha256 {e['label_generator_sha256'][:12]}…, tasks "
            f"{', '.join(e['tasks'])}), generator {gen.get('kind')} {gen.get('architecture', '')} sha256 "
            f"{str(gen.get('sha256'))[:12]}… at {e['image_size']} px. {e['n']} items, seed {e['seed']}, chunks of "
            f"{e['batch']}, through `export_dataset` (journal, atomic rename) into a temporary folder."
        ),
        "",
        "| labeled images / s | export (s) | loading model + generator (s) |",
        "|---|---|---|",
        f"| {e['labeled_images_per_second']:.2f} | {e['export_seconds']:.1f} | {e['load_seconds']:.1f} |",
        "",
        "## Labels on the drawn garment (from the files alone)",
        "",
        (
            "IoU between each exported part mask (all parts) and the garment found in its own image "
            "(`gan_studio.metrics.label_alignment`). The ceiling row is the same garment finder against the true part "
            f"masks of {c['items']} real catalog items (seed {REAL_SEED}) at {e['image_size']} px."
        ),
        "",
        "| | items | median IoU | mean | 10th percentile | share ≥ 0.9 |",
        "|---|---|---|---|---|---|",
        (
            f"| exported | {a['items']} | {a['median']:.3f} | {a['mean']:.3f} | {a['p10']:.3f} | "
            f"{a['share_at_0.9']:.2f} |"
        ),
        (
            f"| ceiling (real items, true masks) | {c['items']} | {c['median']:.3f} | {c['mean']:.3f} | "
            f"{c['p10']:.3f} | {c['share_at_0.9']:.2f} |"
        ),
        "",
        (
            f"Targets: ≥ 20 labeled 128 px images/s — {'met' if _speed_met(e) else 'not met'}; median on-garment IoU "
            f"≥ 0.9 — {'met' if a['median'] is not None and a['median'] >= 0.9 else 'not met'}."
        ),
    ]
    return "\n".join(lines)


def _speed_met(e: dict) -> bool:
    return e["image_size"] >= 128 and e["labeled_images_per_second"] >= 20 and len(e["tasks"]) == 3


def bench_export_command(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    export = measure_export(args.model, args.n, args.seed, args.batch, args.work)
    ceiling = finder_ceiling(export["image_size"], args.real_items)
    per_item = export["alignment"].pop("ious")
    command = "gan-studio bench export " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(args).items()
        if k in ("model", "n", "seed", "batch", "threads", "real_items") and v is not None
    )
    data = {
        "command": command,
        "threads": torch.get_num_threads(),
        "export": export,
        "finder_ceiling": ceiling,
        "per_item_iou": per_item,
    }
    jpath, mpath = write_report(args.out, args.name, data, _markdown(data, command))
    a = export["alignment"]
    print(
        f"{export['labeled_images_per_second']:.2f} labeled images/s at {export['image_size']} px; on-garment IoU "
        f"median {a['median']} (ceiling {ceiling['median']}); wrote {mpath} and {jpath}"
    )
    return 0
