"""Export a labeled synthetic dataset from a HandsOff model: streamed, atomic, resumable and shardable.

The dataset is a catalog folder (:mod:`gan_studio.data.layout`, written by its item writer): ``images/``,
class-index ``masks/`` with ``labelmap.txt`` (CVAT/VOC segmentation-mask style), COCO ``annotations.json`` (part
segmentations, garment keypoints with visibility flags), uint16 ``depth/`` with ``depth.json``, ``titles.csv``
(the title each latent was drawn with, when the generator samples titles) and ``manifest.json`` (generator, label
generator, seeds, uncertainty drop, counts, shard). One more file, ``uncertainty.csv`` (``file, index,
latent_seed, uncertainty``), gives each item's candidate index, latent seed and segmentation uncertainty.

**Items.** Candidate ``k`` (0-based) is drawn with ``generator.sample_latent(1, latent_seed(seed, k))``, where
:func:`latent_seed` hashes ``(seed, k)`` with numpy's ``SeedSequence``; its id is ``gen_<k>`` and its title
``generator.sampled_titles(1, latent_seed(seed, k))[0]`` (empty for generators without titles). Candidates are
rendered and labeled in chunks of ``batch`` consecutive indices on a fixed grid ``[c * batch, (c + 1) * batch)``:
the chunk is also the batch the generator renders at once, so an item's pixels never depend on which run or which
shard rendered it (a batched convolution need not give bit-identical results for other batch compositions).

**Uncertainty drop.** HandsOff drops the fraction ``drop`` of generated images whose segmentation ensemble
disagrees most (mean per-pixel Jensen-Shannon divergence). To end with ``n`` items, ``ceil(n / (1 - drop))``
candidates are generated and the ``n`` least uncertain kept (ties: the lower index). The decision is global and
exact, in one pass: every candidate is written into the work folder as it streams and its uncertainty recorded in
its chunk's record; once all are written, the most uncertain are deleted and the index files written for the rest.
That costs the disk of the dropped items while the export runs. The alternatives cost more: a cheap first pass
does not exist (the score needs the whole ensemble on every pixel, i.e. rendering and labeling everything twice),
and a per-chunk rule keeps a chunk's best even when worse than another chunk's worst and makes the dataset depend
on the chunk size.

**Atomic and resumable.** Everything goes into the hidden ``.NAME.partial/`` next to ``NAME``; its
``manifest.json`` says ``"complete": false`` until the very end, so no reader takes it for a dataset. After each
chunk, the chunk's record (``.export/chunk_<c>.json``) and then the journal (``.export/journal.json``: the export's
identity and the chunks done) are written atomically (temporary file, fsync, rename). Running the same export
again continues after the chunks done (same seeds, same chunks -> identical items); a different export (other
model, n, seed, drop, shard or batch) into that work folder is refused. Only when every candidate is written are
the index files and the complete manifest written and the folder renamed to ``NAME``.

**Shards.** ``shard=(i, N)`` exports the ``i``-th of ``N`` contiguous blocks of whole chunks. A shard keeps all
its candidates, their uncertainties in ``uncertainty.csv`` (the drop compares all candidates, so it waits for the
merge) and says so in its manifest. :func:`merge_exports` checks that the shards belong together (same model,
generator, n, seed, drop, N) and cover every candidate exactly once, applies the drop over all of them and writes
one dataset with one COCO file: the same dataset as an unsharded export with the same settings.
"""

from __future__ import annotations

import csv
import errno
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from gan_studio.data.attributes import KEYPOINTS, PARTS, SKELETON
from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.catalog_writer import FolderWriter, check_target, move_into_place
from gan_studio.data.item import CatalogItem
from gan_studio.data.layout import (
    ANNOTATIONS_FILE,
    DEFAULT_DEPTH_SCALE,
    DEPTH_INFO_FILE,
    MANIFEST_FILE,
    TITLES_FILE,
    CatalogError,
)
from gan_studio.data.output_files import output_lock
from gan_studio.runtime.cancel import check_cancel

EXPORT_SOURCE = "gan-studio dataset export (HandsOff)"
JOURNAL_FORMAT = "gan_studio.dataset_export.journal"
JOURNAL_VERSION = 1
WORK_DIR = ".export"  # inside the work folder: the journal and the chunk records
JOURNAL_FILE = "journal.json"
UNCERTAINTY_FILE = "uncertainty.csv"
UNCERTAINTY_SCORE = "mean per-pixel Jensen-Shannon divergence of the segmentation ensemble (nats)"
SEED_RULE = (
    "candidate k: latent = generator.sample_latent(1, s), title = generator.sampled_titles(1, s)[0], "
    "s = latent_seed(seed, k) (gan_studio.data.dataset_export: numpy SeedSequence([seed, k]), 63 bits)"
)
DEFAULT_BATCH = 16
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


