"""`gan-studio catalog` end to end: the folder layout, and labels that agree with the rendered image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gan_studio.cli import main
from gan_studio.data.attributes import KEYPOINTS, PART_NAMES
from gan_studio.data.catalog_reader import read_catalog

N, SIZE = 8, 64


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "catalog"
    assert main(["catalog", "--n", str(N), "--size", str(SIZE), "--seed", "3", "--out", str(out)]) == 0
    return out


def test_layout(rendered: Path) -> None:
    for name in ["titles.csv", "attributes.jsonl", "labelmap.txt", "annotations.json", "depth.json"]:
        assert (rendered / name).is_file(), name
    for sub in ["images", "masks", "depth"]:
        assert len(list((rendered / sub).glob("*.png"))) == N, sub
    manifest = json.loads((rendered / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["count"] == N
    assert manifest["seed"] == 3 and manifest["size"] == SIZE
    assert manifest["part_names"] == list(PART_NAMES) and manifest["keypoint_names"] == list(KEYPOINTS)
    coco = json.loads((rendered / "annotations.json").read_text())
    assert len(coco["images"]) == N
    garment = [c for c in coco["categories"] if "keypoints" in c]
    assert len(garment) == 1
    assert sum(a["category_id"] == garment[0]["id"] for a in coco["annotations"]) == N
    assert not list(rendered.parent.glob(".*partial*"))


def test_labels_agree_with_images(rendered: Path) -> None:
    folder = read_catalog(rendered)
    assert len(folder) == N and len(set(folder.ids)) == N
    assert folder.has_masks and folder.has_keypoints and folder.has_depth
    assert all(folder.titles) and all(a is not None for a in folder.attributes)
    assert folder.validate() == []
    for item in folder:
        assert item.image.shape == (SIZE, SIZE, 3)
        fg = item.mask > 0
        assert 0.05 < fg.mean() < 0.9
        image = item.image.astype(int)
        background = np.median(image[~fg], axis=0)
        assert background.min() > 200  # near-white studio background
        differs = np.abs(image - background).max(axis=-1) > 8
        assert differs[fg].mean() > 0.9, item.id
        # visible keypoints sit on the garment (within a pixel of its mask)
        near = fg.copy()
        near[1:] |= fg[:-1]
        near[:-1] |= fg[1:]
        near[:, 1:] |= fg[:, :-1]
        near[:, :-1] |= fg[:, 1:]
        for x, y, v in item.keypoints:
            if v == 2:
                r = min(max(round(float(y)), 0), SIZE - 1)
                c = min(max(round(float(x)), 0), SIZE - 1)
                assert near[r, c], (item.id, x, y)
        np.testing.assert_array_equal(item.depth > 0, fg)


def test_bad_arguments(tmp_path: Path, capsys) -> None:
    assert main(["catalog", "--n", "0", "--out", str(tmp_path / "a")]) == 2
    assert main(["catalog", "--n", "2", "--size", "16", "--out", str(tmp_path / "b")]) == 2
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x.txt").write_text("x")
    assert main(["catalog", "--n", "2", "--size", "32", "--out", str(busy)]) == 2
    err = capsys.readouterr().err
    assert "--n" in err and "--size" in err and "not empty" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
