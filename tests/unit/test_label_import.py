"""Importing labeled images: round trips through every format from real built-in catalog items, bad input."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES, PARTS
from gan_studio.data.catalog import render_item
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.data.coco import mask_to_polygons, rle_encode
from gan_studio.data.item import CatalogItem
from gan_studio.data.label_import import LabelImportError, import_labels
from gan_studio.data.layout import format_labelmap
from gan_studio.runtime.cancel import Cancelled, CancelToken

NATIVE = 96  # the size the items are rendered and written at
SIZE = 64  # the generator's size they are imported at
INDICES = (1, 2, 3)  # between them every part class, and unlabeled (v = 0) keypoints


@pytest.fixture(scope="module")
def items() -> list[CatalogItem]:
    return [render_item(3, i, NATIVE) for i in INDICES]


def resized_mask(mask: np.ndarray, size: int = SIZE) -> np.ndarray:
    """What the import should make of a mask: centered on a square of background, then nearest neighbor."""
    h, w = mask.shape
    side = max(h, w)
    square = np.zeros((side, side), np.uint8)
    square[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = mask
    return np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.NEAREST))


def moved_keypoints(kp: np.ndarray, hw: tuple[int, int], size: int = SIZE) -> np.ndarray:
    h, w = hw
    side = max(h, w)
    out = kp.copy()
    out[:, 0] = (kp[:, 0] + (side - w) // 2) * size / side
    out[:, 1] = (kp[:, 1] + (side - h) // 2) * size / side
    return out


def check_keypoints(got, original, hw=(NATIVE, NATIVE), exact_visibility=True, size=SIZE) -> None:
    assert got.shape == (len(KEYPOINTS), 3) and got.dtype == np.float32
    want = moved_keypoints(original, hw, size)
    labeled = original[:, 2] > 0
    np.testing.assert_array_equal(got[:, 2] > 0, labeled)
    if exact_visibility:
        np.testing.assert_array_equal(got[:, 2], original[:, 2])
    assert np.abs(got[labeled, :2] - want[labeled, :2]).max() < 1.0
    assert not got[~labeled].any()


def check_items(report, originals, *, keypoints=True, exact_visibility=True) -> None:
    assert [it.id for it in report.items] == [o.id for o in originals]
    for got, original in zip(report.items, originals):
        assert got.image.shape == (SIZE, SIZE, 3) and got.image.dtype == np.uint8
        assert got.mask.shape == (SIZE, SIZE) and got.mask.dtype == np.uint8
        np.testing.assert_array_equal(got.mask, resized_mask(original.mask))
        if keypoints:
            check_keypoints(got.keypoints, original.keypoints, exact_visibility=exact_visibility)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# --------------------------------------------------------------------------------------------------------------
# Writing the items in each format


def b64_png(array: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def mask_shapes(mask: np.ndarray, polygons: bool = False) -> list[dict]:
    """labelme shapes painting ``mask`` class by class: ``mask`` shapes (exact) or traced polygons."""
    shapes = []
    for c in range(1, len(PART_NAMES)):
        region = mask == c
        if not region.any():
            continue
        traced = mask_to_polygons(region) if polygons else None
        if traced:
            for flat in traced:
                points = np.asarray(flat).reshape(-1, 2).tolist()
                shapes.append(
                    {"label": PART_NAMES[c], "points": points, "shape_type": "polygon", "flags": {}}
                )
            continue
        rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
        crop = region[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.uint8)
        box = [[int(cols[0]), int(rows[0])], [int(cols[-1]), int(rows[-1])]]
        shapes.append({"label": PART_NAMES[c], "points": box, "shape_type": "mask", "mask": b64_png(crop)})
    return shapes


def point_shapes(kp: np.ndarray) -> list[dict]:
    return [
        {
            "label": name,
            "points": [[float(x), float(y)]],
            "shape_type": "point",
            "flags": {"occluded": bool(v == 1)},
        }
        for name, (x, y, v) in zip(KEYPOINTS, kp.tolist())
        if v > 0
    ]


def write_labelme(
    item: CatalogItem,
    folder: Path,
    *,
    suffix=".png",
    mode="RGB",
    embed=False,
    polygons=False,
    extra_shapes=(),
    image=None,
    mask=None,
    keypoints=None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    image = item.image if image is None else image
    mask = item.mask if mask is None else mask
    keypoints = item.keypoints if keypoints is None else keypoints
    im = Image.fromarray(image)
    if mode == "RGBA":
        im = Image.fromarray(np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]))
    elif mode != "RGB":
        im = im.convert(mode)
    doc = {
        "version": "5.5.0",
        "flags": {},
        "shapes": mask_shapes(mask, polygons) + point_shapes(keypoints) + list(extra_shapes),
        "imagePath": f"{item.id}{suffix}",
        "imageData": None,
        "imageHeight": image.shape[0],
        "imageWidth": image.shape[1],
    }
    if embed:
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        doc["imageData"] = base64.b64encode(buf.getvalue()).decode("ascii")
    else:
        im.save(folder / f"{item.id}{suffix}", quality=95)
    path = folder / f"{item.id}.json"
    path.write_text(json.dumps(doc))
    return path


def write_coco_rle(items, json_path: Path, images_dir: Path) -> None:
    """A COCO file unlike the catalog's own: other category ids and spellings, permuted keypoint names, RLE."""
    images_dir.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    spelled = {c: PART_NAMES[c].replace("_", " ").title() for c in range(1, len(PART_NAMES))}  # "Left Leg"
    order = list(reversed(range(len(KEYPOINTS))))
    categories = [{"id": 10 + c, "name": name} for c, name in spelled.items()]
    names = [KEYPOINTS[k].replace("_", "-").upper() for k in order]
    categories.append({"id": 99, "name": "pants", "keypoints": names, "skeleton": []})
    images, annotations = [], []
    for image_id, item in enumerate(items, start=1):
        Image.fromarray(item.image).save(images_dir / f"{item.id}.jpg", quality=95)
        images.append({"id": image_id, "file_name": f"{item.id}.jpg", "width": NATIVE, "height": NATIVE})
        for c in np.unique(item.mask).tolist():
            if c:
                seg = rle_encode(item.mask == c)
                annotations.append(
                    {"image_id": image_id, "category_id": 10 + c, "segmentation": seg, "iscrowd": 1}
                )
        flat = [float(v) for k in order for v in item.keypoints[k]]
        annotations.append({"image_id": image_id, "category_id": 99, "keypoints": flat, "num_keypoints": 9})
    for i, ann in enumerate(annotations, start=1):
        ann["id"] = i
    doc = {"images": images, "annotations": annotations, "categories": categories}
    json_path.write_text(json.dumps(doc))


