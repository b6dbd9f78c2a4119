"""The `--data DIR` side of every training command: open a user's catalog folder or say in one sentence why not."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def open_training_catalog(data: str | Path, color_words: Iterable[str], purpose: str):
    """The catalog folder ``data`` read lazily (:func:`~gan_studio.data.catalog_reader.read_catalog`), with at least 2
    items; ``purpose`` names the model in the error ("the classifier", "training")."""
    from gan_studio.data.catalog_reader import read_catalog

    folder = Path(data)
    if not folder.is_dir():
        raise FileNotFoundError(f"--data {folder} is neither 'builtin' nor a catalog folder")
    items = read_catalog(folder, color_words=tuple(color_words))
    if len(items) < 2:
        raise ValueError(f"the catalog {folder} has {len(items)} items; {purpose} needs at least 2")
    return items
