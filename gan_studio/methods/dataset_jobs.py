"""The Dataset workspace's work, Qt-free: HandsOff from a few labeled images to an exported dataset, on the worker.

Each function is the body of a worker job ``fn(ctx)`` (as :mod:`gan_studio.methods.traversal_jobs` is for
Explore) and returns plain data: numpy uint8 images, floats and strings in small frozen dataclasses, or a
:class:`~gan_studio.methods.traversal_jobs.Problem` with one sentence for input the user can fix (a folder with no
labels, a missing encoder or model, a folder that cannot be written). Cancelling raises ``Cancelled`` between steps.

The fitted :class:`~gan_studio.methods.handsoff.HandsOffModel` holds torch modules, so it never leaves the worker:
it stays in the worker's model cache under a key the workspace chooses, and later jobs (samples, export, save) name
that key. The generator, encoder and perceptual distance are loaded once per worker through the same cache.

Samples are drawn exactly as the export draws its candidates (:func:`~gan_studio.data.dataset_export.latent_seed`,
chunks of :data:`EXPORT_BATCH`), so sample ``k`` of seed ``s`` is the exported item ``gen_k`` of seed ``s``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gan_studio.data.dataset_export import export_dataset, latent_seed
from gan_studio.data.dataset_files import ExportError, os_error_message
from gan_studio.data.dataset_plan import DEFAULT_BATCH, candidate_count, item_id
from gan_studio.data.label_import import (
    ImportReport,
    LabeledImage,
    LabelImportError,
    import_labels,
)
from gan_studio.data.overlay import compose
from gan_studio.methods.handsoff import (
    BUILTIN,
    MODEL_FILE,
    HandsOffError,
    builtin_handsoff_path,
    fit_handsoff,
    load_handsoff,
    open_encoder,
    open_generator,
)
from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.methods.traversal_jobs import Problem, sentence
from gan_studio.models.checkpoint import CheckpointError

EXPORT_BATCH = DEFAULT_BATCH  # samples are rendered in the export's chunks, so they match its items exactly
LossCallback = Callable[[int, dict[str, float]], None]

NO_ENCODER = (
    "No inversion encoder is shipped yet, so labeled images cannot be inverted or fitted; train one with "
    "`gan-studio train inversion`, or use the built-in model."
)
NO_BUILTIN_MODEL = (
    "No built-in HandsOff model is shipped yet; import a few labeled images and fit one instead."
)
NO_MODEL = "There is no label generator yet: fit one on labeled images, or use the built-in model."


@dataclass(frozen=True, eq=False)
class DatasetSetup:
    """What the jobs build on. ``generator``: None (the shipped ReStGAN, or ``$GAN_STUDIO_RESTGAN_WEIGHTS``), a
    text-to-image checkpoint path, or a generator protocol object; ``encoder``: None (the shipped inversion
    encoder), a checkpoint path or an encoder object; ``perceptual``: None (over the shipped attribute classifier)
    or a distance object."""

    generator: object = None
    encoder: object = None
    perceptual: object = None


@dataclass(frozen=True, eq=False)
class ImportedItem:
    """One imported labeled image: the image, a view of its labels and which labels it has."""

    id: str
    source: str
    image: np.ndarray = field(repr=False)
    labels_view: np.ndarray = field(repr=False)
    labels: tuple[str, ...]  # of "mask", "keypoints", "depth"


@dataclass(frozen=True, eq=False)
class ImportOutcome:
    where: str
    format: str
    items: tuple[ImportedItem, ...]
    labeled: tuple[LabeledImage, ...] = field(repr=False)  # what a fit needs, at the generator's size
    warnings: tuple[str, ...] = ()
    skipped: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, eq=False)
class InversionOutcome:
    """The items' inversions, in import order: latents (N, D) float32, reconstructions (N, S, S, 3) uint8,
    perceptual distances and PSNR (dB) (N,)."""

    ids: tuple[str, ...]
    latents: np.ndarray = field(repr=False)
    reconstructions: np.ndarray = field(repr=False)
    perceptual: np.ndarray = field(repr=False)
    psnr: np.ndarray = field(repr=False)
    refine_steps: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ModelSummary:
    """The label generator the worker holds under ``key``: where it came from and what it predicts."""

    key: str
    origin: str  # "fitted", "built-in" or the folder it was loaded from
    tasks: tuple[str, ...]
    images: int  # labeled images it was fitted on
    final_losses: dict[str, float] = field(default_factory=dict)
    inversion_psnr: float | None = None
    seconds: float = 0.0

    @property
    def description(self) -> str:
        tasks = ", ".join(self.tasks)
        if self.origin == "fitted":
            return f"Fitted on {self.images} labeled image(s): {tasks}"
        return f"Loaded the {self.origin} model ({tasks}, fitted on {self.images} labeled image(s))"


@dataclass(frozen=True, eq=False)
class Sample:
    """One generated image with its predicted labels as overlays (``views`` keyed by
    :data:`~gan_studio.data.overlay.OVERLAYS`, only those the model predicts) and its uncertainty (nats or None).
    ``index`` is the export candidate it equals (-1 for a latent given from elsewhere)."""

    index: int
    name: str
    title: str
    views: dict[str, np.ndarray] = field(repr=False)
    uncertainty: float | None
    parts_present: tuple[int, ...] = ()  # part classes in the predicted mask, background left out

    @property
    def image(self) -> np.ndarray:
        return self.views["none"]


@dataclass(frozen=True, eq=False)
class SamplesOutcome:
    seed: int
    samples: tuple[Sample, ...]
    seconds: float = 0.0

    def uncertainties(self) -> np.ndarray:
        return np.array([math.nan if s.uncertainty is None else s.uncertainty for s in self.samples])


@dataclass(frozen=True)
class ExportOutcome:
    path: str
    n: int
    candidates: int
    kept: int
    dropped: int
    resumed: int
    seconds: float = 0.0

    @property
    def message(self) -> str:
        notes = []
        if self.dropped:
            notes.append(f"{self.dropped} most uncertain of {self.candidates} dropped")
        if self.resumed:
            notes.append(f"continued after {self.resumed} items written before")
        extra = f" ({'; '.join(notes)})" if notes else ""
        return f"Exported {self.kept} labeled items to {self.path}{extra} in {self.seconds:.1f} s."


# --------------------------------------------------------------------------------------------- shared models


def _source_key(source) -> str:
    if source is None or isinstance(source, (str, os.PathLike)):
        return str(source)
    return f"object:{id(source)}"


def _generator_source(source):
    """None -> ``$GAN_STUDIO_RESTGAN_WEIGHTS`` when set (as Generate and Explore do), else the built-in one."""
    if source is None:
        from gan_studio.methods.title_jobs import MODEL_ENV

        env = os.environ.get(MODEL_ENV)
        return Path(env) if env else None
    return source


def open_setup_generator(ctx, setup: DatasetSetup) -> tuple[object, dict]:
    """(generator protocol, its description) for ``setup``, loaded once per worker; raises HandsOffError."""
    source = _generator_source(setup.generator)
    return ctx.models.get_or_load(
        f"dataset.generator:{_source_key(source)}", lambda: open_generator(source, ctx.device)
    )


def open_setup_encoder(ctx, setup: DatasetSetup) -> tuple[object, dict]:
    from gan_studio.models.inversion import default_inversion_path

    if setup.encoder is None and not default_inversion_path().is_file():
        raise HandsOffError(NO_ENCODER)
    return ctx.models.get_or_load(
        f"dataset.encoder:{_source_key(setup.encoder)}", lambda: open_encoder(setup.encoder, ctx.device)
    )


def _perceptual(ctx, setup: DatasetSetup):
    if setup.perceptual is not None:
        return setup.perceptual
    from gan_studio.models.perceptual import load_perceptual

    return ctx.models.get_or_load("dataset.perceptual", lambda: load_perceptual(device=ctx.device))


def _model(ctx, key: str):
    model = ctx.models.get(key)
    if model is None:
        raise HandsOffError(NO_MODEL)
    return model


def _model_generator(ctx, model, setup: DatasetSetup):
    """The generator ``model`` labels: the setup's when it is that one, else reopened from its description."""
    spec = model.generator_spec
    try:
        generator, ours = open_setup_generator(ctx, setup)
    except (HandsOffError, CheckpointError, OSError):
        generator, ours = None, {}
    same_object = spec.get("kind") == "object" and ours.get("kind") == "object"
    if generator is not None and (
        same_object or (spec.get("sha256") and spec.get("sha256") == ours.get("sha256"))
    ):
        return generator
    return ctx.models.get_or_load(
        f"dataset.generator:sha:{spec.get('sha256') or spec.get('class')}",
        lambda: model.open_generator(None, ctx.device),
    )