def mask_folder(tmp_path: Path, items, *, color=False, voc=False) -> Path:
    root = tmp_path / "masks_folder"
    images = root / ("JPEGImages" if voc else "images")
    masks = root / ("SegmentationClass" if voc else "masks")
    images.mkdir(parents=True)
    masks.mkdir()
    # the labelmap lists the classes in another order than the model, spelled otherwise
    order = [0, 3, 2, 1, 6, 5, 4]
    parts = [(PART_NAMES[c].replace("_", "-").upper() if c else "background", PARTS[c][1]) for c in order]
    (root / "labelmap.txt").write_text(format_labelmap(parts))
    to_file = np.argsort(order).astype(np.uint8)  # model class -> labelmap index
    for item in items:
        Image.fromarray(item.image).save(images / f"{item.id}{'.jpg' if voc else '.png'}")
        if color:
            rgb = np.array([PARTS[c][1] for c in range(len(PARTS))], np.uint8)[item.mask]
            Image.fromarray(rgb).save(masks / f"{item.id}.png")
        else:
            values = to_file[item.mask]
            if voc:
                values = values.copy()
                values[0, :] = 255  # VOC's void border
            Image.fromarray(values).save(masks / f"{item.id}.png")  # grayscale index PNG
    return root


# --------------------------------------------------------------------------------------------------------------
# Round trips


