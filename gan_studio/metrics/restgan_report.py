"""The `bench restgan` report: the measured results as plain JSON data and as a markdown page.

:func:`plain_json` turns numpy scalars and arrays into plain Python (NaN into null) so the data can be written as
JSON; :func:`markdown` lays that same data out as docs/benchmarks/restgan.md (tables of image quality and
attributes, incremental consistency, the capri row, latency, margins over the baseline and the targets). The page
is made from the JSON data alone, so the two never disagree.
"""

from __future__ import annotations

import numpy as np

from gan_studio.metrics.capri_row import MAX_COLOR_DIFFERENCE, SHORTER_BY, STEPS


def plain_json(value):
    """numpy scalars and arrays -> plain Python for json.dumps."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain_json(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None  # JSON has no NaN
    return value


def _pct(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v * 100:.{digits}f}%"


def _num(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _row(label: str, values: list, cell) -> str:
    """One markdown table row: ``label``, then ``cell(value)`` for each of ``values``."""
    return f"| {label} | " + " | ".join(cell(v) for v in values) + " |"


def _capri_lines(r: dict, s: dict) -> list[str]:
    if not (r.get("capri") and s.get("capri")):
        return []
    rc, sc = r["capri"], s["capri"]
    n = len(rc["seeds"])
    steps = " → ".join(f'"{t}"' for t in STEPS)
    return [
        f"## The seed's example: {steps} ({n} noise seeds)",
        "",
        (
            "Measured on the PNGs with a garment mask (gan_studio/metrics/capri_row.py: the largest region of clearly "
            "dark pixels after an opening, rows at least a quarter as wide as the widest), not with the classifier: "
            "the capri garment's height over the pants prefix's, and CIEDE2000 between their median colors. A seed "
            f"passes when the garment is shorter by >= {SHORTER_BY:.0%} and the colors differ by <= "
            f"{MAX_COLOR_DIFFERENCE:g}."
        ),
        "",
        "| | ReStGAN | StackGAN |",
        "|---|---|---|",
        f"| seeds passing | {rc['passed']} of {n} | {sc['passed']} of {n} |",
        f"| shorter by >= {SHORTER_BY:.0%} | {rc['shorter']} | {sc['shorter']} |",
        f"| color difference <= {MAX_COLOR_DIFFERENCE:g} | {rc['color_kept']} | {sc['color_kept']} |",
        f"| median height ratio capri / pants | {_num(rc['median_height_ratio'])} | {_num(sc['median_height_ratio'])} |",
        (
            f"| median color difference (CIEDE2000) | {_num(rc['median_color_difference'], 1)} | "
            f"{_num(sc['median_color_difference'], 1)} |"
        ),
        "",
    ]


def markdown(data: dict) -> str:
    r, s, real = data["restgan"], data["stackgan"], data["real"]
    held = data["held_out"]
    lines = [
        "# ReStGAN vs the StackGAN baseline: held-out titles",
        "",
        f"Command: `{data['command']}`.",
        (
            f"Held-out titles: built-in catalog seed {held['catalog_seed']}, items 0..{held['n'] - 1}; real-vs-real "
            f"floor against seed {held['floor_seed']}, items 0..{held['n'] - 1}; training used catalog seeds "
            f"{held['training_seeds'] or 'none recorded'}. Noise seed of title i: {held['noise_seed']} + i, the "
            "same for both models. Conditioning-augmentation noise at inference: "
            f"{data['models']['restgan']['condition_noise']} (ReStGAN), "
            f"{data['models']['stackgan']['condition_noise']} (StackGAN); 1.0 is the training distribution."
        ),
        (
            f"Models: ReStGAN `{data['models']['restgan']['path']}`, StackGAN `{data['models']['stackgan']['path']}`"
            f"; judged by the attribute classifier `{data['classifier']['path']}` (never a generator's training "
            "signal), on "
            + (
                f"images upsampled bilinearly from {data['image_size']} px to {data['classifier']['in_size']} px; "
                if data["image_size"] != data["classifier"]["in_size"]
                else f"the {data['image_size']} px images as drawn; "
            )
            + f"real items are rendered at {2 * data['image_size']} px and area-downsampled to "
            f"{data['image_size']} px (as the training data)."
        ),
        "",
        "## Image quality and attributes (full titles)",
        "",
        f"Inception scores are mean ± std over {held['is_splits']} split(s) of the {held['n']} images.",
        "",
        "| metric | ReStGAN | StackGAN | real held-out items |",
        "|---|---|---|---|",
    ]
    three = (r, s, real)
    for h in ("type", "color", "gender", "length", "fit"):
        scores = [x["inception_score"][h] for x in three]
        lines.append(_row(f"inception score ({h})", scores, lambda v: f"{v['mean']:.3f} ± {v['std']:.3f}"))
    lines.append(
        f"| FID (classifier features) | {_num(r['fid'])} | {_num(s['fid'])} | {_num(real['fid'])} (floor) |"
    )
    for h in ("type", "gender", "color", "length", "fit"):
        accuracies = [x["attribute_accuracy"][h] for x in three]
        lines.append(
            _row(f"attribute accuracy ({h})", accuracies, lambda v: f"{_pct(v['accuracy'])} (n={v['n']})")
        )
    ce = [x["color_error"] for x in three]
    lines.append(_row("color error median (CIEDE2000)", ce, lambda c: _num(c["median"])))
    lines.append(_row("color error mean / p90", ce, lambda c: f"{_num(c['mean'])} / {_num(c['p90'])}"))
    lines += [
        "",
        (
            "Real held-out items are the reference: their attribute accuracy is the classifier's own ceiling, their "
            "color error the floor of the measurement (garment = pixels whose smallest channel is below 235, the "
            "color table's rule for images without a mask; very light garments are measured on their shading), "
            "their FID is real-vs-real between two disjoint held-out sets of the same size."
        ),
        "",
        f"## Incremental consistency (word by word, {r['incremental']['titles']} titles)",
        "",
        "| measure | ReStGAN | StackGAN |",
        "|---|---|---|",
    ]
    ri, si = r["incremental"], s["incremental"]
    for key, label in (
        ("kept", "kept: attribute shown before a later word still shown after it"),
        ("held", "held: attribute already stated is predicted after a later word"),
        ("takes_effect", "takes effect: a word stating a new value, then the image shows it"),
    ):
        lines.append(
            f"| {label} (type, color, gender) | {_pct(ri[key]['value'])} (n={ri[key]['n']}) | "
            f"{_pct(si[key]['value'])} (n={si[key]['n']}) |"
        )
        for h in ("type", "color", "gender", "length", "fit"):
            a, b = ri[key]["by_head"][h], si[key]["by_head"][h]
            if a["n"] or b["n"]:
                lines.append(
                    f"| &nbsp;&nbsp;{key} ({h}) | {_pct(a['value'])} (n={a['n']}) | {_pct(b['value'])} (n={b['n']}) |"
                )
    for kind, label in (
        ("attribute", "attribute words"),
        ("detail", "detail words"),
        ("nothing", "words stating nothing new"),
    ):
        a, b = ri["change"][kind], si["change"][kind]
        lines.append(
            f"| change per word, {label}: pixels (0..1) / features | {_num(a['pixel'], 4)} / {_num(a['feature'])}"
            f" (n={a['n']}) | {_num(b['pixel'], 4)} / {_num(b['feature'])} (n={b['n']}) |"
        )
    for what in ("pixel", "feature"):
        key = f"ratio_nothing_to_attribute_{what}"
        lines.append(
            f"| {what} change ratio nothing-new / attribute words | {_num(ri['change'][key])} | {_num(si['change'][key])} |"
        )
    lines += [
        "",
        (
            "Words stating nothing new are brands, sizes, marketing and filler words and restatements; detail words "
            "(ripped, cuffed, ...) should change the garment but no classifier head checks them. StackGAN is "
            "conditioned on each prefix as a whole title. Kept alone rewards a generator that ignores words "
            "(nothing it shows ever changes); read it together with takes effect."
        ),
        "",
        *_capri_lines(r, s),
        "## Latency: word to image",
        "",
        "| | ReStGAN | StackGAN |",
        "|---|---|---|",
    ]
    rl, sl = r["latency"], s["latency"]
    lines += [
        f"| append one word (IncrementalSession, cached prefixes), median ms | {_num(rl['incremental_median_ms'], 1)} | {_num(sl['incremental_median_ms'], 1)} |",
        f"| recompute every prefix from scratch (generate), median ms | {_num(rl['scratch_median_ms'], 1)} | {_num(sl['scratch_median_ms'], 1)} |",
        f"| speed-up (scratch / incremental) | {_num(rl['speedup'], 1)}x | {_num(sl['speedup'], 1)}x |",
        f"| words timed ({rl['titles']} titles) | {rl['words']} | {sl['words']} |",
        "",
    ]
    q = data["qt_latency"]
    if q.get("measured"):
        lines.append(
            f"Word to pixels on screen (ReStGAN, Qt, {q.get('n', '?')} words): incremental "
            f"{_num(q.get('incremental_median_ms'), 1)} ms median, from scratch {_num(q.get('scratch_median_ms'), 1)} ms"
            + (
                f" (the {q['debounce_ms']} ms typing debounce left out)."
                if q.get("debounce_ms") is not None
                else "."
            )
        )
    else:
        lines.append(f"Word to pixels on screen: not measured ({q.get('reason')}).")
    load = data.get("load_average")
    lines += [
        "",
        f"Measured on {data['machine_cores']} CPU cores, torch threads {rl['torch_threads']}"
        + (f", load average {load[0]:.2f} at the start" if load else "")
        + " (latency is sensitive to other work on the machine).",
        "",
        "## Margins: ReStGAN over StackGAN, ours vs the paper",
        "",
        "| margin | ours | paper |",
        "|---|---|---|",
    ]
    m = data["margins"]
    for key, label in (
        ("is_type", "inception score (type)"),
        ("is_gender", "inception score (gender)"),
        ("is_color", "inception score (color)"),
        ("fid_lower", "FID lower by"),
    ):
        ours = m["ours"][key]
        pct = None if ours is None else round(ours * 100) + 0  # + 0 turns -0 into 0
        if key == "fid_lower":
            ours_s = "n/a" if pct is None else f"{pct}%"
            paper_s = f"{m['paper'][key] * 100:.0f}%"
        else:
            ours_s = "n/a" if pct is None else f"{pct:+d}%"
            paper_s = f"{m['paper'][key] * 100:+.0f}%"
        lines.append(f"| {label} | {ours_s} | {paper_s} |")
    lines += ["", "## Targets", "", "| target | value | met |", "|---|---|---|"]
    for t in data["targets"]:
        v = t["value"]
        if isinstance(v, float):
            v = _pct(v) if "accuracy" in t["target"] else _num(v, 1)
        lines.append(f"| {t['target']} | {v} | {'met' if t['met'] else 'NOT met'} |")
    lines += ["", "| ReStGAN vs StackGAN | ReStGAN | StackGAN | ReStGAN better |", "|---|---|---|---|"]
    for c in data["comparisons"]:
        if "accuracy" in c["metric"] or c["metric"].startswith(("kept", "takes")):
            fmt = _pct
        else:
            digits = 4 if "pixel" in c["metric"] else 3 if "inception" in c["metric"] else 2
            fmt = lambda v, d=digits: _num(v, d)
        lines.append(
            f"| {c['metric']} ({'higher' if c['higher_is_better'] else 'lower'} is better) | {fmt(c['restgan'])} | "
            f"{fmt(c['stackgan'])} | {'yes' if c['met'] else 'NO'} |"
        )
    lines += ["", f"Word-by-word rows (ReStGAN over StackGAN): `{data['figure']}`.", ""]
    return "\n".join(lines)