class ExportError(ValueError):
    """An export or merge that cannot go on; the message is one sentence for the user."""


@dataclass(frozen=True)
class ExportResult:
    """What an export or merge wrote: ``candidates`` generated in its block, ``kept`` in the folder, ``dropped``
    for uncertainty, and ``resumed``: candidates an earlier, interrupted run had already written."""

    path: Path
    candidates: int
    kept: int
    dropped: int
    resumed: int = 0


# ---------------------------------------------------------------------------------------------------------------
# Seeds, candidates, chunks, shards


def latent_seed(seed: int, index: int) -> int:
    """The seed of candidate ``index``'s latent: a 63-bit hash of ``(seed, index)`` (both >= 0)."""
    words = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) | (int(words[1]) >> 1)


def candidate_count(n: int, drop: float) -> int:
    """``ceil(n / (1 - drop))``, computed exactly on the decimal ``drop`` (0.1 is 1/10, not 0.1000000000000000055)."""
    return math.ceil(Fraction(n) / (1 - Fraction(str(float(drop)))))


def item_id(index: int, candidates: int) -> str:
    return f"gen_{index:0{max(6, len(str(max(candidates - 1, 0))))}d}"


def keep_lowest(uncertainties: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Keep mask: True for the ``n`` lowest scores (ties: the earlier one; NaN counts as most uncertain)."""
    scores = np.asarray(uncertainties, dtype=np.float64).reshape(-1)
    scores = np.where(np.isnan(scores), np.inf, scores)
    keep = np.zeros(len(scores), dtype=bool)
    keep[np.argsort(scores, kind="stable")[: max(0, n)]] = True
    return keep


@dataclass(frozen=True)
class _Plan:
    n: int
    seed: int
    drop: float
    batch: int
    shard: int
    shards: int
    candidates: int
    first_chunk: int
    stop_chunk: int

    @property
    def first(self) -> int:
        return self.first_chunk * self.batch

    @property
    def stop(self) -> int:
        return min(self.stop_chunk * self.batch, self.candidates)

    def chunk(self, c: int) -> range:
        return range(c * self.batch, min((c + 1) * self.batch, self.candidates))

    def identity(self, model_fingerprint: str, generator_id: str) -> dict:
        return {
            "label_generator_sha256": model_fingerprint,
            "generator": generator_id,
            "n": self.n,
            "seed": self.seed,
            "uncertainty_drop": self.drop,
            "candidates": self.candidates,
            "shard": self.shard,
            "shards": self.shards,
            "first": self.first,
            "stop": self.stop,
            "batch": self.batch,
        }


def _plan(n: int, seed: int, drop: float, shard: tuple[int, int], batch: int) -> _Plan:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of items must be a positive whole number, not {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"the seed must be a whole number >= 0, not {seed!r}")
    drop = float(drop)
    if not 0.0 <= drop < 1.0:
        raise ValueError(f"the uncertainty drop must be at least 0 and below 1, not {drop}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"the batch must be a positive whole number, not {batch!r}")
    i, count = (int(v) for v in shard)
    if count < 1 or not 0 <= i < count:
        raise ValueError(f"shard {i}/{count} does not exist: shards are numbered 0 to N - 1 of N >= 1")
    candidates = candidate_count(n, drop)
    chunks = -(-candidates // batch)
    if count > chunks:
        raise ValueError(
            f"{count} shards is more than the {chunks} chunk(s) of {batch} candidates this export has; "
            "use fewer shards or a smaller batch"
        )
    return _Plan(n, seed, drop, batch, i, count, candidates, i * chunks // count, (i + 1) * chunks // count)


def shard_range(
    n: int, uncertainty_drop: float = 0.0, shard: tuple[int, int] = (0, 1), batch: int = DEFAULT_BATCH
) -> range:
    """The candidate indices shard ``(i, N)`` of an export of ``n`` items generates (all of them for N = 1)."""
    plan = _plan(n, 0, uncertainty_drop, shard, batch)
    return range(plan.first, plan.stop)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``."""
    try:
        i, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"a shard is written I/N (e.g. 0/4), not {text!r}") from None
    if count < 1 or not 0 <= i < count:
        raise ValueError(f"shard {text} does not exist: shards are numbered 0 to N - 1 of N >= 1")
    return i, count


