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

Real images get the generated images' treatment: rendered at twice the model's size, area-downsampled to it (as
the training data), then upsampled bilinearly to the classifier's input size. The classifier's accuracy on them is
the ceiling of the generated attribute accuracy, their color error the floor of the color error.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gan_studio.data.attributes import DETAILS
from gan_studio.data.title_words import split_words
from gan_studio.metrics import gan_scores as gs
from gan_studio.metrics.capri_row import MAX_COLOR_DIFFERENCE, SHORTER_BY, STEPS, capri_row
from gan_studio.metrics.report import write_report

HELD_OUT_SEED = 1001  # titles and real items (the classifier benchmark's held-out seed)
ARCHS = ("restgan", "stackgan")
NAMES = {"restgan": "ReStGAN", "stackgan": "StackGAN"}
IS_HEADS = ("type", "color", "gender")  # the paper's classifiers
HEADLINE_HEADS = (
    "type",
    "color",
    "gender",
)  # incremental consistency headline (the attributes that must stay)
# The paper's margins of ReStGAN over the best StackGAN baseline.
PAPER_MARGINS = {"is_type": 0.22, "is_gender": 0.27, "is_color": 1.00, "fid_lower": 0.81}
# The generator-quality issue's targets (1000 held-out titles, 128 px).
TARGET_ACCURACY = {"type": 0.80, "gender": 0.97, "color": 0.90, "length": 0.85, "fit": 0.85}
TARGET_COLOR_ERROR = 7.0
TARGET_FID = 100.0
TARGET_LATENCY_MS = 30.0
TARGET_CAPRI_SEEDS = 0.9  # share of the capri row's seeds that must pass
FIGURE_TITLES = 4
FIGURE_COLUMNS = 12
_DETAIL_WORDS = frozenset(DETAILS)


# ------------------------------------------------------------------------------------------------- helpers


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


