"""The catalog folder layout: round trip, COCO output, bad input, atomic writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES, PARTS, SKELETON, Attributes
from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.catalog_writer import WriteCancelled, write_catalog
from gan_studio.data.coco import mask_to_polygons, polygons_to_mask, rle_decode, rle_encode
from gan_studio.data.item import CatalogItem
from gan_studio.data.layout import LABELMAP_HEADER, CatalogError, is_safe_id, safe_id

SIZE = 40


def make_item(i: int, *, labels: bool = True, attributes: bool = True, size: int = SIZE) -> CatalogItem:
    """A white photo with a simple 'garment': waistband bar, two leg ellipses and a tiny pocket."""
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.zeros((h, w), np.uint8)
    mask[(((xx - 13 - i) / 6.0) ** 2 + ((yy - 24) / 13.0) ** 2) <= 1] = 2
    mask[(((xx - 27 + i) / 6.0) ** 2 + ((yy - 24) / 13.0) ** 2) <= 1] = 3
    mask[6:10, 8:32] = 1
    mask[12:14, 10:12] = 4  # 4 pixels: written as RLE
    colors = {c: np.array(PARTS[c][1], np.uint8) for c in range(1, 5)}
    image = np.full((h, w, 3), 247, np.uint8)
    for c, rgb in colors.items():
        image[mask == c] = rgb
    image[0, 0] = (i, 2 * i, 3 * i)  # make each image different
    kp = np.zeros((len(KEYPOINTS), 3), np.float32)
    kp[0] = (8.5, 7.25, 2)
    kp[1] = (31.0, 7.0, 2)
    kp[2] = (20.0, 14.0, 1)
    kp[3] = (13.0 + i, 24.0, 2)
    kp[4] = (27.0 - i, 24.0, 2)
    depth = np.where(mask > 0, 1.5 + 0.01 * xx + 0.001 * yy, 0).astype(np.float32)
    return CatalogItem(
        id=f"item_{i:03d}",
        title=f'Navy "slim" jeans, #{i}',
        image=image,
        attributes=Attributes("jeans", "men's", "navy", "full", "slim", ("ripped",)) if attributes else None,
        mask=mask if labels else None,
        keypoints=kp if labels else None,
        depth=depth if labels else None,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty folder of our own (other fixtures may put things in tmp_path)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def items() -> list[CatalogItem]:
    return [make_item(0), make_item(1, attributes=False), make_item(2, labels=False)]


@pytest.fixture
def catalog(tmp_path: Path, items) -> Path:
    return write_catalog(items, tmp_path / "cat", manifest={"seed": 7, "size": SIZE})


# --------------------------------------------------------------------------------------------------------------
# Round trip and files


def test_round_trip(catalog: Path, items) -> None:
    folder = read_catalog(catalog)
    assert len(folder) == 3
    assert folder.ids == [it.id for it in items]
    assert folder.titles == [it.title for it in items]
    assert folder.attributes == [it.attributes for it in items]
    assert folder.has_masks and folder.has_keypoints and folder.has_depth
    assert folder.part_names == PART_NAMES
    assert folder.keypoint_names == KEYPOINTS
    assert folder.skeleton == SKELETON
    for original, loaded in zip(items, folder):
        assert loaded.id == original.id and loaded.title == original.title
        np.testing.assert_array_equal(loaded.image, original.image)
        assert loaded.image.dtype == np.uint8 and loaded.image.shape == (SIZE, SIZE, 3)
        if original.mask is None:
            assert loaded.mask is None and loaded.keypoints is None and loaded.depth is None
            continue
        np.testing.assert_array_equal(loaded.mask, original.mask)
        np.testing.assert_array_equal(loaded.keypoints, original.keypoints)
        assert loaded.keypoints.dtype == np.float32
        assert loaded.depth.dtype == np.float32
        np.testing.assert_array_equal(loaded.depth > 0, original.depth > 0)
        assert np.abs(loaded.depth - original.depth).max() <= 0.6e-4
    assert folder[-1].id == items[-1].id
    assert [it.id for it in folder[0:2]] == folder.ids[:2]
    with pytest.raises(IndexError):
        folder[3]
    assert folder.validate() == []


def test_files_on_disk(catalog: Path) -> None:
    names = {p.name for p in catalog.iterdir()}
    assert {"images", "masks", "depth", "titles.csv", "attributes.jsonl", "labelmap.txt"} <= names
    assert {"annotations.json", "depth.json", "manifest.json"} <= names
    assert not list(catalog.parent.glob(".*partial*"))
    assert (catalog / "titles.csv").read_text().splitlines()[0] == "file,title"
    labelmap = (catalog / "labelmap.txt").read_text().splitlines()
    assert labelmap[0] == LABELMAP_HEADER and labelmap[1] == "background:0,0,0::"
    assert len(labelmap) == 1 + len(PARTS)
    mask_png = Image.open(catalog / "masks" / "item_000.png")
    assert mask_png.mode == "P" and mask_png.getpalette()[3:6] == list(PARTS[1][1])
    assert Image.open(catalog / "depth" / "item_000.png").mode == "I;16"
    assert not (catalog / "masks" / "item_002.png").exists()
    depth_info = json.loads((catalog / "depth.json").read_text())
    assert depth_info["units"] == "meters" and depth_info["invalid_value"] == 0
    assert depth_info["scale_m_per_unit"] > 0
    manifest = json.loads((catalog / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["count"] == 3 and manifest["seed"] == 7
    assert manifest["size"] == SIZE and manifest["format_version"] == 1
    assert manifest["part_names"] == list(PART_NAMES) and manifest["keypoint_names"] == list(KEYPOINTS)
    assert "writer" in manifest
    lines = (catalog / "attributes.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["color"] == "navy"


def test_unlabeled_catalog_writes_only_what_exists(tmp_path: Path) -> None:
    out = write_catalog([make_item(0, labels=False, attributes=False)], tmp_path / "plain")
    assert {p.name for p in out.iterdir()} == {"images", "titles.csv", "manifest.json"}
    folder = read_catalog(out)
    assert not (folder.has_masks or folder.has_keypoints or folder.has_depth)
    assert folder.attributes == [None] and folder.part_names == () and folder.keypoint_names == ()
    assert folder[0].mask is None


def test_coco_structure(catalog: Path, items) -> None:
    doc = json.loads((catalog / "annotations.json").read_text())
    assert [img["file_name"] for img in doc["images"]] == [f"images/{it.id}.png" for it in items]
    cats = {c["id"]: c for c in doc["categories"]}
    garment = [c for c in doc["categories"] if "keypoints" in c]
    assert len(garment) == 1 and garment[0]["keypoints"] == list(KEYPOINTS)
    assert [tuple(s) for s in garment[0]["skeleton"]] == list(SKELETON)
    for part in range(1, len(PARTS)):
        assert cats[part]["name"] == PART_NAMES[part]
    first = [a for a in doc["annotations"] if a["image_id"] == 1]
    parts = sorted(a["category_id"] for a in first if a["category_id"] != garment[0]["id"])
    assert parts == [1, 2, 3, 4]
    for ann in first:
        assert {"id", "image_id", "category_id", "segmentation", "area", "bbox", "iscrowd"} <= ann.keys()
    pocket = next(a for a in first if a["category_id"] == 4)
    assert isinstance(pocket["segmentation"], dict) and pocket["area"] == 4  # tiny part -> RLE
    assert pocket["bbox"] == [10, 12, 2, 2]
    leg = next(a for a in first if a["category_id"] == 2)
    assert isinstance(leg["segmentation"], list) and len(leg["segmentation"][0]) >= 6
    kp = next(a for a in first if a["category_id"] == garment[0]["id"])
    assert len(kp["keypoints"]) == 3 * len(KEYPOINTS) and kp["num_keypoints"] == 5
    assert not any(a["image_id"] == 3 for a in doc["annotations"])  # the unlabeled item


def test_polygons_reproduce_a_blob() -> None:
    yy, xx = np.mgrid[0:64, 0:64]
    blob = (((xx - 30) / 20.0) ** 2 + ((yy - 34) / 12.0) ** 2 <= 1) | ((xx - 40) ** 2 + (yy - 20) ** 2 <= 64)
    polygons = mask_to_polygons(blob)
    assert polygons is not None
    redrawn = polygons_to_mask(polygons, 64, 64)
    iou = (redrawn & blob).sum() / (redrawn | blob).sum()
    assert iou > 0.9
    edge = np.zeros((16, 16), bool)
    edge[:, :8] = True  # touches three borders
    assert (polygons_to_mask(mask_to_polygons(edge), 16, 16) == edge).mean() > 0.95


def test_rle_round_trip_and_holes() -> None:
    rng = np.random.default_rng(0)
    for shape in [(7, 5), (30, 41)]:
        region = rng.random(shape) > 0.6
        region[0, 0] = True
        np.testing.assert_array_equal(rle_decode(rle_encode(region)), region)
    ring = np.zeros((40, 40), bool)
    ring[5:35, 5:35] = True
    ring[12:28, 12:28] = False  # a hole polygons cannot keep
    assert mask_to_polygons(ring) is None


def test_masks_from_coco_when_no_mask_pngs(catalog: Path, items) -> None:
    shutil.rmtree(catalog / "masks")
    folder = read_catalog(catalog)
    assert folder.has_masks and folder.part_names == PART_NAMES
    loaded = folder[0].mask
    for part in range(1, 5):
        a, b = loaded == part, items[0].mask == part
        assert (a & b).sum() / (a | b).sum() > 0.7
    assert folder[2].mask is None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_pycocotools_reads_it(catalog: Path, items) -> None:
    from pycocotools import coco as coco_mod  # a test dependency: COCO output must stay readable by it

    coco = coco_mod.COCO(str(catalog / "annotations.json"))
    garment = coco.getCatIds(catNms=["garment"])
    assert len(garment) == 1 and coco.loadCats(garment)[0]["keypoints"] == list(KEYPOINTS)
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[1])):
        drawn = coco.annToMask(ann).astype(bool)
        truth = items[0].mask > 0 if ann["category_id"] in garment else items[0].mask == ann["category_id"]
        iou = (drawn & truth).sum() / (drawn | truth).sum()
        assert iou > (0.999 if isinstance(ann["segmentation"], dict) else 0.95), ann["category_id"]


def test_reader_accepts_user_variants(tmp_path: Path) -> None:
    root = tmp_path / "user"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[2:6, 2:6] = (200, 10, 10)
    Image.fromarray(rgb[..., 0]).save(root / "images" / "gray.png")  # L
    Image.fromarray(np.dstack([rgb, np.full((8, 8), 255, np.uint8)])).save(root / "images" / "rgba.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(root / "images" / "pal.png")
    Image.fromarray(rgb).save(root / "images" / "photo.jpg", quality=95)
    (root / "titles.csv").write_text(
        "file,title,extra\ngray.png,a,1\nrgba.png,b,2\nimages/pal.png,c,3\nphoto.jpg,,4\n"
    )
    (root / "labelmap.txt").write_text("background:0,0,0::\nthing:200,10,10::\n")  # no header
    color_mask = np.zeros((8, 8, 3), np.uint8)
    color_mask[2:6, 2:6] = (200, 10, 10)
    Image.fromarray(color_mask).save(root / "masks" / "rgba.png")  # CVAT-style color mask
    folder = read_catalog(root)
    assert folder.ids == ["gray", "rgba", "pal", "photo"] and folder.titles == ["a", "b", "c", ""]
    assert folder.part_names == ("background", "thing")
    for item in folder:
        assert item.image.shape == (8, 8, 3) and item.image.dtype == np.uint8
    np.testing.assert_array_equal(folder[1].image, rgb)
    np.testing.assert_array_equal(folder[2].image, rgb)
    assert folder[1].mask.sum() == 16 and folder[0].mask is None


def test_progress_reports(tmp_path: Path) -> None:
    seen = []
    gen = (make_item(i, labels=False) for i in range(3))
    write_catalog(gen, tmp_path / "p", total=3, progress=lambda f, m: seen.append(f))
    assert seen[0] == pytest.approx(1 / 3) and seen[-1] == 1.0


# --------------------------------------------------------------------------------------------------------------
# Atomic writes and targets


def test_cancel_leaves_nothing(workdir: Path) -> None:
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    out = workdir / "cancelled"
    with pytest.raises(WriteCancelled):
        write_catalog((make_item(i) for i in range(5)), out, cancel=cancel)
    assert not out.exists()
    assert list(workdir.iterdir()) == []


def test_error_mid_write_leaves_nothing(workdir: Path) -> None:
    def items():
        yield make_item(0)
        raise RuntimeError("renderer crashed")

    with pytest.raises(RuntimeError):
        write_catalog(items(), workdir / "broken")
    assert list(workdir.iterdir()) == []


def test_target_rules(workdir: Path, items) -> None:
    busy = workdir / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        write_catalog(items, busy)
    with pytest.raises(FileExistsError):
        write_catalog(items, busy, overwrite=True)  # not a catalog: never deleted
    assert (busy / "notes.txt").read_text() == "mine"

    empty = workdir / "empty"
    empty.mkdir()
    assert len(read_catalog(write_catalog(items, empty))) == 3

    write_catalog(items[:1], empty, overwrite=True)
    assert len(read_catalog(empty)) == 1
    bad = CatalogItem(id="bad id", title="", image=items[0].image)
    with pytest.raises(ValueError):
        write_catalog([items[1], bad], empty, overwrite=True)
    assert read_catalog(empty).ids == [items[0].id]  # a failed replace keeps the old catalog
    assert sorted(p.name for p in workdir.iterdir()) == ["busy", "empty"]


def test_ids_must_be_safe(workdir: Path) -> None:
    item = make_item(0)
    bad = CatalogItem(id="../evil", title="x", image=item.image)
    with pytest.raises(ValueError, match="safe file name"):
        write_catalog([bad], workdir / "x")
    dup = [make_item(0), make_item(0)]
    with pytest.raises(ValueError, match="twice"):
        write_catalog(dup, workdir / "y")
    assert list(workdir.iterdir()) == []
    for name in ["my photo (1).JPG", "../x", "con", "", "é"]:
        assert is_safe_id(safe_id(name))
    assert not is_safe_id("a/b") and not is_safe_id("nul") and is_safe_id("item_001")


# --------------------------------------------------------------------------------------------------------------
# Bad input: one CatalogError naming the file


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _noisy_image(catalog: Path) -> Path:
    path = catalog / "images" / "item_000.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (SIZE, SIZE, 3), np.uint8)).save(path)
    return path


BAD_EAGER = {
    "no titles.csv": (lambda c: (c / "titles.csv").unlink(), "titles.csv"),
    "titles.csv columns": (lambda c: (c / "titles.csv").write_text("path,name\nx.png,y\n"), "titles.csv"),
    "image missing": (lambda c: (c / "images" / "item_001.png").unlink(), "item_001.png"),
    "annotations bad json": (lambda c: (c / "annotations.json").write_text("{oops"), "annotations.json"),
    "annotations missing key": (
        lambda c: (c / "annotations.json").write_text('{"images": [], "categories": []}'),
        "annotations.json",
    ),
    "annotation without image_id": (
        lambda c: (c / "annotations.json").write_text(
            json.dumps({"images": [], "categories": [], "annotations": [{"id": 1, "category_id": 1}]})
        ),
        "annotations.json",
    ),
    "attributes bad json": (
        lambda c: (c / "attributes.jsonl").write_text('{"id": "item_000", "type": \n'),
        "attributes.jsonl",
    ),
    "attributes unknown type": (
        lambda c: (c / "attributes.jsonl").write_text(
            '{"id": "item_000", "type": "skirt", "gender": "unisex", "color": "navy", "length": "full", '
            '"fit": "slim"}\n'
        ),
        "attributes.jsonl",
    ),
    "attributes unknown color": (
        lambda c: (c / "attributes.jsonl").write_text(
            '{"id": "item_000", "type": "jeans", "gender": "unisex", "color": "mauve", "length": "full", '
            '"fit": "slim"}\n'
        ),
        "attributes.jsonl",
    ),
    "labelmap bad line": (lambda c: (c / "labelmap.txt").write_text("background:0,0\n"), "labelmap.txt"),
    "labelmap missing": (lambda c: (c / "labelmap.txt").unlink(), "labelmap.txt"),
    "depth.json missing": (lambda c: (c / "depth.json").unlink(), "depth.json"),
    "manifest incomplete": (
        lambda c: (c / "manifest.json").write_text('{"complete": false}'),
        "manifest.json",
    ),
}


@pytest.mark.parametrize("case", list(BAD_EAGER))
def test_bad_input_raises_on_open(catalog: Path, case: str) -> None:
    corrupt, file_name = BAD_EAGER[case]
    corrupt(catalog)
    with pytest.raises(CatalogError, match=file_name.replace(".", r"\.")):
        read_catalog(catalog)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="nowhere"):
        read_catalog(tmp_path / "nowhere")


def test_custom_color_words(catalog: Path) -> None:
    (catalog / "attributes.jsonl").write_text(
        '{"id": "item_000", "type": "jeans", "gender": "unisex", "color": "mauve", "length": "full", "fit": "slim"}\n'
    )
    folder = read_catalog(catalog, color_words={"mauve"})
    assert folder.attributes[0].color == "mauve"


BAD_ON_ACCESS = {
    "truncated image": (lambda c: _truncate(_noisy_image(c)), "images/item_000.png"),
    "garbage image": (lambda c: (c / "images" / "item_000.png").write_bytes(b"not a png"), "item_000.png"),
    "mask out of range": (
        lambda c: Image.fromarray(np.full((SIZE, SIZE), 9, np.uint8)).save(c / "masks" / "item_000.png"),
        "masks/item_000.png",
    ),
    "mask wrong size": (
        lambda c: Image.fromarray(np.zeros((5, 5), np.uint8)).save(c / "masks" / "item_000.png"),
        "masks/item_000.png",
    ),
    "truncated depth": (lambda c: _truncate(c / "depth" / "item_000.png"), "depth/item_000.png"),
}


@pytest.mark.parametrize("case", list(BAD_ON_ACCESS))
def test_bad_input_raises_on_access(catalog: Path, case: str) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # truncation must raise, not be padded
    corrupt, file_name = BAD_ON_ACCESS[case]
    corrupt(catalog)
    folder = read_catalog(catalog)  # cheap checks pass; the file is read on access
    with pytest.raises(CatalogError, match=file_name):
        folder[0]
    problems = folder.validate()
    assert len(problems) == 1 and file_name in problems[0]
    assert folder[1].id == "item_001"
