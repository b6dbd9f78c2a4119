"""The catalog folder layout: its file names, its item ids and its label map, shared by its reader and writer.

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
returns None for what is not there. The one writer is :func:`~gan_studio.data.catalog_writer.write_catalog`
(atomic), the one reader :func:`~gan_studio.data.catalog_reader.read_catalog` (lazy); every problem either finds
is a :class:`CatalogError` whose one sentence names the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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


class CatalogError(ValueError):
    """A catalog folder is missing something or holds a bad file; the message names the file."""


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