def test_catalog_layout_round_trip(tmp_path: Path, items) -> None:
    folder = write_catalog(items, tmp_path / "cat")
    seen = []
    report = import_labels(folder, size=SIZE, progress=lambda f, m: seen.append(f))
    assert report.format == "catalog folder" and not report.warnings and not report.skipped
    check_items(report, items)
    for got, original in zip(report.items, items):
        assert got.source.endswith(f"{original.id}.png")
        expected = np.asarray(Image.fromarray(original.image).resize((SIZE, SIZE), Image.Resampling.LANCZOS))
        assert np.abs(got.image.astype(int) - expected).mean() < 1.0
        near = np.asarray(Image.fromarray(original.depth).resize((SIZE, SIZE), Image.Resampling.NEAREST))
        np.testing.assert_array_equal(got.depth > 0, near > 0)
        assert np.abs(got.depth - near)[near > 0].max() < 0.05  # meters; area mean of nearby garment pixels
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_catalog_layout_masks_from_coco(tmp_path: Path, items) -> None:
    folder = write_catalog(items, tmp_path / "cat")
    shutil.rmtree(folder / "masks")  # part masks then come from annotations.json's polygons/RLE
    report = import_labels(folder, size=NATIVE)
    for got, original in zip(report.items, items):
        for c in np.unique(original.mask).tolist():
            assert iou(got.mask == c, original.mask == c) > 0.75, c


def test_mask_folder_index_masks(tmp_path: Path, items) -> None:
    report = import_labels(mask_folder(tmp_path, items), size=SIZE)
    assert report.format == "mask folder" and not report.warnings
    check_items(report, items, keypoints=False)
    assert all(it.keypoints is None and it.depth is None for it in report.items)


def test_mask_folder_rgb_color_masks(tmp_path: Path, items) -> None:
    report = import_labels(mask_folder(tmp_path, items, color=True), size=SIZE)
    check_items(report, items, keypoints=False)


def test_mask_folder_voc_layout(tmp_path: Path, items) -> None:
    report = import_labels(mask_folder(tmp_path, items, voc=True), size=NATIVE)
    for got, original in zip(report.items, items):
        want = original.mask.copy()
        want[0, :] = 0  # void reads as background
        np.testing.assert_array_equal(got.mask, want)


def test_catalog_written_folder_without_titles_is_a_mask_folder(tmp_path: Path, items) -> None:
    folder = write_catalog(items, tmp_path / "cat")
    for name in ("titles.csv", "manifest.json", "annotations.json"):
        (folder / name).unlink()
    report = import_labels(folder, size=SIZE)  # palette index PNGs
    assert report.format == "mask folder"
    check_items(report, items, keypoints=False)


def test_labelme_round_trip(tmp_path: Path, items) -> None:
    folder = tmp_path / "labelme"
    write_labelme(items[0], folder, suffix=".jpg")
    write_labelme(items[1], folder, mode="RGBA")
    write_labelme(items[2], folder, embed=True)  # the image only inside the JSON
    report = import_labels(folder, size=SIZE)
    assert report.format == "labelme" and not report.warnings
    check_items(report, items, exact_visibility=False)  # labelme has no visibility; flags mark hidden points
    assert all(it.mask.dtype == np.uint8 and it.depth is None for it in report.items)
    rgba = report.items[1].image  # the opaque RGBA image reads as the RGB one
    np.testing.assert_array_equal(
        rgba, import_labels(write_catalog(items[1:2], tmp_path / "c"), SIZE).items[0].image
    )


