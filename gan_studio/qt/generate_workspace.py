"""The Generate workspace: a product title becomes a garment image, redrawn word by word as the user types.

The title box commits at each word boundary (a space or punctuation typed, or the word count changed; debounced)
and on Enter. Each commit is one worker request (latest wins) that runs
:func:`gan_studio.methods.title_jobs.draw_title`: the model is loaded once per device through the worker's model
cache, and an incremental session there keeps every prefix already drawn, so appending a word costs one image.
Nothing of the model runs on the GUI thread; the GUI only reads the model's vocabulary (plain data that comes back
with the first result) to mark unknown words and find the color word while the user types.

Beside the image, the discovery panel lists the catalog items nearest to it (the index is built on the worker one
batch per request, so generation never waits behind it). Results go into an undo/redo history.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from gan_studio.methods.history import History
from gan_studio.methods.restgan import ParsedTitle, TitleGenerator
from gan_studio.methods.retrieval import IndexSpec
from gan_studio.methods.title_jobs import ModelUnavailable, TitleImages, TitleReader, draw_title
from gan_studio.qt.catalog_discovery import CatalogDiscovery
from gan_studio.qt.generate_output import ImageOutput, suggested_name
from gan_studio.qt.generate_view import MAX_SEED, GenerateView
from gan_studio.qt.job_client import JobClient
from gan_studio.qt.title_text import boundary_state, put_color_word
from gan_studio.runtime.jobs import Result

__all__ = ["GenerateWorkspace", "Shown", "boundary_state", "put_color_word"]

GENERATE_KIND = "generate.title"
DEFAULT_TITLE = "women's navy slim jeans"


@dataclass(frozen=True)
class Shown:
    """One history entry: what the workspace showed for a title and seed."""

    title: str
    seed: int
    prefixes: tuple[str, ...]
    images: tuple[np.ndarray, ...] = field(repr=False)
    message: str = ""

    @property
    def image(self) -> np.ndarray:
        return self.images[-1]


class GenerateWorkspace(GenerateView):
    """Title box, seed and variation, the image with the discovery panel beside it, and the word filmstrip.

    ``model_path`` (default: ``$GAN_STUDIO_RESTGAN_WEIGHTS`` or the shipped weights) or an already loaded
    ``generator`` (tests, the latency probe) choose the model. ``discovery=False`` leaves the discovery panel idle;
    ``index_count`` built-in items are indexed, cached under ``cache_dir`` (default: the user cache folder).

    Signals (GUI thread): ``generated(TitleImages)`` when a result is shown; ``frameShown(frame)`` once its image
    is painted; ``modelUnavailable(sentence)``; ``matchesShown(n)``; ``indexStatus(sentence)``;
    ``colorClusterChanged(index or -1)``; ``historyChanged()``; ``saved(path or None)`` after a save; ``copied()``
    once the image is on the clipboard; ``message(text)`` / ``warning(text)`` for the log.
    """

    generated = Signal(object)
    frameShown = Signal(int)
    modelUnavailable = Signal(str)
    matchesShown = Signal(int)
    indexStatus = Signal(str)
    colorClusterChanged = Signal(int)
    historyChanged = Signal()
    saved = Signal(object)
    copied = Signal()
    message = Signal(str)
    warning = Signal(str)

    def __init__(
        self,
        bridge,
        clusters: Sequence | None = None,
        *,
        model_path: str | Path | None = None,
        generator: TitleGenerator | None = None,
        discovery: bool = True,
        index_count: int = 1500,
        index_seed: int = 0,
        cache_dir: str | Path | None = None,
        matches: int = 6,
        debounce_ms: int = 150,
        title: str = DEFAULT_TITLE,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title, parent)
        self.jobs = JobClient(bridge, self)
        self.model_path = model_path
        self.generator = generator
        self.mode = "incremental"
        if clusters is None:
            from gan_studio.qt.palette import load_clusters

            clusters = load_clusters()[0]
        self._clusters = {int(c.index): c for c in clusters}
        color_words = {w: int(c.index) for c in clusters for w in c.words}
        self._color_reader = TitleReader(
            frozenset(color_words), color_words
        )  # until the model's vocabulary arrives
        self.reader: TitleReader | None = None
        self.last_outcome: TitleImages | None = None
        self.problem: str | None = None  # why the model is unavailable
        self.history: History[Shown] = History(200, same=lambda a, b: (a.title, a.seed) == (b.title, b.seed))
        self._rng = random.Random()
        self._latest_request: int | None = None
        self._reset_next = False
        self._setting = False  # programmatic edits must not look like typing
        self._boundary = boundary_state(title)
        self._started = False
        self._stopped = False
        self._color_cluster = -1
        self.output = ImageOutput(self.jobs, self)
        self.discovery = CatalogDiscovery(
            self.jobs, self.discovery_panel, enabled=discovery, index_count=index_count, index_seed=index_seed,
            cache_dir=None if cache_dir is None else str(cache_dir), matches=matches, parent=self,
        )  # fmt: skip
        self._connect(debounce_ms)
        self._update_from_text()
        self._update_actions()

    def _connect(self, debounce_ms: int) -> None:
        self.title_edit.textChanged.connect(self._on_text_changed)
        self.title_edit.committed.connect(self.commit)
        self._debounce = QTimer(self, singleShot=True, interval=int(debounce_ms))
        self._debounce.timeout.connect(self.commit)
        self.seed_spin.valueChanged.connect(self._on_seed_changed)
        self.variation_action.triggered.connect(self.new_variation)
        self.undo_action.triggered.connect(self.undo)
        self.redo_action.triggered.connect(self.redo)
        self.save_action.triggered.connect(lambda: self.save_image())
        self.copy_button.clicked.connect(self.copy_image)
        self.copy_action.triggered.connect(self.copy_image)
        self.image_view.framePainted.connect(self.frameShown)
        self.filmstrip.frameActivated.connect(self._show_frame)
        for source, target in (
            (self.output.saved, self.saved), (self.output.copied, self.copied),
            (self.discovery.matchesShown, self.matchesShown), (self.discovery.indexStatus, self.indexStatus),
        ):  # fmt: skip
            source.connect(target)
        for part in (self.output, self.discovery):
            part.message.connect(self.message)
            part.warning.connect(self.warning)

    # ------------------------------------------------------------------------------------------------ the title

    def title(self) -> str:
        return self.title_edit.text()

    def seed(self) -> int:
        return self.seed_spin.value()

    def set_title(self, title: str, commit: bool = True) -> None:
        """Replace the title (as if pasted); draws it at once unless ``commit`` is False."""
        self._setting = True
        try:
            self.title_edit.set_text(title if isinstance(title, str) else "")
        finally:
            self._setting = False
        self._boundary = boundary_state(self.title())
        self._update_from_text()
        if commit:
            self.commit()

    def set_seed(self, seed: int, commit: bool = True) -> None:
        self._setting = True
        try:
            self.seed_spin.setValue(int(seed) % (MAX_SEED + 1))
        finally:
            self._setting = False
        if commit:
            self.commit()

    @property
    def debounce_ms(self) -> int:
        return self._debounce.interval()

    def set_mode(self, mode: str) -> None:
        """ "incremental" (the session reuses every prefix already drawn) or "scratch" (all prefixes redrawn)."""
        if mode not in ("incremental", "scratch"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode

    def reset_session(self) -> None:
        """Empty the incremental session's cache with the next request (the latency probe starts each title cold)."""
        self._reset_next = True

    def _on_text_changed(self) -> None:
        if self._setting:
            return
        self._update_from_text()
        state = boundary_state(self.title())
        if state != self._boundary:
            self._boundary = state
            self._debounce.start()

    def _on_seed_changed(self, _value: int) -> None:
        if not self._setting:
            self._debounce.start()

    def _parse(self) -> ParsedTitle:
        return (self.reader or self._color_reader).parse(self.title())

    def _update_from_text(self) -> None:
        """Marks and the color label follow the text at once; the image follows at the next commit."""
        parsed = self._parse()
        if self.reader is not None:
            self.title_edit.mark_unknown([(w.start, w.end) for w in parsed.words if not w.known])
        else:
            self.title_edit.mark_unknown([])
        colors = [w for w in parsed.words if w.color_cluster is not None and (w.known or self.reader is None)]
        index = colors[-1].color_cluster if colors else -1
        cluster = self._clusters.get(index) if index is not None else None
        self.show_color(cluster, colors[-1].text if cluster is not None else "")
        if cluster is None:
            index = -1
        if index != self._color_cluster:
            self._color_cluster = int(index)
            self.colorClusterChanged.emit(self._color_cluster)

    def color_cluster(self) -> int:
        """The color-table cluster of the title's color word, or -1."""
        return self._color_cluster

    def unknown_spans(self) -> tuple[tuple[int, int], ...]:
        """The (start, length) marks of unknown words in the title box, in Qt (UTF-16) units."""
        return self.title_edit.highlighter.spans

    # ------------------------------------------------------------------------------------------------ colors

    def color_word_for(self, cluster_index: int, word: str = "") -> str:
        """The word to put in the title for a cluster: its main word when the model knows it."""
        cluster = self._clusters.get(int(cluster_index))
        candidates = [cluster.name, word, *cluster.words] if cluster is not None else [word]
        candidates = [c for c in candidates if c]
        vocab = self.reader.vocab if self.reader is not None else None
        for c in candidates:
            if vocab is None or c in vocab:
                return c
        return candidates[0] if candidates else word

    def apply_color(self, cluster_index: int, word: str = "") -> str:
        """Put the cluster's color word into the title (replacing the color word there) and draw; returns the title."""
        chosen = self.color_word_for(cluster_index, word)
        if not chosen:
            return self.title()
        title = put_color_word(self.title(), self._parse(), chosen)
        self.set_title(title)
        return title

    # ------------------------------------------------------------------------------------------------ drawing

    def commit(self) -> int | None:
        """Draw the current title and seed now (on the worker); returns the request id."""
        self._debounce.stop()
        if self._stopped:
            return None
        title, seed, mode = self.title(), self.seed(), self.mode
        reset, self._reset_next = self._reset_next, False
        path, generator = self.model_path, self.generator

        def job(ctx):
            return draw_title(ctx, title, seed, mode, path=path, generator=generator, reset_session=reset)

        self._latest_request = self.jobs.submit(GENERATE_KIND, job, self._on_generated, "Drawing the title")
        return self._latest_request

    def _on_generated(self, result: Result) -> None:
        if self._stopped or result.request_id != self._latest_request or result.cancelled:
            return  # a newer request replaced this one
        if not result.ok:
            self._set_problem(f"The image could not be drawn: {result.error}.", keep_image=True)
            return
        value = result.value
        if isinstance(value, ModelUnavailable):
            self._set_problem(value.message)
            return
        assert isinstance(value, TitleImages)
        if self.problem is not None:
            self.problem = None
            self.message.emit("The text-to-image model is loaded.")
        new_reader = self.reader is None
        self.reader = value.reader
        if new_reader:
            self._update_from_text()
        self.last_outcome = value
        entry = Shown(value.title, value.seed, value.prefixes, value.images, value.message)
        if self.history.push(entry):
            self._update_actions()
            self.historyChanged.emit()
        self._show(entry)
        cached = len(value.images) - value.computed
        self.stats_label.setText(
            f"{value.computed} new image{'s' if value.computed != 1 else ''}"
            + (f", {cached} from cache" if cached else "")
            + f" · {value.seconds * 1000:.0f} ms"
        )
        self.generated.emit(value)

    def _show(self, entry: Shown) -> None:
        self.message_label.say(entry.message, "warning" if entry.message else "info")
        if self.image_view.image() is None or self.image_view.image().shape[0] != entry.image.shape[0]:
            self.fill_scales(int(entry.image.shape[0]))
        self.filmstrip.set_frames(entry.prefixes, entry.images)
        self.image_view.set_image(entry.image)
        self.discovery.discover(entry.image)

    def _show_frame(self, k: int) -> None:
        """Show the image of prefix ``k`` from the filmstrip (the title is not changed)."""
        entry = self.history.current
        if entry is not None and 0 <= k < len(entry.images):
            self.image_view.set_image(entry.images[k])

    def _set_problem(self, sentence: str, keep_image: bool = False) -> None:
        changed = sentence != self.problem
        self.problem = sentence
        self.message_label.say(sentence, "error")
        self.stats_label.setText("")
        if not keep_image:
            self.image_view.set_placeholder(sentence)
            self.filmstrip.set_frames((), ())
            self.discovery_panel.set_matches([])
        if changed:
            self.warning.emit(sentence)
            self.modelUnavailable.emit(sentence)

    def new_variation(self) -> int:
        """Pick a new random seed and draw; returns the seed."""
        seed = self.seed()
        while seed == self.seed():
            seed = self._rng.randrange(0, MAX_SEED)
        self.set_seed(seed)
        return seed

    # ------------------------------------------------------------------------------------------------ history

    def undo(self) -> bool:
        return self._restore(self.history.undo())

    def redo(self) -> bool:
        return self._restore(self.history.redo())

    def _restore(self, entry: Shown | None) -> bool:
        """Show ``entry`` again (title, seed and images, without drawing); False when there is none."""
        if entry is None:
            return False
        self._debounce.stop()
        self._latest_request = None  # a result still on its way would overwrite the restored one
        self.set_title(entry.title, commit=False)
        self.set_seed(entry.seed, commit=False)
        self._show(entry)
        self._update_actions()
        self.historyChanged.emit()
        return True

    def _update_actions(self) -> None:
        self.undo_action.setEnabled(self.history.can_undo())
        self.redo_action.setEnabled(self.history.can_redo())
        has_image = self.history.current is not None
        self.save_action.setEnabled(has_image)
        self.copy_button.setEnabled(has_image)

    # ------------------------------------------------------------------------------------------------ output

    def current_image(self) -> np.ndarray | None:
        entry = self.history.current
        return None if entry is None else entry.image

    def save_image(self, path: str | Path | None = None, scale: int | None = None) -> int | None:
        """Save the current image as PNG (asks where when ``path`` is None); the upscale and the encoding run on
        the worker. Returns the request id (None: nothing to save or no file chosen); ``saved(path or None)``
        follows."""
        entry = self.history.current
        if entry is None:
            self.warning.emit("There is no image to save yet.")
            return None
        scale = self.save_scale() if scale is None else max(1, int(scale))
        if path is None:
            suggested = str(Path.home() / suggested_name(entry.title, entry.seed))
            path, _ = QFileDialog.getSaveFileName(self, "Save image", suggested, "PNG images (*.png)")
            if not path:
                return None
        return self.output.save(entry.image, path, scale)

    def copy_image(self) -> int | None:
        """Copy the current image, upscaled on the worker, to the clipboard; ``copied()`` follows."""
        entry = self.history.current
        return None if entry is None else self.output.copy(entry.image, self.save_scale())

    # ------------------------------------------------------------------------------------------------ discovery

    def set_catalog_source(self, source) -> None:
        """Search the catalog the Catalog workspace shows: a folder source, or the built-in catalog's seed."""
        if self.discovery.follow(source):
            image = self.current_image()
            if image is not None and self.isVisible():
                self.discovery.discover(image)

    @property
    def index_spec(self) -> IndexSpec:
        return self.discovery.spec

    @property
    def index_state(self) -> str:
        return self.discovery.state

    # ------------------------------------------------------------------------------------------------ lifecycle

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._started and not self._stopped:
            self._started = True
            self.title_edit.setFocus()
            QTimer.singleShot(0, self.commit)

    def stop(self) -> None:
        """Stop timers and ignore results still on their way (the window is closing)."""
        self._stopped = True
        self._debounce.stop()
        self.discovery.stop()

    def save_settings(self, settings) -> None:
        settings.setValue("generate/title", self.title())
        settings.setValue("generate/seed", self.seed())
        settings.setValue("generate/scale", self.save_scale())
        settings.setValue("generate/splitter", self.splitter.saveState())

    def restore_settings(self, settings) -> None:
        title = settings.value("generate/title")
        if isinstance(title, str):
            self.set_title(title, commit=False)
        try:
            self.set_seed(int(settings.value("generate/seed", self.seed())), commit=False)
        except (TypeError, ValueError):
            pass
        try:
            scale = int(settings.value("generate/scale", 4))
        except (TypeError, ValueError):
            scale = 4
        self.scale_combo.setCurrentIndex(max(0, self.scale_combo.findData(scale)))
        state = settings.value("generate/splitter")
        if state is not None:
            self.splitter.restoreState(state)
