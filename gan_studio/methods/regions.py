"""Image regions for traversal features: boxes, mask files, complements, the garment of an image.

A region is a boolean (S, S) numpy array over the generated image's pixels (row-major, ``mask[y, x]``). Every
problem with a region a user gives is a :class:`RegionError` with one sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# A region must leave this fraction of the image on each side, or "hold it fixed, vary the rest" has no rest.
MIN_REGION_FRACTION = 0.002
MAX_REGION_FRACTION = 0.998


class RegionError(ValueError):
    """A region a user gave that cannot be used: empty, the whole image, an unreadable file, bad numbers."""


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x0,y0,x1,y1"`` in fractions of the image (0..1, x right, y down) -> the four floats, ordered."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise RegionError(f"a box needs four numbers x0,y0,x1,y1 (fractions of the image), got {text!r}")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        raise RegionError(f"a box needs four numbers x0,y0,x1,y1, got {text!r}") from None
    if not all(np.isfinite(v) for v in (x0, y0, x1, y1)):
        raise RegionError(f"a box needs finite numbers, got {text!r}")
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    if x1 <= 0 or y1 <= 0 or x0 >= 1 or y0 >= 1:
        raise RegionError(f"the box {text!r} lies outside the image (coordinates are fractions 0..1)")
    return x0, y0, x1, y1


def box_mask(box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """Pixels whose centers lie inside the box (fractions of the image) -> bool (size, size)."""
    x0, y0, x1, y1 = box
    centers = (np.arange(size) + 0.5) / size
    inside_x = (centers >= x0) & (centers <= x1)
    inside_y = (centers >= y0) & (centers <= y1)
    return inside_y[:, None] & inside_x[None, :]


def load_mask(path: str | Path, size: int) -> np.ndarray:
    """A mask image (any size, any mode; nonzero or non-black = inside) -> bool (size, size), nearest resampling."""
    path = Path(path)
    if not path.is_file():
        raise RegionError(f"the mask file {path} does not exist")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                # A transparent PNG: the opaque part is the region.
                gray = im.convert("RGBA").getchannel("A")
            else:
                gray = im.convert("L")
            gray = gray.resize((size, size), Image.Resampling.NEAREST)
    except (UnidentifiedImageError, OSError) as exc:
        raise RegionError(f"the mask file {path} is not an image PIL can read ({exc})") from None
    return np.asarray(gray) > 127


def check_region(mask: np.ndarray, what: str = "the region") -> np.ndarray:
    """Reject a region that is empty or covers (nearly) the whole image; returns the mask unchanged."""
    fraction = float(np.mean(mask)) if mask.size else 0.0
    if fraction < MIN_REGION_FRACTION:
        raise RegionError(f"{what} is empty: draw or give a region that covers some of the image")
    if fraction > MAX_REGION_FRACTION:
        raise RegionError(f"{what} covers the whole image, so nothing is left to vary; make it smaller")
    return mask


def garment_mask(image: np.ndarray, threshold: float = 0.08) -> np.ndarray:
    """Pixels of an (S, S, 3) uint8 or [0, 1] float image that are not the near-white studio background.

    Used for ``color:garment``: the region is measured once on the starting image and then held, so the feature
    is a fixed set of pixels along the whole path.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.max() > 1.5:
        img = img / 255.0
    distance = np.abs(img - 1.0).max(axis=-1)
    mask = distance > threshold
    if mask.mean() < MIN_REGION_FRACTION:  # a blank image: fall back to the central third
        mask = box_mask((1 / 3, 1 / 6, 2 / 3, 5 / 6), img.shape[0])
    return mask
