"""What the fuzz found, one case each, so that each fix stays put even if the mutators change; and a check that
the harness itself catches a leak, a hang and a memory jump."""

from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.label_import import LabelImportError, import_labels
from gan_studio.data.layout import CatalogError
from gan_studio.models.checkpoint import CheckpointError, file_sha256, load_checkpoint, manifest_path
from tests.fuzz import harness
from tests.fuzz.harness import Fuzz
from tests.fuzz.mutate import png_bytes, png_chunk, with_declared_size
from tests.fuzz.seeds import catalog_folder, checkpoint_file, coco_file, labelme_files, seed_items

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def catalog(tmp_path) -> Path:
    return catalog_folder(tmp_path / "cat")


def test_json_nested_too_deeply_or_with_a_giant_number(catalog: Path) -> None:
    (catalog / "manifest.json").write_text(DEEP)
    with pytest.raises(CatalogError, match=r"manifest\.json is not valid JSON \(it is nested too deeply\)"):
        read_catalog(catalog)
    (catalog / "manifest.json").write_text('{"count": ' + "9" * 6000 + "}")
    with pytest.raises(CatalogError, match=r"manifest\.json is not valid JSON \(it holds a number too long"):
        read_catalog(catalog)


def test_attributes_line_nested_too_deeply(catalog: Path) -> None:
    (catalog / "attributes.jsonl").write_text(DEEP + "\n")
    with pytest.raises(CatalogError, match=r"attributes\.jsonl line 1 is not valid JSON \(it is nested"):
        read_catalog(catalog)


def test_titles_with_an_unclosed_quote_or_an_overlong_name(catalog: Path) -> None:
    titles = catalog / "titles.csv"
    lines = titles.read_text().splitlines()
    titles.write_text("\n".join([lines[0], '"' + lines[1], *lines[2:]]) + "\n")
    with pytest.raises(CatalogError, match=r"titles\.csv line 2 has a 'file' that is no file name"):
        read_catalog(catalog)
    titles.write_text(f"file,title\n{'a' * 300}.png,x\n")
    with pytest.raises(CatalogError, match=r"titles\.csv line 2 lists 'a+.*, which cannot be opened"):
        read_catalog(catalog)


def test_png_whose_iend_comes_before_any_idat(catalog: Path) -> None:
    image = catalog / "images" / f"{seed_items()[0].id}.png"
    data = image.read_bytes()
    image.write_bytes(data[:33] + png_chunk(b"IEND", b"") + data[33:])  # PIL's verify() raised IndexError
    assert any(f"{image.name} is not a readable image" in p for p in read_catalog(catalog).validate())


def test_declared_size_past_the_bomb_limit_is_refused_before_allocating(catalog: Path) -> None:
    image = catalog / "images" / f"{seed_items()[0].id}.png"
    image.write_bytes(with_declared_size(image.read_bytes(), 100_000, 100_000))
    fuzz = Fuzz("bomb", (CatalogError,), memory_bound_mb=50, counted=False)
    fuzz.feed("bomb", "100000 x 100000", lambda: read_catalog(catalog)[0], (image.name,))
    assert fuzz.outcomes["refused"] == 1 and not fuzz.findings
    with pytest.raises(CatalogError, match=r"declares more than \d+ pixels, too many to open safely"):
        read_catalog(catalog)[0]


def test_labelme_malformed_exif_and_shape_type(tmp_path: Path) -> None:
    beside, _ = labelme_files(tmp_path / "lm")
    image = beside.with_suffix(".png")
    data = png_bytes(Image.open(image))
    # an eXIf chunk that is no TIFF header: PIL's exif parser raised SyntaxError; the picture reads unturned
    image.write_bytes(data[:33] + png_chunk(b"eXIf", b"\xbfR!A8\x01)\x1b") + data[33:])
    report = import_labels(beside)
    assert len(report.items) == 1
    doc = json.loads(beside.read_text())
    doc["shapes"][1]["shape_type"] = ["polygon"]  # was: TypeError, unhashable type: 'list'
    beside.write_text(json.dumps(doc))
    with pytest.raises(LabelImportError, match=r"item\.json shape 2 .* has a shape_type that is not text"):
        import_labels(beside)


