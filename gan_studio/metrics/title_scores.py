"""Images of held-out titles as the attribute classifier judges them: IS per head, attribute accuracy, color error.

Real images get the generated images' treatment: rendered at twice the model's size, area-downsampled to it (as
the training data, :func:`render_real`), then upsampled bilinearly to the classifier's input size
(:func:`classify`). The classifier's accuracy on them is the ceiling of the generated attribute accuracy, their
color error the floor of the color error. What a title states (:func:`title_targets`, :func:`requested_labs`) is
read from all its words through the color table, as training reads it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from gan_studio.data.title_words import split_words
from gan_studio.metrics import gan_scores as gs


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


def is_splits(n: int) -> int:
    """Inception-score splits: the usual 10 when every split holds at least 100 images, fewer below that."""
    return max(1, min(10, n // 100))


def _stats(values: np.ndarray) -> dict:
    """Median, mean and 90th percentile of the finite values (None where there are none), and their count."""
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
