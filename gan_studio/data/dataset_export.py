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
merge) and says so in its manifest. :func:`~gan_studio.data.dataset_merge.merge_exports` checks that the shards
belong together (same model, generator, n, seed, drop, N) and cover every candidate exactly once, applies the drop
over all of them and writes one dataset with one COCO file: the same dataset as an unsharded export with the same
settings.

The candidate, chunk and shard arithmetic is in :mod:`.dataset_plan`; the files the export and the merge both
write are in :mod:`.dataset_files`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import torch

from gan_studio.data.catalog_writer import move_into_place
from gan_studio.data.dataset_files import (
    EXPORT_SOURCE,
    JOURNAL_FILE,
    UNCERTAINTY_SCORE,
    WORK_DIR,
    ExportError,
    ExportLabels,
    ExportResult,
    atomic_write_text,
    check_out,
    is_complete,
    item_files,
    labels_of,
    os_error_message,
    read_export_json,
    write_index,
    write_unfinished_manifest,
)
from gan_studio.data.dataset_plan import DEFAULT_BATCH, ExportPlan, item_id, keep_lowest, plan_export
from gan_studio.data.item import CatalogItem
from gan_studio.data.layout import MANIFEST_FILE
from gan_studio.data.output_files import output_lock
from gan_studio.runtime.cancel import check_cancel

JOURNAL_FORMAT = "gan_studio.dataset_export.journal"
JOURNAL_VERSION = 1
SEED_RULE = (
    "candidate k: latent = generator.sample_latent(1, s), title = generator.sampled_titles(1, s)[0], "
    "s = latent_seed(seed, k) (gan_studio.data.dataset_export: numpy SeedSequence([seed, k]), 63 bits)"
)

Progress = Callable[[float, str], None]


def latent_seed(seed: int, index: int) -> int:
    """The seed of candidate ``index``'s latent: a 63-bit hash of ``(seed, index)`` (both >= 0)."""
    words = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) | (int(words[1]) >> 1)


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


def _render_chunk(model, generator, plan: ExportPlan, c: int, root: Path, labels: ExportLabels) -> list[dict]:
    """Render, label and write the candidates of chunk ``c``; returns their records."""
    return _write_chunk(_label_chunk(model, generator, plan, c), plan.candidates, root, labels)


def _label_chunk(model, generator, plan: ExportPlan, c: int) -> tuple:
    """Render and label the candidates of chunk ``c`` (the torch work): (indices, seeds, titles, results)."""
    indices = plan.chunk(c)
    seeds = [latent_seed(plan.seed, k) for k in indices]
    with torch.no_grad():
        latents = torch.cat([generator.sample_latent(1, s) for s in seeds])
    if callable(getattr(generator, "sampled_titles", None)):
        titles = [str(generator.sampled_titles(1, s)[0]) for s in seeds]
    else:
        titles = [""] * len(seeds)
    results = model.predict(generator, latents, batch_size=len(seeds))
    return indices, seeds, titles, results


