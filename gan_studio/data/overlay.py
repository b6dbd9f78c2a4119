"""Compositing of an item's labels over its image: part masks, keypoints with their skeleton, depth.

Numpy only, so the worker can prepare every view of an item off the GUI thread and the tests can check pixels
without a display. Every function takes and returns (H, W, 3) uint8 RGB images and never changes its inputs.
"""

from __future__ import annotations

import numpy as np

from gan_studio.data.attributes import KEYPOINTS, PARTS, SKELETON

OVERLAYS: tuple[str, ...] = ("none", "parts", "keypoints", "depth")

# A perceptually ordered colormap (viridis anchors): near is yellow, far is purple.
_DEPTH_ANCHORS = np.array(
    [
        (253, 231, 37),
        (94, 201, 98),
        (33, 145, 140),
        (59, 82, 139),
        (68, 1, 84),
    ],
    dtype=np.float32,
)


def part_palette() -> np.ndarray:
    """(P, 3) uint8 RGB of every part class, background first."""
    return np.array([rgb for _, rgb in PARTS], dtype=np.uint8)


def colorize_mask(mask: np.ndarray, palette: np.ndarray | None = None) -> np.ndarray:
    """(H, W) part indices -> (H, W, 3) uint8 label colors.

    ``palette`` is (P, 3) RGB per class (default: the built-in parts'); indices past it are drawn white.
    """
    palette = part_palette() if palette is None else np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:256]
    lut = np.concatenate([palette, np.full((256 - len(palette), 3), 255, np.uint8)])
    return lut[np.asarray(mask, dtype=np.uint8)]


