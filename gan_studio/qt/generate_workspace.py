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
from PIL import Image
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QGuiApplication, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gan_studio.data.image_file import save_image
from gan_studio.data.title_words import split_words
from gan_studio.methods.history import History
from gan_studio.methods.restgan import ParsedTitle, TitleGenerator
from gan_studio.methods.retrieval import IndexSpec, IndexStatus, index_job, query_job
from gan_studio.methods.title_jobs import ModelUnavailable, TitleImages, TitleReader, draw_title
from gan_studio.qt.discovery_panel import DiscoveryPanel
from gan_studio.qt.filmstrip import Filmstrip
from gan_studio.qt.image_view import ImageView
from gan_studio.qt.job_client import JobClient
from gan_studio.qt.message_line import MessageLine
from gan_studio.qt.title_edit import TitleEdit
from gan_studio.runtime.jobs import Result

GENERATE_KIND = "generate.title"
INDEX_KIND = "generate.index"
DISCOVER_KIND = "generate.discover"
SAVE_KIND = "generate.save"
COPY_KIND = "generate.copy"
DEFAULT_TITLE = "women's navy slim jeans"
SAVE_SCALES = (1, 4, 8)
MAX_SEED = 2**31 - 1


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


def boundary_state(text: str) -> tuple[int, tuple[str, ...]]:
    """(word count, the words already followed by a separator): a change of either is a word boundary."""
    words = split_words(text)
    return len(words), tuple(w.text for w in words if w.end < len(text))


