"""Importing a few labeled images (HandsOff): masks, keypoints and depth from the tools annotators use.

Formats (detected from a folder or a single file; the readers are in :mod:`.label_formats`):

- the **catalog folder layout** (:mod:`.layout`: ``titles.csv``/``manifest.json``, ``masks/``, ``labelmap.txt``,
  ``annotations.json``, ``depth/``);
- **labelme** JSON, a folder of them or one file: ``polygon``, ``rectangle``, ``circle`` and ``mask`` shapes paint
  the class mask (later shapes over earlier ones), ``point`` shapes named like a keypoint are keypoints
  (visibility 2, or 1 when the point's flags say ``occluded``/``hidden``); lines, and polygons of fewer than 3
  points, mark no area and are reported. The image is the embedded ``imageData`` when it decodes (as in labelme),
  else the file ``imagePath`` names, else an image beside the JSON with its stem (labelme's own tutorial file
  names itself as ``imagePath``);
- **COCO** JSON (instances and keypoints), images beside the JSON or in an ``images/`` folder next to it (or
  next to its ``annotations/`` folder); polygons of fewer than 3 points are left out with a warning;
- a **mask folder**: ``labelmap.txt`` + ``masks/`` (or ``SegmentationClass/``) + ``images/`` (or
  ``JPEGImages/``), masks as index PNGs (palette or grayscale; VOC's void 255 reads as background) or RGB
  color masks matched against the labelmap colors.

Every item comes out the same way, whatever its format:

- **Size**: the image is padded to a square, centered, with white (the catalog's background; transparent pixels
  also go on white), then resized to ``size`` x ``size`` (Lanczos). Padding rather than cropping or stretching
  keeps every labeled pixel and the garment's proportions. Masks are padded with background and resized with
  nearest neighbor; depth is padded with 0 (undefined) and area-averaged over defined pixels only, defined where
  the nearest sample is (so it lines up with the mask); keypoints move with the padding and scale, in COCO
  coordinates (pixel ``(col, row)`` covers ``[col, col + 1)``).
- **Classes** are matched by name, ignoring case and treating ``-``, ``_`` and spaces alike (labelme's
  ``_background_`` is ``background``). A class the model lacks becomes background and is reported in
  :attr:`ImportReport.unknown_classes` and a warning naming its files; keypoints the model lacks likewise in
  :attr:`ImportReport.unknown_keypoints`. Index 0 of ``classes`` is the background.
- **Bad input**: one bad item among good ones is skipped and listed in :attr:`ImportReport.skipped` with a
  warning; only "nothing importable" raises :class:`LabelImportError`, whose message is one sentence naming the
  file or folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES
from gan_studio.data.label_formats import (
    Found,
    LabelImportError,
    RawLabels,
    files_found,
    folder_found,
)
from gan_studio.runtime.cancel import check_cancel

__all__ = ["ImportReport", "LabelImportError", "LabeledImage", "import_labels"]

Progress = Callable[[float, str], None]


@dataclass(frozen=True, eq=False)
class LabeledImage:
    """One imported labeled image at the generator's size S.

    - ``image``: (S, S, 3) uint8 RGB.
    - ``mask``: (S, S) uint8 indices into the import's ``classes``, or None.
    - ``keypoints``: (K, 3) float32 ``x, y, v`` in pixels of the S x S image, rows in the import's ``keypoints``
      order, COCO visibility (0 not labeled: x = y = 0), or None.
    - ``depth``: (S, S) float32 meters, 0 where undefined, or None.
    """

    id: str
    source: str
    image: np.ndarray
    mask: np.ndarray | None = None
    keypoints: np.ndarray | None = None
    depth: np.ndarray | None = None


@dataclass
class ImportReport:
    """What an import brought in, and everything it could not use, in the user's words."""

    items: list[LabeledImage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unknown_classes: dict[str, int] = field(default_factory=dict)  # class name -> number of items it is in
    unknown_keypoints: dict[str, int] = field(default_factory=dict)  # keypoint name -> number of items
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    format: str = ""


def import_labels(
    source: str | Path | Sequence[str | Path],
    size: int = 64,
    classes: Sequence[str] = PART_NAMES,
    keypoints: Sequence[str] = KEYPOINTS,
    progress: Progress | None = None,
    cancel=None,
) -> ImportReport:
    """Import labeled images (format detected; see the module docstring) from ``source``: a folder or a single
    JSON file, or a list of dropped files (labelme or COCO JSON files, images with a labelme JSON of the same name
    beside them, or folders).

    ``size`` is the generator's image size; ``classes`` and ``keypoints`` are the model's names (mask indices and
    keypoint rows follow them). ``cancel`` is a :class:`~gan_studio.runtime.cancel.CancelToken` (or a callable
    returning True to stop) checked between items: :class:`~gan_studio.runtime.cancel.Cancelled` is raised.
    ``progress(fraction, message)`` is called after each item. Raises :class:`LabelImportError` when nothing can
    be imported.
    """
    folder = None  # a folder given on its own is read as one (a dropped folder merges with the other files)
    if isinstance(source, (str, os.PathLike)):
        paths = [Path(source)]
        where = str(paths[0])
        folder = paths[0]
    else:
        paths = list(source)
        if not paths:
            raise LabelImportError("No files were given to import.")
        where = str(paths[0]) if len(paths) == 1 else f"the {len(paths)} files given"
    try:
        found = folder_found(folder) if folder is not None and folder.is_dir() else files_found(paths)
    except OSError as exc:
        raise LabelImportError(f"{exc.filename or where} cannot be read ({exc.strerror or exc})") from None
    return _import(found, where, size, classes, keypoints, progress, cancel)


# ---------------------------------------------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """Class and keypoint names compare case-insensitively, with ``-``, ``_`` and spaces alike."""
    return re.sub(r"[\s_-]+", "_", str(name).strip().casefold()).strip("_")


def _import(found: Found, where: str, size, classes, keypoints, progress, cancel) -> ImportReport:
    if int(size) < 1:
        raise ValueError(f"size must be a positive number of pixels, not {size}")
    class_index = {normalize_name(n): i for i, n in reversed(list(enumerate(classes)))}
    keypoint_index = {normalize_name(n): i for i, n in reversed(list(enumerate(keypoints)))}
    report = ImportReport(format=" + ".join(found.formats), warnings=list(found.notes))
    for source, reason in found.skipped:
        _skip(report, source, reason)
    unknown_files: dict[str, list[str]] = {}
    unknown_kp_files: dict[str, list[str]] = {}
    unlabeled = list(found.unlabeled)
    ids: set[str] = set()
    total = len(found.items)
    for done, task in enumerate(found.items, start=1):
        check_cancel(cancel)
        try:
            raw = task.load()
            converted = _convert(raw, int(size), class_index, keypoint_index, len(keypoints))
        except LabelImportError as exc:
            _skip(report, task.source, str(exc))
        except OSError as exc:  # a folder or file that vanished or is not ours to read
            _skip(
                report, task.source, f"{exc.filename or task.source} cannot be read ({exc.strerror or exc})"
            )
        else:
            report.warnings += raw.notes
            if converted is None:
                unlabeled.append(task.source)
            else:
                item, lost_classes, lost_keypoints = converted
                item_id, n = item.id, 1
                while item_id.casefold() in ids:  # same file name from two folders
                    n += 1
                    item_id = f"{item.id}_{n}"
                ids.add(item_id.casefold())
                report.items.append(_with_id(item, item_id))
                for name in lost_classes:
                    unknown_files.setdefault(name, []).append(task.source)
                for name in lost_keypoints:
                    unknown_kp_files.setdefault(name, []).append(task.source)
        if progress is not None:
            progress(done / total, f"read {done} of {total} labeled images")
    check_cancel(cancel)

    for source in unlabeled:
        report.skipped.append((source, f"{source} has no labels"))
    if unlabeled:
        report.warnings.append(
            f"{len(unlabeled)} image(s) have no mask, keypoints or depth and were left out ({_names(unlabeled)})."
        )
    report.unknown_classes = {name: len(files) for name, files in unknown_files.items()}
    report.unknown_keypoints = {name: len(files) for name, files in unknown_kp_files.items()}
    for name, files in unknown_files.items():
        report.warnings.append(
            f"The class {name!r} is not one the model knows, so it was imported as background ({_names(files)})."
        )
    for name, files in unknown_kp_files.items():
        report.warnings.append(
            f"The keypoint {name!r} is not one the model knows and was left out ({_names(files)})."
        )

    if not report.items:
        bad = [reason for _, reason in report.skipped if not reason.endswith(" has no labels")]
        if len(bad) == 1:
            raise LabelImportError(bad[0])
        if bad:
            raise LabelImportError(
                f"Nothing in {where} could be imported: {bad[0]} (and {len(bad) - 1} more)"
            )
        if unlabeled:
            raise LabelImportError(f"{where} holds {len(unlabeled)} image(s), but none has labels")
        raise LabelImportError(f"{where} holds no labeled images")
    if progress is not None:
        progress(1.0, f"imported {len(report.items)} labeled images")
    return report


def _skip(report: ImportReport, source: str, reason: str) -> None:
    report.skipped.append((source, reason))
    report.warnings.append(f"{reason.rstrip('.')}, so it was skipped.")


def _names(files: list[str], shown: int = 3) -> str:
    names = [Path(f).name for f in files[:shown]]
    return ", ".join(names) + (f" and {len(files) - shown} more" if len(files) > shown else "")


def _with_id(item: LabeledImage, item_id: str) -> LabeledImage:
    if item_id == item.id:
        return item
    return LabeledImage(item_id, item.source, item.image, item.mask, item.keypoints, item.depth)


def _convert(raw: RawLabels, size: int, class_index: dict, keypoint_index: dict, k: int):
    """(LabeledImage, unknown class names, unknown keypoint names), or None when the item has no labels."""
    image = np.asarray(raw.image)
    hw = image.shape[:2]
    for what, array in (("mask", raw.mask), ("depth map", raw.depth)):
        if array is not None and array.shape != hw:
            raise LabelImportError(
                f"{raw.source} has a {array.shape[1]}x{array.shape[0]} {what} for a {hw[1]}x{hw[0]} image"
            )
    mask, lost_classes = None, []
    if raw.mask is not None:
        values = np.unique(raw.mask)
        if values.size and (values[0] < 0 or values[-1] >= len(raw.class_names)):
            raise LabelImportError(
                f"{raw.source} has the class value {int(values[-1])}, which names no class"
            )
        lut = np.zeros(len(raw.class_names), dtype=np.uint8)
        for v in values.tolist():
            target = class_index.get(normalize_name(raw.class_names[v]))
            if target is None and v > 0:  # value 0 is background/unlabeled in every format, whatever its name
                lost_classes.append(str(raw.class_names[v]))
            lut[v] = target or 0
        mask = lut[raw.mask]
    keypoints, lost_keypoints = None, []
    if raw.keypoints is not None:
        keypoints = np.zeros((k, 3), dtype=np.float32)
        for row, name in zip(np.asarray(raw.keypoints, dtype=np.float32), raw.keypoint_names):
            target = keypoint_index.get(normalize_name(name))
            if target is not None:
                keypoints[target] = row
            elif row[2] > 0:
                lost_keypoints.append(str(name))
    has_keypoints = keypoints is not None and bool((keypoints[:, 2] > 0).any())
    if mask is None and raw.depth is None and not has_keypoints:
        return None
    frame = _Frame(hw, size)
    item = LabeledImage(
        raw.id,
        raw.source,
        frame.image(image),
        None if mask is None else frame.mask(mask),
        None if keypoints is None else frame.keypoints(keypoints),
        None if raw.depth is None else frame.depth(np.asarray(raw.depth, dtype=np.float32)),
    )
    return item, lost_classes, lost_keypoints


class _Frame:
    """Pads an (H, W) picture to a centered square and resizes it to size x size (see the module docstring)."""

    def __init__(self, hw: tuple[int, int], size: int) -> None:
        self.h, self.w = hw
        self.side = max(hw)
        self.top, self.left = (self.side - self.h) // 2, (self.side - self.w) // 2
        self.size = size

    def _pad(self, a: np.ndarray, value) -> np.ndarray:
        if self.h == self.w:
            return a
        pad = [(self.top, self.side - self.h - self.top), (self.left, self.side - self.w - self.left)]
        return np.pad(a, pad + [(0, 0)] * (a.ndim - 2), constant_values=value)

    def _resize(self, a: np.ndarray, resample) -> np.ndarray:
        if self.side == self.size:
            return a
        return np.asarray(Image.fromarray(a).resize((self.size, self.size), resample))

    def image(self, image: np.ndarray) -> np.ndarray:
        return self._resize(np.ascontiguousarray(self._pad(image, 255)), Image.Resampling.LANCZOS).copy()

    def mask(self, mask: np.ndarray) -> np.ndarray:
        return self._resize(self._pad(mask.astype(np.uint8), 0), Image.Resampling.NEAREST).copy()

    def depth(self, depth: np.ndarray) -> np.ndarray:
        valid = np.isfinite(depth) & (depth > 0)
        padded = self._pad(np.where(valid, depth, 0).astype(np.float32), 0)
        if self.side == self.size:
            return padded.copy()
        weight = self._resize(self._pad(valid.astype(np.float32), 0), Image.Resampling.BOX)
        total = self._resize(padded, Image.Resampling.BOX)
        nearest = self._resize(padded, Image.Resampling.NEAREST)
        defined = (nearest > 0) & (weight > 0)
        return np.where(defined, total / np.maximum(weight, 1e-12), 0).astype(np.float32)

    def keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        out = keypoints.astype(np.float32).copy()
        labeled = out[:, 2] > 0
        scale = self.size / self.side
        out[labeled, 0] = (out[labeled, 0] + self.left) * scale
        out[labeled, 1] = (out[labeled, 1] + self.top) * scale
        out[~labeled] = 0
        return out
