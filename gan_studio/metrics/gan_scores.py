"""Scores of generated images, as pure numpy functions (no torch, no Qt): the evaluation protocol of DESIGN.md.

- :func:`inception_score` per attribute head from the attribute classifier's probabilities.
- :func:`frechet_distance` / :func:`fid` between two sets of classifier features (the FID space).
- :func:`garment_lab` / :func:`color_error` (CIEDE2000 between a requested color and a garment's measured color).
- :func:`attribute_accuracy` of predictions against what titles state.
- Incremental consistency on per-prefix image sequences of one title: :func:`kept_counts` (stated attributes stay),
  :func:`effect_counts` (a newly stated attribute takes effect), :func:`word_kinds`, :func:`pixel_change` and
  :func:`feature_change` (how much each word changes the image), summarized by :func:`consistency_summary`.

Label arrays follow one convention: integer class indices per head (columns), ``-1`` where the title does not state
the attribute (or nothing is known).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from gan_studio.data.color import ciede2000
from gan_studio.data.colortable import measure_color
from gan_studio.data.item import CatalogItem

# ---------------------------------------------------------------------------------------------- inception score


def inception_score(probs: np.ndarray, splits: int = 10, eps: float = 1e-12) -> tuple[float, float]:
    """Inception score ``exp(E_x KL(p(y|x) || p(y)))`` of (N, K) class probabilities; returns (mean, std).

    As usual the N rows are cut into ``splits`` consecutive chunks (fewer when N is small), the score is computed
    on each with its own marginal ``p(y)``, and the mean and (population) standard deviation over chunks are
    returned. It ranges from 1 (every image gets the same prediction, or predictions are uniform) to K (confident
    predictions spread evenly over the K classes).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"expected (N, K) probabilities with N >= 1, got shape {p.shape}")
    p = p / p.sum(axis=1, keepdims=True).clip(min=eps)
    n = p.shape[0]
    splits = max(1, min(int(splits), n))
    scores = []
    for chunk in np.array_split(p, splits):
        marginal = chunk.mean(axis=0, keepdims=True)
        kl = (chunk * (np.log(chunk + eps) - np.log(marginal + eps))).sum(axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def softmax(logits: np.ndarray) -> np.ndarray:
    """(N, K) logits -> (N, K) probabilities (numerically stable)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------------------- FID


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features, N >= 2 -> mean (D,) and covariance (D, D) (unbiased, ddof = 1)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"FID needs at least 2 feature vectors of shape (N, D), got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite (D, D) matrix (negative eigenvalues -> 0)."""
    m = (m + m.T) / 2.0
    w, v = np.linalg.eigh(m)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance ``|mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2))`` between two Gaussians.

    ``tr((C1 C2)^(1/2))`` is computed as the sum of the square roots of the eigenvalues of the symmetric PSD
    matrix ``C1^(1/2) C2 C1^(1/2)`` (same eigenvalues as ``C1 C2``), which stays real and stable when the
    covariances are singular (fewer samples than dimensions), where ``scipy.linalg.sqrtm`` can return complex
    or NaN values.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    diff = mu1 - mu2
    r = _psd_sqrt(cov1)
    inner = r @ cov2 @ r
    ev = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    tr_sqrt = float(np.sqrt(np.clip(ev, 0.0, None)).sum())
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt)
    return max(value, 0.0)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between (Na, D) and (Nb, D) feature sets (Na, Nb >= 2; small N gives a biased but finite value)."""
    a, b = np.asarray(features_a), np.asarray(features_b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be (N, D) with the same D, got {a.shape} and {b.shape}")
    return frechet_distance(*feature_statistics(a), *feature_statistics(b))


# ------------------------------------------------------------------------------------------------------- color


def garment_lab(image: np.ndarray) -> np.ndarray:
    """Median CIE LAB (3,) of a (H, W, 3) uint8 image's garment, without a mask.

    Uses the color table's own rule for images without a mask (:func:`gan_studio.data.colortable.measure_color`):
    every pixel whose smallest channel is below 235 counts as garment; all pixels if none does.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected a (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    return np.asarray(measure_color(CatalogItem("measured", "", image)), dtype=np.float64)


def color_error(measured_lab: np.ndarray, requested_lab: np.ndarray) -> np.ndarray:
    """CIEDE2000 between broadcastable (..., 3) LAB arrays: the garment's measured and the requested color.

    The requested color is the LAB centroid of the color-table cluster of the title's color word.
    """
    return np.asarray(ciede2000(measured_lab, requested_lab), dtype=np.float64)


def image_color_errors(images: Iterable[np.ndarray], requested_labs: np.ndarray) -> np.ndarray:
    """(N,) CIEDE2000 between each (H, W, 3) uint8 image's :func:`garment_lab` and its (N, 3) requested LAB."""
    measured = np.array([garment_lab(im) for im in images], dtype=np.float64).reshape(-1, 3)
    requested = np.asarray(requested_labs, np.float64).reshape(-1, 3)
    if len(measured) != len(requested):
        raise ValueError(f"{len(measured)} images but {len(requested)} requested colors")
    return color_error(measured, requested)


# ------------------------------------------------------------------------------------------ attribute accuracy


def attribute_accuracy(
    pred: np.ndarray, target: np.ndarray, heads: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Accuracy per head of (N, H) predicted class indices against (N, H) targets (-1 = not stated, skipped).

    Returns ``{head: {"accuracy": float or None (nothing stated), "n": items scored}}``; columns follow ``heads``.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[1] != len(heads):
        raise ValueError(f"pred {pred.shape} and target {target.shape} must both be (N, {len(heads)})")
    out: dict[str, dict[str, float | int | None]] = {}
    for j, head in enumerate(heads):
        valid = target[:, j] >= 0
        n = int(valid.sum())
        acc = float((pred[valid, j] == target[valid, j]).mean()) if n else None
        out[head] = {"accuracy": acc, "n": n}
    return out


# --------------------------------------------------------------------------------------- incremental consistency
#
# One title typed word by word gives K + 1 images (prefixes of 0..K words). ``stated`` (K + 1, H) holds, for every
# prefix, the class index each attribute is stated as so far (-1 = not yet); ``pred`` (K + 1, H) the classifier's
# prediction for that prefix's image. Word k (1-based) is the step from prefix k - 1 to prefix k.


def _check_sequence(stated: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stated, pred = np.asarray(stated), np.asarray(pred)
    if stated.shape != pred.shape or stated.ndim != 2 or stated.shape[0] < 1:
        raise ValueError(f"stated {stated.shape} and pred {pred.shape} must both be (K + 1, H)")
    return stated, pred


def kept_counts(
    stated: np.ndarray, pred: np.ndarray, columns: Sequence[int], conditional: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Do attributes already stated stay after later words? Returns (kept, total), each (len(columns),) int.

    A step (word k, column h) counts when the attribute was stated before word k and word k does not change it
    (``stated[k-1, h] >= 0`` and ``stated[k, h] == stated[k-1, h]``); with ``conditional`` only when the image
    before word k showed it (``pred[k-1, h] == stated[k-1, h]``), so that this measures *staying*, not the
    attribute's first appearance. It is kept when ``pred[k, h] == stated[k, h]``.
    """
    stated, pred = _check_sequence(stated, pred)
    cols = list(columns)
    s0, s1, p0, p1 = stated[:-1][:, cols], stated[1:][:, cols], pred[:-1][:, cols], pred[1:][:, cols]
    counted = (s0 >= 0) & (s1 == s0)
    if conditional:
        counted &= p0 == s0
    kept = counted & (p1 == s1)
    return kept.sum(axis=0).astype(np.int64), counted.sum(axis=0).astype(np.int64)


def effect_counts(
    stated: np.ndarray, pred: np.ndarray, columns: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Does a newly stated attribute take effect? Returns (hits, total), each (len(columns),) int.

    Word k states a new value for column h when ``stated[k, h] >= 0`` and ``stated[k, h] != stated[k-1, h]``; it
    takes effect when the image after it is predicted as that value (``pred[k, h] == stated[k, h]``).
    """
    stated, pred = _check_sequence(stated, pred)
    cols = list(columns)
    s0, s1, p1 = stated[:-1][:, cols], stated[1:][:, cols], pred[1:][:, cols]
    new = (s1 >= 0) & (s1 != s0)
    return (new & (p1 == s1)).sum(axis=0).astype(np.int64), new.sum(axis=0).astype(np.int64)


WORD_KINDS = ("attribute", "detail", "nothing")


def word_kinds(stated: np.ndarray, detail: Sequence[bool] | None = None) -> list[str]:
    """Kind of each of the K words from (K + 1, H) ``stated``: "attribute" (changes a stated attribute),
    "detail" (``detail[k]``: a garment detail word such as "ripped", which should change the image but is not a
    classifier head) or "nothing" (states nothing new: brand, size, marketing and filler words, restatements).
    """
    stated = np.asarray(stated)
    k = stated.shape[0] - 1
    detail = [False] * k if detail is None else list(detail)
    if len(detail) != k:
        raise ValueError(f"{k} words but {len(detail)} detail flags")
    changed = (stated[1:] != stated[:-1]).any(axis=1)
    return [
        "attribute" if c else ("detail" if d else "nothing") for c, d in zip(changed, detail, strict=True)
    ]


def pixel_change(images: np.ndarray) -> np.ndarray:
    """(K + 1, S, S, 3) uint8 prefix images -> (K,) mean absolute change per word, 0 (same) .. 1 (inverted)."""
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[0] < 1:
        raise ValueError(f"expected (K + 1, S, S, C) images, got {x.shape}")
    x = x.astype(np.float64) / (255.0 if x.dtype == np.uint8 else 1.0)
    return np.abs(x[1:] - x[:-1]).mean(axis=(1, 2, 3))


def feature_change(features: np.ndarray) -> np.ndarray:
    """(K + 1, D) classifier features of the prefix images -> (K,) Euclidean distance per word."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"expected (K + 1, D) features, got {f.shape}")
    return np.linalg.norm(f[1:] - f[:-1], axis=1)


def _ratio(a: float, b: float) -> float | None:
    return float(a) / float(b) if b else None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def consistency_summary(
    sequences: Iterable[Mapping], heads: Mapping[str, int], headline: Sequence[str]
) -> dict:
    """Pool the incremental-consistency measures over titles.

    Each sequence is a mapping with ``stated`` and ``pred`` ((K + 1, H) int), ``pixel_change`` and
    ``feature_change`` ((K,) float) and optionally ``detail`` ((K,) bool). ``heads`` maps head name -> column;
    ``headline`` names the heads pooled into the headline ``kept`` / ``held`` / ``takes_effect`` numbers (the
    paper's type, color and gender).

    Returns ``kept`` (conditional: stayed shown after a later word, given it was shown before it), ``held``
    (unconditional: already stated and predicted after a later word), ``takes_effect``, each pooled over
    ``headline`` with per-head breakdowns (value, count), and ``change``: mean pixel and feature change per word
    kind, plus the ratios nothing/attribute (lower = words that state nothing new disturb the image less).
    """
    names = list(heads)
    cols = [heads[n] for n in names]
    kept = np.zeros(len(cols), np.int64)
    kept_n = np.zeros(len(cols), np.int64)
    held = np.zeros(len(cols), np.int64)
    held_n = np.zeros(len(cols), np.int64)
    hit = np.zeros(len(cols), np.int64)
    hit_n = np.zeros(len(cols), np.int64)
    changes: dict[str, dict[str, list[float]]] = {k: {"pixel": [], "feature": []} for k in WORD_KINDS}
    n_titles = 0
    for seq in sequences:
        n_titles += 1
        stated, pred = seq["stated"], seq["pred"]
        a, b = kept_counts(stated, pred, cols, conditional=True)
        kept += a
        kept_n += b
        a, b = kept_counts(stated, pred, cols, conditional=False)
        held += a
        held_n += b
        a, b = effect_counts(stated, pred, cols)
        hit += a
        hit_n += b
        kinds = word_kinds(stated, seq.get("detail"))
        px, ft = np.asarray(seq["pixel_change"]), np.asarray(seq["feature_change"])
        if len(px) != len(kinds) or len(ft) != len(kinds):
            raise ValueError(f"{len(kinds)} words but {len(px)} pixel and {len(ft)} feature changes")
        for kind, p, f in zip(kinds, px, ft, strict=True):
            changes[kind]["pixel"].append(float(p))
            changes[kind]["feature"].append(float(f))
    top = [names.index(h) for h in headline]

    def pooled(num: np.ndarray, den: np.ndarray) -> dict:
        return {
            "value": _ratio(num[top].sum(), den[top].sum()),
            "n": int(den[top].sum()),
            "by_head": {n: {"value": _ratio(num[i], den[i]), "n": int(den[i])} for i, n in enumerate(names)},
        }

    change = {
        kind: {"pixel": _mean(v["pixel"]), "feature": _mean(v["feature"]), "n": len(v["pixel"])}
        for kind, v in changes.items()
    }
    for what in ("pixel", "feature"):
        a, b = change["nothing"][what], change["attribute"][what]
        change[f"ratio_nothing_to_attribute_{what}"] = (a / b) if (a is not None and b) else None
    return {
        "titles": n_titles,
        "headline_heads": list(headline),
        "kept": pooled(kept, kept_n),
        "held": pooled(held, held_n),
        "takes_effect": pooled(hit, hit_n),
        "change": change,
    }