# ---------------------------------------------------------------------------------------------------------------
# Label description (the folder's labelmap, keypoints, depth scale)


@dataclass(frozen=True)
class _Labels:
    parts: tuple[tuple[str, tuple[int, int, int]], ...]
    keypoint_names: tuple[str, ...]
    skeleton: tuple[tuple[int, int], ...]
    depth_scale: float = DEFAULT_DEPTH_SCALE

    def writer(self, root: Path) -> FolderWriter:
        return FolderWriter(root, self.parts, self.keypoint_names, self.skeleton, self.depth_scale)


def _voc_color(index: int) -> tuple[int, int, int]:
    """The PASCAL VOC palette color of class ``index``."""
    r = g = b = 0
    c = index
    for j in range(8):
        r |= ((c >> 0) & 1) << (7 - j)
        g |= ((c >> 1) & 1) << (7 - j)
        b |= ((c >> 2) & 1) << (7 - j)
        c >>= 3
    return r, g, b


def _labels_of(class_names: Sequence[str], keypoint_names: Sequence[str]) -> _Labels:
    builtin = dict(PARTS)
    parts = tuple((name, builtin.get(name, _voc_color(i))) for i, name in enumerate(class_names))
    names = tuple(keypoint_names)
    return _Labels(parts, names, SKELETON if names == KEYPOINTS else ())


# ---------------------------------------------------------------------------------------------------------------
# Files


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExportError(f"{path} is damaged ({exc}); delete its folder to start over") from None


def os_error_message(exc: OSError, where: Path, done: int | None = None) -> str:
    """One sentence for an ``OSError`` met while writing into ``where`` (``done`` items already safe there)."""
    name = exc.filename or where
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", None):
        if done is None:
            return f"the disk holding {where} is full; free some space and try again"
        return (
            f"the disk holding {where} is full; free some space and run the same command again to continue "
            f"after the {done} item(s) already written"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{name} cannot be written ({exc.strerror}); choose a folder you can write to"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{name} cannot be created: a file is in the way"
    return f"{name} cannot be written ({exc.strerror or exc})"


def _is_complete(folder: Path) -> bool:
    try:
        doc = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("complete") is True


def _check_out(out: Path, overwrite: bool) -> Path:
    if not out.name or out.name in (".", ".."):
        out = out.resolve()
    if out.is_dir() and _is_complete(out) and not overwrite:
        raise FileExistsError(f"{out} already holds a complete dataset; choose a new folder or overwrite it")
    check_target(out, overwrite)
    return out


def _write_uncertainty(root: Path, entries: Sequence[dict]) -> None:
    with open(root / UNCERTAINTY_FILE, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "index", "latent_seed", "uncertainty"])
        for e in entries:
            u = e["uncertainty"]
            writer.writerow([e["file"], e["index"], e["latent_seed"], "" if u is None else repr(float(u))])


def _write_index(root: Path, labels: _Labels, entries: Sequence[dict], manifest: dict) -> None:
    """titles.csv, labelmap.txt, annotations.json, depth.json, uncertainty.csv and (last) the complete manifest
    for items whose files are already in ``root``; COCO ids are numbered 1.. in ``entries`` order."""
    writer = labels.writer(root)
    coco = writer.coco
    for e in entries:
        image_id = len(coco.images) + 1
        coco.images.append({"id": image_id, **e["image"]})
        for ann in e["annotations"]:
            coco.annotations.append({"id": len(coco.annotations) + 1, "image_id": image_id, **ann})
        writer.rows.append((e["file"], e["title"]))
        for key, flag in (("masks", "has_mask"), ("keypoints", "has_keypoints"), ("depth", "has_depth")):
            writer.counts[key] += bool(e[flag])
    _write_uncertainty(root, entries)
    writer.finish(manifest)


def _item_files(item: str) -> list[str]:
    return [f"images/{item}.png", f"masks/{item}.png", f"depth/{item}.png"]


# ---------------------------------------------------------------------------------------------------------------
# Export


def _coco_keypoints(keypoints: np.ndarray | None) -> np.ndarray | None:
    if keypoints is None:
        return None
    out = np.asarray(keypoints, dtype=np.float32).copy()
    out[out[:, 2] <= 0] = 0.0  # COCO: an unlabeled keypoint is (0, 0, 0)
    return out


