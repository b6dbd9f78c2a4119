"""Fuzz the catalog folder's text files: titles.csv, attributes.jsonl, labelmap.txt, depth.json, manifest.json,
annotations.json, and a mask folder's labelmap.txt. Each mutant is read as the training commands read a catalog
(``read_catalog`` and every item) and as the label import reads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.label_import import LabelImportError, import_labels
from gan_studio.data.layout import CatalogError
from tests.fuzz.harness import Fuzz, case_rng, replaced
from tests.fuzz.mutate import mutate_json, mutate_lines
from tests.fuzz.seeds import IMPORT_SIZE, catalog_folder, mask_folder

CASES = 60  # per file, in a default run


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzzcatalog")
    return {"catalog": catalog_folder(root / "fuzzcat"), "masks": mask_folder(root / "fuzzmasks")}


def read_everything(root: Path) -> None:
    """What the app does with a catalog folder: open it, load every item, import its labels."""
    folder = read_catalog(root)
    folder.validate()
    import_labels(root, size=IMPORT_SIZE)


def _mutant(rel: str, original: bytes, rng) -> tuple[bytes, str]:
    text = original.decode("utf-8")
    if rel.endswith(".json"):
        return mutate_json(json.loads(text), rng)
    if rel.endswith(".jsonl") and rng.random() < 0.5:
        lines = text.splitlines()
        i = int(rng.integers(len(lines)))
        line, what = mutate_json(json.loads(lines[i]), rng)
        lines[i] = line.decode("utf-8", errors="replace").replace("\n", " ")
        return ("\n".join(lines) + "\n").encode(), f"line {i + 1}: {what}"
    return mutate_lines(text, rng, sep=":" if rel.endswith(".txt") and rng.random() < 0.5 else ",")


@pytest.mark.parametrize(
    "folder, rel",
    [
        ("catalog", "titles.csv"),
        ("catalog", "attributes.jsonl"),
        ("catalog", "labelmap.txt"),
        ("catalog", "depth.json"),
        ("catalog", "manifest.json"),
        ("catalog", "annotations.json"),
        ("masks", "labelmap.txt"),
    ],
)
def test_catalog_text_files(folders, fuzz_scale, folder: str, rel: str) -> None:
    root = folders[folder]
    path = root / rel
    original = path.read_bytes()
    fuzz = Fuzz(f"{folder}/{rel}", (CatalogError, LabelImportError))
    n = CASES * fuzz_scale
    for i in range(n):
        data, what = _mutant(rel, original, case_rng(fuzz.target, i))
        with replaced(path, data):
            fuzz.feed(f"{fuzz.target} #{i}", what, lambda: read_everything(root), (root.name, path.name))
    fuzz.check(n)
