"""COCO conversion for the catalog folder layout (``annotations.json``).

How a catalog maps onto COCO (chosen so that ``pycocotools.coco.COCO`` loads it and ``COCOeval`` can score both
part segmentation and keypoints):

- **images**: one entry per item, ``id`` 1..N in catalog order, ``file_name`` relative to the catalog folder
  (``images/<id>.png``), ``width``, ``height``.
- **part categories**: one per part class except background, with ``id`` equal to the class index in the mask
  PNGs (so ``category_id`` of a part annotation *is* its mask value), ``supercategory`` ``"garment_part"``.
- **garment category**: one more category, ``id = len(parts)`` (the first free id after the parts), named
  ``"garment"``, carrying ``keypoints`` (names) and ``skeleton`` (1-based index pairs), COCO person-style.
- **part annotations**: one per part present in an item's mask: ``segmentation`` as polygons traced from the mask
  contours (``skimage.measure.find_contours``, simplified by Douglas-Peucker to 0.3 pixel); when the polygons do not reproduce the
  mask well (tiny parts, parts with holes) a compressed RLE instead. ``area`` is the mask's pixel count, ``bbox``
  the mask's ``[x, y, w, h]``, ``iscrowd`` 0.
- **garment annotation**: one per item that has keypoints: flat ``keypoints`` ``[x1, y1, v1, ...]`` in pixels,
  ``num_keypoints`` (labeled ones, v > 0), and ``bbox``/``area``/``segmentation`` of the whole garment (mask > 0)
  when the item has a mask, else the keypoints' bounding box.

Coordinates follow COCO: pixel ``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``, so polygon vertices are
traced half a pixel off the pixel-center grid. Keypoints are written exactly as the item holds them.

Reading (:func:`parse_coco`) accepts any COCO file whose images match the catalog's titles.csv by file stem,
polygons or RLE (compressed or not); it is the inverse of :func:`build_coco` for this layout. Polygons of fewer than
3 points cover no area: they are left out, each with a sentence in :attr:`CocoLabels.notes` for the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

GARMENT_CATEGORY = "garment"
PART_SUPERCATEGORY = "garment_part"

# A part smaller than this (pixels) is written as RLE: its traced polygon would be mostly rounding error.
_MIN_POLYGON_AREA = 16
# Polygons whose area differs from the mask's by more than this fraction (thin slivers) are replaced by RLE,
# as are regions with holes, which COCO polygons (unioned by pycocotools) cannot keep.
_MAX_AREA_ERROR = 0.08
_POLYGON_TOLERANCE = 0.3  # pixels; keeps the 0.35 px cut corners of marching squares


class CocoFormatError(ValueError):
    """annotations.json does not have the structure this reader needs; the message says what is wrong."""


# ---------------------------------------------------------------------------------------------------------------
# Masks <-> COCO segmentations


def mask_bbox(region: np.ndarray) -> list[float]:
    """COCO ``[x, y, w, h]`` of a boolean (H, W) region (all zeros when empty)."""
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]


def _rasterize_polygons_centers(polys: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Union of (N, 2) (row, col) polygons on the pixel-center grid, as a boolean (H, W) mask."""
    from skimage.draw import polygon as draw_polygon

    out = np.zeros(shape, dtype=bool)
    for poly in polys:
        rr, cc = draw_polygon(poly[:, 0], poly[:, 1], shape)
        out[rr, cc] = True
    return out


def _simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker simplification of an open (N, 2) polyline, keeping both ends.

    The algorithm of ``skimage.measure.approximate_polygon``, which is not used because importing it pulls in
    scipy.signal (seconds at start-up) and its per-point Python loop dominated catalog export time.
    """
    n = len(points)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = points[b] - points[a]
        rel = points[a + 1 : b] - points[a]
        length = float(np.hypot(seg[0], seg[1]))
        if length == 0.0:
            dist = np.hypot(rel[:, 0], rel[:, 1])
        else:
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / length
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            k = a + 1 + i
            keep[k] = True
            stack += [(a, k), (k, b)]
    return points[keep]


def _simplify_closed(contour: np.ndarray, tolerance: float) -> np.ndarray:
    """Simplify a closed contour (first point == last point); returns the ring without the repeated point."""
    ring = contour[:-1] if len(contour) > 1 and np.allclose(contour[0], contour[-1]) else contour
    if len(ring) >= 4:  # drop points in the middle of straight runs first (cheap, exact)
        before = ring - np.roll(ring, 1, axis=0)
        after = np.roll(ring, -1, axis=0) - ring
        turns = np.abs(before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]) > 1e-9
        if turns.sum() >= 3:
            ring = ring[turns]
    if len(ring) < 4:
        return ring
    # split at the point farthest from the start so neither half has a degenerate chord
    far = int(np.argmax(np.hypot(*(ring - ring[0]).T)))
    first = _simplify(ring[: far + 1], tolerance)
    second = _simplify(np.concatenate([ring[far:], ring[:1]]), tolerance)
    return np.concatenate([first, second[1:-1]])


def _signed_area(ring: np.ndarray) -> float:
    """Shoelace area of a (N, 2) (row, col) ring; negative for find_contours' outer boundaries."""
    r, c = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(r * np.roll(c, -1) - np.roll(r, -1) * c))


