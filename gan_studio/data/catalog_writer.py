"""Writing a catalog folder (the layout of :mod:`gan_studio.data.layout`): atomically, item by item.

:func:`write_catalog` writes items into a hidden sibling folder and renames it into place at the end, so a reader
never meets half a catalog. Its parts are public for writers that stream items into a folder over several runs
(the resumable synthetic dataset export, :mod:`gan_studio.data.dataset_export`): :class:`FolderWriter` (writes
each item's files, then the index files), :func:`check_target` and :func:`move_into_place` (the final rename).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence, Sized
from pathlib import Path

import numpy as np
from PIL import Image

from gan_studio.data.attributes import KEYPOINTS, PARTS, SKELETON
from gan_studio.data.coco import CocoBuilder
from gan_studio.data.item import CatalogItem
from gan_studio.data.layout import (
    ANNOTATIONS_FILE,
    ATTRIBUTES_FILE,
    DEFAULT_DEPTH_SCALE,
    DEPTH_INFO_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    LABELMAP_FILE,
    MANIFEST_FILE,
    TITLES_FILE,
    format_labelmap,
    is_safe_id,
)

Progress = Callable[[float, str], None]


class WriteCancelled(Exception):
    """:func:`write_catalog` stopped because ``cancel()`` returned True; nothing was left at ``out``."""


def _manifest_writer() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"gan_studio {version('gan-studio')}"
    except PackageNotFoundError:  # not installed as a distribution (frozen bundle, source tree)
        return "gan_studio"


def _is_catalog_folder(path: Path) -> bool:
    return (path / MANIFEST_FILE).is_file() or (path / TITLES_FILE).is_file()


def check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; choose a new folder")
        if not _is_catalog_folder(out):
            raise FileExistsError(f"{out} is not empty and holds no catalog, so it will not be replaced")


def move_into_place(tmp: Path, out: Path) -> None:
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        os.rename(tmp, out)
        return
    # Replacing a catalog: park the old one beside it, move the new one in, then delete the old one.
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


class FolderWriter:
    """Writes items into a (temporary) folder; :meth:`finish` writes the index files."""

    def __init__(
        self,
        root: Path,
        parts: Sequence[tuple[str, tuple[int, int, int]]],
        keypoint_names: Sequence[str],
        skeleton: Sequence[tuple[int, int]],
        depth_scale: float,
    ) -> None:
        self.root = root
        self.parts = tuple((str(n), tuple(int(v) for v in rgb)) for n, rgb in parts)
        self.keypoint_names = tuple(keypoint_names)
        self.skeleton = tuple(skeleton)
        self.depth_scale = float(depth_scale)
        palette = [v for _, rgb in self.parts for v in rgb]
        self.palette = palette + [0] * (768 - len(palette))
        self.coco = CocoBuilder([n for n, _ in self.parts], self.keypoint_names, self.skeleton)
        self.rows: list[tuple[str, str]] = []
        self.attribute_lines: list[str] = []
        self.seen: set[str] = set()
        self.counts = {"masks": 0, "keypoints": 0, "depth": 0, "attributes": 0}
        (root / "images").mkdir(exist_ok=True)  # exist_ok: resumed exports

    def add(self, item: CatalogItem) -> None:
        item_id = item.id
        if not is_safe_id(item_id):
            raise ValueError(
                f"item id {item_id!r} is not a safe file name (use letters, digits, '.', '_', '-')"
            )
        if item_id.casefold() in self.seen:
            raise ValueError(f"item id {item_id!r} appears twice")
        self.seen.add(item_id.casefold())
        image = np.asarray(item.image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"item {item_id!r}: image must be (H, W, 3) uint8, not {image.shape} {image.dtype}"
            )
        h, w = image.shape[:2]
        file_name = f"images/{item_id}.png"
        Image.fromarray(np.ascontiguousarray(image)).save(self.root / file_name, compress_level=4)
        self.rows.append((file_name, item.title or ""))

        if item.attributes is not None:
            self.attribute_lines.append(json.dumps({"id": item_id, **item.attributes.to_dict()}))
            self.counts["attributes"] += 1

        mask = None
        if item.mask is not None:
            mask = np.asarray(item.mask)
            if mask.shape != (h, w) or not np.issubdtype(mask.dtype, np.integer):
                raise ValueError(
                    f"item {item_id!r}: mask must be ({h}, {w}) integers, not {mask.shape} {mask.dtype}"
                )
            if mask.size and (mask.min() < 0 or mask.max() >= len(self.parts)):
                raise ValueError(
                    f"item {item_id!r}: mask values must be part indices below {len(self.parts)}"
                )
            mask = mask.astype(np.uint8)
            self._save_mask(item_id, mask)
            self.counts["masks"] += 1

        keypoints = None
        if item.keypoints is not None:
            keypoints = np.asarray(item.keypoints, dtype=np.float32)
            if keypoints.shape != (len(self.keypoint_names), 3):
                raise ValueError(
                    f"item {item_id!r}: keypoints must be ({len(self.keypoint_names)}, 3), not {keypoints.shape}"
                )
            self.counts["keypoints"] += 1

        if item.depth is not None:
            self._save_depth(item_id, np.asarray(item.depth, dtype=np.float32), (h, w))
            self.counts["depth"] += 1

        self.coco.add(file_name, h, w, mask, keypoints)

    def _save_mask(self, item_id: str, mask: np.ndarray) -> None:
        if not self.counts["masks"]:
            (self.root / "masks").mkdir(exist_ok=True)
        im = Image.fromarray(mask)
        im.putpalette(self.palette)  # turns the "L" image into a "P" image with the part colors
        im.save(self.root / "masks" / f"{item_id}.png", compress_level=4)

    def _save_depth(self, item_id: str, depth: np.ndarray, hw: tuple[int, int]) -> None:
        if depth.shape != hw:
            raise ValueError(f"item {item_id!r}: depth must be {hw}, not {depth.shape}")
        valid = np.isfinite(depth) & (depth > 0)
        units = np.zeros(hw, dtype=np.float64)
        units[valid] = np.rint(depth[valid] / self.depth_scale)
        if units.size and units.max() > 65535:
            raise ValueError(
                f"item {item_id!r}: depth {float(depth[valid].max()):.2f} m exceeds the range of depth_scale "
                f"{self.depth_scale} m per unit"
            )
        units[valid & (units < 1)] = 1  # a defined depth never rounds to the invalid value
        if not self.counts["depth"]:
            (self.root / "depth").mkdir(exist_ok=True)
        Image.fromarray(units.astype(np.uint16)).save(
            self.root / "depth" / f"{item_id}.png", compress_level=4
        )

    def finish(self, manifest: dict | None) -> None:
        root = self.root
        with open(root / TITLES_FILE, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["file", "title"])
            writer.writerows(self.rows)
        if self.attribute_lines:
            (root / ATTRIBUTES_FILE).write_text("\n".join(self.attribute_lines) + "\n", encoding="utf-8")
        if self.counts["masks"]:
            (root / LABELMAP_FILE).write_text(format_labelmap(self.parts), encoding="utf-8")
        if self.counts["masks"] or self.counts["keypoints"]:
            doc = self.coco.document()
            doc["info"] = {"description": "gan_studio catalog", "version": str(FORMAT_VERSION)}
            (root / ANNOTATIONS_FILE).write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        if self.counts["depth"]:
            info = {
                "scale_m_per_unit": self.depth_scale,
                "invalid_value": 0,
                "units": "meters",
                "dtype": "uint16",
            }
            (root / DEPTH_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        doc = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "writer": _manifest_writer(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **(manifest or {}),
            "count": len(self.rows),
            "part_names": [n for n, _ in self.parts],
            "keypoint_names": list(self.keypoint_names),
            "skeleton": [list(pair) for pair in self.skeleton],
            "has_masks": bool(self.counts["masks"]),
            "has_keypoints": bool(self.counts["keypoints"]),
            "has_depth": bool(self.counts["depth"]),
            "has_attributes": bool(self.counts["attributes"]),
            "complete": True,  # written last, and the folder only appears at its name after this
        }
        (root / MANIFEST_FILE).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def write_catalog(
    items: Iterable[CatalogItem],
    out: str | Path,
    *,
    manifest: dict | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    total: int | None = None,
    overwrite: bool = False,
    parts: Sequence[tuple[str, tuple[int, int, int]]] = PARTS,
    keypoint_names: Sequence[str] = KEYPOINTS,
    skeleton: Sequence[tuple[int, int]] = SKELETON,
    depth_scale: float = DEFAULT_DEPTH_SCALE,
) -> Path:
    """Write ``items`` as a catalog folder at ``out`` and return its path.

    Atomic: everything goes into the hidden sibling ``.<name>.partial`` first, which is renamed to ``out`` only
    once complete; on any error, cancel or interrupt it is removed and ``out`` is left as it was. ``out`` must not
    exist or be empty; ``overwrite=True`` replaces an existing *catalog* folder (never other non-empty folders).

    ``manifest`` adds keys to manifest.json (seed, size, ...). ``progress(fraction, message)`` is called after each
    item (fraction 0 when the count is unknown: pass ``total`` for generators). ``cancel()`` is polled before each
    item; when it returns True, :class:`WriteCancelled` is raised. ``parts``/``keypoint_names``/``skeleton``
    describe the labels (default: the built-in catalog's); depth is stored as uint16 in ``depth_scale`` meters.
    Items with a bad id or bad arrays raise ``ValueError``; an existing target raises ``FileExistsError``.
    """
    out = Path(out)
    if not out.name or out.name in (".", ".."):
        out = out.resolve()
    check_target(out, overwrite)
    if total is None and isinstance(items, Sized):
        total = len(items)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial"
    if tmp.exists():  # left by an interrupted write (a hard kill): it never was a catalog
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        writer = FolderWriter(tmp, parts, keypoint_names, skeleton, depth_scale)
        done = 0
        for item in items:
            if cancel is not None and cancel():
                raise WriteCancelled(f"writing {out} was cancelled")
            writer.add(item)
            done += 1
            if progress is not None:
                fraction = min(done / total, 1.0) if total else 0.0
                progress(fraction, f"{done}/{total} items" if total else f"{done} items")
        if cancel is not None and cancel():
            raise WriteCancelled(f"writing {out} was cancelled")
        writer.finish(manifest)
        check_target(out, overwrite)  # something may have appeared there meanwhile
        move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress is not None:
        progress(1.0, f"wrote {done} items")
    return out
