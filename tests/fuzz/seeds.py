"""Valid files the fuzz mutates, written with the project's own writers from real built-in catalog items.

Each builder writes one small, valid input into a folder and returns what a fuzz target needs: the folder, the
files it may mutate, and how to read it. Items are rendered at 32 px so that one read takes milliseconds.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES, PARTS
from gan_studio.data.catalog import render_item
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.data.coco import mask_to_polygons, rle_encode
from gan_studio.data.item import CatalogItem
from gan_studio.data.layout import format_labelmap
from gan_studio.models.checkpoint import save_checkpoint

SIZE = 32  # native size of the seed items
IMPORT_SIZE = 16  # the generator size they are imported at (a resize on every import)


def seed_items() -> list[CatalogItem]:
    """Two real catalog items with every label: image, mask, keypoints, depth, attributes, title."""
    return [render_item(3, i, SIZE) for i in (1, 2)]


def b64_png(array: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def catalog_folder(root: Path) -> Path:
    """A catalog folder (images, titles.csv, attributes.jsonl, masks, labelmap.txt, annotations.json, depth)."""
    return write_catalog(seed_items(), root)


def labelme_doc(item: CatalogItem, image_name: str, embed: bool) -> dict:
    """A labelme 5.x document with every shape type over ``item``: polygons traced from its mask, a rectangle,
    a circle, a mask shape, a line, and its keypoints as points (one flagged occluded)."""
    shapes = []
    for c in (2, 3):  # the legs, as traced polygons
        for flat in mask_to_polygons(item.mask == c) or []:
            points = np.asarray(flat).reshape(-1, 2).tolist()
            shapes.append({"label": PART_NAMES[c], "points": points, "shape_type": "polygon", "flags": {}})
    shapes.append({"label": "waistband", "points": [[8, 2], [24, 6]], "shape_type": "rectangle", "flags": {}})
    shapes.append({"label": "pocket", "points": [[12, 12], [14, 14]], "shape_type": "circle", "flags": {}})
    crop = (item.mask[20:26, 4:12] > 0).astype(np.uint8)
    shapes.append(
        {"label": "cuff", "points": [[4, 20], [11, 25]], "shape_type": "mask", "mask": b64_png(crop)}
    )
    shapes.append({"label": "fly", "points": [[16, 6], [16, 14]], "shape_type": "line", "flags": {}})
    for name, (x, y, v) in zip(KEYPOINTS, item.keypoints.tolist()):
        if v > 0:
            flags = {"occluded": v == 1}
            shapes.append({"label": name, "points": [[x, y]], "shape_type": "point", "flags": flags})
    return {
        "version": "5.5.0",
        "flags": {},
        "shapes": shapes,
        "imagePath": image_name,
        "imageData": b64_png(item.image) if embed else None,
        "imageHeight": SIZE,
        "imageWidth": SIZE,
    }


def labelme_files(root: Path) -> tuple[Path, Path]:
    """``root/item.json`` with ``item.png`` beside it, and ``root/embedded.json`` carrying its imageData."""
    root.mkdir(parents=True, exist_ok=True)
    item = seed_items()[0]
    Image.fromarray(item.image).save(root / "item.png")
    beside = root / "item.json"
    beside.write_text(json.dumps(labelme_doc(item, "item.png", embed=False)))
    embedded = root / "embedded.json"
    embedded.write_text(json.dumps(labelme_doc(item, "embedded.json", embed=True)))
    return beside, embedded


def _uncompressed_counts(region: np.ndarray) -> list[int]:
    """COCO's uncompressed RLE counts (column-major runs, starting with a run of zeros)."""
    flat = region.ravel(order="F").astype(np.int8)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat[0] else counts


def coco_file(root: Path) -> Path:
    """``root/annotations/instances.json`` (polygons, compressed and uncompressed RLE, keypoints) with the images
    in ``root/images/``, categories numbered and spelled unlike the catalog's."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(exist_ok=True)
    categories = [
        {"id": 10 + c, "name": PART_NAMES[c].replace("_", " ").title()} for c in range(1, len(PARTS))
    ]
    categories.append({"id": 99, "name": "pants", "keypoints": list(KEYPOINTS), "skeleton": [[1, 2], [2, 3]]})
    images, annotations = [], []
    for image_id, item in enumerate(seed_items(), start=1):
        Image.fromarray(item.image).save(root / "images" / f"{item.id}.jpg", quality=95)
        images.append({"id": image_id, "file_name": f"{item.id}.jpg", "width": SIZE, "height": SIZE})
        for c in np.unique(item.mask).tolist():
            if not c:
                continue
            region = item.mask == c
            polygons = mask_to_polygons(region)
            if polygons and c % 2:
                seg: object = polygons
            elif c % 3 == 0:
                seg = {"size": [SIZE, SIZE], "counts": _uncompressed_counts(region)}
            else:
                seg = rle_encode(region)
            annotations.append(
                {"image_id": image_id, "category_id": 10 + c, "segmentation": seg, "iscrowd": 0}
            )
        flat_kp = [float(v) for row in item.keypoints.tolist() for v in row]
        annotations.append(
            {"image_id": image_id, "category_id": 99, "keypoints": flat_kp, "num_keypoints": 9}
        )
    for i, ann in enumerate(annotations, start=1):
        ann["id"] = i
    path = root / "annotations" / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def mask_folder(root: Path) -> Path:
    """A CVAT/VOC-style folder: labelmap.txt, masks/ (one grayscale index PNG, one RGB color mask), images/."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    (root / "labelmap.txt").write_text(format_labelmap(PARTS))
    colors = np.array([rgb for _, rgb in PARTS], np.uint8)
    for n, item in enumerate(seed_items()):
        Image.fromarray(item.image).save(root / "images" / f"{item.id}.png")
        mask = item.mask.astype(np.uint8) if n == 0 else colors[item.mask]
        Image.fromarray(mask).save(root / "masks" / f"{item.id}.png")
    return root


def checkpoint_file(root: Path) -> Path:
    """A small verified checkpoint: ``net.safetensors`` + ``net.json`` manifest + ``net.md``."""
    g = torch.Generator().manual_seed(0)
    state = {"layer.weight": torch.randn(4, 3, generator=g), "layer.bias": torch.randn(4, generator=g)}
    return save_checkpoint(
        state,
        root / "net.safetensors",
        architecture="fuzz-net",
        config={"inputs": 3, "outputs": 4},
        training={"command": "tests/fuzz", "seed": 0},
        card="# fuzz net\n",
    )