def mask_to_polygons(region: np.ndarray) -> list[list[float]] | None:
    """Polygons ``[[x1, y1, x2, y2, ...], ...]`` (COCO coordinates) tracing a boolean (H, W) region.

    Returns None when polygons would not reproduce the region well (tiny, holes, slivers): use RLE then.
    """
    from skimage.measure import find_contours

    area = int(region.sum())
    if area < _MIN_POLYGON_AREA:
        return None
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    crop = region[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    padded = np.pad(crop.astype(np.float32), 1)  # closes contours that touch the image border
    polys_rc: list[np.ndarray] = []
    traced = 0.0
    for contour in find_contours(padded, 0.5, fully_connected="low", positive_orientation="low"):
        if _signed_area(contour) > 0:  # with the region on the right, a positive ring is a hole
            return None
        ring = _simplify_closed(contour - 1.0, _POLYGON_TOLERANCE)
        if len(ring) >= 3:
            polys_rc.append(ring)
            traced += abs(_signed_area(ring))
    if not polys_rc or abs(traced - area) > _MAX_AREA_ERROR * area:
        return None
    # (row, col) on the pixel-center grid -> COCO (x, y), where pixel centers sit at +0.5.
    offset = np.array([cols[0] + 0.5, rows[0] + 0.5])
    return [[round(float(v), 2) for v in (poly[:, ::-1] + offset).ravel()] for poly in polys_rc]


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Boolean (H, W) union of COCO polygons (inverse of :func:`mask_to_polygons`)."""
    polys_rc = []
    for flat in polygons:
        xy = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
        polys_rc.append(xy[:, ::-1] - 0.5)
    return _rasterize_polygons_centers(polys_rc, (height, width))


def rle_encode(region: np.ndarray) -> dict:
    """Compressed COCO RLE ``{"size": [h, w], "counts": str}`` of a boolean (H, W) region."""
    flat = region.ravel(order="F").astype(np.uint8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0] == 1:  # COCO runs start with a (possibly empty) run of zeros
        counts = [0, *counts]
    return {"size": [int(region.shape[0]), int(region.shape[1])], "counts": _counts_to_string(counts)}


def rle_decode(rle: dict) -> np.ndarray:
    """Boolean (H, W) mask of a COCO RLE, compressed (string counts) or not (list counts)."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, (str, bytes)):
        counts = _counts_from_string(counts.decode("ascii") if isinstance(counts, bytes) else counts)
    flat = np.zeros(height * width, dtype=bool)
    pos = 0
    for i, run in enumerate(counts):
        if run < 0 or pos + run > flat.size:
            raise ValueError("RLE counts do not fit the image size")
        if i % 2:
            flat[pos : pos + run] = True
        pos += run
    return flat.reshape((height, width), order="F")


def _counts_to_string(counts: list[int]) -> str:
    # The LEB128-like code of pycocotools' rleToString: 5 bits a character, deltas against counts[i - 2].
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def _counts_from_string(s: str) -> list[int]:
    counts: list[int] = []
    p = 0
    while p < len(s):
        x = 0
        k = 0
        more = True
        while more:
            if p >= len(s):
                raise ValueError("RLE counts string ends in the middle of a number")
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def segmentation_to_mask(segmentation, height: int, width: int) -> np.ndarray:
    """Boolean (H, W) mask of a COCO ``segmentation`` (polygon list or RLE dict).

    An RLE whose ``size`` is not (H, W) raises ValueError before anything is allocated (a mutated size could ask
    for gigabytes).
    """
    if isinstance(segmentation, dict):
        size = segmentation.get("size")
        if not isinstance(size, (list, tuple)) or [*size] != [height, width]:
            raise ValueError(f"its RLE size {size!r} is not the image's [{height}, {width}]")
        return rle_decode(segmentation)
    return polygons_to_mask(segmentation, height, width)


# ---------------------------------------------------------------------------------------------------------------
# Building annotations.json


class CocoBuilder:
    """Accumulates the COCO document while items are written, one :meth:`add` call per item."""

    def __init__(
        self,
        part_names: Sequence[str],
        keypoint_names: Sequence[str],
        skeleton: Sequence[tuple[int, int]],
        info: dict | None = None,
    ) -> None:
        self.part_names = tuple(part_names)
        self.keypoint_names = tuple(keypoint_names)
        self.garment_category_id = len(self.part_names)
        self.categories = [
            {"id": i, "name": name, "supercategory": PART_SUPERCATEGORY}
            for i, name in enumerate(self.part_names)
            if i > 0
        ]
        self.categories.append(
            {
                "id": self.garment_category_id,
                "name": GARMENT_CATEGORY,
                "supercategory": GARMENT_CATEGORY,
                "keypoints": list(self.keypoint_names),
                "skeleton": [[int(a), int(b)] for a, b in skeleton],
            }
        )
        self.info = dict(info or {})
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(
        self, file_name: str, height: int, width: int, mask: np.ndarray | None, keypoints: np.ndarray | None
    ) -> None:
        """Add one image with its part annotations (from ``mask``) and garment keypoints."""
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        if mask is not None:
            for part in np.unique(mask):
                if part == 0:
                    continue
                region = mask == part
                self._annotate(image_id, int(part), region)
        if keypoints is not None:
            kp = np.asarray(keypoints, dtype=np.float32)
            labeled = kp[:, 2] > 0
            ann = {"num_keypoints": int(labeled.sum())}
            ann["keypoints"] = [v for x, y, vis in kp.tolist() for v in (x, y, int(vis))]
            if mask is not None and (mask > 0).any():
                self._annotate(image_id, self.garment_category_id, mask > 0, extra=ann)
            else:
                pts = kp[labeled, :2]
                if len(pts):
                    x0, y0 = pts.min(axis=0).tolist()
                    x1, y1 = pts.max(axis=0).tolist()
                    bbox = [x0, y0, x1 - x0, y1 - y0]
                else:
                    bbox = [0.0, 0.0, 0.0, 0.0]
                self.annotations.append(
                    {
                        "id": len(self.annotations) + 1,
                        "image_id": image_id,
                        "category_id": self.garment_category_id,
                        "bbox": bbox,
                        "area": float(bbox[2] * bbox[3]),
                        "iscrowd": 0,
                        **ann,
                    }
                )

    def _annotate(
        self, image_id: int, category_id: int, region: np.ndarray, extra: dict | None = None
    ) -> None:
        polygons = mask_to_polygons(region)
        self.annotations.append(
            {
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": category_id,
                "segmentation": polygons if polygons is not None else rle_encode(region),
                "area": float(region.sum()),
                "bbox": mask_bbox(region),
                "iscrowd": 0,
                **(extra or {}),
            }
        )

    def document(self) -> dict:
        return {
            "info": self.info,
            "licenses": [],
            "images": self.images,
            "categories": self.categories,
            "annotations": self.annotations,
        }


# ---------------------------------------------------------------------------------------------------------------
# Reading annotations.json


@dataclass
class CocoLabels:
    """What a catalog needs from annotations.json, keyed by item id (the image file's stem)."""

    keypoint_names: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()
    # part category names by COCO category id (no garment category)
    part_categories: dict[int, str] = field(default_factory=dict)
    keypoints: dict[str, np.ndarray] = field(default_factory=dict)
    # item id -> [(category_id, segmentation)], in file order; decoded into masks on demand
    segmentations: dict[str, list[tuple[int, object]]] = field(default_factory=dict)
    image_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    # what was left out and why, one sentence each ("annotation 7 has a polygon of 2 points, ...")
    notes: list[str] = field(default_factory=list)


def _require(obj: dict, key: str, what: str, kind: type | tuple[type, ...]):
    if not isinstance(obj, dict) or key not in obj:
        raise CocoFormatError(f"{what} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise CocoFormatError(f"{what} has a {key!r} of the wrong type ({type(value).__name__})")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _checked_segmentation(seg: object, what: str, notes: list[str]) -> object | None:
    """``seg`` when it is a well-formed polygon list or RLE; polygons of fewer than 3 points cover no area and are
    left out with a note (None when nothing is left). Raises :class:`CocoFormatError` for malformed ones."""
    if isinstance(seg, dict):
        if "counts" not in seg or "size" not in seg:
            raise CocoFormatError(f"{what} has an RLE segmentation without 'counts' and 'size'")
        size, counts = seg["size"], seg["counts"]
        if (
            not isinstance(size, list)
            or len(size) != 2
            or not all(isinstance(v, int) and v >= 0 for v in size)
        ):
            raise CocoFormatError(f"{what} has an RLE 'size' that is not [height, width]")
        if isinstance(counts, list):
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts):
                raise CocoFormatError(f"{what} has RLE counts that are not whole numbers")
        elif not isinstance(counts, str):
            raise CocoFormatError(f"{what} has RLE counts that are neither a list nor a string")
        return seg
    if not isinstance(seg, list):
        raise CocoFormatError(f"{what} has a malformed 'segmentation'")
    kept = []
    for poly in seg:
        if not isinstance(poly, list) or not all(_is_number(v) for v in poly):
            raise CocoFormatError(f"{what} has a polygon that is not a list of numbers")
        if len(poly) % 2:
            raise CocoFormatError(f"{what} has a polygon with an odd number of coordinates ({len(poly)})")
        if not np.isfinite(np.asarray(poly, dtype=np.float64)).all():
            raise CocoFormatError(f"{what} has a polygon whose coordinates are not finite numbers")
        if len(poly) < 6:
            notes.append(
                f"{what} has a polygon of {len(poly) // 2} point(s), which covers no area, so it was left out."
            )
            continue
        kept.append(poly)
    return kept or None


def parse_coco(doc: object, known_ids: set[str]) -> CocoLabels:
    """Validate a COCO document and pull out keypoints and segmentations by item id.

    ``known_ids`` are the catalog's item ids; every image must match one by its file name's stem.
    Raises :class:`CocoFormatError` with one sentence on any structural problem.
    """
    if not isinstance(doc, dict):
        raise CocoFormatError("the top level is not a JSON object")
    images = _require(doc, "images", "the document", list)
    annotations = _require(doc, "annotations", "the document", list)
    categories = _require(doc, "categories", "the document", list)

    labels = CocoLabels()
    garment_ids: set[int] = set()
    for i, cat in enumerate(categories):
        what = f"category {i}"
        cat_id = _require(cat, "id", what, int)
        name = _require(cat, "name", what, str)
        if "keypoints" in cat:
            names = _require(cat, "keypoints", f"category {name!r}", list)
            if labels.keypoint_names and tuple(names) != labels.keypoint_names:
                raise CocoFormatError("two categories carry different keypoint names")
            labels.keypoint_names = tuple(str(n) for n in names)
            skeleton = cat.get("skeleton") or []
            try:
                labels.skeleton = tuple((int(a), int(b)) for a, b in skeleton)
            except (TypeError, ValueError, OverflowError):
                raise CocoFormatError(f"category {name!r} has a malformed 'skeleton'") from None
            garment_ids.add(cat_id)
        else:
            labels.part_categories[cat_id] = name

    by_image_id: dict[int, str] = {}
    for i, img in enumerate(images):
        what = f"image {i}"
        image_id = _require(img, "id", what, int)
        file_name = _require(img, "file_name", what, str)
        item_id = PurePosixPath(file_name.replace("\\", "/")).stem
        if item_id not in known_ids:
            raise CocoFormatError(f"image {file_name!r} is not listed in titles.csv")
        by_image_id[image_id] = item_id
        if "height" in img and "width" in img:
            height, width = _require(img, "height", what, int), _require(img, "width", what, int)
            if height < 1 or width < 1:
                raise CocoFormatError(f"image {file_name!r} has the size {width}x{height}")
            labels.image_sizes[item_id] = (height, width)

    k = len(labels.keypoint_names)
    for i, ann in enumerate(annotations):
        ann_id = ann.get("id") if isinstance(ann, dict) else None
        what = f"annotation {ann_id if isinstance(ann_id, int) else f'#{i + 1}'}"
        image_id = _require(ann, "image_id", what, int)
        category_id = _require(ann, "category_id", what, int)
        if image_id not in by_image_id:
            raise CocoFormatError(f"{what} refers to image {image_id}, which is not in 'images'")
        item_id = by_image_id[image_id]
        if category_id in garment_ids:
            flat = _require(ann, "keypoints", what, list)
            if len(flat) != 3 * k:
                raise CocoFormatError(f"{what} has {len(flat)} keypoint values; expected {3 * k}")
            if not all(_is_number(v) for v in flat):
                raise CocoFormatError(f"{what} has non-numeric keypoints")
            values = np.asarray(flat, dtype=np.float64).reshape(k, 3)
            if not np.isfinite(values).all() or np.abs(values).max(initial=0) > 1e6:
                raise CocoFormatError(f"{what} has keypoints that are not finite pixel coordinates")
            labels.keypoints[item_id] = values.astype(np.float32)
        elif category_id in labels.part_categories:
            if "segmentation" in ann:
                seg = _checked_segmentation(ann["segmentation"], what, labels.notes)
                if seg is not None:
                    labels.segmentations.setdefault(item_id, []).append((category_id, seg))
        else:
            raise CocoFormatError(f"{what} has category_id {category_id}, which is not in 'categories'")
    return labels