def _match_case(like: str, word: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def put_color_word(text: str, parsed: ParsedTitle, word: str) -> str:
    """``text`` with its color word replaced by ``word``, or ``word`` inserted before the fit or type word.

    With several color words the last one (the one the model ends on) is replaced; with none the word goes before
    the first word stating the fit or the type ("women's slim jeans" -> "women's black slim jeans"), else at the end.
    """
    colors = [w for w in parsed.words if w.color_cluster is not None]
    if colors:
        w = colors[-1]
        return text[: w.start] + _match_case(text[w.start : w.end], word) + text[w.end :]
    anchor = next((w for w in parsed.words if w.states and w.states[0] in ("fit", "type")), None)
    if anchor is not None:
        return (
            text[: anchor.start]
            + _match_case(text[anchor.start : anchor.end], word)
            + " "
            + text[anchor.start :]
        )
    stripped = text.rstrip()
    return (stripped + " " if stripped else "") + word + " "


def write_png(path: str | Path, image: np.ndarray, scale: int = 1) -> Path:
    """Save an (H, W, 3) uint8 image as PNG, upscaled ``scale`` times (Lanczos), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    return save_image(path, image, scale, resample="lanczos")


def _slug(title: str) -> str:
    words = [w.text for w in split_words(title)][:8]
    slug = "-".join("".join(ch for ch in w if ch.isalnum()) for w in words).strip("-")
    return slug or "garment"


def _swatch(rgb: Sequence[int], size: int = 14) -> QPixmap:
    pix = QPixmap(size, size)
    pix.fill(QColor(*[int(v) for v in rgb]))
    return pix


class GenerateWorkspace(QWidget):
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
        super().__init__(parent)
        self.setObjectName("generate_workspace")
        self.jobs = JobClient(bridge, self)
        self.model_path = model_path
        self.generator = generator
        self.mode = "incremental"
        self.discovery = bool(discovery)
        self.index_count = int(index_count)
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.n_matches = int(matches)
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
        self._index_spec = IndexSpec("builtin", int(index_seed), self.index_count, cache_dir=self.cache_dir)
        self._index_state = "idle"  # idle | building | ready | failed
        self._index_request: int | None = None
        self._discover_wanted: np.ndarray | None = None

        self._build(title, debounce_ms)
        self._update_from_text()
        self._update_actions()

    # ------------------------------------------------------------------------------------------------ building

    def _build(self, title: str, debounce_ms: int) -> None:
        self.title_edit = TitleEdit()
        self.title_edit.set_text(title)
        self.title_edit.textChanged.connect(self._on_text_changed)
        self.title_edit.committed.connect(self.commit)
        self._debounce = QTimer(self, singleShot=True, interval=int(debounce_ms))
        self._debounce.timeout.connect(self.commit)

        self.message_label = MessageLine("title_message")
        self.stats_label = QLabel("")
        self.stats_label.setObjectName("generate_stats")
        self.stats_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.stats_label.setMinimumWidth(1)  # labels may be clipped in a narrow window rather than widen it

        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("generate_seed")
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setPrefix("seed ")
        self.seed_spin.setToolTip(
            "The noise of the image: the same title and seed always give the same garment"
        )
        self.seed_spin.setMinimumWidth(90)
        self.seed_spin.valueChanged.connect(self._on_seed_changed)

        self.variation_action = QAction("New variation", self)
        self.variation_action.setShortcut(QKeySequence("Ctrl+R"))
        self.variation_action.setToolTip("Draw the same title with a new random seed (Ctrl+R)")
        self.variation_action.triggered.connect(self.new_variation)
        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.setToolTip("Back to the previous result: title, seed and image (Ctrl+Z)")
        self.undo_action.triggered.connect(self.undo)
        self.redo_action = QAction("Redo", self)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setToolTip("Forward to the next result (Ctrl+Shift+Z)")
        self.redo_action.triggered.connect(self.redo)
        self.save_action = QAction("Save image…", self)
        self.save_action.setShortcut(QKeySequence("Ctrl+S"))
        self.save_action.setToolTip("Save the image as PNG (Ctrl+S)")
        self.save_action.triggered.connect(lambda: self.save_image())
        for action in (self.variation_action, self.undo_action, self.redo_action, self.save_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)  # only while this workspace is shown
            self.addAction(action)

        self.color_swatch = QLabel()
        self.color_label = QLabel("")
        self.color_label.setObjectName("color_cluster_label")
        self.color_label.setMinimumWidth(1)
        self.color_label.setToolTip(
            "The color-table cluster of the title's color word; pick a palette swatch to change it"
        )

        self.scale_combo = QComboBox()
        self.scale_combo.setToolTip("Size of saved and copied images")
        self.scale_combo.setMinimumWidth(60)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the image to the clipboard (Ctrl+C on the image)")
        self.copy_button.clicked.connect(self.copy_image)

        # Two short rows rather than one long one, so the window still fits a small screen next to the palette.
        controls = QHBoxLayout()
        controls.addWidget(self.seed_spin)
        controls.addWidget(self._tool_button(self.variation_action))
        controls.addSpacing(8)
        controls.addWidget(self.color_swatch)
        controls.addWidget(self.color_label, 1)
        controls.addWidget(self._tool_button(self.undo_action))
        controls.addWidget(self._tool_button(self.redo_action))
        output = QHBoxLayout()
        output.addWidget(self.message_label, 1)
        output.addWidget(self.stats_label)
        output.addSpacing(8)
        output.addWidget(self.scale_combo)
        output.addWidget(self._tool_button(self.save_action))
        output.addWidget(self.copy_button)

        self.image_view = ImageView()
        self.image_view.framePainted.connect(self.frameShown)
        copy = QAction("Copy image", self.image_view)
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_image)
        self.image_view.addAction(copy)
        self.image_view.addAction(self.save_action)
        self.image_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.copy_action = copy

        self.discovery_panel = DiscoveryPanel()
        if not self.discovery:
            self.discovery_panel.set_status("Discovery is off.")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.image_view)
        self.splitter.addWidget(self.discovery_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([620, 300])

        self.filmstrip = Filmstrip(thumb=64)
        self.filmstrip.frameActivated.connect(self._show_frame)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title_edit)
        layout.addLayout(controls)
        layout.addLayout(output)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.filmstrip)
        self._fill_scales(64)

    def _tool_button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    def _fill_scales(self, size: int) -> None:
        current = self.scale_combo.currentData() or 4
        self.scale_combo.blockSignals(True)
        self.scale_combo.clear()
        for s in SAVE_SCALES:
            self.scale_combo.addItem(f"{size * s} px", s)
        self.scale_combo.setCurrentIndex(max(0, self.scale_combo.findData(current)))
        self.scale_combo.blockSignals(False)

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
        if cluster is not None:
            self.color_swatch.setPixmap(_swatch(cluster.rgb))
            self.color_swatch.setVisible(True)
            self.color_label.setText(f"Color: <b>{cluster.name}</b> cluster (“{colors[-1].text}”)")
            self.color_label.setToolTip(f"Cluster {cluster.index}: {', '.join(cluster.words)}")
        else:
            self.color_swatch.setVisible(False)
            self.color_label.setText("Color: none stated")
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
            self._fill_scales(int(entry.image.shape[0]))
        self.filmstrip.set_frames(entry.prefixes, entry.images)
        self.image_view.set_image(entry.image)
        self._discover(entry.image)

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
        entry = self.history.undo()
        if entry is None:
            return False
        self._restore(entry)
        return True

    def redo(self) -> bool:
        entry = self.history.redo()
        if entry is None:
            return False
        self._restore(entry)
        return True

    def _restore(self, entry: Shown) -> None:
        self._debounce.stop()
        self._latest_request = None  # a result still on its way would overwrite the restored one
        self.set_title(entry.title, commit=False)
        self.set_seed(entry.seed, commit=False)
        self._show(entry)
        self._update_actions()
        self.historyChanged.emit()

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

    def save_scale(self) -> int:
        return int(self.scale_combo.currentData() or 1)

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
            suggested = str(Path.home() / f"{_slug(entry.title)}-seed{entry.seed}.png")
            path, _ = QFileDialog.getSaveFileName(self, "Save image", suggested, "PNG images (*.png)")
            if not path:
                return None
        image = entry.image

        def job(_ctx):
            try:
                return write_png(path, image, scale)
            except (OSError, ValueError) as exc:
                reason = (
                    str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
                )
                return f"Could not save the image to {path}: {reason}."

        def done(result: Result) -> None:
            if isinstance(result.value, Path):
                self.message.emit(f"Saved the image to {result.value}.")
                self.saved.emit(result.value)
                return
            if isinstance(result.value, str):
                self.warning.emit(result.value)
            elif not result.ok and not result.cancelled:
                self.warning.emit(f"Could not save the image to {path}: {result.error}.")
            self.saved.emit(None)

        # One kind per path: saving elsewhere never replaces a save still waiting.
        return self.jobs.submit(f"{SAVE_KIND}:{path}", job, done, "Saving the image")

    def copy_image(self) -> int | None:
        """Copy the current image, upscaled on the worker, to the clipboard; ``copied()`` follows."""
        entry = self.history.current
        if entry is None:
            return None
        image, scale = entry.image, self.save_scale()

        def job(_ctx) -> np.ndarray:
            if scale == 1:
                return image
            size = (image.shape[1] * scale, image.shape[0] * scale)
            return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))

        def done(result: Result) -> None:
            if not result.ok:
                if not result.cancelled:
                    self.warning.emit(f"Could not copy the image: {result.error}.")
                return
            from gan_studio.qt.imageutil import to_qimage

            QGuiApplication.clipboard().setImage(to_qimage(result.value))  # the clipboard is the GUI thread's
            self.message.emit("Copied the image to the clipboard.")
            self.copied.emit()

        return self.jobs.submit(COPY_KIND, job, done, "Copying the image")

    # ------------------------------------------------------------------------------------------------ discovery

    def set_catalog_source(self, source) -> None:
        """Search the catalog the Catalog workspace shows: a folder source, or the built-in catalog's seed."""
        from gan_studio.qt.catalog_source import BuiltinSource, FolderSource

        if isinstance(source, FolderSource):
            spec = IndexSpec("folder", folder=str(source.path), cache_dir=self.cache_dir)
        elif isinstance(source, BuiltinSource):
            spec = IndexSpec("builtin", source.seed, self.index_count, cache_dir=self.cache_dir)
        else:
            return
        if spec != self._index_spec:
            self._index_spec = spec
            self._index_state = "idle"
            self._index_request = None
            image = self.current_image()
            if image is not None and self.isVisible():
                self._discover(image)

    @property
    def index_spec(self) -> IndexSpec:
        return self._index_spec

    @property
    def index_state(self) -> str:
        return self._index_state

    def _discover(self, image: np.ndarray) -> None:
        if not self.discovery or self._stopped:
            return
        if self._index_state != "ready":
            self._discover_wanted = image
            if self._index_state == "idle":
                self._index_state = "building"
                self._set_index_status(f"Indexing the {self._index_spec.description}…")
                self._step_index()
            return
        spec, k = self._index_spec, self.n_matches
        self.jobs.submit(
            DISCOVER_KIND,
            lambda ctx: query_job(ctx, spec, image, k),
            self._on_matches,
            "Finding similar items",
        )

    def _step_index(self) -> None:
        spec = self._index_spec
        self._index_request = self.jobs.submit(
            INDEX_KIND,
            lambda ctx: index_job(ctx, spec),
            self._on_index_step,
            f"Indexing the {spec.description}",
        )

    def _on_index_step(self, result: Result) -> None:
        if self._stopped or result.request_id != self._index_request:
            return
        if result.cancelled:
            self._index_state = "idle"  # resumes where it stopped with the next image
            self._set_index_status("Indexing paused; it resumes with the next image.")
            return
        if not result.ok:
            self._index_state = "failed"
            self._set_index_status(f"Discovery is unavailable: {result.error}.")
            self.warning.emit(f"Discovery is unavailable: {result.error}.")
            return
        status: IndexStatus = result.value
        if status.problem:
            self._index_state = "failed"
            sentence = f"Discovery is unavailable: {status.problem}."
            self._set_index_status(sentence)
            self.warning.emit(sentence)
            return
        if not status.done:
            self._set_index_status(
                f"Indexing the {status.spec.description}: {status.count}/{status.total} items…"
            )
            self._step_index()
            return
        self._index_state = "ready"
        self._set_index_status(f"Nearest of {status.total} items in the {status.spec.description}.")
        if not status.from_cache:
            self.message.emit(f"Indexed {status.total} items of the {status.spec.description} for discovery.")
        wanted, self._discover_wanted = self._discover_wanted, None
        if wanted is not None:
            self._discover(wanted)

    def _set_index_status(self, text: str) -> None:
        self.discovery_panel.set_status(text)
        self.indexStatus.emit(text)

    def _on_matches(self, result: Result) -> None:
        if self._stopped or result.cancelled:
            return
        if not result.ok:
            self._set_index_status(f"Could not search the catalog: {result.error}.")
            return
        if result.value is None:  # the index changed meanwhile
            return
        self.discovery_panel.set_matches(result.value)
        self.matchesShown.emit(len(result.value))

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