def _clip_depth(depth: np.ndarray | None, scale: float) -> np.ndarray | None:
    # A regression head can extrapolate on rare pixels; keep every value within the uint16 file's range.
    if depth is None:
        return None
    return np.clip(
        np.nan_to_num(np.asarray(depth, np.float32), nan=0.0, posinf=0.0, neginf=0.0), 0, 65535 * scale
    )


def _render_chunk(model, generator, plan: _Plan, c: int, root: Path, labels: _Labels) -> list[dict]:
    """Render, label and write the candidates of chunk ``c``; returns their records."""
    indices = plan.chunk(c)
    seeds = [latent_seed(plan.seed, k) for k in indices]
    with torch.no_grad():
        latents = torch.cat([generator.sample_latent(1, s) for s in seeds])
    if callable(getattr(generator, "sampled_titles", None)):
        titles = [str(generator.sampled_titles(1, s)[0]) for s in seeds]
    else:
        titles = [""] * len(seeds)
    results = model.predict(generator, latents, batch_size=len(seeds))
    writer = labels.writer(root)
    records = []
    for k, s, title, r in zip(indices, seeds, titles, results, strict=True):
        item = CatalogItem(
            id=item_id(k, plan.candidates),
            title=title,
            image=r["image"],
            mask=r["mask"],
            keypoints=_coco_keypoints(r["keypoints"]),
            depth=_clip_depth(r["depth"], labels.depth_scale),
        )
        before = len(writer.coco.annotations)
        writer.add(item)
        image = {k2: v for k2, v in writer.coco.images[-1].items() if k2 != "id"}
        annotations = [
            {k2: v for k2, v in ann.items() if k2 not in ("id", "image_id")}
            for ann in writer.coco.annotations[before:]
        ]
        records.append(
            {
                "index": k,
                "id": item.id,
                "latent_seed": s,
                "title": title,
                "uncertainty": r["uncertainty"],
                "file": image["file_name"],
                "image": image,
                "annotations": annotations,
                "has_mask": item.mask is not None,
                "has_keypoints": item.keypoints is not None,
                "has_depth": item.depth is not None,
            }
        )
    return records


def _differences(theirs: dict, ours: dict) -> str:
    keys = [k for k in ours if theirs.get(k) != ours[k]] or ["format"]
    return ", ".join(f"{k} {theirs.get(k)!r} there but {ours.get(k)!r} now" for k in keys[:3])


def _open_work(work: Path, identity: dict, plan: _Plan) -> tuple[set[int], bool]:
    """Create or resume the work folder; returns (chunks done, whether it is already complete)."""
    journal_path = work / WORK_DIR / JOURNAL_FILE
    if work.exists() and not work.is_dir():
        raise ExportError(f"{work} is a file where the export's work folder goes; move it out of the way")
    if journal_path.is_file():
        journal = _read_json(journal_path)
        theirs = journal.get("identity", {}) if isinstance(journal, dict) else {}
        if theirs != identity:
            raise ExportError(
                f"{work} holds an unfinished export with other settings ({_differences(theirs, identity)}); "
                "run that export again to finish it, or delete the folder"
            )
        done = {int(c) for c in journal.get("chunks_done", [])}
        # A chunk whose image files vanished (a crash that the OS had not flushed) is rendered again.
        for c in sorted(done):
            if not all(
                (work / "images" / f"{item_id(k, plan.candidates)}.png").is_file() for k in plan.chunk(c)
            ):
                done.discard(c)
        return done, False
    if work.is_dir() and _is_complete(work):
        manifest = _read_json(work / MANIFEST_FILE)
        theirs = manifest.get("export_identity", {}) if isinstance(manifest, dict) else {}
        if theirs != identity:
            raise ExportError(
                f"{work} holds a finished export with other settings ({_differences(theirs, identity)}) that was "
                "not moved into place; move or delete it"
            )
        return set(), True  # finished but not yet renamed
    if work.exists():  # never got as far as its journal: nothing in it to keep
        shutil.rmtree(work)
    (work / WORK_DIR).mkdir(parents=True)
    placeholder = {"source": EXPORT_SOURCE, "complete": False, "export_identity": identity}
    _atomic_write_text(work / MANIFEST_FILE, json.dumps(placeholder, indent=2) + "\n")
    _write_journal(work, identity, set(), 0)
    return set(), False


