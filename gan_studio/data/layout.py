"""The catalog folder layout: the one reader and the one writer of it.

The built-in catalog export, users' own catalogs and labeled images, and synthetic dataset exports all use the
same folder::

    images/<id>.png        RGB product photos (the reader accepts any format PIL reads, any mode -> RGB)
    titles.csv             columns ``file,title``; ``file`` relative to the folder (``images/<id>.png``; a bare
                           name is looked up in ``images/``); an item's id is its file's stem
    attributes.jsonl       optional, one JSON object a line: ``{"id": ..., "type": ..., "gender": ..., ...}``
    masks/<id>.png         optional, class-index PNG (palette mode, colors from labelmap.txt); the reader also
                           takes grayscale index PNGs and RGB color masks (CVAT/VOC SegmentationClass style)
    labelmap.txt           part classes in mask index order, CVAT/VOC lines ``name:r,g,b::`` under the header
                           ``# label:color_rgb:parts:actions`` (the header is optional when reading)
    annotations.json       optional, COCO: part segmentations and garment keypoints (see :mod:`.coco`)
    depth/<id>.png         optional, uint16 depth; ``meters = value * scale_m_per_unit``, ``invalid_value`` = none
    depth.json             ``{"scale_m_per_unit": 1e-4, "invalid_value": 0, "units": "meters"}``
    manifest.json          who wrote it, count, part and keypoint names, format version, ``"complete": true``

Any label may be missing for any item (user images): the writer writes only what an item has, and the reader
returns None for what is not there. :func:`write_catalog` is atomic: it writes into a hidden sibling folder and
renames it into place at the end. :func:`read_catalog` validates the cheap text files at once and loads images and
labels on access; every problem is a :class:`CatalogError` whose one sentence names the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence, Sized
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from gan_studio.data.attributes import COLOR_LAB, KEYPOINTS, PARTS, SKELETON, Attributes
from gan_studio.data.coco import CocoBuilder, CocoFormatError, parse_coco, segmentation_to_mask
from gan_studio.data.item import CatalogItem

FORMAT_NAME = "gan_studio.catalog"
FORMAT_VERSION = 1
LABELMAP_HEADER = "# label:color_rgb:parts:actions"
DEFAULT_DEPTH_SCALE = 1e-4  # meters per uint16 unit: 0.1 mm steps, up to 6.55 m

TITLES_FILE = "titles.csv"
ATTRIBUTES_FILE = "attributes.jsonl"
LABELMAP_FILE = "labelmap.txt"
ANNOTATIONS_FILE = "annotations.json"
DEPTH_INFO_FILE = "depth.json"
MANIFEST_FILE = "manifest.json"

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}

Progress = Callable[[float, str], None]


class CatalogError(ValueError):
    """A catalog folder is missing something or holds a bad file; the message names the file."""


class WriteCancelled(Exception):
    """:func:`write_catalog` stopped because ``cancel()`` returned True; nothing was left at ``out``."""


# ---------------------------------------------------------------------------------------------------------------
# Ids


def is_safe_id(item_id: str) -> bool:
    """Whether ``item_id`` can be used as a file name on every platform (letters, digits, ``._-``)."""
    return (
        isinstance(item_id, str)
        and _SAFE_ID.fullmatch(item_id) is not None
        and not item_id.endswith(".")
        and item_id.split(".")[0].lower() not in _WINDOWS_RESERVED
    )


def safe_id(name: str) -> str:
    """A safe item id made from any name (e.g. a user's file stem): other characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:200].rstrip(".") or "item"
    if not cleaned[0].isalnum():
        cleaned = "x" + cleaned
    if cleaned.split(".")[0].lower() in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned if is_safe_id(cleaned) else "item"


# ---------------------------------------------------------------------------------------------------------------
# labelmap.txt


def format_labelmap(parts: Sequence[tuple[str, tuple[int, int, int]]]) -> str:
    """labelmap.txt text (CVAT header, then ``name:r,g,b::`` per class in index order)."""
    lines = [LABELMAP_HEADER]
    lines += [f"{name}:{r},{g},{b}::" for name, (r, g, b) in parts]
    return "\n".join(lines) + "\n"


def parse_labelmap(text: str, source: str = LABELMAP_FILE) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """Parse labelmap.txt (with or without the CVAT header) into ``((name, (r, g, b)), ...)``."""
    parts: list[tuple[str, tuple[int, int, int]]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        name = fields[0].strip()
        try:
            rgb = tuple(int(v) for v in fields[1].split(","))
        except (IndexError, ValueError):
            rgb = ()
        if not name or len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise CatalogError(f"{source} line {number} is not 'name:r,g,b::' ({raw.strip()!r})")
        if any(name == n for n, _ in parts):
            raise CatalogError(f"{source} line {number} repeats the label {name!r}")
        parts.append((name, rgb))  # type: ignore[arg-type]
    if not parts:
        raise CatalogError(f"{source} lists no labels")
    return tuple(parts)


# ---------------------------------------------------------------------------------------------------------------
# Writing


def _manifest_writer() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"gan_studio {version('gan-studio')}"
    except PackageNotFoundError:  # not installed as a distribution (frozen bundle, source tree)
        return "gan_studio"


def _is_catalog_folder(path: Path) -> bool:
    return (path / MANIFEST_FILE).is_file() or (path / TITLES_FILE).is_file()


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out} is not empty; choose a new folder")
        if not _is_catalog_folder(out):
            raise FileExistsError(f"{out} is not empty and holds no catalog, so it will not be replaced")


def _move_into_place(tmp: Path, out: Path) -> None:
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


class _FolderWriter:
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


# Public names for writers that stream items into a folder over several runs (the resumable synthetic dataset
# export, :mod:`gan_studio.data.dataset_export`): the same item writer, target check and final rename.
FolderWriter = _FolderWriter
check_target = _check_target
move_into_place = _move_into_place


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
    _check_target(out, overwrite)
    if total is None and isinstance(items, Sized):
        total = len(items)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial"
    if tmp.exists():  # left by an interrupted write (a hard kill): it never was a catalog
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        writer = _FolderWriter(tmp, parts, keypoint_names, skeleton, depth_scale)
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
        _check_target(out, overwrite)  # something may have appeared there meanwhile
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress is not None:
        progress(1.0, f"wrote {done} items")
    return out


# ---------------------------------------------------------------------------------------------------------------
# Reading


def json_problem(exc: Exception) -> str:
    """Why :func:`json.loads` refused a text, in a few words: a syntax error's place, a number too long for
    Python to convert (over 4300 digits), or nesting deeper than the interpreter's recursion limit."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    return "it holds a number too long to read"


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CatalogError(f"{path} is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise CatalogError(f"{path} is not valid JSON ({json_problem(exc)})") from None
    except OSError as exc:
        raise CatalogError(f"{path} cannot be read ({exc.strerror or exc})") from None


def _open_image(path: Path | bytes, name: str | None = None) -> Image.Image:
    """Open and fully decode an image, so that truncated and corrupt files fail here.

    ``path`` may also be the bytes of an image file (labelme's embedded imageData), named ``name`` in errors.
    Images declaring more pixels than PIL's decompression-bomb limit are refused before any pixel is decoded.
    """
    source = (lambda: io.BytesIO(path)) if isinstance(path, bytes) else (lambda: path)
    name = name or str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source()) as probe:
                probe.verify()  # checks chunk CRCs (PNG) without decoding
            with Image.open(source()) as im:
                im.load()
        return im
    except FileNotFoundError:
        raise CatalogError(f"{name} is missing") from None
    except UnidentifiedImageError:
        raise CatalogError(f"{name} is not an image in a format PIL reads") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CatalogError(
            f"{name} declares more than {Image.MAX_IMAGE_PIXELS} pixels, too many to open safely"
        ) from None
    except Exception as exc:  # noqa: BLE001 - see below
        # PIL's plugins let whatever they hit on malformed data escape (OSError and SyntaxError mostly, but the
        # fuzz suite also met IndexError from a PNG whose IEND comes before any IDAT): all mean a bad file.
        reason = str(exc).splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CatalogError(f"{name} is not a readable image ({reason})") from None


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy()
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # transparent product cut-outs go on the catalog's white background
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8).copy()
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.float64)
        arr = arr / 257.0 if arr.max(initial=0) > 255 else arr
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


class CatalogFolder(Sequence[CatalogItem]):
    """A catalog folder, read lazily: ``folder[i]`` loads item ``i``'s image and labels from disk.

    ``ids``, ``titles``, ``attributes``, ``manifest``, the label map and the COCO file are read (and validated)
    when the folder is opened; images, masks and depth maps are read and checked on access (or all at once by
    :meth:`validate`). ``warnings`` lists what was read but left out (COCO polygons of fewer than 3 points).
    """

    def __init__(self, path: str | Path, *, color_words: Collection[str] | None = None) -> None:
        self.path = Path(path)
        self._color_words = set(COLOR_LAB) if color_words is None else set(color_words)
        if not self.path.is_dir():
            raise CatalogError(f"catalog folder {self.path} does not exist")
        self.warnings: list[str] = []  # what was read but left out (a polygon of 2 points), one sentence each
        self.manifest: dict = self._read_manifest()
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.image_paths: list[Path] = []
        self._read_titles()
        self._index = {item_id: i for i, item_id in enumerate(self.ids)}
        self.attributes: list[Attributes | None] = self._read_attributes()
        self.parts: tuple[tuple[str, tuple[int, int, int]], ...] = ()
        self._read_labels()

    # -- eager parts -------------------------------------------------------------------------------------------

    def _read_manifest(self) -> dict:
        path = self.path / MANIFEST_FILE
        if not path.exists():
            return {}
        doc = _read_json(path)
        if not isinstance(doc, dict):
            raise CatalogError(f"{path} is not a JSON object")
        if doc.get("complete") is False:
            raise CatalogError(f"{path} says the catalog was not completely written")
        version = doc.get("format_version", FORMAT_VERSION)
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise CatalogError(
                f"{path} has format version {version}; this gan-studio reads up to {FORMAT_VERSION}"
            )
        return doc

    def _read_titles(self) -> None:
        path = self.path / TITLES_FILE
        if not path.is_file():
            raise CatalogError(f"catalog folder {self.path} has no {TITLES_FILE}")
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                columns = [c.strip() for c in (reader.fieldnames or [])]
                missing = [c for c in ("file", "title") if c not in columns]
                if missing:
                    raise CatalogError(
                        f"{path} lacks the column(s) {', '.join(missing)}; it needs 'file,title'"
                    )
                reader.fieldnames = columns
                rows = list(reader)
        except UnicodeDecodeError:
            raise CatalogError(f"{path} is not UTF-8 text") from None
        except csv.Error as exc:
            raise CatalogError(f"{path} is not valid CSV ({exc})") from None
        root = self.path.resolve()
        seen: dict[str, int] = {}
        for line, row in enumerate(rows, start=2):
            file = (row.get("file") or "").strip()
            if not file:
                raise CatalogError(f"{path} line {line} has an empty 'file'")
            if any(c in file for c in "\r\n\x00") or len(file) > 1000:
                # a quote left open runs the cell over the following lines
                raise CatalogError(f"{path} line {line} has a 'file' that is no file name ({file[:60]!r})")
            rel = PurePosixPath(file.replace("\\", "/"))
            if rel.is_absolute() or ".." in rel.parts:
                raise CatalogError(f"{path} line {line} names a file outside the folder ({file!r})")
            image_path = self.path / rel
            try:
                if not image_path.is_file() and len(rel.parts) == 1:
                    image_path = self.path / "images" / rel
                found = image_path.is_file()
            except OSError as exc:  # a name too long for the file system
                raise CatalogError(
                    f"{path} line {line} lists {file[:60]!r}, which cannot be opened ({exc.strerror or exc})"
                ) from None
            if not found:
                raise CatalogError(f"{path} line {line} lists {file!r}, but {self.path / rel} is missing")
            item_id = rel.stem
            if item_id in seen:
                raise CatalogError(f"{path} line {line} repeats the id {item_id!r} (line {seen[item_id]})")
            seen[item_id] = line
            if not image_path.resolve().is_relative_to(root):
                raise CatalogError(f"{path} line {line} names a file outside the folder ({file!r})")
            self.ids.append(item_id)
            self.titles.append(row.get("title") or "")
            self.image_paths.append(image_path)

    def _read_attributes(self) -> list[Attributes | None]:
        found: list[Attributes | None] = [None] * len(self.ids)
        path = self.path / ATTRIBUTES_FILE
        if not path.exists():
            return found
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise CatalogError(f"{path} is not UTF-8 text") from None
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise CatalogError(f"{path} line {number} is not valid JSON ({json_problem(exc)})") from None
            if not isinstance(obj, dict):
                raise CatalogError(f"{path} line {number} is not a JSON object")
            item_id = obj.get("id")
            if item_id is None and isinstance(obj.get("file"), str):
                item_id = PurePosixPath(obj["file"].replace("\\", "/")).stem
            if not isinstance(item_id, str):
                raise CatalogError(f"{path} line {number} has no 'id'")
            if item_id not in self._index:
                raise CatalogError(f"{path} line {number} has id {item_id!r}, which titles.csv does not list")
            try:
                attrs = Attributes.from_dict(obj)
            except (ValueError, TypeError) as exc:
                raise CatalogError(f"{path} line {number}: {exc}") from None
            if attrs.color not in self._color_words:
                raise CatalogError(f"{path} line {number}: unknown color word {attrs.color!r}")
            found[self._index[item_id]] = attrs
        return found

    def _read_labels(self) -> None:
        labelmap = self.path / LABELMAP_FILE
        if labelmap.exists():
            try:
                text = labelmap.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise CatalogError(f"{labelmap} is not UTF-8 text") from None
            self.parts = parse_labelmap(text, str(labelmap))
        self._masks_dir = self.path / "masks"
        self._mask_files = self._masks_dir.is_dir()
        if self._mask_files and not self.parts:
            raise CatalogError(
                f"catalog folder {self.path} has masks/ but no {LABELMAP_FILE} naming the classes"
            )

        self._coco = None
        annotations = self.path / ANNOTATIONS_FILE
        if annotations.exists():
            try:
                self._coco = parse_coco(_read_json(annotations), set(self.ids))
            except CocoFormatError as exc:
                raise CatalogError(f"{annotations} is malformed: {exc}") from None
            self.warnings += [f"{annotations}: {note}" for note in self._coco.notes]
        # Without mask PNGs, part masks are drawn from the COCO segmentations.
        self._category_class: dict[int, int] = {}
        if not self._mask_files and self._coco is not None and self._coco.segmentations:
            if not self.parts:
                names = ["background"] + [
                    self._coco.part_categories[c] for c in sorted(self._coco.part_categories)
                ]
                self.parts = tuple(
                    (n, PARTS[i][1] if i < len(PARTS) else (0, 0, 0)) for i, n in enumerate(names)
                )
            index = {name: i for i, (name, _) in enumerate(self.parts)}
            for cat_id, name in self._coco.part_categories.items():
                if name not in index:
                    raise CatalogError(
                        f"{annotations} has the category {name!r}, which {LABELMAP_FILE} lacks"
                    )
                self._category_class[cat_id] = index[name]

        self._depth_dir = self.path / "depth"
        self._depth_scale = 0.0
        self._depth_invalid = 0
        if self._depth_dir.is_dir():
            info_path = self.path / DEPTH_INFO_FILE
            if not info_path.exists():
                raise CatalogError(
                    f"catalog folder {self.path} has depth/ but no {DEPTH_INFO_FILE} giving its scale"
                )
            info = _read_json(info_path)
            scale = info.get("scale_m_per_unit") if isinstance(info, dict) else None
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
                raise CatalogError(f"{info_path} has no positive 'scale_m_per_unit'")
            invalid = info.get("invalid_value", 0)
            if isinstance(invalid, bool) or not isinstance(invalid, int):
                raise CatalogError(f"{info_path} has a non-integer 'invalid_value'")
            self._depth_scale = float(scale)
            self._depth_invalid = invalid

    # -- what the folder holds ---------------------------------------------------------------------------------

    @property
    def part_names(self) -> tuple[str, ...]:
        """Part class names in mask index order (empty when the catalog has no masks)."""
        return tuple(name for name, _ in self.parts)

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return self._coco.keypoint_names if self._coco is not None else ()

    @property
    def skeleton(self) -> tuple[tuple[int, int], ...]:
        return self._coco.skeleton if self._coco is not None else ()

    @property
    def has_masks(self) -> bool:
        return self._mask_files or bool(self._category_class)

    @property
    def has_keypoints(self) -> bool:
        return self._coco is not None and bool(self._coco.keypoints)

    @property
    def has_depth(self) -> bool:
        return self._depth_scale > 0

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"CatalogFolder({str(self.path)!r}, {len(self)} items)"

    # -- lazy loading ------------------------------------------------------------------------------------------

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]  # raises IndexError, handles negatives
        item_id = self.ids[i]
        im = _open_image(self.image_paths[i])
        image = _to_rgb(im)
        hw = image.shape[:2]
        expected = self._coco.image_sizes.get(item_id, hw) if self._coco is not None else hw
        if expected != hw:
            raise CatalogError(
                f"{self.path / ANNOTATIONS_FILE} gives {item_id!r} the size {expected[1]}x{expected[0]}, "
                f"but its image is {hw[1]}x{hw[0]}"
            )
        return CatalogItem(
            id=item_id,
            title=self.titles[i],
            image=image,
            attributes=self.attributes[i],
            mask=self._load_mask(item_id, hw),
            keypoints=self._keypoints(item_id),
            depth=self._load_depth(item_id, hw),
        )

    def _keypoints(self, item_id: str) -> np.ndarray | None:
        found = self._coco.keypoints.get(item_id) if self._coco is not None else None
        return None if found is None else found.copy()  # callers may edit theirs

    def _load_mask(self, item_id: str, hw: tuple[int, int]) -> np.ndarray | None:
        if self._mask_files:
            path = self._masks_dir / f"{item_id}.png"
            if not path.exists():
                return None
            im = _open_image(path)
            if im.mode in ("RGB", "RGBA"):
                mask = self._mask_from_colors(np.asarray(im.convert("RGB")), path)
            elif im.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L"):
                values = np.asarray(im)
                if values.size and (values.min() < 0 or values.max() >= len(self.parts)):
                    raise CatalogError(
                        f"{path} holds class {int(values.max())}, but {LABELMAP_FILE} has only "
                        f"{len(self.parts)} classes"
                    )
                mask = values.astype(np.uint8)
            else:
                raise CatalogError(f"{path} has image mode {im.mode}; a mask must be an index or RGB PNG")
            if mask.shape != hw:
                raise CatalogError(
                    f"{path} is {mask.shape[1]}x{mask.shape[0]}, but its image is {hw[1]}x{hw[0]}"
                )
            return mask
        if self._category_class and item_id in self._coco.segmentations:
            mask = np.zeros(hw, dtype=np.uint8)
            for cat_id, seg in self._coco.segmentations[item_id]:
                try:
                    region = segmentation_to_mask(seg, *hw)
                except (ValueError, TypeError, KeyError) as exc:
                    raise CatalogError(
                        f"{self.path / ANNOTATIONS_FILE} has a bad segmentation for {item_id!r}: {exc}"
                    ) from None
                if region.shape != hw:
                    raise CatalogError(
                        f"{self.path / ANNOTATIONS_FILE} has a segmentation of the wrong size for {item_id!r}"
                    )
                mask[region] = self._category_class[cat_id]
            return mask
        return None

    def _mask_from_colors(self, rgb: np.ndarray, path: Path) -> np.ndarray:
        keys = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
        colors = np.array([(r << 16) | (g << 8) | b for _, (r, g, b) in self.parts], dtype=np.int32)
        order = np.argsort(colors)
        pos = np.clip(np.searchsorted(colors[order], keys), 0, len(colors) - 1)
        found = colors[order][pos] == keys
        if not found.all():
            k = int(keys[~found][0])
            raise CatalogError(
                f"{path} has the color {k >> 16},{(k >> 8) & 255},{k & 255}, which {LABELMAP_FILE} lacks"
            )
        return order[pos].astype(np.uint8)

    def _load_depth(self, item_id: str, hw: tuple[int, int]) -> np.ndarray | None:
        if not self.has_depth:
            return None
        path = self._depth_dir / f"{item_id}.png"
        if not path.exists():
            return None
        im = _open_image(path)
        if im.mode not in ("I;16", "I;16B", "I;16L", "I", "L"):
            raise CatalogError(f"{path} has image mode {im.mode}; depth must be a 16-bit grayscale PNG")
        units = np.asarray(im)
        if units.shape != hw:
            raise CatalogError(
                f"{path} is {units.shape[1]}x{units.shape[0]}, but its image is {hw[1]}x{hw[0]}"
            )
        depth = units.astype(np.float32) * np.float32(self._depth_scale)
        depth[units == self._depth_invalid] = 0.0
        return depth

    def validate(self, progress: Progress | None = None) -> list[str]:
        """Read every item and return the problems found (one sentence each; empty when all is well)."""
        problems: list[str] = []
        for i in range(len(self)):
            try:
                self[i]
            except CatalogError as exc:
                problems.append(str(exc))
            if progress is not None:
                progress((i + 1) / len(self), f"checked {i + 1}/{len(self)} items")
        return problems


def read_catalog(path: str | Path, *, color_words: Collection[str] | None = None) -> CatalogFolder:
    """Open a catalog folder (see the module docstring for the layout); raises :class:`CatalogError`.

    ``color_words`` is the set of color words attributes may use (default: the built-in ones).
    """
    return CatalogFolder(path, color_words=color_words)
