"""Merging the shards of one synthetic dataset export into the dataset an unsharded export would have written.

:func:`merge_exports` checks that the shards belong together (same label generator, generator, n, seed, drop and
number of shards, cut on the same chunk grid) and cover every candidate exactly once, applies the uncertainty drop
over all of them (a shard keeps all its candidates, since it cannot compare them with the others'), copies the kept
items and writes one index, one COCO file among them. Atomic like the export: it writes into ``.NAME.partial`` and
renames that into place at the end.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.catalog_writer import move_into_place
from gan_studio.data.dataset_files import (
    EXPORT_SOURCE,
    JOURNAL_FILE,
    UNCERTAINTY_FILE,
    UNCERTAINTY_SCORE,
    WORK_DIR,
    ExportError,
    ExportLabels,
    ExportResult,
    check_out,
    is_complete,
    item_files,
    os_error_message,
    read_export_json,
    write_index,
    write_unfinished_manifest,
)
from gan_studio.data.dataset_plan import keep_lowest
from gan_studio.data.layout import (
    ANNOTATIONS_FILE,
    DEFAULT_DEPTH_SCALE,
    DEPTH_INFO_FILE,
    MANIFEST_FILE,
    TITLES_FILE,
    CatalogError,
)
from gan_studio.data.output_files import output_lock

_SAME_EXPORT = (
    "label_generator_sha256",
    "generator",
    "n",
    "seed",
    "uncertainty_drop",
    "candidates",
    "shards",
)

Progress = Callable[[float, str], None]


def _read_uncertainty(folder: Path) -> list[dict]:
    path = folder / UNCERTAINTY_FILE
    if not path.is_file():
        raise ExportError(f"{folder} has no {UNCERTAINTY_FILE}, so it is not a dataset export shard")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                u = row.get("uncertainty") or ""
                rows.append(
                    {
                        "file": row["file"],
                        "index": int(row["index"]),
                        "latent_seed": int(row["latent_seed"]),
                        "uncertainty": float(u) if u else None,
                    }
                )
    except (KeyError, TypeError, ValueError, csv.Error, UnicodeDecodeError) as exc:
        raise ExportError(f"{path} is damaged ({exc})") from None
    return rows


def _shard_entries(folder: Path, catalog) -> list[dict]:
    """The records of a finished export's items, rebuilt from its index files."""
    doc = read_export_json(folder / ANNOTATIONS_FILE) if (folder / ANNOTATIONS_FILE).is_file() else {}
    images = {img["file_name"]: img for img in doc.get("images", [])} if isinstance(doc, dict) else {}
    by_image: dict[int, list[dict]] = {}
    for ann in doc.get("annotations", []) if isinstance(doc, dict) else []:
        by_image.setdefault(ann["image_id"], []).append(ann)
    titles = dict(zip(catalog.ids, catalog.titles, strict=True))
    position = {item: i for i, item in enumerate(catalog.ids)}
    entries = []
    for row in _read_uncertainty(folder):
        item = Path(row["file"]).stem
        if item not in titles:
            raise ExportError(f"{folder / UNCERTAINTY_FILE} lists {row['file']}, which {TITLES_FILE} lacks")
        image = images.get(row["file"])
        height, width = catalog[position[item]].size if image is None else (0, 0)
        anns = sorted(by_image.get(image["id"], []), key=lambda a: a["id"]) if image is not None else []
        entries.append(
            {
                **row,
                "id": item,
                "title": titles[item],
                "source": folder,
                "image": (
                    {k: v for k, v in image.items() if k != "id"}
                    if image is not None
                    else {"file_name": row["file"], "width": width, "height": height}
                ),
                "annotations": [{k: v for k, v in a.items() if k not in ("id", "image_id")} for a in anns],
                "has_mask": (folder / "masks" / f"{item}.png").is_file(),
                "has_keypoints": any("keypoints" in a for a in anns),
                "has_depth": (folder / "depth" / f"{item}.png").is_file(),
            }
        )
    return entries


def _depth_scale(folder: Path) -> float:
    path = folder / DEPTH_INFO_FILE
    if not path.is_file():
        return DEFAULT_DEPTH_SCALE
    doc = read_export_json(path)
    return (
        float(doc.get("scale_m_per_unit", DEFAULT_DEPTH_SCALE))
        if isinstance(doc, dict)
        else DEFAULT_DEPTH_SCALE
    )


