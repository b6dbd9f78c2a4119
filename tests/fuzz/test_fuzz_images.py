"""Fuzz every image the readers open: catalog photos, masks and depth maps, labelme images (beside the JSON,
embedded as imageData, and the PNG of a ``mask`` shape), a mask folder's images and index/color masks, COCO
images. Mutants are corrupt, truncated, huge-declared (decompression bombs), 1 px, empty, not images at all, or
valid images in other modes and formats."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from gan_studio.data.label_import import LabelImportError, import_labels
from gan_studio.data.layout import CatalogError
from tests.fuzz.harness import Fuzz, case_rng, replaced
from tests.fuzz.mutate import mutate_image
from tests.fuzz.seeds import IMPORT_SIZE, catalog_folder, coco_file, labelme_files, mask_folder, seed_items
from tests.fuzz.test_fuzz_catalog import read_everything

CASES = 42  # per image, in a default run


class Spot:
    """One image inside a seed input: how to read the original, put a mutant in its place, and read the input."""

    def __init__(self, path: Path, read: Callable[[], object], key: str | None = None) -> None:
        self.path, self.read, self.key = path, read, key

    def original(self) -> Image.Image:
        if self.key is None:
            return Image.open(self.path)
        doc = json.loads(self.path.read_text())
        return Image.open(io.BytesIO(base64.b64decode(self._get(doc))))

    def _get(self, doc: dict) -> str:
        return doc["imageData"] if self.key == "imageData" else self._mask_shape(doc)["mask"]

    @staticmethod
    def _mask_shape(doc: dict) -> dict:
        return next(s for s in doc["shapes"] if s.get("shape_type") == "mask")

    def file_bytes(self, image: bytes) -> bytes:
        """What the file holds with ``image`` in place (the image itself, or the JSON carrying it)."""
        if self.key is None:
            return image
        doc = json.loads(self.path.read_text())
        encoded = base64.b64encode(image).decode("ascii")
        if self.key == "imageData":
            doc["imageData"] = encoded
        else:
            self._mask_shape(doc)["mask"] = encoded
        return json.dumps(doc).encode()


@pytest.fixture(scope="module")
def spots(tmp_path_factory) -> dict[str, Spot]:
    root = tmp_path_factory.mktemp("fuzzimages")
    first, second = (item.id for item in seed_items())
    cat = catalog_folder(root / "fuzzcat")
    beside, embedded = labelme_files(root / "fuzzlabelme")
    masks = mask_folder(root / "fuzzmasks")
    coco = coco_file(root / "fuzzcoco")

    def imported(path: Path) -> Callable[[], object]:
        return lambda: import_labels(path, size=IMPORT_SIZE)

    return {
        "catalog image": Spot(cat / "images" / f"{first}.png", lambda: read_everything(cat)),
        "catalog mask": Spot(cat / "masks" / f"{first}.png", lambda: read_everything(cat)),
        "catalog depth": Spot(cat / "depth" / f"{first}.png", lambda: read_everything(cat)),
        "labelme image": Spot(beside.with_suffix(".png"), imported(beside)),
        "labelme imageData": Spot(embedded, imported(embedded), key="imageData"),
        "labelme mask shape": Spot(beside, imported(beside), key="mask"),
        "mask folder image": Spot(masks / "images" / f"{first}.png", imported(masks)),
        "mask folder index mask": Spot(masks / "masks" / f"{first}.png", imported(masks)),
        "mask folder color mask": Spot(masks / "masks" / f"{second}.png", imported(masks)),
        "COCO image": Spot(coco.parent.parent / "images" / f"{first}.jpg", imported(coco)),
    }


@pytest.mark.parametrize(
    "spot",
    [
        "catalog image",
        "catalog mask",
        "catalog depth",
        "labelme image",
        "labelme imageData",
        "labelme mask shape",
        "mask folder image",
        "mask folder index mask",
        "mask folder color mask",
        "COCO image",
    ],
)
def test_images(spots, fuzz_scale, spot: str) -> None:
    where = spots[spot]
    with where.original() as im:
        im.load()
        original = im
    fuzz = Fuzz(spot, (CatalogError, LabelImportError))
    n = CASES * fuzz_scale
    names = (where.path.name, where.path.parent.name, where.path.parent.parent.name)
    for i in range(n):
        image, what = mutate_image(original, case_rng(spot, i))
        with replaced(where.path, where.file_bytes(image)):
            fuzz.feed(f"{spot} #{i}", what, where.read, names)
    fuzz.check(n)
