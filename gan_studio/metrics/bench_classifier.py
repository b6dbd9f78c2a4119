"""`gan-studio bench classifier`: held-out accuracy per head of the attribute classifier.

Held-out items come from a catalog seed the classifier never trained on (its manifest records the training seed,
and the benchmark refuses to evaluate on it).
"""

from __future__ import annotations

import time

from gan_studio.data.attributes import CLASSIFIER_HEADS
from gan_studio.data.colortable import ColorTable
from gan_studio.metrics.report import write_report

HELD_OUT_SEED = 1001


def bench_classifier_command(args) -> int:
    from gan_studio.models.classifier import load_classifier
    from gan_studio.train.classifier import (
        color_words_to_clusters,
        evaluate_classifier,
        majority_baseline,
        render_labeled,
    )

    model = load_classifier(None if args.model == "builtin" else args.model)
    manifest = getattr(model, "manifest", {}) or {}
    train_seeds = {int(s) for s in _seeds_in(manifest.get("data", {}))}
    if HELD_OUT_SEED in train_seeds:
        raise ValueError(
            f"catalog seed {HELD_OUT_SEED} was used in training; it cannot measure held-out accuracy"
        )
    table = ColorTable.load()
    size = model.config.in_size
    t0 = time.perf_counter()
    images, labels = render_labeled(HELD_OUT_SEED, args.n, size)
    labels = color_words_to_clusters(labels, table.cluster_of)
    t1 = time.perf_counter()
    acc = evaluate_classifier(model, (images, labels))
    t2 = time.perf_counter()
    chance = majority_baseline(labels)
    rows = [
        f"| {h} | {acc[h] * 100:.2f}% | {chance[h] * 100:.1f}% | {'yes' if acc[h] >= 0.97 else 'NO'} |"
        for h in CLASSIFIER_HEADS
    ]
    command = f"gan-studio bench classifier --n {args.n}" + (
        "" if args.model == "builtin" else f" --model {args.model}"
    )
    trained_with = manifest.get("training", {}).get("command", "?")
    trained_on = manifest.get("data", {}).get("description", manifest.get("data", "?"))
    header = [
        "# Attribute classifier: held-out accuracy",
        "",
        f"Command: `{command}`. Model: `{args.model}` (trained with `{trained_with}`).",
        (
            f"Held-out items: built-in catalog seed {HELD_OUT_SEED}, indices 0..{args.n - 1}, never seen in training"
            f" (training data: {trained_on})."
        ),
        f"Input size {size} px; evaluation took {t2 - t1:.1f}s after {t1 - t0:.1f}s of rendering.",
        "",
        "| head | held-out accuracy | majority-class baseline | >= 97% |",
        "|---|---|---|---|",
    ]
    md = "\n".join(header + rows)
    data = {
        "command": command,
        "model": args.model,
        "held_out": {"seed": HELD_OUT_SEED, "n": args.n},
        "accuracy": acc,
        "majority_baseline": chance,
        "training_manifest": {k: manifest.get(k) for k in ("training", "data", "metrics")},
    }
    jpath, mpath = write_report(args.out, "classifier", data, md)
    print(md)
    print(f"wrote {jpath} and {mpath}")
    return 0 if all(acc[h] >= 0.97 for h in CLASSIFIER_HEADS) else 1


def _seeds_in(data: dict) -> list[int]:
    """Catalog seeds a training manifest's ``data`` record names (its train and held-out splits)."""
    seeds = []
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and isinstance(value.get("seed"), int):
                seeds.append(value["seed"])
        if isinstance(data.get("seed"), int):
            seeds.append(data["seed"])
    return seeds