def _check_not_an_input(out: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output that is one of the inputs, holds one or lies inside one (symlinks resolved)."""
    target = out.resolve()
    for d in inputs:
        source = d.resolve()
        if target == source or target in source.parents or source in target.parents:
            raise ExportError(
                f"--out {out} is {'the shard' if target == source else 'nested with the shard'} {d}; "
                "merge into a new folder"
            )


def merge_exports(
    shard_dirs: Sequence[str | Path],
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Merge the finished shards of one export into one dataset at ``out`` (see the module docstring).

    Checks that the shards belong together (same label generator, generator, n, seed, drop and number of shards)
    and cover every candidate exactly once, applies the uncertainty drop over all candidates, copies the kept
    items and writes one ``annotations.json``. Atomic like :func:`~gan_studio.data.dataset_export.export_dataset`;
    raises :class:`~gan_studio.data.dataset_files.ExportError`.
    """
    dirs = [Path(d) for d in shard_dirs]
    if not dirs:
        raise ExportError("give the folders of the shards to merge")
    shards = []
    for d in dirs:
        try:
            catalog = read_catalog(d)
        except CatalogError as exc:
            raise ExportError(str(exc)) from None
        identity = catalog.manifest.get("export_identity")
        if catalog.manifest.get("source") != EXPORT_SOURCE or not isinstance(identity, dict):
            raise ExportError(f"{d} is not a dataset export (its manifest names no export)")
        shards.append((d, catalog, identity))
    d0, c0, base = shards[0]
    for d, _, identity in shards[1:]:
        for key in _SAME_EXPORT:
            if identity.get(key) != base.get(key):
                raise ExportError(
                    f"{d} does not belong with {d0}: its {key} is {identity.get(key)!r}, not {base.get(key)!r}"
                )
    by_index: dict[int, Path] = {}
    for d, _, identity in shards:
        if identity["shard"] in by_index:
            raise ExportError(f"{by_index[identity['shard']]} and {d} are both shard {identity['shard']}")
        by_index[identity["shard"]] = d
    missing = [str(i) for i in range(base["shards"]) if i not in by_index]
    if missing:
        raise ExportError(
            f"shard(s) {', '.join(missing)} of {base['shards']} are missing; the merge needs all of them"
        )
    position = 0
    for d, _, identity in sorted(shards, key=lambda s: s[2]["first"]):
        if identity["first"] != position:
            raise ExportError(
                f"{d} starts at candidate {identity['first']}, not {position}: the shards were not cut alike "
                "(export them with the same --batch)"
            )
        position = identity["stop"]
    if position != base["candidates"]:
        raise ExportError(f"the shards end at candidate {position}, not {base['candidates']}")
    labels = ExportLabels(c0.parts, c0.keypoint_names, c0.skeleton, _depth_scale(d0))
    for d, catalog, _ in shards[1:]:
        other = ExportLabels(catalog.parts, catalog.keypoint_names, catalog.skeleton, _depth_scale(d))
        if other != labels:
            raise ExportError(f"{d} has other classes, keypoints or depth scale than {d0}")

    entries = [
        e for d, catalog, _ in sorted(shards, key=lambda s: s[2]["first"]) for e in _shard_entries(d, catalog)
    ]
    keep = keep_lowest([np.nan if e["uncertainty"] is None else e["uncertainty"] for e in entries], base["n"])
    kept = [e for e, k in zip(entries, keep, strict=True) if k]

    _check_not_an_input(Path(out), dirs)
    out = check_out(Path(out), overwrite)
    work = out.parent / f".{out.name}.partial"
    copied = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with output_lock(out):  # a second merge or export into the same --out is refused
            unfinished = (work / WORK_DIR / JOURNAL_FILE).is_file()
            if unfinished or (
                is_complete(work) and "merged_from" not in read_export_json(work / MANIFEST_FILE)
            ):
                raise ExportError(
                    f"{work} holds an export not yet in place; finish or delete it before merging into {out}"
                )
            if work.exists():
                shutil.rmtree(work) if work.is_dir() else work.unlink()
            work.mkdir(parents=True)
            identity = {**base, "shard": 0, "shards": 1, "first": 0, "stop": base["candidates"]}
            write_unfinished_manifest(work, identity)
            (work / "images").mkdir()
            for sub, flag in (("masks", "has_mask"), ("depth", "has_depth")):
                if any(e[flag] for e in kept):
                    (work / sub).mkdir()
            for e in kept:
                for name in item_files(e["id"]):
                    if (e["source"] / name).is_file():
                        shutil.copyfile(e["source"] / name, work / name)
                copied += 1
                if progress is not None:
                    progress(0.99 * copied / len(kept), f"copied {copied}/{len(kept)} items")
            manifest = {
                k: v
                for k, v in c0.manifest.items()
                if k in ("source", "generator", "label_generator", "seeds")
            }
            scores = [e["uncertainty"] for e in kept if e["uncertainty"] is not None]
            dropped = len(entries) - len(kept)
            manifest.update(
                {
                    "n": base["n"],
                    "candidates": base["candidates"],
                    "batch": base["batch"],
                    "uncertainty": {
                        "score": UNCERTAINTY_SCORE,
                        "drop_fraction": base["uncertainty_drop"],
                        "applied": True,
                        "kept": len(kept),
                        "dropped": dropped,
                        "threshold": max(scores) if scores and dropped else None,
                    },
                    "shard": {"index": 0, "count": 1, "first": 0, "stop": base["candidates"]},
                    "export_identity": identity,
                    "merged_from": [str(d) for d in dirs],
                }
            )
            write_index(work, labels, kept, manifest)
            check_out(out, overwrite)
            move_into_place(work, out)
    except OSError as exc:
        if exc.errno is None:
            raise
        raise ExportError(os_error_message(exc, work)) from None
    if progress is not None:
        progress(1.0, f"merged {len(dirs)} shard(s) into {out}: {len(kept)} items")
    return ExportResult(out, len(entries), len(kept), dropped)