def test_labelme_polygons_rectangles_circles(tmp_path: Path, items) -> None:
    item = items[2]
    extra = [
        {"label": "pocket", "points": [[2, 3], [12, 9]], "shape_type": "rectangle"},
        {"label": "Cuff", "points": [[80, 10], [80, 15]], "shape_type": "circle"},
        {"label": "fly", "points": [[1, 90], [40, 90]], "shape_type": "line"},
    ]
    path = write_labelme(item, tmp_path / "lm", polygons=True, extra_shapes=extra)
    report = import_labels(path, size=NATIVE)  # a single labelme file
    got = report.items[0]
    for c in range(1, len(PART_NAMES)):
        if (item.mask == c).sum() > 30:
            assert iou(got.mask[20:] == c, item.mask[20:] == c) > 0.8, c
    assert (got.mask[3:9, 2:12] == 4).all() and got.mask[2, 2] != 4 and got.mask[9, 12] != 4
    yy, xx = np.mgrid[0:NATIVE, 0:NATIVE] + 0.5
    np.testing.assert_array_equal(got.mask == 6, (xx - 80) ** 2 + (yy - 10) ** 2 <= 25)
    assert len(report.warnings) == 1 and "'line'" in report.warnings[0] and path.name in report.warnings[0]


def test_coco_rle_round_trip(tmp_path: Path, items) -> None:
    root = tmp_path / "coco"
    write_coco_rle(items, root / "annotations" / "instances.json", root / "images")
    report = import_labels(root, size=SIZE)  # JSON found in annotations/, images in the sibling images/
    assert report.format == "COCO" and not report.warnings
    check_items(report, items)


def test_coco_from_catalog_annotations(tmp_path: Path, items) -> None:
    folder = write_catalog(items, tmp_path / "cat")
    report = import_labels(folder / "annotations.json", size=NATIVE)  # polygons and RLE, images in images/
    assert report.format == "COCO" and not report.unknown_classes
    for got, original in zip(report.items, items):
        np.testing.assert_array_equal(got.image, original.image)
        check_keypoints(got.keypoints, original.keypoints, size=NATIVE)
        for c in np.unique(original.mask).tolist():
            assert iou(got.mask == c, original.mask == c) > 0.75, c


def test_non_square_and_image_modes(tmp_path: Path, items) -> None:
    item = items[0]
    crop = (slice(10, 82), slice(None))  # 96 wide, 72 high
    image, mask = item.image[crop], item.mask[crop]
    kp = item.keypoints.copy()
    kp[:, 1] -= 10
    kp[(kp[:, 1] < 0) | (kp[:, 1] >= 72), 2] = 0
    kp[kp[:, 2] == 0] = 0
    kp[2, 2] = 1  # hidden: written with labelme's 'occluded' flag
    folder = tmp_path / "lm"
    write_labelme(item, folder, mode="RGBA", image=image, mask=mask, keypoints=kp)
    got = import_labels(folder, size=SIZE).items[0]
    np.testing.assert_array_equal(got.mask, resized_mask(mask))
    check_keypoints(got.keypoints, kp, hw=(72, 96))
    assert (got.image[:4] == 255).all() and (got.image[-4:] == 255).all()  # padded with white, centered
    gray_path = write_labelme(item, tmp_path / "gray", mode="L", image=image[:, 10:82], mask=mask[:, 10:82])
    gray = import_labels(gray_path, size=SIZE).items[0].image
    assert gray.shape == (SIZE, SIZE, 3) and (gray[..., 0] == gray[..., 2]).all()
    np.testing.assert_array_equal(
        import_labels(gray_path, size=SIZE).items[0].mask, resized_mask(mask[:, 10:82])
    )


def test_unknown_classes_and_keypoints_are_reported(tmp_path: Path, items) -> None:
    extra = [
        {"label": "belt", "points": [[0, 0], [10, 0], [10, 6], [0, 6]], "shape_type": "polygon"},
        {"label": "ankle", "points": [[5, 5]], "shape_type": "point"},
    ]
    folder = tmp_path / "lm"
    write_labelme(items[0], folder, extra_shapes=extra)
    write_labelme(items[1], folder, extra_shapes=extra[:1])
    report = import_labels(folder, size=NATIVE)
    assert len(report.items) == 2
    assert report.unknown_classes == {"belt": 2} and report.unknown_keypoints == {"ankle": 1}
    belt = next(w for w in report.warnings if "'belt'" in w)
    assert "background" in belt and f"{items[0].id}.json" in belt and f"{items[1].id}.json" in belt
    assert any("'ankle'" in w for w in report.warnings)
    assert (report.items[0].mask[:6, :10] == 0).all()  # painted as background, not dropped silently


