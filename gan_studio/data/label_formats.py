"""Readers of the labeled-image formats that :mod:`.label_import` takes in, one per format.

Each reader finds the items of a folder or file cheaply (:class:`Found`) and hands back one loader per item; a
loader reads the item at its own resolution, in its file's own class and keypoint names (:class:`RawLabels`),
and raises :class:`LabelImportError` with one sentence naming the file when the item is bad. Mapping names onto
the model's classes and resizing happen in :mod:`.label_import`, the same for every format.

Coordinates are COCO's everywhere: pixel ``(col, row)`` covers ``[col, col + 1) x [row, row + 1)``. That is how
labelme's canvas records clicks too (its own ``shape_to_mask`` draws half a pixel off), so labelme polygons and
points are used as they are, exactly as labelme's COCO export does.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gan_studio.data import catalog_reader, image_read
from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.coco import CocoFormatError, parse_coco, polygons_to_mask, segmentation_to_mask
from gan_studio.data.layout import LABELMAP_FILE, MANIFEST_FILE, TITLES_FILE, CatalogError, parse_labelmap

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_DIRS = ("masks", "SegmentationClass")
IMAGE_DIRS = ("images", "JPEGImages")
VOC_VOID_INDEX = 255  # Pascal VOC's "void" (object borders) in index masks: read as background
VOC_VOID_RGB = (224, 224, 192)  # its palette color, in RGB masks whose labelmap does not list it
_HIDDEN_FLAGS = ("occluded", "hidden", "invisible")  # labelme point flags read as COCO visibility 1
_INDEX_MODES = ("P", "L", "I", "I;16", "I;16B", "I;16L")
_UNREADABLE = (
    binascii.Error,
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class LabelImportError(ValueError):
    """Labeled images cannot be imported; the message is one sentence naming the file."""


@dataclass(eq=False)
class RawLabels:
    """One labeled image as its file gives it, before class mapping and resizing.

    ``mask`` (H, W) integers index ``class_names``; ``keypoints`` (K, 3) x, y, v rows follow ``keypoint_names``.
    """

    id: str
    source: str
    image: np.ndarray
    mask: np.ndarray | None = None
    class_names: Sequence[str] = ()
    keypoints: np.ndarray | None = None
    keypoint_names: Sequence[str] = ()
    depth: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ItemSource:
    source: str
    load: Callable[[], RawLabels]


@dataclass
class Found:
    """What a reader found: loaders for items, files it already knows are bad, images without labels."""

    formats: list[str] = field(default_factory=list)
    items: list[ItemSource] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unlabeled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings about the files as a whole, one sentence each

    def merge(self, other: Found) -> None:
        self.formats += [f for f in other.formats if f not in self.formats]
        self.items += other.items
        self.skipped += other.skipped
        self.unlabeled += other.unlabeled
        self.notes += other.notes


def _sentence_error(exc: Exception) -> LabelImportError:
    return LabelImportError(str(exc))


def read_json(path: Path) -> object:
    try:
        return catalog_reader.read_json(path)
    except CatalogError as exc:
        raise _sentence_error(exc) from None


def open_image(path: Path) -> Image.Image:
    """The fully decoded image at ``path``; corrupt, truncated or missing files raise LabelImportError."""
    try:
        return image_read.open_image(path)
    except CatalogError as exc:
        raise _sentence_error(exc) from None


def open_rgb(path: Path, exif: bool = False) -> np.ndarray:
    """(H, W, 3) uint8 of any image mode (transparency over white); ``exif`` applies the EXIF orientation."""
    im = open_image(path)
    return image_read.to_rgb(_upright(im) if exif else im)


def open_rgb_bytes(data: bytes, name: str, exif: bool = False) -> np.ndarray:
    """:func:`open_rgb` of the bytes of an image file (labelme's imageData), called ``name`` in errors."""
    try:
        im = image_read.open_image(data, name)
    except CatalogError as exc:
        raise _sentence_error(exc) from None
    return image_read.to_rgb(_upright(im) if exif else im)


def _upright(im: Image.Image) -> Image.Image:
    """``im`` turned as its EXIF orientation says; as it is when the EXIF block itself is malformed (PIL's
    parser raises anything from SyntaxError to IndexError then), as a viewer would show it."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a malformed EXIF block: show the picture as it is stored
        return im


def _sizes(hw: tuple[int, ...]) -> str:
    return f"{hw[1]}x{hw[0]}"


# ---------------------------------------------------------------------------------------------------------------
# The catalog folder layout (gan_studio.data.layout)


def catalog_found(root: Path) -> Found:
    try:
        folder = read_catalog(root)
    except CatalogError as exc:
        raise _sentence_error(exc) from None

    def load(i: int) -> RawLabels:
        try:
            item = folder[i]
        except CatalogError as exc:
            raise _sentence_error(exc) from None
        return RawLabels(
            item.id,
            str(folder.image_paths[i]),
            item.image,
            item.mask,
            folder.part_names,
            item.keypoints,
            folder.keypoint_names,
            item.depth,
        )

    items = [ItemSource(str(p), partial(load, i)) for i, p in enumerate(folder.image_paths)]
    return Found(["catalog folder"], items, notes=list(folder.warnings))


# ---------------------------------------------------------------------------------------------------------------
# A folder of mask PNGs with labelmap.txt (CVAT "Segmentation mask" / Pascal VOC)


def is_mask_folder(root: Path) -> bool:
    return (root / LABELMAP_FILE).is_file() and any((root / d).is_dir() for d in MASK_DIRS)


def mask_folder_found(root: Path) -> Found:
    labelmap = root / LABELMAP_FILE
    try:
        parts = parse_labelmap(labelmap.read_text(encoding="utf-8"), str(labelmap))
    except UnicodeDecodeError:
        raise LabelImportError(f"{labelmap} is not UTF-8 text") from None
    except CatalogError as exc:
        raise _sentence_error(exc) from None
    masks_dir = next(root / d for d in MASK_DIRS if (root / d).is_dir())
    images_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), None)
    if images_dir is None:
        raise LabelImportError(f"{root} has {masks_dir.name}/ but no images/ or JPEGImages/ folder")
    images = {p.stem: p for p in sorted(images_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
    masks = sorted(p for p in masks_dir.iterdir() if p.suffix.lower() == ".png")
    if not masks:
        raise LabelImportError(f"{masks_dir} holds no mask PNGs")
    found = Found(["mask folder"])
    for mask_path in masks:
        image_path = images.get(mask_path.stem)
        if image_path is None:
            found.skipped.append(
                (str(mask_path), f"{mask_path} has no image of the same name in {images_dir}")
            )
        else:
            found.items.append(
                ItemSource(str(image_path), partial(_load_mask_item, image_path, mask_path, parts))
            )
    stems = {p.stem for p in masks}
    found.unlabeled = [str(p) for stem, p in images.items() if stem not in stems]
    return found


def _load_mask_item(image_path: Path, mask_path: Path, parts) -> RawLabels:
    image = open_rgb(image_path)
    mask = read_class_mask(mask_path, parts)
    if mask.shape != image.shape[:2]:
        raise LabelImportError(
            f"{mask_path} is {_sizes(mask.shape)}, but its image {image_path.name} is {_sizes(image.shape)}"
        )
    return RawLabels(image_path.stem, str(image_path), image, mask, [name for name, _ in parts])


def read_class_mask(path: Path, parts: Sequence[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """(H, W) int32 indices into ``parts`` of an index PNG (palette or grayscale) or an RGB color mask."""
    im = open_image(path)
    colors = np.array([rgb for _, rgb in parts], dtype=np.int64).reshape(-1, 3)
    if im.mode == "P":
        # An index mask whose palette disagrees with labelmap.txt but uses only its colors was saved by a tool
        # that renumbered the colors: the colors are the truth then.
        values = np.asarray(im)
        palette = np.asarray(im.getpalette() or [0, 0, 0], dtype=np.int64).reshape(-1, 3)
        used = [int(u) for u in np.unique(values)]
        agrees = all(u < len(parts) and u < len(palette) and (palette[u] == colors[u]).all() for u in used)
        known = {tuple(c) for c in colors.tolist()}
        if not agrees and all(u < len(palette) and tuple(palette[u].tolist()) in known for u in used):
            im = im.convert("RGB")
    if im.mode in ("RGB", "RGBA"):
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
        keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        lookup = {int((r << 16) | (g << 8) | b): i for i, (r, g, b) in enumerate(colors.tolist())}
        lookup.setdefault((VOC_VOID_RGB[0] << 16) | (VOC_VOID_RGB[1] << 8) | VOC_VOID_RGB[2], 0)
        unique, inverse = np.unique(keys, return_inverse=True)
        missing = [int(k) for k in unique if int(k) not in lookup]
        if missing:
            k = missing[0]
            raise LabelImportError(
                f"{path} has the color {k >> 16},{(k >> 8) & 255},{k & 255}, which {LABELMAP_FILE} lacks"
            )
        table = np.array([lookup[int(k)] for k in unique], dtype=np.int32)
        return table[inverse.reshape(keys.shape)]
    if im.mode not in _INDEX_MODES:
        raise LabelImportError(f"{path} has image mode {im.mode}; a mask must be an index or RGB PNG")
    values = np.asarray(im).astype(np.int32)
    if len(parts) <= VOC_VOID_INDEX:
        values[values == VOC_VOID_INDEX] = 0
    if values.size and (values.min() < 0 or values.max() >= len(parts)):
        raise LabelImportError(
            f"{path} holds class {int(values.max())}, but {LABELMAP_FILE} lists only {len(parts)} classes"
        )
    return values


# ---------------------------------------------------------------------------------------------------------------
# JSON files: labelme (one per image) and COCO (one per dataset)


def is_labelme(doc: object) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("shapes"), list)


def is_coco(doc: object) -> bool:
    return isinstance(doc, dict) and all(
        isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")
    )


def json_found(paths: Iterable[Path]) -> Found:
    found = Found()
    for path in paths:
        try:
            doc = read_json(path)
        except LabelImportError as exc:
            found.skipped.append((str(path), str(exc)))
            continue
        if is_labelme(doc):
            found.merge(Found(["labelme"], [ItemSource(str(path), partial(_load_labelme, path, doc))]))
        elif is_coco(doc):
            found.merge(coco_found(path, doc))
        else:
            found.skipped.append((str(path), f"{path} is neither a labelme nor a COCO JSON file"))
    return found


def _labelme_image(path: Path, doc: dict) -> tuple[np.ndarray, str]:
    """The image a labelme file labels, and its name for messages: the embedded ``imageData`` when it decodes
    (labelme itself prefers it), else the file ``imagePath`` names, else an image beside the JSON with its stem.

    ``imagePath`` may name the JSON itself (labelme's own apc2016_obj3.json does) or a file that moved away;
    each source is tried in turn, and only when none works is the first problem raised.
    """
    problems: list[str] = []
    data = doc.get("imageData")
    if isinstance(data, str) and data:
        try:
            raw = base64.b64decode(data, validate=False)
            return open_rgb_bytes(raw, f"{path} imageData", exif=True), path.name
        except (binascii.Error, ValueError, LabelImportError):
            problems.append(f"{path} carries imageData that is not a readable image")
    name = doc.get("imagePath")
    candidates = []
    if isinstance(name, str) and name.strip() and "\x00" not in name:
        rel = name.replace("\\", "/")
        candidates += [path.parent / rel, path.parent / PurePosixPath(rel).name]
    candidates += [path.with_suffix(suffix) for suffix in IMAGE_SUFFIXES]
    tried: set[Path] = set()
    for candidate in candidates:
        try:
            if candidate in tried or candidate.suffix.lower() == ".json" or not candidate.is_file():
                continue
        except OSError:  # a name too long for the file system, a loop of links
            continue
        tried.add(candidate)
        try:
            return open_rgb(candidate, exif=True), candidate.name  # labelme shows photos EXIF-rotated
        except LabelImportError as exc:
            problems.append(str(exc))
    if problems:
        raise LabelImportError(problems[0])
    shown = name if isinstance(name, str) else None
    raise LabelImportError(
        f"{path} names the image {shown!r}, which is not beside it, and carries no imageData"
    )


def _decode_png_mask(data: object, path: Path, what: str, box: tuple[int, int]) -> np.ndarray:
    """The (H, W) boolean mask of a labelme ``mask`` shape, whose PNG must be ``box`` (W, H) in size; the size is
    checked before decoding, so a mask declaring a huge size is refused without allocating it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(base64.b64decode(str(data)))) as im:
                size = im.size
                region = np.asarray(im.convert("L")) > 0 if size == box else None
    except _UNREADABLE:
        raise LabelImportError(f"{path} {what} has a mask that is not a base64 PNG") from None
    if region is None:
        raise LabelImportError(f"{path} {what} has a {size[0]}x{size[1]} mask for a {box[0]}x{box[1]} box")
    return region


def _shape_region(
    shape_type: str, pts: np.ndarray, shape: dict, hw, path: Path, what: str
) -> np.ndarray | None:
    """Boolean (H, W) region a labelme shape covers; None for shapes that mark no area (lines)."""
    h, w = hw
    if shape_type in ("polygon", "oriented_rectangle") or (shape_type == "rectangle" and len(pts) == 4):
        return polygons_to_mask([pts.ravel()], h, w) if len(pts) >= 3 else None
    if shape_type == "rectangle" and len(pts) == 2:
        (x0, y0), (x1, y1) = pts
        return polygons_to_mask([[x0, y0, x1, y0, x1, y1, x0, y1]], h, w)
    if shape_type == "circle" and len(pts) == 2:
        (cx, cy), (px, py) = pts
        yy, xx = np.mgrid[0:h, 0:w] + 0.5
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= (px - cx) ** 2 + (py - cy) ** 2
    if shape_type == "mask" and len(pts) == 2:
        # labelme >= 5.3: a PNG of the box from (x1, y1) to (x2, y2), both inclusive
        (x1, y1), (x2, y2) = np.rint(pts).astype(int).tolist()
        if x2 < x1 or y2 < y1:
            raise LabelImportError(f"{path} {what} has a box whose corners are the wrong way round")
        crop = _decode_png_mask(shape.get("mask"), path, what, (x2 - x1 + 1, y2 - y1 + 1))
        region = np.zeros((h, w), dtype=bool)
        ys, xs = slice(max(y1, 0), min(y2 + 1, h)), slice(max(x1, 0), min(x2 + 1, w))
        region[ys, xs] = crop[ys.start - y1 : ys.stop - y1, xs.start - x1 : xs.stop - x1]
        return region
    return None


_MAX_COORDINATE = 1e6  # pixels; farther out is no click on any image, and would overflow the rasterizer


def _shape_points(points: object, path: Path, what: str) -> np.ndarray:
    """A labelme shape's ``points`` as (N, 2) float64, refusing anything but finite ``[x, y]`` pairs."""
    if points is None:
        points = []
    if not isinstance(points, list) or not all(
        isinstance(p, list)
        and len(p) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
        for p in points
    ):
        raise LabelImportError(f"{path} {what} has points that are not [x, y] pairs of numbers")
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(pts).all():
        raise LabelImportError(f"{path} {what} has points that are not finite numbers")
    if np.abs(pts).max(initial=0) > _MAX_COORDINATE:
        raise LabelImportError(f"{path} {what} has points far outside any image")
    return pts


def _load_labelme(path: Path, doc: dict) -> RawLabels:
    image, image_name = _labelme_image(path, doc)
    hw = image.shape[:2]
    given = (doc.get("imageHeight"), doc.get("imageWidth"))
    if all(isinstance(v, int) for v in given) and given != hw:
        raise LabelImportError(
            f"{path} gives the image size {_sizes(given)}, but {image_name} is {_sizes(hw)}"
        )
    class_names, class_index = ["background"], {}
    mask = np.zeros(hw, dtype=np.int32)
    painted = False
    points: dict[str, tuple[float, float, float]] = {}
    ignored: Counter[str] = Counter()
    notes = []
    for n, shape in enumerate(doc["shapes"]):
        label = shape.get("label") if isinstance(shape, dict) else None
        if not isinstance(label, str) or not label.strip():
            raise LabelImportError(f"{path} shape {n + 1} has no label")
        what = f"shape {n + 1} ({label[:40]!r})"
        shape_type = shape.get("shape_type") or "polygon"
        if not isinstance(shape_type, str):
            raise LabelImportError(f"{path} {what} has a shape_type that is not text")
        pts = _shape_points(shape.get("points"), path, what)
        if shape_type == "point" and len(pts) == 1:
            flags = shape.get("flags") if isinstance(shape.get("flags"), dict) else {}
            hidden = any(flags.get(flag) for flag in _HIDDEN_FLAGS)
            if label in points:
                notes.append(f"{path} marks the point {label!r} twice, and the first one was kept.")
            points.setdefault(label, (float(pts[0, 0]), float(pts[0, 1]), 1.0 if hidden else 2.0))
            continue
        region = _shape_region(shape_type, pts, shape, hw, path, what)
        if region is None:
            ignored[shape_type] += 1
            continue
        if label not in class_index:
            class_index[label] = len(class_names)
            class_names.append(label)
        mask[region] = class_index[label]  # later shapes paint over earlier ones, as labelme draws them
        painted = True
    for shape_type, count in ignored.items():
        notes.append(f"{path} has {count} {shape_type!r} shape(s) that cover no area, so they were left out.")
    keypoints = np.array([points[k] for k in points], dtype=np.float32).reshape(-1, 3) if points else None
    return RawLabels(
        path.stem,
        str(path),
        image,
        mask if painted else None,
        class_names,
        keypoints,
        list(points),
        notes=notes,
    )


def _find_coco_image(json_path: Path, file_name: str) -> Path | None:
    rel = PurePosixPath(file_name.replace("\\", "/"))
    for base in (json_path.parent, json_path.parent.parent):
        for candidate in (base / rel, base / "images" / rel, base / "images" / rel.name, base / rel.name):
            try:
                if candidate.is_file():
                    return candidate
            except OSError:  # a name too long for the file system: no such image
                continue
    return None


def coco_found(path: Path, doc: dict) -> Found:
    """COCO instances/keypoints: part categories paint the class mask by name; a category carrying
    ``keypoints`` gives the keypoints (its own segmentation, the whole object's outline, is not a class)."""
    stems: dict[str, str] = {}
    for img in doc["images"]:
        file_name = img.get("file_name") if isinstance(img, dict) else None
        if isinstance(file_name, str):
            stem = PurePosixPath(file_name.replace("\\", "/")).stem
            if stem in stems:
                raise LabelImportError(f"{path} lists two images named {stem!r} ({stems[stem]}, {file_name})")
            stems[stem] = file_name
    try:
        labels = parse_coco(doc, set(stems))
    except CocoFormatError as exc:
        raise LabelImportError(f"{path} is not a COCO file this app reads: {exc}") from None
    part_ids = sorted(labels.part_categories)
    class_names = ["background", *(labels.part_categories[c] for c in part_ids)]
    class_of = {cat_id: i + 1 for i, cat_id in enumerate(part_ids)}
    found = Found(["COCO"], notes=[f"{path}: {note}" for note in labels.notes])
    for stem, file_name in stems.items():
        image_path = _find_coco_image(path, file_name)
        if stem not in labels.segmentations and stem not in labels.keypoints:
            found.unlabeled.append(str(image_path or file_name))
        elif image_path is None:
            reason = f"{path} lists the image {file_name!r}, which is neither beside it nor in images/"
            found.skipped.append((file_name, reason))
        else:
            load = partial(_load_coco_item, path, image_path, stem, labels, class_names, class_of)
            found.items.append(ItemSource(str(image_path), load))
    return found


def _load_coco_item(path: Path, image_path: Path, stem: str, labels, class_names, class_of) -> RawLabels:
    image = open_rgb(image_path)
    hw = image.shape[:2]
    given = labels.image_sizes.get(stem, hw)
    if given != hw:
        raise LabelImportError(
            f"{path} gives {image_path.name} the size {_sizes(given)}, but the file is {_sizes(hw)}"
        )
    mask = None
    if stem in labels.segmentations:
        mask = np.zeros(hw, dtype=np.int32)
        for cat_id, segmentation in labels.segmentations[stem]:
            try:
                region = segmentation_to_mask(segmentation, *hw)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                raise LabelImportError(
                    f"{path} has a bad segmentation for {image_path.name} ({exc})"
                ) from None
            if region.shape != hw:
                raise LabelImportError(
                    f"{path} has a {_sizes(region.shape)} mask for {image_path.name}, which is {_sizes(hw)}"
                )
            mask[region] = class_of[cat_id]
    keypoints = labels.keypoints.get(stem)
    keypoints = None if keypoints is None else keypoints.copy()
    return RawLabels(stem, str(image_path), image, mask, class_names, keypoints, labels.keypoint_names)


# ---------------------------------------------------------------------------------------------------------------
# Finding what a folder or a list of files holds


def _visible_entries(root: Path) -> list[Path]:
    return [p for p in root.iterdir() if not p.name.startswith(".")]


def folder_found(root: Path) -> Found:
    """Detect the format of a folder: catalog layout, mask folder, labelme or COCO JSON files."""
    if not root.is_dir():
        raise LabelImportError(f"{root} does not exist")
    if (root / TITLES_FILE).is_file():
        return catalog_found(root)
    if is_mask_folder(root):
        return mask_folder_found(root)
    if (root / MANIFEST_FILE).is_file():
        return catalog_found(root)  # says which file is missing
    jsons = sorted(root.glob("*.json")) or sorted((root / "annotations").glob("*.json"))
    if jsons:
        return json_found(jsons)
    if not _visible_entries(root):
        raise LabelImportError(f"{root} is empty")
    raise LabelImportError(
        f"{root} holds no labeled images (no {TITLES_FILE}, no {LABELMAP_FILE} with masks/, no labelme or COCO JSON)"
    )


def files_found(paths: Iterable[str | Path]) -> Found:
    """Items of dropped files: JSON files, images with a labelme JSON of the same name beside them, folders."""
    found, jsons = Found(), {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.merge(folder_found(path))
        elif path.suffix.lower() == ".json" and path.is_file():
            jsons.setdefault(path.resolve(), path)
        elif path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            sibling = path.with_suffix(".json")
            if sibling.is_file():
                jsons.setdefault(sibling.resolve(), sibling)
            else:
                found.skipped.append((str(path), f"{path} has no labelme JSON of the same name beside it"))
        elif not path.exists():
            found.skipped.append((str(path), f"{path} does not exist"))
        else:
            found.skipped.append((str(path), f"{path} is neither an image nor a JSON file"))
    found.merge(json_found(jsons.values()))
    return found