def test_labelme_mask_shape_declaring_a_huge_png(tmp_path: Path) -> None:
    beside, _ = labelme_files(tmp_path / "lm")
    doc = json.loads(beside.read_text())
    shape = next(s for s in doc["shapes"] if s["shape_type"] == "mask")
    crop = base64.b64decode(shape["mask"])
    shape["mask"] = base64.b64encode(with_declared_size(crop, 9_000, 9_000)).decode()
    beside.write_text(json.dumps(doc))
    with pytest.raises(LabelImportError, match=r"has a 9000x9000 mask for a 8x6 box"):
        import_labels(beside)


def test_coco_rle_of_another_size_and_image_sizes_of_the_wrong_type(tmp_path: Path) -> None:
    path = coco_file(tmp_path / "coco")
    doc = json.loads(path.read_text())
    rle = next(a for a in doc["annotations"] if isinstance(a.get("segmentation"), dict))
    rle["segmentation"]["size"] = [100_000, 100_000]  # would have allocated 10 GB before the size check
    path.write_text(json.dumps(doc))
    report = import_labels(path)  # the item is skipped, the other imported
    assert (
        len(report.items) == 1
        and "RLE size [100000, 100000] is not the image's [32, 32]" in report.skipped[0][1]
    )
    doc = json.loads(path.read_text())
    doc["images"][0]["width"] = [32]  # was: TypeError from int()
    path.write_text(json.dumps(doc))
    with pytest.raises(LabelImportError, match=r"image 0 has a 'width' of the wrong type"):
        import_labels(path)


def test_checkpoint_manifest_and_header_nested_too_deeply(tmp_path: Path) -> None:
    weights = checkpoint_file(tmp_path)
    mpath = manifest_path(weights)
    manifest = mpath.read_text()
    mpath.write_text(DEEP)
    with pytest.raises(CheckpointError, match=r"net\.json is not JSON this app can read"):
        load_checkpoint(weights)
    header = DEEP.encode()
    weights.write_bytes(struct.pack("<Q", len(header)) + header)
    mpath.write_text(json.dumps({**json.loads(manifest), "sha256": file_sha256(weights)}))
    with pytest.raises(CheckpointError, match=r"net\.safetensors is not a safetensors file"):
        load_checkpoint(weights)


def _past_the_peak(mb: int) -> int:
    """Bytes that raise the process's peak memory by ``mb`` MB: earlier tests may have left the peak far above
    what the process holds now, and a jump below the old peak does not show in the peak."""
    if harness.resource is None:
        return mb << 20
    peak = harness.resource.getrusage(harness.resource.RUSAGE_SELF).ru_maxrss << 10
    try:
        rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        rss = peak
    return max(0, peak - rss) + (mb << 20)


def test_the_harness_catches_leaks_hangs_and_memory_jumps() -> None:
    fuzz = Fuzz("self-test", (ValueError,), time_limit_s=0.3, memory_bound_mb=40, counted=False)

    def spin() -> None:
        while True:
            pass

    fuzz.feed("leak", "a TypeError", lambda: int([]), ("x",))
    fuzz.feed("hang", "a loop", spin, ("x",))
    fuzz.feed("memory", "100 MB past the peak", lambda: np.ones(_past_the_peak(100), np.uint8).sum(), ("x",))
    fuzz.feed("anonymous", "an error naming no file", lambda: int("nope"), ("x.json",))
    fuzz.feed(
        "fine", "a clear error", lambda: (_ for _ in ()).throw(ValueError("x.json is bad")), ("x.json",)
    )
    expected = (
        ["leak", "hang", "memory", "anonymous"]
        if harness.resource is not None
        else ["leak", "hang", "anonymous"]
    )
    assert [f.split(" ")[0] for f in fuzz.findings] == expected
    with pytest.raises(AssertionError, match=f"{len(expected)} of 5 inputs failed"):
        fuzz.check(5)