def _write_chunk(labeled: tuple, candidates: int, root: Path, labels: ExportLabels) -> list[dict]:
    """Write one labeled chunk's files (PNG, COCO polygons: numpy and PIL work); returns their records."""
    indices, seeds, titles, results = labeled
    writer = labels.writer(root)
    records = []
    for k, s, title, r in zip(indices, seeds, titles, results, strict=True):
        item = CatalogItem(
            id=item_id(k, candidates),
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


def _open_work(work: Path, identity: dict, plan: ExportPlan) -> tuple[set[int], bool]:
    """Create or resume the work folder; returns (chunks done, whether it is already complete)."""
    journal_path = work / WORK_DIR / JOURNAL_FILE
    if work.exists() and not work.is_dir():
        raise ExportError(f"{work} is a file where the export's work folder goes; move it out of the way")
    if journal_path.is_file():
        journal = read_export_json(journal_path)
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
    if work.is_dir() and is_complete(work):
        manifest = read_export_json(work / MANIFEST_FILE)
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
    write_unfinished_manifest(work, identity)
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
    atomic_write_text(work / WORK_DIR / JOURNAL_FILE, json.dumps(journal) + "\n")


def _chunk_path(work: Path, c: int) -> Path:
    return work / WORK_DIR / f"chunk_{c:06d}.json"


def _manifest(model, plan: ExportPlan, identity: dict, kept: list[dict], dropped: int, applied: bool) -> dict:
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
    :func:`~gan_studio.data.dataset_merge.merge_exports`). ``batch``: candidates rendered at once, one chunk of
    the journal. ``generator`` overrides where the model's generator is found (a checkpoint with the recorded
    sha256, or a protocol object);
    ``device`` is where a generator loaded from a checkpoint runs (default CPU).
    ``progress(fraction, message)`` after each chunk; ``cancel`` (a CancelToken or a callable returning True)
    between chunks raises :class:`~gan_studio.runtime.cancel.Cancelled`. An interrupted export (error, cancel,
    kill) leaves ``.NAME.partial`` and continues from it when run again with the same settings. ``out`` must not
    exist or be empty; ``overwrite=True`` replaces a complete dataset there. Unwritable folders and full disks raise
    :class:`ExportError` (one sentence); nothing written before is lost.
    """
    plan = plan_export(n, seed, uncertainty_drop, shard, batch)
    if plan.drop > 0 and "segmentation" not in model.tasks:
        raise ExportError(
            "this HandsOff model predicts no segmentation, so it has no uncertainty to drop items by; "
            "export with an uncertainty drop of 0"
        )
    out = check_out(Path(out), overwrite)
    generator = model.open_generator(generator, device)
    spec = model.generator_spec
    identity = plan.identity(model.fingerprint, str(spec.get("sha256") or spec.get("class") or "unknown"))
    labels = labels_of(model.class_names, model.keypoint_names)
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
            # Chunk c's files are written on a second thread while chunk c + 1 renders and labels (PNG encoding
            # and COCO polygons are numpy/PIL work that overlaps torch's); a chunk enters the journal only after
            # all its files are written, so an interruption at any point still resumes exactly.
            pending: tuple[int, Future] | None = None

            def record(c: int, future: Future) -> None:
                nonlocal done_items
                records = future.result()
                atomic_write_text(_chunk_path(work, c), json.dumps(records))
                done.add(c)
                done_items += len(records)
                _write_journal(work, identity, done, done_items)
                if progress is not None:
                    progress(done_items / total, f"{done_items}/{total} items")

            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-writer") as writer_thread:
                try:
                    for c in chunks:
                        if finished or c in done:
                            continue
                        check_cancel(cancel)
                        labeled = _label_chunk(model, generator, plan, c)
                        if pending is not None:
                            record(*pending)
                            pending = None
                        future = writer_thread.submit(_write_chunk, labeled, plan.candidates, work, labels)
                        pending = (c, future)
                    if pending is not None:
                        record(*pending)
                        pending = None
                finally:
                    if (
                        pending is not None
                    ):  # stopped while a chunk was being written: let it finish, unrecorded
                        wait([pending[1]])
            if finished:  # an earlier run wrote everything but was stopped before the rename
                manifest = read_export_json(work / MANIFEST_FILE)
                kept = int(manifest["uncertainty"]["kept"])  # type: ignore[index]
                dropped = int(manifest["uncertainty"]["dropped"])  # type: ignore[index]
                resumed = total
            else:
                kept, dropped = _finish_export(model, plan, identity, work, labels, chunks)
            check_out(out, overwrite)  # something may have appeared there meanwhile
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
    model, plan: ExportPlan, identity: dict, work: Path, labels: ExportLabels, chunks: range
) -> tuple[int, int]:
    records: list[dict] = []
    for c in chunks:
        chunk = read_export_json(_chunk_path(work, c))
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
            for name in item_files(r["id"]):
                (work / name).unlink(missing_ok=True)
    dropped = len(records) - len(kept)
    write_index(work, labels, kept, _manifest(model, plan, identity, kept, dropped, applied))
    shutil.rmtree(work / WORK_DIR)
    return len(kept), dropped
