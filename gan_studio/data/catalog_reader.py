"""Reading a catalog folder (the layout of :mod:`gan_studio.data.layout`): validated at once, loaded lazily.

:func:`read_catalog` validates the cheap text files (manifest, ``titles.csv``, ``attributes.jsonl``, label map, COCO
file, ``depth.json``) when the folder is opened and loads each item's image and labels on access; every problem is
a :class:`~gan_studio.data.layout.CatalogError` whose one sentence names the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from gan_studio.data.attributes import COLOR_LAB, PARTS, Attributes
from gan_studio.data.coco import CocoFormatError, parse_coco, segmentation_to_mask
from gan_studio.data.image_read import open_image, to_rgb
from gan_studio.data.item import CatalogItem
from gan_studio.data.layout import (
    ANNOTATIONS_FILE,
    ATTRIBUTES_FILE,
    DEPTH_INFO_FILE,
    FORMAT_VERSION,
    LABELMAP_FILE,
    MANIFEST_FILE,
    TITLES_FILE,
    CatalogError,
    parse_labelmap,
)

Progress = Callable[[float, str], None]


def json_problem(exc: Exception) -> str:
    """Why :func:`json.loads` refused a text, in a few words: a syntax error's place, a number too long for
    Python to convert (over 4300 digits), or nesting deeper than the interpreter's recursion limit."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno}"
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    return "it holds a number too long to read"


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CatalogError(f"{path} is not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise CatalogError(f"{path} is not valid JSON ({json_problem(exc)})") from None
    except OSError as exc:
        raise CatalogError(f"{path} cannot be read ({exc.strerror or exc})") from None


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
        doc = read_json(path)
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
                self._coco = parse_coco(read_json(annotations), set(self.ids))
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
            info = read_json(info_path)
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
        im = open_image(self.image_paths[i])
        image = to_rgb(im)
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
            im = open_image(path)
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
        im = open_image(path)
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
