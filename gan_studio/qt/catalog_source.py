"""Where the Catalog browser's items come from, and the jobs that load them on the worker.

Qt-free (numpy and Pillow): these functions run on the worker thread and return plain data — small frozen
dataclasses with numpy uint8 images — which the browser turns into pixmaps on the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from gan_studio.data.attributes import PARTS, SKELETON, Attributes
from gan_studio.data.item import CatalogItem
from gan_studio.data.overlay import compose_all


@dataclass(frozen=True)
class Thumb:
    """One grid cell: the item's identity and a small image."""

    index: int
    id: str
    title: str
    attributes: Attributes | None
    image: np.ndarray = field(repr=False)
    problem: str | None = None  # why the item could not be read (the image is then a gray placeholder)


@dataclass(frozen=True)
class Detail:
    """One item at full size with every overlay view prepared (keys of ``views``: see ``overlay.OVERLAYS``)."""

    index: int
    id: str
    title: str
    attributes: Attributes | None
    size: tuple[int, int]
    views: dict[str, np.ndarray] = field(repr=False)
    parts: tuple[tuple[str, tuple[int, int, int]], ...] = PARTS  # (name, RGB) per mask index
    parts_present: tuple[int, ...] = ()
    # what the shipped attribute classifier sees: head -> (label, probability); or why it could not say
    predicted: dict[str, tuple[str, float]] | None = None
    prediction_problem: str | None = None


class BuiltinSource:
    """The first ``count`` items of built-in catalog ``seed``, rendered on demand."""

    def __init__(self, seed: int = 0, count: int = 512, thumb_render_size: int = 128, detail_size: int = 256):
        self.seed = int(seed)
        self.count = int(count)
        self.thumb_render_size = int(thumb_render_size)
        self.detail_size = int(detail_size)

    @property
    def description(self) -> str:
        return f"Built-in catalog, seed {self.seed}"

    parts = PARTS
    skeleton = SKELETON

    def __len__(self) -> int:
        return self.count

    def item(self, index: int, detail: bool = False) -> CatalogItem:
        from gan_studio.data.catalog import render_item

        return render_item(self.seed, index, self.detail_size if detail else self.thumb_render_size)


class FolderSource:
    """A catalog folder read with ``gan_studio.data.catalog_reader.read_catalog`` (items are read lazily)."""

    def __init__(self, folder, path: str | Path):
        self.folder = folder
        self.path = Path(path)

    @classmethod
    def open(cls, path: str | Path) -> FolderSource:
        """Read the folder's index; raises ``ValueError`` (``CatalogError``) or ``OSError`` with one sentence."""
        from gan_studio.data.catalog_reader import read_catalog

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"the folder {path} does not exist")
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is a file, not a catalog folder")
        return cls(read_catalog(path), path)

    @property
    def description(self) -> str:
        return f"Folder {self.path.name} ({self.path})"

    @property
    def parts(self) -> tuple[tuple[str, tuple[int, int, int]], ...]:
        return tuple(getattr(self.folder, "parts", ())) or PARTS

    @property
    def skeleton(self) -> tuple[tuple[int, int], ...]:
        return tuple(getattr(self.folder, "skeleton", ())) or SKELETON

    def __len__(self) -> int:
        return len(self.folder)

    def item(self, index: int, detail: bool = False) -> CatalogItem:
        return self.folder[index]


@dataclass(frozen=True)
class OpenFailed:
    """A folder that could not be opened; ``message`` is a sentence without its final period."""

    path: str
    message: str


def open_folder_job(path: str) -> FolderSource | OpenFailed:
    """Worker job body: a :class:`FolderSource`, or :class:`OpenFailed` for bad input (never raises for that)."""
    try:
        source = FolderSource.open(path)
    except (ValueError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return OpenFailed(str(path), message.rstrip("."))
    if len(source) == 0:
        return OpenFailed(str(path), f"the folder {path} lists no items in its titles.csv")
    return source


def make_thumbnail(image: np.ndarray, size: int) -> np.ndarray:
    """Shrink an (H, W, 3) uint8 image so its longer side is ``size`` pixels (never enlarges)."""
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = image[:, :, :3]
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(image)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(image).resize(new, Image.Resampling.LANCZOS))


def load_thumbs(source, start: int, stop: int, thumb_size: int, ctx=None) -> list[Thumb]:
    """Items ``start``..``stop - 1`` of ``source`` as thumbnails; checks for cancel and reports progress per item.

    Progress is reported as a fraction of the whole source, so a chain of batches fills one bar.
    """
    out = []
    total = max(len(source), 1)
    for index in range(start, stop):
        if ctx is not None:
            ctx.progress(index / total, f"Loading thumbnails {index + 1}/{len(source)}")
        try:
            item = source.item(index)
        except (ValueError, OSError) as exc:  # one unreadable file must not stop the catalog
            out.append(_unreadable(source, index, thumb_size, exc))
            continue
        out.append(Thumb(index, item.id, item.title, item.attributes, make_thumbnail(item.image, thumb_size)))
    return out


def _unreadable(source, index: int, thumb_size: int, exc: Exception) -> Thumb:
    ids = getattr(getattr(source, "folder", None), "ids", None)
    titles = getattr(getattr(source, "folder", None), "titles", None)
    item_id = ids[index] if ids is not None else f"item {index}"
    title = titles[index] if titles is not None else item_id
    placeholder = np.full((thumb_size, thumb_size, 3), 200, dtype=np.uint8)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return Thumb(index, item_id, title, None, placeholder, problem=message)


def load_detail(source, index: int, ctx=None) -> Detail:
    """Item ``index`` at detail size with its overlay views composed (see ``gan_studio.data.overlay``)."""
    if ctx is not None:
        ctx.raise_if_cancelled()
    item = source.item(index, detail=True)
    parts = tuple(source.parts)
    palette = np.array([rgb for _, rgb in parts], dtype=np.uint8)
    views = compose_all(item, palette=palette, skeleton=tuple(source.skeleton))
    present: tuple[int, ...] = ()
    if item.mask is not None:
        present = tuple(int(v) for v in np.unique(item.mask) if v > 0)
    predicted, problem = classify_item(item.image, ctx)
    return Detail(
        index, item.id, item.title, item.attributes, item.size, views, parts, present, predicted, problem
    )


def classify_item(image: np.ndarray, ctx=None) -> tuple[dict[str, tuple[str, float]] | None, str | None]:
    """The shipped classifier's reading of ``image`` (loaded once per worker through its model cache).

    Returns (predictions, None), or (None, one sentence) when the classifier cannot be loaded.
    """
    try:
        from gan_studio.data.colortable import ColorTable
        from gan_studio.models.classifier import describe_image, load_classifier

        def load():
            model = load_classifier(device=ctx.device if ctx is not None else None)
            return model, [c.name for c in ColorTable.load().clusters]

        model, names = ctx.models.get_or_load("classifier", load) if ctx is not None else load()
        return describe_image(model, image, names), None
    except (ImportError, OSError, ValueError) as exc:
        return None, f"the attribute classifier is unavailable ({exc})"
