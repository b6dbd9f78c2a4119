"""The folder of a synthetic dataset export, as the export and the merge of its shards both write it.

The names of its extra files, the description of its labels (:class:`ExportLabels`: part colors, keypoints, depth
scale), the index files written once every kept item's files are in place (:func:`write_index`), atomic text
writes, and the errors either may meet, each one sentence for the user (:class:`ExportError`,
:func:`os_error_message`).
"""

from __future__ import annotations

import csv
import errno
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gan_studio.data.attributes import KEYPOINTS, PARTS, SKELETON
from gan_studio.data.catalog_writer import FolderWriter, check_target
from gan_studio.data.layout import DEFAULT_DEPTH_SCALE, MANIFEST_FILE

EXPORT_SOURCE = "gan-studio dataset export (HandsOff)"
WORK_DIR = ".export"  # inside the work folder: the journal and the chunk records
JOURNAL_FILE = "journal.json"
UNCERTAINTY_FILE = "uncertainty.csv"
UNCERTAINTY_SCORE = "mean per-pixel Jensen-Shannon divergence of the segmentation ensemble (nats)"


class ExportError(ValueError):
    """An export or merge that cannot go on; the message is one sentence for the user."""


@dataclass(frozen=True)
class ExportResult:
    """What an export or merge wrote: ``candidates`` generated in its block, ``kept`` in the folder, ``dropped``
    for uncertainty, and ``resumed``: candidates an earlier, interrupted run had already written."""

    path: Path
    candidates: int
    kept: int
    dropped: int
    resumed: int = 0


# ---------------------------------------------------------------------------------------------------------------
# Label description (the folder's labelmap, keypoints, depth scale)


@dataclass(frozen=True)
class ExportLabels:
    """The labels a dataset folder describes: part classes (name, RGB) in mask index order, keypoints, depth
    scale in meters per uint16 unit."""

    parts: tuple[tuple[str, tuple[int, int, int]], ...]
    keypoint_names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]
    depth_scale: float = DEFAULT_DEPTH_SCALE

    def writer(self, root: Path) -> FolderWriter:
        return FolderWriter(root, self.parts, self.keypoint_names, self.skeleton, self.depth_scale)


def _voc_color(index: int) -> tuple[int, int, int]:
    """The PASCAL VOC palette color of class ``index``."""
    r = g = b = 0
    c = index
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return r, g, b


def labels_of(class_names: Sequence[str], keypoint_names: Sequence[str]) -> ExportLabels:
    """A model's labels: built-in part colors where the name is built in, else the VOC palette color."""
    builtin = dict(PARTS)
    parts = tuple((name, builtin.get(name, _voc_color(i))) for i, name in enumerate(class_names))
    names = tuple(keypoint_names)
    return ExportLabels(parts, names, SKELETON if names == KEYPOINTS else ())


# ---------------------------------------------------------------------------------------------------------------
# Files


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a synced temporary file, so a crash leaves the old file or the new."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_export_json(path: Path) -> object:
    """A JSON file the export wrote; an unreadable one is an :class:`ExportError` (delete and start over)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path} is damaged ({exc}); delete its folder to start over") from None


def write_unfinished_manifest(work: Path, identity: dict) -> None:
    """The manifest a work folder holds until the end: it names the export and says ``"complete": false``, so no
    reader takes the folder for a dataset."""
    placeholder = {"source": EXPORT_SOURCE, "complete": False, "export_identity": identity}
    atomic_write_text(work / MANIFEST_FILE, json.dumps(placeholder, indent=2) + "\n")


def os_error_message(exc: OSError, where: Path, done: int | None = None) -> str:
    """One sentence for an ``OSError`` met while writing into ``where`` (``done`` items already safe there)."""
    name = exc.filename or where
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", None):
        if done is None:
            return f"the disk holding {where} is full; free some space and try again"
        return (
            f"the disk holding {where} is full; free some space and run the same command again to continue "
            f"after the {done} item(s) already written"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{name} cannot be written ({exc.strerror}); choose a folder you can write to"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{name} cannot be created: a file is in the way"
    return f"{name} cannot be written ({exc.strerror or exc})"


def is_complete(folder: Path) -> bool:
    """Whether ``folder``'s manifest says it was completely written."""
    try:
        doc = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("complete") is True


def check_out(out: Path, overwrite: bool) -> Path:
    """``out`` if a dataset may be written there (a complete dataset only with ``overwrite``), else
    ``FileExistsError``."""
    if not out.name or out.name in (".", ".."):
        out = out.resolve()
    if out.is_dir() and is_complete(out) and not overwrite:
        raise FileExistsError(f"{out} already holds a complete dataset; choose a new folder or overwrite it")
    check_target(out, overwrite)
    return out


def _write_uncertainty(root: Path, entries: Sequence[dict]) -> None:
    with open(root / UNCERTAINTY_FILE, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "index", "latent_seed", "uncertainty"])
        for e in entries:
            u = e["uncertainty"]
            writer.writerow([e["file"], e["index"], e["latent_seed"], "" if u is None else repr(float(u))])


def write_index(root: Path, labels: ExportLabels, entries: Sequence[dict], manifest: dict) -> None:
    """titles.csv, labelmap.txt, annotations.json, depth.json, uncertainty.csv and (last) the complete manifest
    for items whose files are already in ``root``; COCO ids are numbered 1.. in ``entries`` order."""
    writer = labels.writer(root)
    coco = writer.coco
    for e in entries:
        image_id = len(coco.images) + 1
        coco.images.append({"id": image_id, **e["image"]})
        for ann in e["annotations"]:
            coco.annotations.append({"id": len(coco.annotations) + 1, "image_id": image_id, **ann})
        writer.rows.append((e["file"], e["title"]))
        for key, flag in (("masks", "has_mask"), ("keypoints", "has_keypoints"), ("depth", "has_depth")):
            writer.counts[key] += bool(e[flag])
    _write_uncertainty(root, entries)
    writer.finish(manifest)


def item_files(item: str) -> list[str]:
    """The files item ``item`` may have in the folder, relative to it."""
    return [f"images/{item}.png", f"masks/{item}.png", f"depth/{item}.png"]
