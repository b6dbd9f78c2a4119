"""`gan-studio bench restgan`: ReStGAN against the StackGAN baseline on held-out titles, side by side.

Both generators draw the same held-out titles (built-in catalog seed ``--catalog-seed``, never a training seed of
either model or of the classifier) with the same noise seeds. The attribute classifier, which never trained a
generator, scores everything (DESIGN.md, "Evaluation protocol" and "Keep the metrics honest"):

- inception score per attribute head, FID on the classifier's penultimate features against the real held-out
  items (and the real-vs-real floor: the same number of items from another held-out seed), attribute accuracy of
  the full-title images against what the title states, and the CIEDE2000 color error;
- incremental consistency on titles generated word by word (StackGAN conditioned on each prefix as a whole
  title): stated attributes stay, new ones take effect, words that state nothing new change the image little;
- word-to-image latency: an :class:`IncrementalSession` appending one word against redrawing every prefix from
  scratch, and, when the GUI is installed, word to pixels on screen (``gan_studio.qt.latency``).

This module runs the measurements in order and records what was used. They live beside it:
:mod:`~gan_studio.metrics.title_scores` (full titles; how real items are rendered to be comparable) and
:mod:`~gan_studio.metrics.title_drawing`, :mod:`~gan_studio.metrics.incremental_consistency`,
:mod:`~gan_studio.metrics.word_latency` and :mod:`~gan_studio.metrics.capri_row`; the verdicts in
:mod:`~gan_studio.metrics.restgan_targets`, the page in :mod:`~gan_studio.metrics.restgan_report` and the figure in
:mod:`~gan_studio.metrics.restgan_rows_figure`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from gan_studio.metrics import gan_scores as gs
from gan_studio.metrics.capri_row import capri_row
from gan_studio.metrics.incremental_consistency import incremental_scores
from gan_studio.metrics.report import png, write_report
from gan_studio.metrics.restgan_report import markdown, plain_json
from gan_studio.metrics.restgan_rows_figure import FIGURE_TITLES, rows_figure
from gan_studio.metrics.restgan_targets import check_targets, compare_with_baseline, margins_over_baseline
from gan_studio.metrics.title_drawing import generate_titles
from gan_studio.metrics.title_scores import (
    classify,
    full_title_scores,
    is_splits,
    render_real,
    requested_labs,
    title_targets,
)
from gan_studio.metrics.word_latency import measure_latency

HELD_OUT_SEED = 1001  # titles and real items (the classifier benchmark's held-out seed)
ARCHS = ("restgan", "stackgan")
NAMES = {"restgan": "ReStGAN", "stackgan": "StackGAN"}


def _log(t0: float, msg: str) -> None:
    print(f"[{time.perf_counter() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def _validate(args) -> None:
    if args.n < 2:
        raise ValueError(f"--n must be at least 2 (FID needs two images per set), got {args.n}")
    if args.n_words < 0 or args.n_latency < 0:
        raise ValueError("--n-words and --n-latency must not be negative")
    if args.catalog_seed < 0 or args.seed < 0:
        raise ValueError("--catalog-seed and --seed must not be negative")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")


def _weights(path: str | None, arch: str) -> Path:
    from gan_studio.methods.restgan import default_model_path

    p = Path(path) if path is not None else default_model_path(arch)
    if not p.exists():
        hint = f"train it with `gan-studio train {arch} --out DIR`" + (
            "" if path is not None else f" or pass --{arch} PATH"
        )
        raise FileNotFoundError(f"no {NAMES[arch]} weights at {p}; {hint}")
    return p


def _training_seeds(manifest: dict) -> set[int]:
    from gan_studio.metrics.bench_classifier import _seeds_in

    return {int(s) for s in _seeds_in((manifest or {}).get("data", {}))}


def bench_restgan_command(args, on_screen=None) -> int:
    """Run the benchmark; 0 when it ran (targets met or not, see the summary), raises ValueError on bad input.

    ``args``: the options parsed by :mod:`gan_studio.commands.bench`. ``on_screen(titles, generator, seed) -> dict``
    measures word-to-pixels latency in the GUI (the Qt layer sits above this one, so the command passes it in)."""
    from gan_studio.data.colortable import ColorTable
    from gan_studio.methods.restgan import TitleGenerator
    from gan_studio.models.checkpoint import read_manifest
    from gan_studio.models.classifier import default_classifier_path, load_classifier

    _validate(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    n, n_words, n_lat = args.n, min(args.n_words, args.n), min(args.n_latency, args.n)

    paths = {arch: _weights(getattr(args, arch), arch) for arch in ARCHS}
    gens = {
        arch: TitleGenerator.load(paths[arch], arch, condition_noise=args.condition_noise) for arch in ARCHS
    }
    manifests = {arch: read_manifest(paths[arch]) for arch in ARCHS}
    classifier = load_classifier(args.classifier)
    sizes = {g.image_size for g in gens.values()}
    if len(sizes) != 1:
        raise ValueError(
            f"the two models draw different image sizes ({sorted(sizes)}); they cannot be compared"
        )
    size = sizes.pop()
    floor_seed = args.catalog_seed + 1
    used = set().union(*(_training_seeds(m) for m in manifests.values()))
    used_cls = _training_seeds(classifier.manifest or {})
    for seed in (args.catalog_seed, floor_seed):
        if seed in used or seed in used_cls:
            raise ValueError(
                f"catalog seed {seed} was used to train or validate a model under test; pick another --catalog-seed"
            )
    table = ColorTable.load()
    _log(t0, f"loaded models (image size {size} px); rendering {2 * n} real held-out items")

    real_a, titles = render_real(args.catalog_seed, n, size)
    real_b, _ = render_real(floor_seed, n, size)
    seeds = [args.seed + i for i in range(n)]
    targets = title_targets(titles, table.cluster_of)
    requested = requested_labs(targets, table)
    scored_a = classify(classifier, real_a)
    scored_b = classify(classifier, real_b)
    results: dict = {"real": full_title_scores(scored_a, targets, requested, real_a)}
    results["real"]["fid"] = gs.fid(scored_a["features"], scored_b["features"])
    _log(t0, "scored real items")

    figure_rows: dict[str, list] = {}
    for arch in ARCHS:
        gen = gens[arch]
        images = generate_titles(gen, titles, seeds)
        scored = classify(classifier, images)
        res = full_title_scores(scored, targets, requested, images)
        res["fid"] = gs.fid(scored["features"], scored_a["features"])
        _log(t0, f"{NAMES[arch]}: {n} full titles scored")
        res["incremental"], seqs = incremental_scores(
            gen, classifier, titles[:n_words], seeds[:n_words], table.cluster_of
        )
        figure_rows[arch] = seqs[:FIGURE_TITLES]
        _log(t0, f"{NAMES[arch]}: {n_words} titles word by word scored")
        res["capri"] = capri_row(gen, list(range(1, args.capri_seeds + 1)))
        _log(t0, f"{NAMES[arch]}: capri row over {args.capri_seeds} seeds")
        res["latency"] = measure_latency(gen, titles[:n_lat], args.seed)
        _log(t0, f"{NAMES[arch]}: latency over {res['latency']['words']} words")
        results[arch] = res

    if args.no_qt:
        qt = {"measured": False, "reason": "skipped (--no-qt)"}
    elif on_screen is None:
        qt = {"measured": False, "reason": "no on-screen measurement was given"}
    else:
        qt = on_screen(titles[:n_lat], gens["restgan"], args.seed)

    out = Path(args.out)
    rows = []
    for i in range(min(len(figure_rows["restgan"]), len(figure_rows["stackgan"]))):
        words, ours = figure_rows["restgan"][i]
        rows.append((titles[i], words, ours, figure_rows["stackgan"][i][1]))
    figure = out / "restgan_rows.png"
    figure_image = rows_figure(rows)

    margins = margins_over_baseline(results)
    comparisons = compare_with_baseline(results)
    targets_out = check_targets(results, comparisons)
    # the options that differ from the defaults (set by gan_studio.commands.bench)
    command = " ".join(["gan-studio bench restgan", *getattr(args, "changed_options", ())])
    data = {
        "command": command,
        "held_out": {
            "catalog_seed": args.catalog_seed,
            "floor_seed": floor_seed,
            "n": n,
            "indices": [0, n],
            "n_words": n_words,
            "n_latency": n_lat,
            "is_splits": is_splits(n),
            "noise_seed": args.seed,
            "training_seeds": sorted(used),
            "classifier_training_seeds": sorted(used_cls),
        },
        "image_size": size,
        "models": {
            arch: {
                "path": str(paths[arch]),
                "sha256": manifests[arch].get("sha256"),
                "training": manifests[arch].get("training", {}).get("command"),
                "data": manifests[arch].get("data"),
                "condition_noise": gens[arch].condition_noise,
            }
            for arch in ARCHS
        },
        "classifier": {
            "path": str(args.classifier or default_classifier_path()),
            "in_size": classifier.config.in_size,
            "sha256": (classifier.manifest or {}).get("sha256"),
        },
        "restgan": results["restgan"],
        "stackgan": results["stackgan"],
        "real": results["real"],
        "qt_latency": qt,
        "margins": margins,
        "comparisons": comparisons,
        "targets": targets_out,
        "all_targets_met": all(t["met"] for t in targets_out),
        "figure": figure.as_posix(),
        "load_average": load,
        "machine_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "wall_time_s": round(time.perf_counter() - t0, 1),
    }
    data = plain_json(data)
    md = markdown(data)
    jpath, mpath = write_report(out, "restgan", data, md, figures={figure: png(figure_image)})
    print(md)
    met = sum(t["met"] for t in targets_out)
    print(
        f"targets met: {met} of {len(targets_out)}"
        + ("" if met == len(targets_out) else " (see NOT met above)")
    )
    for t in targets_out:
        print(f"  {'met    ' if t['met'] else 'NOT met'}  {t['target']}")
    print(f"wrote {jpath}, {mpath} and {figure} in {data['wall_time_s']:.0f}s")
    return 0
