"""Do exported labels lie on the garment drawn in their own image? Measured from the dataset's files alone.

For each exported item, the garment region is found from its PNG alone (:func:`garment_region`): the background
colour is the median of the image's border pixels (the studio background is near-white but not pure white, and a
white or cream garment is not much darker than it); the garment is the largest 8-connected region of pixels whose
largest channel difference from it exceeds ``GARMENT_DIFFERENCE``, after an opening with a square of max(3, S / 32)
pixels that removes speckles, with its holes filled. It is compared with the exported part mask read back from its
PNG (every class but the background):

    IoU = |parts ∩ garment| / |parts ∪ garment|

An IoU of 1 means the labeled area is exactly the drawn garment; a label that spills onto the background or leaves
part of the garment unlabeled lowers it. The rule's own error is measured the same way on real catalog items, where
the true part mask is known (:func:`finder_iou_on_real`): that IoU is the ceiling the exported labels can reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

GARMENT_DIFFERENCE = (
    15  # 0-255 levels; on 150 real items of catalog seed 1005 at 128 px this gave the best median
)


def garment_region(image: np.ndarray, difference: int = GARMENT_DIFFERENCE) -> np.ndarray:
    """(H, W) bool garment pixels of an (H, W, 3) uint8 product photo, found from the image alone (see above)."""
    image = np.asarray(image).astype(np.int16)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    background = np.median(border, axis=0)
    k = max(3, image.shape[0] // 32)
    fg = np.abs(image - background).max(axis=-1) > difference
    fg = ndimage.binary_opening(fg, structure=np.ones((k, k), bool))
    labels, n = ndimage.label(fg, structure=np.ones((3, 3), bool))
    if n == 0:
        return fg
    sizes = ndimage.sum(fg, labels, index=np.arange(1, n + 1))
    return ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (H, W) bool masks; 1.0 when both are empty."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def item_alignment(image: np.ndarray, mask: np.ndarray) -> float:
    """IoU between the labeled parts (``mask`` > 0, class 0 is the background) and the garment found in
    ``image`` (H, W, 3) uint8."""
    return mask_iou(np.asarray(mask) > 0, garment_region(image))


def export_alignment(folder: str | Path) -> dict:
    """Per-item and summary IoU of an exported dataset folder (``images/*.png`` with ``masks/*.png``).

    Returns ``{"items": n, "median": m, "mean": m, "p10": q, "share_at_0.9": f, "ious": {id: iou}}``.
    """
    folder = Path(folder)
    ious = {}
    for mask_file in sorted((folder / "masks").glob("*.png")):
        image_file = folder / "images" / mask_file.name
        if not image_file.is_file():
            continue
        image = np.asarray(Image.open(image_file).convert("RGB"))
        mask = np.asarray(Image.open(mask_file))
        ious[mask_file.stem] = item_alignment(image, mask)
    return summarize(ious)


def summarize(ious: dict[str, float]) -> dict:
    values = np.array(list(ious.values()), dtype=np.float64)
    if not len(values):
        return {"items": 0, "median": None, "mean": None, "p10": None, "share_at_0.9": None, "ious": {}}
    return {
        "items": len(values),
        "median": round(float(np.median(values)), 4),
        "mean": round(float(values.mean()), 4),
        "p10": round(float(np.percentile(values, 10)), 4),
        "share_at_0.9": round(float((values >= 0.9).mean()), 4),
        "ious": {k: round(v, 4) for k, v in ious.items()},
    }


def finder_iou_on_real(items: Iterable) -> dict:
    """How well the garment finder agrees with true part masks on real catalog items (``CatalogItem`` with
    ``image`` and ``mask``): the ceiling of :func:`export_alignment`."""
    return summarize({item.id: item_alignment(item.image, item.mask) for item in items})