# --------------------------------------------------------------------------------------------------------------
# Bad input: one clear sentence naming the file, never a traceback


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelImportError, match="empty.* is empty"):
        import_labels(tmp_path / "empty")
    with pytest.raises(LabelImportError, match="nowhere does not exist"):
        import_labels(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    with pytest.raises(LabelImportError, match="other holds no labeled images"):
        import_labels(tmp_path / "other")


def test_corrupt_json(tmp_path: Path, items) -> None:
    folder = tmp_path / "lm"
    folder.mkdir()
    (folder / "broken.json").write_text('{"shapes": [')
    with pytest.raises(LabelImportError, match=r"broken\.json is not valid JSON") as info:
        import_labels(folder)
    assert "\n" not in str(info.value)
    with pytest.raises(LabelImportError, match=r"broken\.json is not valid JSON"):
        import_labels(folder / "broken.json")
    (folder / "other.json").write_text('{"hello": 1}')
    with pytest.raises(LabelImportError, match=r"Nothing in .*lm could be imported: .*broken\.json"):
        import_labels(folder)


def test_wrong_size_mask(tmp_path: Path, items) -> None:
    root = mask_folder(tmp_path, items[:1])
    bad = root / "masks" / f"{items[0].id}.png"
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(bad)
    with pytest.raises(
        LabelImportError, match=rf"{bad.name} is 12x10, but its image {items[0].id}.png is 96x96"
    ):
        import_labels(root)


def test_unreadable_image(tmp_path: Path, items) -> None:
    path = write_labelme(items[0], tmp_path / "lm")
    (tmp_path / "lm" / f"{items[0].id}.png").write_bytes(b"not an image at all")
    with pytest.raises(LabelImportError, match=rf"{items[0].id}\.png is not an image"):
        import_labels(path)


def test_labelme_size_disagrees_with_image(tmp_path: Path, items) -> None:
    path = write_labelme(items[0], tmp_path / "lm")
    doc = json.loads(path.read_text())
    doc["imageWidth"] = 100
    path.write_text(json.dumps(doc))
    with pytest.raises(LabelImportError, match=r"gives the image size 100x96, but .*\.png is 96x96"):
        import_labels(path)


def test_a_bad_item_among_good_ones_is_skipped(tmp_path: Path, items) -> None:
    root = mask_folder(tmp_path, items)
    bad = root / "masks" / f"{items[1].id}.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(bad)
    Image.fromarray(items[0].image).save(root / "images" / "unlabeled.png")
    report = import_labels(root, size=SIZE)
    assert [it.id for it in report.items] == [items[0].id, items[2].id]
    skipped = dict(report.skipped)
    assert "10x10" in skipped[str(root / "images" / f"{items[1].id}.png")]
    assert str(root / "images" / "unlabeled.png") in skipped
    assert any(bad.name in w and "skipped" in w for w in report.warnings)
    assert any("unlabeled.png" in w and "no mask" in w for w in report.warnings)


def test_unknown_mask_color_is_named(tmp_path: Path, items) -> None:
    root = mask_folder(tmp_path, items[:2], color=True)
    rgb = np.zeros((NATIVE, NATIVE, 3), np.uint8)
    rgb[5, 5] = (1, 2, 3)
    Image.fromarray(rgb).save(root / "masks" / f"{items[0].id}.png")
    report = import_labels(root)
    assert (
        len(report.items) == 1 and "1,2,3" in report.skipped[0][1] and "labelmap.txt" in report.skipped[0][1]
    )


# --------------------------------------------------------------------------------------------------------------
# Dropped files, cancel


def test_import_dropped_files(tmp_path: Path, items) -> None:
    folder = tmp_path / "lm"
    json_path = write_labelme(items[0], folder)
    Image.fromarray(items[1].image).save(folder / "lonely.png")
    report = import_labels([folder / f"{items[0].id}.png", json_path, folder / "lonely.png"], size=SIZE)
    assert [it.id for it in report.items] == [items[0].id]  # the image and its JSON are one item
    assert report.skipped == [
        (
            str(folder / "lonely.png"),
            f"{folder / 'lonely.png'} has no labelme JSON of the same name beside it",
        )
    ]
    with pytest.raises(LabelImportError, match="lonely.png has no labelme JSON"):
        import_labels([folder / "lonely.png"])
    other = tmp_path / "other"
    write_labelme(items[0], other)  # the same file name from another folder
    twice = import_labels([json_path, other / f"{items[0].id}.json"])
    assert [it.id for it in twice.items] == [items[0].id, f"{items[0].id}_2"]


def test_cancel(tmp_path: Path, items) -> None:
    folder = write_catalog(items, tmp_path / "cat")
    token = CancelToken()
    seen = []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        token.cancel()

    with pytest.raises(Cancelled):
        import_labels(folder, progress=progress, cancel=token)
    assert len(seen) == 1


def test_classes_of_another_model(tmp_path: Path, items) -> None:
    folder = write_catalog(items, tmp_path / "cat")
    report = import_labels(
        folder, size=NATIVE, classes=("bg", "Right Leg", "left-leg"), keypoints=("crotch",)
    )
    got, original = report.items[1], items[1]
    want = np.select([original.mask == 3, original.mask == 2], [1, 2], 0)
    np.testing.assert_array_equal(got.mask, want)
    assert set(report.unknown_classes) == {"waistband", "pocket", "fly", "cuff"}  # background is not unknown
    assert report.unknown_classes["waistband"] == 3 and report.unknown_classes["pocket"] == 2
    assert got.keypoints.shape == (1, 3) and np.allclose(got.keypoints[0], original.keypoints[2])
    assert report.unknown_keypoints["waist_left"] == 3


# --------------------------------------------------------------------------------------------------------------
# Files from the field: labelme's own tutorial example, polygons that cover no area


def apc2016_shaped(
    item: CatalogItem, folder: Path, *, data: bool = True, beside: np.ndarray | None = None
) -> Path:
    """A file shaped like labelme's examples/tutorial/apc2016_obj3.json: labelme 3 shapes (no shape_type,
    line_color/fill_color null, no imageHeight/imageWidth), an ``imagePath`` naming the JSON itself, the photo
    embedded as base64 JPEG ``imageData`` and a ``.jpg`` of the same stem beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = io.BytesIO()
    Image.fromarray(item.image).save(jpeg, format="JPEG", quality=95)
    Image.fromarray(item.image if beside is None else beside).save(folder / "apc2016_obj3.jpg", quality=95)
    shapes = [
        {"label": "shelf", "line_color": None, "fill_color": None, "points": [[0, 0], [95, 0], [95, 20]]},
        {
            "label": "left_leg",
            "line_color": None,
            "fill_color": None,
            "points": [[10, 30], [40, 30], [40, 90]],
        },
    ]
    doc = {
        "shapes": shapes,
        "lineColor": [0, 255, 0, 128],
        "fillColor": [255, 0, 0, 128],
        "imagePath": "apc2016_obj3.json",
        "imageData": base64.b64encode(jpeg.getvalue()).decode("ascii") if data else None,
    }
    path = folder / "apc2016_obj3.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_labelme_tutorial_file_whose_image_path_names_itself(tmp_path: Path, items) -> None:
    item = items[0]
    other = np.ascontiguousarray(item.image[::-1])
    path = apc2016_shaped(item, tmp_path / "embedded", beside=other)  # imageData and the .jpg differ here
    embedded = base64.b64decode(json.loads(path.read_text())["imageData"])
    jpeg = np.asarray(Image.open(io.BytesIO(embedded)).convert("RGB"))
    # the embedded imageData is used, whatever imagePath says (labelme prefers it too)
    report = import_labels(path, size=NATIVE)
    got = report.items[0]
    assert got.id == "apc2016_obj3" and report.format == "labelme"
    np.testing.assert_array_equal(got.image, jpeg)
    assert (got.mask == PART_NAMES.index("left_leg")).sum() > 500
    assert report.unknown_classes == {"shelf": 1}
    # without imageData, the .jpg beside it with the same stem is the image
    path = apc2016_shaped(item, tmp_path / "beside", data=False, beside=other)
    got = import_labels(path, size=NATIVE).items[0]
    assert np.abs(got.image.astype(int) - other).mean() < 3  # JPEG
    # imageData that does not decode falls back on the image beside it
    doc = json.loads(path.read_text())
    doc["imageData"] = "bm90IGFuIGltYWdl"  # "not an image"
    path.write_text(json.dumps(doc))
    assert np.abs(import_labels(path, size=NATIVE).items[0].image.astype(int) - other).mean() < 3
    # and with neither, the one sentence names the first problem
    (tmp_path / "beside" / "apc2016_obj3.jpg").unlink()
    with pytest.raises(
        LabelImportError, match=r"apc2016_obj3\.json carries imageData that is not a readable"
    ):
        import_labels(path)


def test_labelme_polygon_of_two_points_is_left_out_with_a_warning(tmp_path: Path, items) -> None:
    extra = [{"label": "pocket", "points": [[2, 3], [12, 9]], "shape_type": "polygon"}]
    path = write_labelme(items[0], tmp_path / "lm", extra_shapes=extra)
    report = import_labels(path, size=NATIVE)
    np.testing.assert_array_equal(report.items[0].mask, items[0].mask)  # nothing painted by it
    assert any("1 'polygon' shape(s) that cover no area" in w and path.name in w for w in report.warnings)


def test_coco_polygon_of_two_points_is_left_out_with_a_warning(tmp_path: Path, items) -> None:
    folder = write_catalog(items[:1], tmp_path / "cat")
    annotations = folder / "annotations.json"
    doc = json.loads(annotations.read_text())
    image_id = doc["images"][0]["id"]
    two_points = {
        "id": 999,
        "image_id": image_id,
        "category_id": 4,
        "iscrowd": 0,
        "segmentation": [[2, 3, 40, 50]],
    }
    doc["annotations"].append(two_points)
    annotations.write_text(json.dumps(doc))
    want = import_labels(write_catalog(items[:1], tmp_path / "clean") / "annotations.json", size=NATIVE)
    report = import_labels(annotations, size=NATIVE)  # as a COCO file
    np.testing.assert_array_equal(report.items[0].mask, want.items[0].mask)
    expected = f"{annotations}: annotation 999 has a polygon of 2 point(s), which covers no area, so it was left out."
    assert expected in report.warnings
    (folder / "masks").rename(
        tmp_path / "masks"
    )  # masks now come from annotations.json: the catalog warns too
    from gan_studio.data.catalog_reader import read_catalog

    catalog = read_catalog(folder)
    assert catalog.warnings == [expected]
    assert expected in import_labels(folder, size=NATIVE).warnings


def test_coco_polygon_with_an_odd_number_of_coordinates_is_refused(tmp_path: Path, items) -> None:
    folder = write_catalog(items[:1], tmp_path / "cat")
    annotations = folder / "annotations.json"
    doc = json.loads(annotations.read_text())
    doc["annotations"][0]["segmentation"] = [[2, 3, 40, 50, 7]]
    annotations.write_text(json.dumps(doc))
    with pytest.raises(
        LabelImportError, match=r"annotations\.json is not a COCO file .*odd number of coordinates"
    ):
        import_labels(annotations)