def _fit_to(label: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map to (H, W) so labels of another resolution still line up."""
    if label.shape[:2] == shape:
        return label
    rows = np.arange(shape[0]) * label.shape[0] // shape[0]
    cols = np.arange(shape[1]) * label.shape[1] // shape[1]
    return label[rows][:, cols]


def overlay_mask(
    image: np.ndarray, mask: np.ndarray, alpha: float = 0.55, palette: np.ndarray | None = None
) -> np.ndarray:
    """Blend part colors over the garment; background (index 0) is left as it is."""
    mask = _fit_to(np.asarray(mask), image.shape[:2])
    colors = colorize_mask(mask, palette).astype(np.float32)
    out = image.astype(np.float32)
    fg = mask > 0
    out[fg] = (1.0 - alpha) * out[fg] + alpha * colors[fg]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def colorize_depth(depth: np.ndarray) -> np.ndarray:
    """(H, W) meters (0 = undefined) -> (H, W, 3) uint8 colormap stretched over the defined range.

    Undefined pixels are black.
    """
    depth = np.asarray(depth, dtype=np.float32)
    valid = depth > 0
    out = np.zeros(depth.shape + (3,), dtype=np.uint8)
    if not valid.any():
        return out
    near, far = float(depth[valid].min()), float(depth[valid].max())
    t = (depth[valid] - near) / max(far - near, 1e-6)
    pos = t * (len(_DEPTH_ANCHORS) - 1)
    lo = np.clip(np.floor(pos).astype(np.int64), 0, len(_DEPTH_ANCHORS) - 2)
    frac = (pos - lo)[:, None]
    rgb = (1.0 - frac) * _DEPTH_ANCHORS[lo] + frac * _DEPTH_ANCHORS[lo + 1]
    out[valid] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return out


def overlay_depth(image: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """The depth colormap on the garment over a faded gray copy of the photo, so the shape stays readable."""
    depth = _fit_to(np.asarray(depth, dtype=np.float32), image.shape[:2])
    gray = image.astype(np.float32).mean(axis=2, keepdims=True)
    out = np.repeat(0.35 * gray + 0.65 * 255.0, 3, axis=2)
    valid = depth > 0
    out[valid] = colorize_depth(depth)[valid]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _stamp_disk(canvas: np.ndarray, x: float, y: float, radius: float, color: tuple[int, int, int]) -> None:
    h, w = canvas.shape[:2]
    r = int(np.ceil(radius))
    x0, x1 = max(int(np.floor(x)) - r, 0), min(int(np.floor(x)) + r + 2, w)
    y0, y1 = max(int(np.floor(y)) - r, 0), min(int(np.floor(y)) + r + 2, h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= radius * radius
    canvas[y0:y1, x0:x1][inside] = color


def _draw_line(canvas: np.ndarray, p: np.ndarray, q: np.ndarray, radius: float, color) -> None:
    steps = max(int(np.ceil(np.hypot(*(q - p)) * 2)), 1)
    for t in np.linspace(0.0, 1.0, steps + 1):
        x, y = p + t * (q - p)
        _stamp_disk(canvas, x, y, radius, color)


def keypoint_color(index: int) -> tuple[int, int, int]:
    """Image-left points orange, image-right points blue, centre points green."""
    name = KEYPOINTS[index] if index < len(KEYPOINTS) else ""
    if "left" in name:
        return (255, 140, 0)
    if "right" in name:
        return (30, 144, 255)
    return (50, 205, 50)


def draw_keypoints(
    image: np.ndarray,
    keypoints: np.ndarray,
    skeleton: tuple[tuple[int, int], ...] = SKELETON,
) -> np.ndarray:
    """Dots for labeled keypoints (``v > 0``) joined by the skeleton's lines (1-based pairs, COCO style).

    Hidden points (``v == 1``) are drawn hollow. Line width and dot size grow with the image.
    """
    out = np.array(image, dtype=np.uint8, copy=True)
    kp = np.asarray(keypoints, dtype=np.float32).reshape(-1, 3)
    scale = max(out.shape[0], out.shape[1]) / 128.0
    line_r, dot_r = max(0.6, 0.7 * scale), max(1.8, 2.4 * scale)
    for a, b in skeleton:
        if a - 1 < len(kp) and b - 1 < len(kp) and kp[a - 1, 2] > 0 and kp[b - 1, 2] > 0:
            _draw_line(out, kp[a - 1, :2], kp[b - 1, :2], line_r + 0.6, (20, 20, 20))
            _draw_line(out, kp[a - 1, :2], kp[b - 1, :2], line_r, (255, 255, 255))
    for i, (x, y, v) in enumerate(kp):
        if v <= 0:
            continue
        _stamp_disk(out, x, y, dot_r + 1.0, (20, 20, 20))
        _stamp_disk(out, x, y, dot_r, keypoint_color(i))
        if v < 2:
            _stamp_disk(out, x, y, dot_r * 0.45, (20, 20, 20))
    return out


def compose(
    image: np.ndarray,
    kind: str,
    mask: np.ndarray | None = None,
    keypoints: np.ndarray | None = None,
    depth: np.ndarray | None = None,
    *,
    palette: np.ndarray | None = None,
    skeleton: tuple[tuple[int, int], ...] = SKELETON,
) -> np.ndarray:
    """One view of an item: ``kind`` is one of :data:`OVERLAYS`. Missing labels give the plain image.

    ``palette`` colors the part classes (default: the built-in parts'), ``skeleton`` joins the keypoints.
    """
    if kind not in OVERLAYS:
        raise ValueError(f"unknown overlay {kind!r}; expected one of {', '.join(OVERLAYS)}")
    image = np.asarray(image, dtype=np.uint8)
    if kind == "parts" and mask is not None:
        return overlay_mask(image, mask, palette=palette)
    if kind == "keypoints" and keypoints is not None:
        return draw_keypoints(image, keypoints, skeleton)
    if kind == "depth" and depth is not None:
        return overlay_depth(image, depth)
    return image.copy()


def compose_all(
    item, *, palette: np.ndarray | None = None, skeleton: tuple[tuple[int, int], ...] = SKELETON
) -> dict[str, np.ndarray]:
    """Every available view of a :class:`~gan_studio.data.item.CatalogItem`, keyed by overlay name."""
    views = {"none": np.array(item.image, dtype=np.uint8, copy=True)}
    labels = {"parts": item.mask, "keypoints": item.keypoints, "depth": item.depth}
    for kind, label in labels.items():
        if label is not None:
            views[kind] = compose(
                item.image, kind, item.mask, item.keypoints, item.depth, palette=palette, skeleton=skeleton
            )
    return views
