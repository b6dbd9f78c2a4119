"""Fuzz the JSON label formats users bring: labelme files (image beside them, or embedded as imageData) and
COCO instance/keypoint files, each read as the label import reads a dropped file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gan_studio.data.label_import import LabelImportError, import_labels
from tests.fuzz.harness import Fuzz, case_rng, replaced
from tests.fuzz.mutate import mutate_json
from tests.fuzz.seeds import IMPORT_SIZE, coco_file, labelme_files

LABELME_CASES = 150  # per labelme file, in a default run
COCO_CASES = 250


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzzjson")
    beside, embedded = labelme_files(root / "fuzzlabelme")
    return {"labelme": beside, "labelme-embedded": embedded, "coco": coco_file(root / "fuzzcoco")}


def _fuzz_json(path: Path, target: str, n: int) -> None:
    original = path.read_bytes()
    doc = json.loads(original)
    fuzz = Fuzz(target, (LabelImportError,))
    for i in range(n):
        data, what = mutate_json(doc, case_rng(target, i))
        with replaced(path, data):
            fuzz.feed(
                f"{target} #{i}",
                what,
                lambda: import_labels(path, size=IMPORT_SIZE),
                (path.name, path.parent.name),
            )
    fuzz.check(n)


@pytest.mark.parametrize("which", ["labelme", "labelme-embedded"])
def test_labelme_json(files, fuzz_scale, which: str) -> None:
    _fuzz_json(files[which], which, LABELME_CASES * fuzz_scale)


def test_coco_json(files, fuzz_scale) -> None:
    _fuzz_json(files["coco"], "coco", COCO_CASES * fuzz_scale)
