"""The Generate workspace's work, Qt-free: reading a title and drawing its prefixes on the device worker.

:func:`draw_title` is the body of a worker job. It loads the text-to-image model once per (weights, device)
through the worker's model cache, keeps an :class:`~gan_studio.methods.restgan.IncrementalSession` beside it so
consecutive requests reuse every prefix already drawn, and returns plain data (:class:`TitleImages`, numpy uint8
images) or :class:`ModelUnavailable` with one sentence. It never raises for bad titles.

:class:`TitleReader` is the model's vocabulary as plain data, so the GUI can mark unknown words and find the color
word while the user types, without touching the model.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_studio.methods.restgan import (
    IncrementalSession,
    ParsedTitle,
    TitleGenerator,
    TitleWord,
    default_model_path,
    parse_title,
)

MODEL_ENV = "GAN_STUDIO_RESTGAN_WEIGHTS"  # overrides the shipped ReStGAN weights (a .safetensors path)
MODES = ("incremental", "scratch")


def restgan_weights_path(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``$GAN_STUDIO_RESTGAN_WEIGHTS``, else the shipped ``resources/restgan/restgan.safetensors``."""
    if path is not None:
        return Path(path)
    env = os.environ.get(MODEL_ENV)
    return Path(env) if env else default_model_path("restgan")


@dataclass(frozen=True)
class TitleReader:
    """The words a model knows and the color-table cluster of each color word; parses like the model does."""

    vocab: frozenset[str]
    color_words: dict[str, int] = field(hash=False)

    @classmethod
    def from_generator(cls, generator: TitleGenerator) -> TitleReader:
        return cls(frozenset(generator.model.vocab.words), dict(generator.model.color_words))

    def parse(self, title: object) -> ParsedTitle:
        """The same reading as :meth:`TitleGenerator.parse` (known words, color clusters, what each states)."""
        return parse_title(title, self.vocab, self.color_words)

    def color_word(self, parsed: ParsedTitle) -> TitleWord | None:
        """The title's color word that counts (the last known one), or None."""
        colors = [w for w in parsed.words if w.known and w.color_cluster is not None]
        return colors[-1] if colors else None


@dataclass(frozen=True)
class TitleImages:
    """The images of every known-word prefix of ``title`` for ``seed`` (``images[0]`` is the empty prefix)."""

    title: str
    seed: int
    mode: str  # "incremental" or "scratch"
    prefixes: tuple[str, ...]
    images: tuple[np.ndarray, ...] = field(repr=False)
    computed: int  # images newly drawn for this request (the rest came from the session's cache)
    parsed: ParsedTitle = field(repr=False)
    reader: TitleReader = field(repr=False)
    seconds: float = 0.0
    model: str = ""

    @property
    def image(self) -> np.ndarray:
        return self.images[-1]

    @property
    def message(self) -> str:
        return self.parsed.message


@dataclass(frozen=True)
class ModelUnavailable:
    """The model could not be loaded; ``message`` is one sentence for the workspace and the log."""

    message: str
    path: str = ""


class ModelUnavailableError(RuntimeError):
    pass


def load_title_generator(path: str | os.PathLike, device: str = "cpu") -> TitleGenerator:
    """Load ReStGAN weights; raises :class:`ModelUnavailableError` with one sentence when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise ModelUnavailableError(
            f"No text-to-image model at {path}: the shipped ReStGAN weights are not there yet "
            "(train them with `gan-studio train restgan`)."
        )
    try:
        return TitleGenerator.load(path, "restgan", device=device)
    except (ValueError, OSError, RuntimeError, KeyError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        raise ModelUnavailableError(f"The text-to-image model could not be loaded: {reason}.") from None


@dataclass
class _Entry:
    generator: TitleGenerator
    session: IncrementalSession
    reader: TitleReader


def _entry(models, device: str, path: str | os.PathLike | None, generator: TitleGenerator | None) -> _Entry:
    if generator is not None:
        key = f"restgan:injected:{id(generator)}"
        return models.get_or_load(
            key,
            lambda: _Entry(generator, IncrementalSession(generator), TitleReader.from_generator(generator)),
        )
    weights = restgan_weights_path(path)
    try:
        stat = weights.stat()
    except OSError:
        raise ModelUnavailableError(
            f"No text-to-image model at {weights}: the shipped ReStGAN weights are not there yet "
            "(train them with `gan-studio train restgan`)."
        ) from None
    # New weights at the same path (a training run finishing) are picked up without restarting the app.
    stem = f"restgan:{weights.resolve()}:"
    key = f"{stem}{stat.st_mtime_ns}:{stat.st_size}"

    def load() -> _Entry:
        gen = load_title_generator(weights, device)
        # The older weights of this path (and their session's images) would otherwise stay for good.
        for name, dev in models:  # a snapshot of the keys
            if name.startswith(stem) and name != key and dev == str(device):
                models.pop(name, dev)
        return _Entry(gen, IncrementalSession(gen), TitleReader.from_generator(gen))

    return models.get_or_load(key, load)


def draw_title(
    ctx,
    title: str,
    seed: int,
    mode: str = "incremental",
    *,
    path: str | os.PathLike | None = None,
    generator: TitleGenerator | None = None,
    reset_session: bool = False,
) -> TitleImages | ModelUnavailable:
    """Worker job body: the images of every known-word prefix of ``title`` (see :class:`TitleImages`).

    ``ctx`` is a :class:`~gan_studio.runtime.jobs.JobContext` (its ``models`` cache and ``device`` are used).
    ``mode="scratch"`` recomputes every prefix with :meth:`TitleGenerator.generate` (the reference the
    incremental session is timed against); ``reset_session`` empties the session's cache first.
    """
    if mode not in MODES:
        raise ValueError(f"unknown generation mode {mode!r}; use one of {', '.join(MODES)}")
    try:
        entry = _entry(ctx.models, ctx.device, path, generator)
    except ModelUnavailableError as exc:
        return ModelUnavailable(str(exc), str(restgan_weights_path(path)) if generator is None else "")
    ctx.raise_if_cancelled()
    if reset_session:
        entry.session.clear()
    title = title if isinstance(title, str) else ""
    start = time.perf_counter()
    if mode == "scratch":
        result = entry.generator.generate(title, seed)
    else:
        result = entry.session.run(title, seed)
    return TitleImages(
        title=title,
        seed=int(seed),
        mode=mode,
        prefixes=tuple(result.prefixes),
        images=tuple(np.ascontiguousarray(im) for im in result.images),
        computed=int(result.computed),
        parsed=result.parsed,
        reader=entry.reader,
        seconds=time.perf_counter() - start,
        model=entry.generator.name,
    )