def _write_journal(work: Path, identity: dict, done: set[int], items: int) -> None:
    journal = {
        "format": JOURNAL_FORMAT,
        "version": JOURNAL_VERSION,
        "identity": identity,
        "chunks_done": sorted(done),
        "items_done": items,
        "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _atomic_write_text(work / WORK_DIR / JOURNAL_FILE, json.dumps(journal) + "\n")


def _chunk_path(work: Path, c: int) -> Path:
    return work / WORK_DIR / f"chunk_{c:06d}.json"


def _manifest(model, plan: _Plan, identity: dict, kept: list[dict], dropped: int, applied: bool) -> dict:
    scores = [e["uncertainty"] for e in kept if e["uncertainty"] is not None]
    return {
        "source": EXPORT_SOURCE,
        "generator": model.generator_spec,
        "label_generator": {
            "model": None if model.folder is None else str(model.folder),
            "sha256": model.fingerprint,
            "tasks": list(model.tasks),
        },
        "seeds": {"seed": plan.seed, "rule": SEED_RULE},
        "n": plan.n,
        "candidates": plan.candidates,
        "batch": plan.batch,
        "uncertainty": {
            "score": UNCERTAINTY_SCORE,
            "drop_fraction": plan.drop,
            "applied": applied,
            "kept": len(kept),
            "dropped": dropped,
            "threshold": max(scores) if applied and scores and dropped else None,
        },
        "shard": {"index": plan.shard, "count": plan.shards, "first": plan.first, "stop": plan.stop},
        "export_identity": identity,
    }


def export_dataset(
    model,
    out: str | Path,
    n: int,
    *,
    seed: int = 0,
    uncertainty_drop: float = 0.0,
    shard: tuple[int, int] = (0, 1),
    batch: int = DEFAULT_BATCH,
    generator=None,
    overwrite: bool = False,
    progress: Progress | None = None,
    cancel=None,
    device: str | torch.device | None = None,
) -> ExportResult:
    """Generate ``n`` labeled items with a :class:`~gan_studio.methods.handsoff.HandsOffModel` into ``out``.

    ``uncertainty_drop`` in [0, 1): generate ``ceil(n / (1 - drop))`` candidates and keep the ``n`` least
    uncertain (see the module docstring). ``shard=(i, N)``: write only the i-th of N blocks (merge them with
    :func:`merge_exports`). ``batch``: candidates rendered at once, one chunk of the journal. ``generator``
    overrides where the model's generator is found (a checkpoint with the recorded sha256, or a protocol object);
    ``device`` is where a generator loaded from a checkpoint runs (default CPU).
    ``progress(fraction, message)`` after each chunk; ``cancel`` (a CancelToken or a callable returning True)
    between chunks raises :class:`~gan_studio.runtime.cancel.Cancelled`. An interrupted export (error, cancel,
    kill) leaves ``.NAME.partial`` and continues from it when run again with the same settings. ``out`` must not
    exist or be empty; ``overwrite=True`` replaces a complete dataset there. Unwritable folders and full disks raise
    :class:`ExportError` (one sentence); nothing written before is lost.
    """
    plan = _plan(n, seed, uncertainty_drop, shard, batch)
    if plan.drop > 0 and "segmentation" not in model.tasks:
        raise ExportError(
            "this HandsOff model predicts no segmentation, so it has no uncertainty to drop items by; "
            "export with an uncertainty drop of 0"
        )
    out = _check_out(Path(out), overwrite)
    generator = model.open_generator(generator, device)
    spec = model.generator_spec
    identity = plan.identity(model.fingerprint, str(spec.get("sha256") or spec.get("class") or "unknown"))
    labels = _labels_of(model.class_names, model.keypoint_names)
    work = out.parent / f".{out.name}.partial"
    total = plan.stop - plan.first
    done_items = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with output_lock(out):  # a second export into the same --out is refused
            done, finished = _open_work(work, identity, plan)
            chunks = range(plan.first_chunk, plan.stop_chunk)
            resumed = done_items = sum(len(plan.chunk(c)) for c in done)
            if resumed and progress is not None:
                progress(done_items / total, f"continuing: {done_items}/{total} items were already written")
            for c in chunks:
                if finished or c in done:
                    continue
                check_cancel(cancel)
                records = _render_chunk(model, generator, plan, c, work, labels)
                _atomic_write_text(_chunk_path(work, c), json.dumps(records))
                done.add(c)
                done_items += len(records)
                _write_journal(work, identity, done, done_items)
                if progress is not None:
                    progress(done_items / total, f"{done_items}/{total} items")
            if finished:  # an earlier run wrote everything but was stopped before the rename
                manifest = _read_json(work / MANIFEST_FILE)
                kept = int(manifest["uncertainty"]["kept"])  # type: ignore[index]
                dropped = int(manifest["uncertainty"]["dropped"])  # type: ignore[index]
                resumed = total
            else:
                kept, dropped = _finish_export(model, plan, identity, work, labels, chunks)
            _check_out(out, overwrite)  # something may have appeared there meanwhile
            move_into_place(work, out)
    except OSError as exc:
        if exc.errno is None:  # our own FileExistsError messages
            raise
        raise ExportError(os_error_message(exc, work, done_items)) from None
    if progress is not None:
        progress(
            1.0,
            f"wrote {kept} items to {out}" + (f" ({dropped} dropped as most uncertain)" if dropped else ""),
        )
    return ExportResult(out, total, kept, dropped, resumed)


def _finish_export(
    model, plan: _Plan, identity: dict, work: Path, labels: _Labels, chunks: range
) -> tuple[int, int]:
    records: list[dict] = []
    for c in chunks:
        chunk = _read_json(_chunk_path(work, c))
        if not isinstance(chunk, list):
            raise ExportError(f"{_chunk_path(work, c)} is damaged; delete {work} to start over")
        records += chunk
    applied = plan.shards == 1  # a shard cannot compare its candidates with the others': the merge drops
    keep = keep_lowest([np.nan if r["uncertainty"] is None else r["uncertainty"] for r in records], plan.n)
    if not applied:
        keep[:] = True
    kept = [r for r, k in zip(records, keep, strict=True) if k]
    for r, k in zip(records, keep, strict=True):
        if not k:
            for name in _item_files(r["id"]):
                (work / name).unlink(missing_ok=True)
    dropped = len(records) - len(kept)
    _write_index(work, labels, kept, _manifest(model, plan, identity, kept, dropped, applied))
    shutil.rmtree(work / WORK_DIR)
    return len(kept), dropped


# ---------------------------------------------------------------------------------------------------------------
# Merge


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
    doc = _read_json(folder / ANNOTATIONS_FILE) if (folder / ANNOTATIONS_FILE).is_file() else {}
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
    doc = _read_json(path)
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
    items and writes one ``annotations.json``. Atomic like :func:`export_dataset`; raises :class:`ExportError`.
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
    labels = _Labels(c0.parts, c0.keypoint_names, c0.skeleton, _depth_scale(d0))
    for d, catalog, _ in shards[1:]:
        other = _Labels(catalog.parts, catalog.keypoint_names, catalog.skeleton, _depth_scale(d))
        if other != labels:
            raise ExportError(f"{d} has other classes, keypoints or depth scale than {d0}")

    entries = [
        e for d, catalog, _ in sorted(shards, key=lambda s: s[2]["first"]) for e in _shard_entries(d, catalog)
    ]
    keep = keep_lowest([np.nan if e["uncertainty"] is None else e["uncertainty"] for e in entries], base["n"])
    kept = [e for e, k in zip(entries, keep, strict=True) if k]

    _check_not_an_input(Path(out), dirs)
    out = _check_out(Path(out), overwrite)
    work = out.parent / f".{out.name}.partial"
    copied = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with output_lock(out):  # a second merge or export into the same --out is refused
            unfinished = (work / WORK_DIR / JOURNAL_FILE).is_file()
            if unfinished or (_is_complete(work) and "merged_from" not in _read_json(work / MANIFEST_FILE)):
                raise ExportError(
                    f"{work} holds an export not yet in place; finish or delete it before merging into {out}"
                )
            if work.exists():
                shutil.rmtree(work) if work.is_dir() else work.unlink()
            work.mkdir(parents=True)
            identity = {**base, "shard": 0, "shards": 1, "first": 0, "stop": base["candidates"]}
            placeholder = {"source": EXPORT_SOURCE, "complete": False, "export_identity": identity}
            _atomic_write_text(work / MANIFEST_FILE, json.dumps(placeholder, indent=2) + "\n")
            (work / "images").mkdir()
            for sub, flag in (("masks", "has_mask"), ("depth", "has_depth")):
                if any(e[flag] for e in kept):
                    (work / sub).mkdir()
            for e in kept:
                for name in _item_files(e["id"]):
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
            _write_index(work, labels, kept, manifest)
            _check_out(out, overwrite)
            move_into_place(work, out)
    except OSError as exc:
        if exc.errno is None:
            raise
        raise ExportError(os_error_message(exc, work)) from None
    if progress is not None:
        progress(1.0, f"merged {len(dirs)} shard(s) into {out}: {len(kept)} items")
    return ExportResult(out, len(entries), len(kept), dropped)