def _json(value):
    """numpy scalars and arrays -> plain Python for json.dumps."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None  # JSON has no NaN
    return value


def _stats(values: np.ndarray) -> dict:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"median": None, "mean": None, "p90": None, "n": 0}
    return {
        "median": float(np.median(v)),
        "mean": float(v.mean()),
        "p90": float(np.percentile(v, 90)),
        "n": len(v),
    }


# -------------------------------------------------------------------------------------------------- data


def render_real(seed: int, n: int, size: int) -> tuple[np.ndarray, list[str]]:
    """Built-in items ``seed, [0, n)`` as the training data sees them: rendered at 2 ``size``, area-downsampled."""
    from gan_studio.data.catalog import render_item
    from gan_studio.models.resize import resize_uint8

    images = np.empty((n, size, size, 3), np.uint8)
    titles = []
    for i in range(n):
        item = render_item(seed, i, size * 2)
        images[i] = resize_uint8(item.image, size)
        titles.append(item.title)
    return images, titles


@torch.no_grad()
def classify(classifier, images: np.ndarray, batch: int = 64) -> dict:
    """Score (N, S, S, 3) uint8 images: upsampled bilinearly to the classifier's input size.

    Returns ``probs`` (head -> (N, K)), ``pred`` ((N, 5) in LABEL_HEADS order) and ``features`` ((N, D)).
    """
    from gan_studio.models.classifier import images_to_tensor
    from gan_studio.train.text_data import LABEL_HEADS

    classifier.eval()
    device = next(classifier.parameters()).device
    size = classifier.config.in_size
    probs: dict[str, list[np.ndarray]] = {h: [] for h in classifier.head_names}
    feats = []
    for s in range(0, len(images), batch):
        x = images_to_tensor(np.ascontiguousarray(images[s : s + batch])).to(device)
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        f = classifier.features(x)
        feats.append(f.float().cpu().numpy())
        for name, head in zip(classifier.head_names, classifier.heads, strict=True):
            probs[name].append(torch.softmax(head(f).float(), dim=1).cpu().numpy())
    d = classifier.feature_dim
    out_probs = {h: np.concatenate(v) if v else np.zeros((0, 1)) for h, v in probs.items()}
    pred = np.stack([out_probs[h].argmax(axis=1) for h in LABEL_HEADS], axis=1) if len(images) else None
    return {
        "probs": out_probs,
        "pred": pred if pred is not None else np.zeros((0, len(LABEL_HEADS)), np.int64),
        "features": np.concatenate(feats) if feats else np.zeros((0, d)),
    }


def title_targets(titles: list[str], cluster_of) -> np.ndarray:
    """(N, 5) what each whole title states (LABEL_HEADS order, -1 where it states nothing), from all its words."""
    from gan_studio.train.text_data import prefix_statements

    return np.stack([prefix_statements([w.text for w in split_words(t)], cluster_of)[-1] for t in titles])


def requested_labs(targets: np.ndarray, table) -> np.ndarray:
    """(N, 3) LAB centroid of the color cluster each title states (NaN where it states no color)."""
    from gan_studio.train.text_data import LABEL_HEADS

    requested = np.full((len(targets), 3), np.nan)
    for i, c in enumerate(targets[:, LABEL_HEADS.index("color")]):
        if c >= 0:
            requested[i] = table.clusters[int(c)].lab
    return requested


def _ids(gen, titles: list[str]) -> tuple[torch.Tensor, list[list[str]]]:
    parsed = [gen.parse(t) for t in titles]
    ids = [gen.word_ids(p) for p in parsed]
    t = max((len(x) for x in ids), default=0)
    out = torch.zeros((len(titles), t), dtype=torch.long)
    for i, x in enumerate(ids):
        out[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    return out.to(gen.device), [p.known_words for p in parsed]


@torch.no_grad()
def draw_batched(gen, h: torch.Tensor, seeds: list[int], batch: int = 128) -> np.ndarray:
    """Conditions (B, H) with one noise seed per row -> (B, S, S, 3) uint8; row i equals ``gen.draw(h[i], seeds[i])``."""
    from gan_studio.methods.restgan import to_uint8

    out = []
    for s in range(0, len(h), batch):
        noise = [gen.noise(seed) for seed in seeds[s : s + batch]]
        z = torch.cat([a for a, _ in noise])
        eps = torch.cat([b for _, b in noise])
        c, _, _ = gen.model.ca(h[s : s + batch], eps)
        out.append(to_uint8(gen.model.synthesize(z, c)))
    if not out:
        return np.zeros((0, gen.image_size, gen.image_size, 3), np.uint8)
    return np.concatenate(out)


@torch.no_grad()
def generate_titles(gen, titles: list[str], seeds: list[int], chunk: int = 256) -> np.ndarray:
    """(N, S, S, 3) images of whole titles (the last prefix), batched over titles."""
    out = []
    for s in range(0, len(titles), chunk):
        ids, _ = _ids(gen, titles[s : s + chunk])
        h = gen.model.encoder.prefix_conditions(ids)[:, -1]
        out.append(draw_batched(gen, h, seeds[s : s + chunk]))
    return np.concatenate(out) if out else np.zeros((0, gen.image_size, gen.image_size, 3), np.uint8)


@torch.no_grad()
def generate_prefixes(
    gen, titles: list[str], seeds: list[int], chunk: int = 32
) -> list[tuple[list[str], np.ndarray]]:
    """Per title: its known words and (K + 1, S, S, 3) images of every prefix (as ``gen.generate`` draws them)."""
    out = []
    for s in range(0, len(titles), chunk):
        ids, words = _ids(gen, titles[s : s + chunk])
        h_all = gen.model.encoder.prefix_conditions(ids)
        rows, row_seeds = [], []
        for i, w in enumerate(words):
            rows.append(h_all[i, : len(w) + 1])
            row_seeds += [seeds[s + i]] * (len(w) + 1)
        images = draw_batched(gen, torch.cat(rows), row_seeds)
        start = 0
        for w in words:
            out.append((w, images[start : start + len(w) + 1]))
            start += len(w) + 1
    return out


# ---------------------------------------------------------------------------------------------- measures


def full_title_scores(
    scored: dict, targets: np.ndarray, requested_lab: np.ndarray, images: np.ndarray
) -> dict:
    """IS per head, attribute accuracy against the titles and color error of one set of images."""
    from gan_studio.train.text_data import LABEL_HEADS

    inception = {}
    for head in LABEL_HEADS:
        mean, std = gs.inception_score(scored["probs"][head], splits=is_splits(len(images)))
        inception[head] = {"mean": mean, "std": std}
    has_color = np.isfinite(requested_lab).all(axis=1)
    errors = np.full(len(images), np.nan)
    if has_color.any():
        errors[has_color] = gs.image_color_errors(images[has_color], requested_lab[has_color])
    return {
        "inception_score": inception,
        "attribute_accuracy": gs.attribute_accuracy(scored["pred"], targets, LABEL_HEADS),
        "color_error": _stats(errors),
    }


def incremental_scores(gen, classifier, titles: list[str], seeds: list[int], cluster_of) -> tuple[dict, list]:
    """Consistency of word-by-word generation; also returns the per-title (words, images) for the figure."""
    from gan_studio.train.text_data import LABEL_HEADS, prefix_statements

    seqs = generate_prefixes(gen, titles, seeds)
    if not seqs:
        return gs.consistency_summary([], {h: i for i, h in enumerate(LABEL_HEADS)}, HEADLINE_HEADS), seqs
    all_images = np.concatenate([im for _, im in seqs])
    scored = classify(classifier, all_images)
    sequences, start = [], 0
    for words, images in seqs:
        k = len(images)
        pred = scored["pred"][start : start + k]
        feats = scored["features"][start : start + k]
        start += k
        sequences.append(
            {
                "stated": prefix_statements(words, cluster_of),
                "pred": pred,
                "detail": [w in _DETAIL_WORDS for w in words],
                "pixel_change": gs.pixel_change(images),
                "feature_change": gs.feature_change(feats),
            }
        )
    summary = gs.consistency_summary(sequences, {h: i for i, h in enumerate(LABEL_HEADS)}, HEADLINE_HEADS)
    summary["images"] = len(all_images)
    return summary, seqs


def measure_latency(gen, titles: list[str], seed0: int) -> dict:
    """Word-to-image latency: an IncrementalSession appending one word (its earlier prefixes cached) against
    ``generate`` redrawing every prefix of the same words from scratch. Milliseconds per word."""
    from gan_studio.methods.restgan import IncrementalSession

    inc, scratch, computed = [], [], []
    if titles:
        gen.generate(titles[0], seed0)  # warm-up
        IncrementalSession(gen).run(titles[0], seed0)
    for i, title in enumerate(titles):
        words = gen.parse(title).known_words
        seed = seed0 + i
        session = IncrementalSession(gen)
        session.run("", seed)
        for k in range(1, len(words) + 1):
            prefix = " ".join(words[:k])
            t0 = time.perf_counter()
            got = session.run(prefix, seed)
            inc.append((time.perf_counter() - t0) * 1000.0)
            computed.append(got.computed)
            t0 = time.perf_counter()
            gen.generate(prefix, seed)
            scratch.append((time.perf_counter() - t0) * 1000.0)
    inc_med = float(np.median(inc)) if inc else None
    scr_med = float(np.median(scratch)) if scratch else None
    return {
        "titles": len(titles),
        "words": len(inc),
        "incremental_median_ms": inc_med,
        "incremental_p90_ms": float(np.percentile(inc, 90)) if inc else None,
        "scratch_median_ms": scr_med,
        "scratch_p90_ms": float(np.percentile(scratch, 90)) if scratch else None,
        "speedup": (scr_med / inc_med) if inc_med and scr_med is not None else None,
        "images_drawn_per_appended_word": float(np.mean(computed)) if computed else None,
        "torch_threads": torch.get_num_threads(),
    }


# ------------------------------------------------------------------------------------------------- figure


def save_rows_figure(path: Path, rows: list[tuple[str, list[str], np.ndarray, np.ndarray]]) -> Path:
    """PNG: per title, a header line, the ReStGAN prefix images over the StackGAN ones, one column per word."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    cell, gap, label_w, line = 64, 2, 70, 14
    n_cols = max((min(len(a), FIGURE_COLUMNS) for _, _, a, _ in rows), default=1)
    block = line * 2 + 2 * (cell + gap) + 8
    img = Image.new("RGB", (label_w + n_cols * (cell + gap), max(1, block * len(rows))), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    y = 0
    for title, words, ours, base in rows:
        draw.text((2, y + 1), title[:110], fill=(0, 0, 0), font=font)
        y += line
        cols = min(len(ours), len(base), FIGURE_COLUMNS)
        for k in range(cols):
            word = "(empty)" if k == 0 else "+" + words[k - 1]
            draw.text((label_w + k * (cell + gap), y + 1), word[:10], fill=(90, 90, 90), font=font)
        y += line
        for name, images in (("ReStGAN", ours), ("StackGAN", base)):
            draw.text((2, y + cell // 2 - 6), name, fill=(0, 0, 0), font=font)
            for k in range(cols):
                im = Image.fromarray(images[k])
                if im.size != (cell, cell):
                    im = im.resize((cell, cell), Image.BILINEAR)
                img.paste(im, (label_w + k * (cell + gap), y))
            y += cell + gap
        y += 8
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    img.save(tmp)
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------- report


def is_splits(n: int) -> int:
    """Inception-score splits: the usual 10 when every split holds at least 100 images, fewer below that."""
    return max(1, min(10, n // 100))


def _pct(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v * 100:.{digits}f}%"


def _num(v: float | None, digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _margin(ours: float | None, base: float | None, lower_is_better: bool = False) -> float | None:
    if ours is None or base is None or not base:
        return None
    return (1.0 - ours / base) if lower_is_better else (ours / base - 1.0)


def _better(ours, base, higher: bool) -> bool:
    if ours is None or base is None:
        return False
    return ours > base if higher else ours < base


def _comparisons(res: dict) -> list[dict]:
    """Every metric ReStGAN must beat the baseline on: (name, restgan, stackgan, higher is better, met)."""
    r, s = res["restgan"], res["stackgan"]
    rows = []

    def add(name, a, b, higher):
        rows.append({"metric": name, "restgan": a, "stackgan": b, "higher_is_better": higher,
                     "met": _better(a, b, higher)})  # fmt: skip

    for h in IS_HEADS:
        add(f"inception score ({h})", r["inception_score"][h]["mean"], s["inception_score"][h]["mean"], True)
    add("FID (classifier features)", r["fid"], s["fid"], False)
    for h in ("type", "gender", "color", "length", "fit"):
        add(
            f"attribute accuracy ({h})",
            r["attribute_accuracy"][h]["accuracy"],
            s["attribute_accuracy"][h]["accuracy"],
            True,
        )
    add("median color error (CIEDE2000)", r["color_error"]["median"], s["color_error"]["median"], False)
    if r.get("capri") and s.get("capri"):
        add("capri row: seeds passing", r["capri"]["passed"], s["capri"]["passed"], True)
    ri, si = r["incremental"], s["incremental"]
    add("kept: stated attributes stay", ri["kept"]["value"], si["kept"]["value"], True)
    add("takes effect: new attribute shows", ri["takes_effect"]["value"], si["takes_effect"]["value"], True)
    add(
        "pixel change from words stating nothing new",
        ri["change"]["nothing"]["pixel"],
        si["change"]["nothing"]["pixel"],
        False,
    )
    add(
        "feature change ratio nothing-new / attribute words",
        ri["change"]["ratio_nothing_to_attribute_feature"],
        si["change"]["ratio_nothing_to_attribute_feature"],
        False,
    )
    return rows


def _targets(res: dict, comparisons: list[dict]) -> list[dict]:
    r = res["restgan"]
    out = [
        {
            "target": "ReStGAN beats the StackGAN baseline on every metric",
            "value": f"{sum(c['met'] for c in comparisons)} of {len(comparisons)}",
            "met": all(c["met"] for c in comparisons),
        }
    ]
    for h, least in TARGET_ACCURACY.items():
        acc = r["attribute_accuracy"][h]["accuracy"]
        out.append(
            {
                "target": f"generated attribute accuracy ({h}) >= {least:.0%}",
                "value": acc,
                "met": acc is not None and acc >= least,
            }
        )
    out.append(
        {
            "target": f"FID (classifier features) <= {TARGET_FID:g}",
            "value": r["fid"],
            "met": r["fid"] is not None and r["fid"] <= TARGET_FID,
        }
    )
    capri = r.get("capri")
    if capri and capri["seeds"]:
        need = int(np.ceil(TARGET_CAPRI_SEEDS * len(capri["seeds"])))
        out.append(
            {
                "target": f"capri row: shorter by >= 15% with color difference <= 10 in >= {need} of "
                f"{len(capri['seeds'])} seeds",
                "value": f"{capri['passed']} of {len(capri['seeds'])}",
                "met": capri["passed"] >= need,
            }
        )
    med = r["color_error"]["median"]
    out.append(
        {
            "target": f"median color error <= {TARGET_COLOR_ERROR:g}",
            "value": med,
            "met": med is not None and med <= TARGET_COLOR_ERROR,
        }
    )
    lat = r["latency"]["incremental_median_ms"]
    out.append(
        {
            "target": f"word-to-image latency median <= {TARGET_LATENCY_MS:g} ms (incremental)",
            "value": lat,
            "met": lat is not None and lat <= TARGET_LATENCY_MS,
        }
    )
    return out


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


def _markdown(data: dict) -> str:
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
    for h in ("type", "color", "gender", "length", "fit"):
        vals = [x["inception_score"][h] for x in (r, s, real)]
        lines.append(
            f"| inception score ({h}) | "
            + " | ".join(f"{v['mean']:.3f} ± {v['std']:.3f}" for v in vals)
            + " |"
        )
    lines.append(
        f"| FID (classifier features) | {_num(r['fid'])} | {_num(s['fid'])} | {_num(real['fid'])} (floor) |"
    )
    for h in ("type", "gender", "color", "length", "fit"):
        vals = [x["attribute_accuracy"][h] for x in (r, s, real)]
        lines.append(
            f"| attribute accuracy ({h}) | "
            + " | ".join(f"{_pct(v['accuracy'])} (n={v['n']})" for v in vals)
            + " |"
        )
    ce = [x["color_error"] for x in (r, s, real)]
    lines.append("| color error median (CIEDE2000) | " + " | ".join(_num(c["median"]) for c in ce) + " |")
    lines.append(
        "| color error mean / p90 | " + " | ".join(f"{_num(c['mean'])} / {_num(c['p90'])}" for c in ce) + " |"
    )
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


# ------------------------------------------------------------------------------------------------ command


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
    figure = save_rows_figure(out / "restgan_rows.png", rows)

    r, s = results["restgan"], results["stackgan"]
    margins = {
        "ours": {
            "is_type": _margin(r["inception_score"]["type"]["mean"], s["inception_score"]["type"]["mean"]),
            "is_gender": _margin(
                r["inception_score"]["gender"]["mean"], s["inception_score"]["gender"]["mean"]
            ),
            "is_color": _margin(r["inception_score"]["color"]["mean"], s["inception_score"]["color"]["mean"]),
            "fid_lower": _margin(r["fid"], s["fid"], lower_is_better=True),
        },
        "paper": dict(PAPER_MARGINS),
    }
    comparisons = _comparisons(results)
    targets_out = _targets(results, comparisons)
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
    data = _json(data)
    md = _markdown(data)
    jpath, mpath = write_report(out, "restgan", data, md)
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
