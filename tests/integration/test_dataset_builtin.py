"""The shipped HandsOff model end to end: `dataset export --model builtin` gives a dataset pycocotools reads, whose
masks agree with its COCO segmentations and whose labels sit on the garments."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from gan_studio.cli import main
from gan_studio.data.attributes import PART_NAMES
from gan_studio.resources import resource_path

pycocotools = pytest.importorskip("pycocotools.coco")


@pytest.mark.skipif(
    not resource_path("handsoff", "handsoff.json").exists(), reason="no shipped HandsOff model"
)
def test_builtin_export_reads_back_and_labels_sit_on_garments(tmp_path, capsys) -> None:
    out = tmp_path / "synthetic"
    rc = main(["dataset", "export", "--model", "builtin", "--n", "8", "--uncertainty-drop", "0.2", "--out", str(out),
               "--no-progress"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    coco = pycocotools.COCO(str(out / "annotations.json"))
    assert len(coco.getImgIds()) == 8
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    ious, on_garment = [], []
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        stem = info["file_name"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        mask = np.asarray(Image.open(out / "masks" / f"{stem}.png"))
        image = np.asarray(Image.open(out / info["file_name"]).convert("RGB")).astype(np.int16)
        assert mask.shape == image.shape[:2]
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
            if names[ann["category_id"]] not in PART_NAMES:
                continue  # the garment category carries the keypoints
            k = PART_NAMES.index(names[ann["category_id"]])
            a, b = coco.annToMask(ann).astype(bool), mask == k
            ious.append((a & b).sum() / max((a | b).sum(), 1))
        garment = np.abs(image - 255).max(axis=-1) > 20  # not the near-white studio background
        labeled = mask > 0
        assert labeled.sum() > 50
        on_garment.append((labeled & garment).sum() / labeled.sum())
    assert min(ious) > 0.97
    assert np.mean(on_garment) > 0.9
