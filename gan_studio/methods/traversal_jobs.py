"""The Explore workspace's work, Qt-free: drawing the garment to explore and walking a traversal on the worker.

:func:`run_traversal` is the body of a worker job (as :func:`gan_studio.methods.title_jobs.draw_title` is for
Generate). It shares the text-to-image model the Generate workspace loaded (same model-cache entry), turns the
lasso into a mask at the model's image size, builds the features and walks the path, handing every waypoint to a
callback as plain numpy data (:class:`Frame`) while the path is still being walked. Bad specs or settings come
back as a :class:`Problem` with one sentence, a missing model as :class:`ModelUnavailable`; cancelling raises
``Cancelled`` between waypoints. :func:`write_frames` and :func:`write_gif` export a path atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image

from gan_studio.data.image_file import stage_image
from gan_studio.data.output_files import StagedOutputs, write_file
from gan_studio.methods.features import FeatureContext, FeatureError, build_features
from gan_studio.methods.lasso import LassoError, lasso_from_polygons
from gan_studio.methods.reds import TraversalError, TraversalSettings, Waypoint, traverse
from gan_studio.methods.regions import RegionError
from gan_studio.methods.title_jobs import ModelUnavailable, ModelUnavailableError, restgan_weights_path
from gan_studio.methods.title_jobs import _entry as title_model_entry
from gan_studio.models.text_to_image import to_uint8


@dataclass(frozen=True)
class TraversalRequest:
    """What to walk: the garment (title, seed), the lasso as (mode, points) pairs, the specs and the settings."""

    title: str
    seed: int
    fixed: tuple[str, ...]
    vary: tuple[str, ...]
    settings: TraversalSettings
    lasso: tuple[tuple[str, np.ndarray], ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class Frame:
    """One waypoint as plain data: its latent (D,) float32, image (S, S, 3) uint8 and feature changes."""

    index: int
    latent: np.ndarray = field(repr=False)
    image: np.ndarray = field(repr=False)
    fixed_change: dict[str, float]
    varied_change: dict[str, float]
    fixed_total: float
    varied_total: float

    @classmethod
    def from_waypoint(cls, w: Waypoint) -> Frame:
        return cls(
            int(w.index), w.latent.detach().cpu().numpy().reshape(-1).astype(np.float32),
            np.ascontiguousarray(w.image), dict(w.fixed_change), dict(w.varied_change),
            float(w.fixed_total), float(w.varied_total),
        )  # fmt: skip


@dataclass(frozen=True)
class TraversalOutcome:
    request: TraversalRequest
    frames: tuple[Frame, ...]
    seconds: float


@dataclass(frozen=True)
class SourceImage:
    title: str
    seed: int
    image: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Problem:
    """Settings or features that cannot be used; ``message`` is one sentence."""

    message: str


@dataclass(frozen=True)
class SentFrame:
    """What "Send to Generate" / "Send to Dataset" hand over: the garment and one waypoint of its path."""

    title: str
    seed: int
    index: int
    image: np.ndarray = field(repr=False)
    latent: np.ndarray = field(repr=False)


def sentence(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
    return text[:1].upper() + text[1:] + "."


def _generator(ctx, path, generator):
    return title_model_entry(ctx.models, ctx.device, path, generator).generator


def draw_source(ctx, title: str, seed: int, *, path=None, generator=None) -> SourceImage | ModelUnavailable:
    """Worker job: the garment a traversal starts from -> :class:`SourceImage` or :class:`ModelUnavailable`."""
    try:
        model = _generator(ctx, path, generator).protocol(title)
    except ModelUnavailableError as exc:
        return ModelUnavailable(str(exc), "" if generator is not None else str(restgan_weights_path(path)))
    with torch.no_grad():
        image = to_uint8(model.synthesize(model.sample_latent(1, seed)))[0]
    return SourceImage(title, int(seed), image)


def run_traversal(
    ctx,
    request: TraversalRequest,
    on_frame: Callable[[Frame], None] | None = None,
    *,
    path=None,
    generator=None,
) -> TraversalOutcome | ModelUnavailable | Problem:
    """Worker job: walk the path of ``request``, calling ``on_frame`` (on the worker thread) per waypoint.

    Bad specs or settings come back as a :class:`Problem`; cancelling raises ``Cancelled`` between waypoints.
    """
    start_time = time.perf_counter()
    try:
        model = _generator(ctx, path, generator).protocol(request.title)
    except ModelUnavailableError as exc:
        return ModelUnavailable(str(exc), "" if generator is not None else str(restgan_weights_path(path)))

    def classifier():
        from gan_studio.models.classifier import load_classifier

        try:
            return ctx.models.get_or_load("classifier", lambda: load_classifier(device=ctx.device))
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise FeatureError(f"attr: features need the attribute classifier: {sentence(exc)}") from None

    frames: list[Frame] = []
    try:
        size = int(model.image_size)
        lasso = lasso_from_polygons(request.lasso).mask(size) if request.lasso else None
        with torch.no_grad():
            latent = model.sample_latent(1, request.seed)
            start = to_uint8(model.synthesize(latent))[0]
        features = FeatureContext(size, lasso=lasso, start_image=start, classifier_loader=classifier)
        fixed, vary = build_features(request.fixed, request.vary, features)
        for waypoint in traverse(
            model, latent, fixed, vary, request.settings, cancel=ctx.token, progress=ctx.progress
        ):
            frames.append(Frame.from_waypoint(waypoint))
            if on_frame is not None:
                on_frame(frames[-1])
    except (FeatureError, TraversalError, RegionError, LassoError) as exc:
        return Problem(sentence(exc))
    return TraversalOutcome(request, tuple(frames), time.perf_counter() - start_time)


def write_frames(folder: str | Path, frames: Sequence[Frame], stem: str, scale: int = 1) -> list[Path]:
    """Save each frame as ``{stem}-{index:03d}.png`` in ``folder``: all of them, or (on an error) none."""
    folder = Path(folder)
    with StagedOutputs() as outputs:
        outputs.folder(folder)
        paths = [stage_image(outputs, folder / f"{stem}-{f.index:03d}.png", f.image, scale) for f in frames]
    return paths


def write_gif(path: str | Path, images: Sequence[np.ndarray], scale: int = 4, frame_ms: int = 150) -> Path:
    """Save (S, S, 3) uint8 images as a looping animated GIF, upscaled ``scale`` times (nearest).

    Written through :func:`gan_studio.data.output_files.write_file`, so a crash never leaves half a GIF.
    """
    path = Path(path)
    if path.suffix.lower() != ".gif":
        path = path.with_name(path.name + ".gif")
    if not images:
        raise ValueError("there are no frames to write")
    frames = [Image.fromarray(np.ascontiguousarray(im)) for im in images]
    if scale > 1:
        frames = [im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST) for im in frames]

    def write(f: BinaryIO) -> None:
        frames[0].save(f, "GIF", save_all=True, append_images=frames[1:], duration=int(frame_ms), loop=0)

    return write_file(path, write)