def _store(ctx, key: str, model) -> None:
    ctx.models.pop(key)  # the model it replaces, if any
    ctx.models.get_or_load(key, lambda: model)


def _summary(key: str, origin: str, model, seconds: float = 0.0) -> ModelSummary:
    info = model.info
    losses = (info.get("training") or {}).get("final_losses") or {}
    psnr = (info.get("inversion") or {}).get("psnr_mean")
    return ModelSummary(
        key, origin, tuple(model.tasks), len(info.get("items", [])),
        {k: float(v) for k, v in losses.items()}, None if psnr is None else float(psnr), seconds,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------------- jobs


def labels_view(item: LabeledImage) -> np.ndarray:
    """The clearest single view of an item's labels: parts, else keypoints, else depth."""
    for kind, label in (("parts", item.mask), ("keypoints", item.keypoints), ("depth", item.depth)):
        if label is not None:
            return compose(item.image, kind, item.mask, item.keypoints, item.depth)
    return np.array(item.image, copy=True)


def import_job(
    ctx, paths: Sequence[str | os.PathLike], setup: DatasetSetup, config: LabelGeneratorConfig | None = None
) -> ImportOutcome | Problem:
    """Import labeled images from one folder or JSON file, or from dropped files, at the generator's size."""
    started = time.perf_counter()
    config = config or LabelGeneratorConfig()
    paths = [Path(p) for p in paths]
    try:
        generator, _ = open_setup_generator(ctx, setup)
        args = (int(generator.image_size), config.class_names, config.keypoint_names, ctx.progress, ctx.token)
        one = len(paths) == 1  # one folder or file is read as given; several are dropped files
        report = import_labels(paths[0] if one else paths, *args)
        where = str(paths[0]) if one else (f"{len(paths)} dropped files" if paths else "")
    except (LabelImportError, HandsOffError, CheckpointError) as exc:
        return Problem(sentence(exc))
    items = tuple(
        ImportedItem(
            it.id, it.source, it.image, labels_view(it),
            tuple(k for k in ("mask", "keypoints", "depth") if getattr(it, k) is not None),
        )
        for it in report.items
    )  # fmt: skip
    return ImportOutcome(
        where, report.format, items, tuple(report.items), tuple(report.warnings), len(report.skipped),
        time.perf_counter() - started,
    )  # fmt: skip


def invert_job(
    ctx, images: np.ndarray, ids: Sequence[str], setup: DatasetSetup, refine_steps: int
) -> InversionOutcome | Problem:
    """Invert the imported images (N, S, S, 3) uint8 into the generator's latent space, as the fit will."""
    from gan_studio.methods.inversion import invert

    started = time.perf_counter()
    try:
        generator, _ = open_setup_generator(ctx, setup)
        encoder, _ = open_setup_encoder(ctx, setup)
        result = invert(
            encoder, generator, np.asarray(images), refine_steps=int(refine_steps),
            perceptual=_perceptual(ctx, setup), cancel=ctx.token, progress=ctx.progress,
        )  # fmt: skip
    except (HandsOffError, CheckpointError) as exc:
        return Problem(sentence(exc))
    except ValueError as exc:  # the encoder belongs to another generator
        return Problem(f"The inversion encoder does not fit the generator: {sentence(exc)}")
    return InversionOutcome(
        tuple(ids), result.latents, result.reconstructions, result.perceptual, result.psnr,
        int(refine_steps), time.perf_counter() - started,
    )  # fmt: skip


def fit_job(
    ctx, key: str, items: Sequence[LabeledImage], setup: DatasetSetup, config: LabelGeneratorConfig,
    refine_steps: int, on_loss: LossCallback | None = None,
) -> ModelSummary | Problem:  # fmt: skip
    """Fit a HandsOff model on ``items`` (inverted again, exactly as :func:`invert_job` showed them) and keep it
    on the worker under ``key``; ``on_loss(step, losses)`` is called on the worker thread after every step."""
    started = time.perf_counter()
    if not items:
        return Problem("Import a few labeled images first: the label generator learns from them.")
    try:
        generator, generator_spec = open_setup_generator(ctx, setup)
        encoder, encoder_spec = open_setup_encoder(ctx, setup)
        model = fit_handsoff(
            ImportReport(items=list(items)), None, generator, encoder, config, int(refine_steps),
            progress=ctx.progress, cancel=ctx.token, on_loss=on_loss, perceptual=_perceptual(ctx, setup),
            device=ctx.device,
        )  # fmt: skip
    except (HandsOffError, CheckpointError) as exc:
        return Problem(sentence(exc))
    except ValueError as exc:  # e.g. no image is labeled for the tasks asked for
        return Problem(f"The label generator could not be fitted: {sentence(exc)}")
    # Given as objects, they were recorded as such; record where they came from, so a saved model reopens them.
    model.info["generator"] = dict(generator_spec)
    model.info["inversion_encoder"] = dict(encoder_spec)
    _store(ctx, key, model)
    return _summary(key, "fitted", model, time.perf_counter() - started)


def load_model_job(ctx, key: str, folder: str | os.PathLike = BUILTIN) -> ModelSummary | Problem:
    """Load a HandsOff model folder (or the built-in one) and keep it on the worker under ``key``."""
    started = time.perf_counter()
    builtin = str(folder) == BUILTIN
    if builtin and not (builtin_handsoff_path() / MODEL_FILE).is_file():
        return Problem(NO_BUILTIN_MODEL)
    try:
        model = load_handsoff(folder, device=ctx.device)
    except (HandsOffError, CheckpointError, OSError) as exc:
        return Problem(sentence(exc))
    _store(ctx, key, model)
    return _summary(key, "built-in" if builtin else str(folder), model, time.perf_counter() - started)


def save_model_job(ctx, key: str, folder: str | os.PathLike) -> str | Problem:
    """Save the model held under ``key`` as a HandsOff model folder (new or empty); returns its path."""
    try:
        return str(_model(ctx, key).save(folder))
    except (HandsOffError, FileExistsError) as exc:
        return Problem(sentence(exc))
    except OSError as exc:
        return Problem(sentence(ValueError(os_error_message(exc, Path(folder)))))


def _label(model, generator, latents: torch.Tensor, batch: int) -> list[dict]:
    return model.predict(generator, latents, batch_size=batch)


def _sample(index: int, name: str, title: str, r: dict) -> Sample:
    views = {"none": np.asarray(r["image"], dtype=np.uint8)}
    for kind, label in (("parts", r["mask"]), ("keypoints", r["keypoints"]), ("depth", r["depth"])):
        if label is not None:
            views[kind] = compose(r["image"], kind, r["mask"], r["keypoints"], r["depth"])
    present = () if r["mask"] is None else tuple(int(v) for v in np.unique(r["mask"]) if v > 0)
    uncertainty = None if r["uncertainty"] is None else float(r["uncertainty"])
    return Sample(index, name, title, views, uncertainty, present)


def samples_job(ctx, key: str, setup: DatasetSetup, n: int, seed: int) -> SamplesOutcome | Problem:
    """Generate and label the first ``n`` export candidates of ``seed`` (in the export's chunks)."""
    started = time.perf_counter()
    try:
        model = _model(ctx, key)
        generator = _model_generator(ctx, model, setup)
    except (HandsOffError, CheckpointError) as exc:
        return Problem(sentence(exc))
    titled = callable(getattr(generator, "sampled_titles", None))
    samples: list[Sample] = []
    for start in range(0, n, EXPORT_BATCH):
        indices = range(start, min(start + EXPORT_BATCH, n))
        seeds = [latent_seed(seed, k) for k in indices]
        with torch.no_grad():
            latents = torch.cat([generator.sample_latent(1, s) for s in seeds])
        results = _label(model, generator, latents, len(seeds))
        for k, s, r in zip(indices, seeds, results, strict=True):
            title = str(generator.sampled_titles(1, s)[0]) if titled else ""
            samples.append(_sample(k, item_id(k, n), title, r))
        ctx.progress(len(samples) / n, f"labeled {len(samples)}/{n} samples")
    return SamplesOutcome(int(seed), tuple(samples), time.perf_counter() - started)


def label_latents_job(
    ctx, key: str, setup: DatasetSetup, latents: np.ndarray, names: Sequence[str], titles: Sequence[str]
) -> tuple[Sample, ...] | Problem:
    """Label latents (N, D) given from elsewhere (Explore's waypoints) with the model held under ``key``."""
    try:
        model = _model(ctx, key)
        generator = _model_generator(ctx, model, setup)
    except (HandsOffError, CheckpointError) as exc:
        return Problem(sentence(exc))
    latents = np.asarray(latents, dtype=np.float32).reshape(len(names), -1)
    if latents.shape[1] != int(generator.latent_dim):
        return Problem(
            f"The waypoint has a {latents.shape[1]}-d latent but the dataset's generator takes "
            f"{generator.latent_dim}-d ones, so it cannot be labeled."
        )
    device = next(iter(model.label_generator.parameters())).device
    results = _label(model, generator, torch.from_numpy(latents).to(device), EXPORT_BATCH)
    return tuple(_sample(-1, n, t, r) for n, t, r in zip(names, titles, results, strict=True))


def export_job(
    ctx, key: str, setup: DatasetSetup, out: str | os.PathLike, n: int, seed: int, drop: float,
    batch: int = EXPORT_BATCH,
) -> ExportOutcome | Problem:  # fmt: skip
    """Export ``n`` labeled items into ``out``, dropping the ``drop`` fraction most uncertain candidates. A
    cancelled or failed export continues when run again into the same folder with the same settings."""
    started = time.perf_counter()
    try:
        model = _model(ctx, key)
        generator = _model_generator(ctx, model, setup)
        result = export_dataset(
            model, out, int(n), seed=int(seed), uncertainty_drop=float(drop), batch=int(batch),
            generator=generator, progress=ctx.progress, cancel=ctx.token,
        )  # fmt: skip
    except (ExportError, HandsOffError, CheckpointError, FileExistsError, ValueError) as exc:
        return Problem(sentence(exc))
    except OSError as exc:
        return Problem(sentence(ValueError(os_error_message(exc, Path(out)))))
    return ExportOutcome(
        str(result.path), int(n), result.candidates, result.kept, result.dropped, result.resumed,
        time.perf_counter() - started,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------- the threshold


def drop_threshold(uncertainties: Sequence[float] | np.ndarray, drop: float) -> float | None:
    """The uncertainty above which the ``drop`` fraction of these samples lies (midway between the last kept
    and the first dropped score), or None without finite scores. Mirrors the export's keep rule on candidates."""
    scores = np.sort(np.asarray(uncertainties, dtype=np.float64)[np.isfinite(uncertainties)])
    if not len(scores):
        return None
    keep = len(scores) - min(len(scores), round(len(scores) * float(drop)))
    if keep >= len(scores):
        return float(scores[-1]) + max(1e-6, 0.02 * float(scores[-1] - scores[0]))
    if keep <= 0:
        return float(scores[0]) - max(1e-6, 0.02 * float(scores[-1] - scores[0]))
    return float((scores[keep - 1] + scores[keep]) / 2)


def drop_fraction(uncertainties: Sequence[float] | np.ndarray, threshold: float) -> float:
    """The fraction of samples whose uncertainty lies above ``threshold`` (scores that are not finite count as
    above, as the export ranks them last)."""
    scores = np.asarray(uncertainties, dtype=np.float64)
    if not len(scores):
        return 0.0
    above = ~np.isfinite(scores) | (np.nan_to_num(scores, nan=np.inf) > threshold)
    return float(above.mean())


def export_candidates(n: int, drop: float) -> int:
    """How many candidates an export of ``n`` items with this drop generates."""
    return candidate_count(int(n), float(drop))
