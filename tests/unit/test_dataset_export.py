"""HandsOff models and labeled dataset export: round trip, resume after a kill, shards and merge, uncertainty drop,
write errors (tiny generator, tiny label generator)."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gan_studio.data import dataset_export, dataset_files
from gan_studio.data.catalog import iter_items
from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.dataset_export import export_dataset, latent_seed
from gan_studio.data.dataset_files import UNCERTAINTY_FILE, WORK_DIR, ExportError
from gan_studio.data.dataset_merge import merge_exports
from gan_studio.data.dataset_plan import candidate_count, keep_lowest, parse_shard, shard_range
from gan_studio.data.label_import import ImportReport, LabeledImage
from gan_studio.data.layout import CatalogError, parse_labelmap
from gan_studio.methods.handsoff import HandsOffError, fit_handsoff, load_handsoff
from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.models.inversion import InversionConfig, InversionEncoder
from gan_studio.models.perceptual import PerceptualDistance
from tests.tiny_models import tiny_text_to_image

TITLES = ["men's blue jeans", "women's black pants", "unisex khaki cargo shorts"]
TINY = LabelGeneratorConfig(ensemble_size=3, hidden=(16, 8), steps=6, images_per_step=2, pixels_per_image=128)
N, SEED, BATCH = 12, 3, 4


@pytest.fixture(scope="module")
def generator():
    return TitleGenerator(tiny_text_to_image()).catalog_protocol(TITLES)


@pytest.fixture(scope="module")
def model(generator, tmp_path_factory):
    """A HandsOff model fitted on four built-in catalog items (masks, keypoints, depth), saved and loaded."""
    items = [
        LabeledImage(it.id, f"{it.id}.png", it.image, it.mask, it.keypoints, it.depth)
        for it in iter_items(0, 0, 4, 64)
    ]
    torch.manual_seed(0)
    encoder = InversionEncoder(InversionConfig.tiny(generator.image_size, generator.latent_dim))
    torch.nn.init.normal_(encoder.fc2.weight, std=0.3)  # untrained, but images invert to different latents
    perceptual = PerceptualDistance(AttributeClassifier(ClassifierConfig(in_size=32, width=4)))
    folder = tmp_path_factory.mktemp("handsoff") / "model"
    fit_handsoff(
        ImportReport(items=items), folder, generator, encoder, TINY, refine_steps=1, perceptual=perceptual
    )
    return load_handsoff(folder)


def _export(model, generator, out: Path, n: int = N, **kw):
    kw = {"seed": SEED, "batch": BATCH, **kw}
    return export_dataset(model, out, n, generator=generator, **kw)


@pytest.fixture(scope="module")
def baseline(model, generator, tmp_path_factory) -> Path:
    """An uninterrupted, unsharded export of N items without a drop."""
    out = tmp_path_factory.mktemp("baseline") / "ds"
    _export(model, generator, out)
    return out


@pytest.fixture(scope="module")
def with_drop(model, generator, tmp_path_factory) -> Path:
    """N items kept of 15 candidates (uncertainty drop 0.2)."""
    out = tmp_path_factory.mktemp("drop") / "ds"
    result = _export(model, generator, out, uncertainty_drop=0.2)
    assert (result.candidates, result.kept, result.dropped) == (15, N, 3)
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _assert_same_dataset(a: Path, b: Path) -> None:
    """Identical files, and manifests equal but for when they were written and where shards came from."""
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for name in fa:
        if name != "manifest.json":
            assert fa[name] == fb[name], name
    ma, mb = (json.loads(f["manifest.json"]) for f in (fa, fb))
    for m in (ma, mb):
        m.pop("created")
        m.pop("merged_from", None)
    assert ma == mb


# ------------------------------------------------------------------------------------------------ the model


def test_the_handsoff_model_records_what_it_was_fitted_on_and_loads_back(model, generator):
    info = model.info
    assert info["format"] == "gan_studio.handsoff"
    assert info["generator"]["kind"] == "object"  # given in code: export needs it passed again
    assert model.item_ids == [f"s0_00000{i}" for i in range(4)]
    assert all(
        isinstance(item["perceptual"], float) and isinstance(item["psnr"], float) for item in info["items"]
    )
    assert info["items"][0]["labels"] == ["mask", "keypoints", "depth"]
    assert info["inversion"]["refine_steps"] == 1
    assert set(model.tasks) == {"segmentation", "keypoints", "depth"}
    assert model.fingerprint == info["label_generator"]["sha256"]
    assert not any(p.name.endswith(".partial") for p in model.folder.parent.iterdir())
    with pytest.raises(HandsOffError, match="pass that generator"):
        model.open_generator()
    again = load_handsoff(model.folder)
    latents = generator.sample_latent(2, 0)
    a, b = model.predict(generator, latents), again.predict(generator, latents)
    assert all(np.array_equal(x["mask"], y["mask"]) for x, y in zip(a, b, strict=True))


def test_load_handsoff_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(tmp_path / "resources"))
    with pytest.raises(HandsOffError, match="no built-in HandsOff model is shipped yet"):
        load_handsoff("builtin")
    with pytest.raises(HandsOffError, match="does not exist"):
        load_handsoff(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    with pytest.raises(HandsOffError, match="not a HandsOff model folder"):
        load_handsoff(tmp_path / "other")
    (tmp_path / "other" / "handsoff.json").write_text("{not json")
    with pytest.raises(HandsOffError, match="not valid JSON"):
        load_handsoff(tmp_path / "other")


# ---------------------------------------------------------------------------------------------- the numbers


def test_seeds_candidates_shards_and_the_keep_rule():
    assert latent_seed(3, 5) == latent_seed(3, 5) != latent_seed(3, 6) != latent_seed(4, 5)
    assert 0 <= latent_seed(2**40, 10**9) < 2**63
    assert candidate_count(9, 0.1) == 10  # 9 / 0.9 in floats is 10.000000000000002
    assert candidate_count(12, 0.2) == 15 and candidate_count(12, 0.0) == 12
    assert keep_lowest([0.3, 0.1, 0.2, 0.1, np.nan], 3).tolist() == [False, True, True, True, False]
    assert keep_lowest([0.5, 0.5, 0.5], 2).tolist() == [True, True, False]  # ties: the earlier is kept
    # Shards are contiguous blocks of whole chunks that tile the candidates.
    blocks = [shard_range(10, 0.0, (i, 3), 2) for i in range(3)]
    assert [(b.start, b.stop) for b in blocks] == [(0, 2), (2, 6), (6, 10)]
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(ValueError):
            parse_shard(bad)
    with pytest.raises(ValueError, match="more than"):
        shard_range(4, 0.0, (0, 3), 2)


def test_bad_export_settings_are_refused_before_anything_is_written(model, generator, tmp_path):
    root = tmp_path / "exports"
    root.mkdir()
    out = root / "ds"
    for kw in ({"n": 0}, {"uncertainty_drop": 1.0}, {"shard": (2, 2)}, {"batch": 0}, {"seed": -1}):
        with pytest.raises(ValueError):
            _export(model, generator, out, **{"n": N, **kw})
    no_segmentation = SimpleNamespace(tasks=("depth",))
    with pytest.raises(ExportError, match="no segmentation"):
        export_dataset(no_segmentation, out, 4, uncertainty_drop=0.1)
    assert not list(root.iterdir())


# ------------------------------------------------------------------------------------------------ round trip


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' numpy 2 copy keyword
def test_export_round_trips_through_read_catalog_and_pycocotools(model, generator, baseline):
    from pycocotools.coco import COCO

    catalog = read_catalog(baseline)
    assert len(catalog) == N and catalog.ids == [f"gen_{k:06d}" for k in range(N)]
    assert catalog.has_masks and catalog.has_keypoints and catalog.has_depth
    assert catalog.part_names == model.class_names and catalog.keypoint_names == model.keypoint_names
    assert parse_labelmap((baseline / "labelmap.txt").read_text())[0][0] == "background"
    manifest = catalog.manifest
    assert manifest["complete"] is True and manifest["count"] == N
    assert manifest["seeds"]["seed"] == SEED and "latent_seed" in manifest["seeds"]["rule"]
    assert manifest["label_generator"]["sha256"] == model.fingerprint
    assert manifest["uncertainty"]["applied"] and manifest["uncertainty"]["dropped"] == 0
    assert manifest["shard"] == {"index": 0, "count": 1, "first": 0, "stop": N}
    seeds = [latent_seed(SEED, k) for k in range(N)]
    assert catalog.titles == [generator.sampled_titles(1, s)[0] for s in seeds]

    # Items are exactly the model's predictions for their latents (chunk 0 rendered as one batch).
    latents = torch.cat([generator.sample_latent(1, s) for s in seeds[:BATCH]])
    for k, predicted in enumerate(model.predict(generator, latents, batch_size=BATCH)):
        item = catalog[k]
        assert np.array_equal(item.image, predicted["image"])
        assert np.array_equal(item.mask, predicted["mask"])
        defined = predicted["depth"] > 0
        assert np.allclose(item.depth[defined], predicted["depth"][defined], atol=1e-4)
        visible = predicted["keypoints"][:, 2] > 0
        assert np.allclose(item.keypoints[visible], predicted["keypoints"][visible])
        assert (item.keypoints[~visible] == 0).all()  # COCO: unlabeled keypoints are (0, 0, 0)

    coco = COCO(str(baseline / "annotations.json"))
    garment = max(coco.getCatIds())
    assert coco.loadCats(garment)[0]["keypoints"] == list(model.keypoint_names)
    for image_id in coco.getImgIds():
        info = coco.loadImgs(image_id)[0]
        item = catalog[catalog.ids.index(Path(info["file_name"]).stem)]
        rebuilt = np.zeros_like(item.mask)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
            if ann["category_id"] == garment:
                flags = np.asarray(ann["keypoints"]).reshape(-1, 3)[:, 2]
                assert set(flags.tolist()) <= {0, 2} and ann["num_keypoints"] == int((flags > 0).sum())
            drawn = coco.annToMask(ann) > 0
            truth = item.mask > 0 if ann["category_id"] == garment else item.mask == ann["category_id"]
            iou = (drawn & truth).sum() / (drawn | truth).sum()
            assert iou > (0.999 if isinstance(ann["segmentation"], dict) else 0.95)
            if ann["category_id"] != garment:
                rebuilt[drawn] = ann["category_id"]
        # Polygons trace the mask's boundary (RLE where they would not): nearly every pixel agrees.
        assert (rebuilt == item.mask).mean() > 0.97
    assert [row.split(",")[0] for row in (baseline / UNCERTAINTY_FILE).read_text().splitlines()[1:]] == [
        f"images/gen_{k:06d}.png" for k in range(N)
    ]


# -------------------------------------------------------------------------------------------- kill and resume


class Killed(Exception):
    pass


def _kill_after_first_chunk(fraction: float, message: str) -> None:
    if 0 < fraction < 1:
        raise Killed(message)


def test_an_interrupted_export_is_never_complete_and_resumes_to_the_same_dataset(
    model, generator, baseline, tmp_path
):
    out = tmp_path / "ds"
    with pytest.raises(Killed):
        _export(model, generator, out, progress=_kill_after_first_chunk)
    work = tmp_path / ".ds.partial"
    assert not out.exists() and work.is_dir()
    journal = json.loads((work / WORK_DIR / "journal.json").read_text())
    assert journal["chunks_done"] == [0] and journal["items_done"] == BATCH
    with pytest.raises(CatalogError):
        read_catalog(out)
    with pytest.raises(CatalogError, match="not completely written"):
        read_catalog(work)

    # Another export into the same work folder is refused, and leaves it as it was.
    for kw in ({"seed": SEED + 1}, {"n": N + 1}, {"batch": BATCH + 1}):
        with pytest.raises(ExportError, match="unfinished export with other settings"):
            _export(model, generator, out, **{"n": N, **kw})
    assert json.loads((work / WORK_DIR / "journal.json").read_text()) == journal

    seen = []
    result = _export(model, generator, out, progress=lambda f, m: seen.append(m))
    assert result.resumed == BATCH and result.kept == N
    assert seen[0].startswith(f"continuing: {BATCH}/{N}")
    assert not work.exists()
    _assert_same_dataset(out, baseline)


def test_a_kill_between_the_last_file_and_the_rename_is_finished_by_the_rerun(
    model, generator, baseline, tmp_path, monkeypatch
):
    def killed(tmp, out):
        raise Killed("power cut")

    monkeypatch.setattr(dataset_export, "move_into_place", killed)
    out = tmp_path / "ds"
    with pytest.raises(Killed):
        _export(model, generator, out)
    assert not out.exists() and not (tmp_path / ".ds.partial" / WORK_DIR).exists()
    monkeypatch.undo()
    assert _export(model, generator, out).resumed == N  # nothing rendered again
    _assert_same_dataset(out, baseline)


def test_a_complete_dataset_is_not_replaced_unless_asked(model, generator, baseline, tmp_path):
    out = tmp_path / "ds"
    shutil.copytree(baseline, out)
    with pytest.raises(FileExistsError, match="already holds a complete dataset"):
        _export(model, generator, out)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no catalog"):
        _export(model, generator, tmp_path / "busy", overwrite=True)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    result = _export(model, generator, out, n=4, overwrite=True)
    assert result.kept == 4 and len(read_catalog(out)) == 4


# ----------------------------------------------------------------------------------------- drop and shards


def test_the_drop_keeps_the_least_uncertain_candidates(model, generator, with_drop, tmp_path):
    everything = tmp_path / "all"
    _export(model, generator, everything, n=15)  # the same 15 candidates, none dropped
    rows = [r.split(",") for r in (everything / UNCERTAINTY_FILE).read_text().splitlines()[1:]]
    scores = np.array([float(r[3]) for r in rows])
    expected = [f"gen_{k:06d}" for k in sorted(np.argsort(scores, kind="stable")[:N])]
    kept = read_catalog(with_drop)
    assert kept.ids == expected
    manifest = kept.manifest["uncertainty"]
    assert (manifest["kept"], manifest["dropped"], manifest["drop_fraction"]) == (N, 3, 0.2)
    dropped = sorted(set(range(15)) - {int(i[4:]) for i in expected})
    assert min(scores[dropped]) >= manifest["threshold"] == max(scores[[int(i[4:]) for i in expected]])
    # The kept items are exactly those candidates, and the dropped ones left no file behind.
    all_files = _files(everything)
    for name, data in _files(with_drop).items():
        if name.startswith(("images/", "masks/", "depth/")):
            assert all_files[name] == data
    assert not any(f"gen_{k:06d}" in name for k in dropped for name in _files(with_drop))


def test_shards_merge_into_the_unsharded_dataset(model, generator, with_drop, tmp_path):
    shards = [tmp_path / f"shard{i}" for i in range(2)]
    for i, folder in enumerate(shards):
        _export(model, generator, folder, uncertainty_drop=0.2, shard=(i, 2))
    first = read_catalog(shards[0])
    assert first.manifest["uncertainty"]["applied"] is False  # a shard keeps all its candidates
    assert len(first) + len(read_catalog(shards[1])) == 15
    result = merge_exports(shards, tmp_path / "merged")
    assert (result.kept, result.dropped) == (N, 3)
    _assert_same_dataset(tmp_path / "merged", with_drop)

    with pytest.raises(ExportError, match="shard.* 1 of 2 are missing"):
        merge_exports(shards[:1], tmp_path / "m1")
    with pytest.raises(ExportError, match="both shard 0"):
        merge_exports([shards[0], shards[0]], tmp_path / "m2")
    other = tmp_path / "other"
    _export(model, generator, other, uncertainty_drop=0.2, shard=(1, 2), seed=SEED + 1)
    with pytest.raises(ExportError, match="does not belong with"):
        merge_exports([shards[0], other], tmp_path / "m3")
    with pytest.raises(ExportError, match="not a dataset export"):
        merge_exports([iter_catalog(tmp_path)], tmp_path / "m4")
    assert not any((tmp_path / f"m{i}").exists() for i in range(1, 5))


def iter_catalog(tmp_path: Path) -> Path:
    from gan_studio.data.catalog_writer import write_catalog

    return write_catalog(iter_items(0, 0, 2, 32), tmp_path / "plain")


# --------------------------------------------------------------------------------------------- write errors


def test_a_file_in_the_way_is_one_sentence(model, generator, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="a file is in the way") as info:
        _export(model, generator, tmp_path / "file" / "ds")
    assert "\n" not in str(info.value)
    with pytest.raises(FileExistsError, match="not a folder"):
        _export(model, generator, tmp_path / "file")


def test_permission_denied_is_one_sentence(model, generator, tmp_path, monkeypatch):
    def denied(path, text):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(dataset_export, "atomic_write_text", denied)
    monkeypatch.setattr(dataset_files, "atomic_write_text", denied)
    with pytest.raises(ExportError, match="cannot be written \\(Permission denied\\); choose a folder"):
        _export(model, generator, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_a_full_disk_loses_nothing_and_the_export_continues(
    model, generator, baseline, tmp_path, monkeypatch
):
    write = dataset_export._write_chunk  # runs on the writer thread while the next chunk renders
    calls = []

    def full_on_the_second_chunk(*args):
        calls.append(args[0][0][0])  # the chunk's first candidate
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", "images/gen_000004.png")
        return write(*args)

    monkeypatch.setattr(dataset_export, "_write_chunk", full_on_the_second_chunk)
    out = tmp_path / "ds"
    with pytest.raises(ExportError, match=f"is full; free some space .* after the {BATCH} item") as info:
        _export(model, generator, out)
    assert "\n" not in str(info.value)
    journal = json.loads((tmp_path / ".ds.partial" / WORK_DIR / "journal.json").read_text())
    assert journal["chunks_done"] == [0]
    monkeypatch.setattr(dataset_export, "_write_chunk", write)
    assert _export(model, generator, out).resumed == BATCH
    _assert_same_dataset(out, baseline)
