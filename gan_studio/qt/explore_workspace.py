"""The Explore workspace: lasso a region of a garment and walk the latent space so that it stays while the rest moves.

The image comes from a title and seed through the text-to-image model (or from Generate, :meth:`set_source`). The
user draws the region on the canvas, checks what to hold fixed and what to vary (feature specs of
:mod:`gan_studio.methods.features`), picks a method (REDS or a linear baseline) and runs. The traversal runs on the
device worker (:func:`run_traversal`, Qt-free); each waypoint comes back as plain numpy data through a queued signal
while the path is still being walked, into the filmstrip and the plot. Cancel stops within one waypoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gan_studio.methods.reds import MAX_STEP_SIZE, MAX_STEPS, METHODS, TraversalError, TraversalSettings
from gan_studio.methods.title_jobs import ModelUnavailable
from gan_studio.methods.traversal_jobs import (
    Frame,
    Problem,
    SentFrame,
    SourceImage,
    TraversalOutcome,
    TraversalRequest,
    draw_source,
    run_traversal,
    sentence,
    write_frames,
    write_gif,
)
from gan_studio.qt.filmstrip import Filmstrip
from gan_studio.qt.image_view import ImageView
from gan_studio.qt.imageutil import to_qpixmap
from gan_studio.qt.job_client import JobClient
from gan_studio.qt.lasso_canvas import LassoCanvas
from gan_studio.qt.message_line import MessageLine
from gan_studio.qt.traversal_plot import TraversalPlot
from gan_studio.runtime.jobs import JobContext, Result

TRAVERSAL_KIND = "explore.traversal"
SOURCE_KIND = "explore.source"
EXPORT_FRAMES_KIND = "explore.export.frames"
EXPORT_GIF_KIND = "explore.export.gif"
DEFAULT_TITLE = "women's navy slim jeans"
MAX_SEED = 2**31 - 1
FEATURE_CHOICES = (
    "lasso", "rest", "low:4", "high:2", "attr:length", "attr:fit", "attr:color", "color:lasso", "color:garment",
)  # fmt: skip
DEFAULT_FIXED = ("lasso",)
DEFAULT_VARY = ("rest",)
PLAY_MS = 150


# ------------------------------------------------------------------------------------------------------ widgets


class FrameRelay(QObject):
    """Carries frames from the worker thread to the GUI thread: ``frameArrived(request_id, frame)``."""

    frameArrived = Signal(int, object)
    _from_worker = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._from_worker.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def send(self, request_id: int, frame: Frame) -> None:
        """Safe from any thread; delivered on the relay's thread, in order, before the job's result."""
        self._from_worker.emit(request_id, frame)

    @Slot(int, object)
    def _deliver(self, request_id: int, frame: object) -> None:
        self.frameArrived.emit(request_id, frame)


class WaypointStrip(Filmstrip):
    """The filmstrip with one thumbnail per waypoint, appended as they arrive."""

    def __init__(self, thumb: int = 64, parent: QWidget | None = None) -> None:
        super().__init__(thumb, parent)
        self.setObjectName("waypoint_strip")
        line = self.fontMetrics().lineSpacing()
        self.setGridSize(QSize(thumb + 14, thumb + line + 8))
        self.setFixedHeight(thumb + line + 12 + self.horizontalScrollBar().sizeHint().height())
        self.setToolTip("The image at each waypoint of the path; click one to look at it")

    def append_frame(self, text: str, image: np.ndarray) -> None:
        item = QListWidgetItem(to_qpixmap(image), text)
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.addItem(item)
        self.scrollToItem(item)


class SpecList(QWidget):
    """Checkable feature specs, with a box to add one (``box:0.2,0.5,0.8,1``)."""

    def __init__(self, name: str, checked: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName(f"{name}_specs")
        self.list.setMinimumHeight(80)
        self.list.setMaximumHeight(130)
        self.edit = QLineEdit()
        self.edit.setObjectName(f"{name}_spec_edit")
        self.edit.setPlaceholderText("add: box:x0,y0,x1,y1, low:8, mask:PATH…")
        self.edit.returnPressed.connect(lambda: self.add_spec(self.edit.text()) and self.edit.clear())
        for spec in FEATURE_CHOICES:
            self.add_spec(spec, spec in checked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.list)
        layout.addWidget(self.edit)

    def add_spec(self, spec: str, checked: bool = True) -> bool:
        spec = spec.strip()
        if not spec:
            return False
        found = self.list.findItems(spec, Qt.MatchFlag.MatchExactly)
        item = found[0] if found else QListWidgetItem(spec, self.list)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        return True

    def specs(self) -> tuple[str, ...]:
        items = (self.list.item(i) for i in range(self.list.count()))
        return tuple(it.text() for it in items if it.checkState() == Qt.CheckState.Checked)

    def set_specs(self, specs: Sequence[str]) -> None:
        for i in range(self.list.count()):
            self.list.item(i).setCheckState(Qt.CheckState.Unchecked)
        for spec in specs:
            self.add_spec(spec, True)


def uses_lasso(specs: Sequence[str]) -> bool:
    return any(s.strip() == "lasso" or s.strip().endswith(":lasso") for s in specs)


# --------------------------------------------------------------------------------------------------- workspace


class ExploreWorkspace(QWidget):
    """Canvas with lasso tools, feature lists, method and step settings, Run/Cancel, the path and its plot.

    ``model_path`` / ``generator`` choose the model as in the Generate workspace. Signals (GUI thread):
    ``sourceShown(SourceImage)``; ``frameArrived(index)`` once a waypoint is in the filmstrip and the plot;
    ``traversalFinished(state)`` with "done", "cancelled" or "failed"; ``sendToGenerate(SentFrame)``,
    ``sendToDataset(SentFrame)``; ``exported(paths)`` after an export (an empty list when it failed);
    ``problem(sentence)`` for any message the label shows as an error;
    ``message(text)`` / ``warning(text)`` for the log.
    """

    sourceShown = Signal(object)
    frameArrived = Signal(int)
    traversalFinished = Signal(str)
    sendToGenerate = Signal(object)
    sendToDataset = Signal(object)
    problem = Signal(str)
    exported = Signal(object)
    message = Signal(str)
    warning = Signal(str)

    def __init__(
        self, bridge, *, model_path=None, generator=None, title: str = DEFAULT_TITLE, seed: int = 0,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("explore_workspace")
        self.jobs = JobClient(bridge, self)
        self.model_path = model_path
        self.generator = generator
        self.relay = FrameRelay(self)
        self.relay.frameArrived.connect(self._on_frame)
        self.source: SourceImage | None = None
        self.frames: list[Frame] = []
        self.outcome: TraversalOutcome | None = None
        self._request: TraversalRequest | None = None
        self._run_id: int | None = None
        self._source_id: int | None = None
        self._started = self._stopped = False
        self._build(title, seed)
        self._update_actions()

    # ------------------------------------------------------------------------------------------------ building

    def _build(self, title: str, seed: int) -> None:
        self.message_label = MessageLine("explore_message")
        self.message_label.forward_problems(self.problem, self.warning)
        self.title_edit = QLineEdit(title)
        self.title_edit.setObjectName("explore_title")
        self.title_edit.setPlaceholderText("A product title, e.g. women's navy slim jeans")
        self.title_edit.returnPressed.connect(self.load_source)
        self.seed_spin = QSpinBox(objectName="explore_seed", prefix="seed ", minimumWidth=90)
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setValue(int(seed) % (MAX_SEED + 1))
        self.seed_spin.valueChanged.connect(lambda _v: self.load_source())
        show = QPushButton("Show")
        show.setToolTip("Draw the garment of this title and seed to explore (Enter in the title box)")
        show.clicked.connect(self.load_source)
        source_row = QHBoxLayout()
        for w, stretch in ((QLabel("Title"), 0), (self.title_edit, 1), (self.seed_spin, 0), (show, 0)):
            source_row.addWidget(w, stretch)

        self.canvas = LassoCanvas()
        self.canvas.lassoChanged.connect(self._update_actions)
        self.canvas.message.connect(self.message_label.show_problem)
        self.frame_view = ImageView()
        self.frame_view.setObjectName("waypoint_image")
        self.frame_view.set_placeholder("Run a traversal to see its waypoints here.")
        self.add_mode = self._action("Add", "Lasso adds to the region", checkable=True)
        self.subtract_mode = self._action(
            "Subtract", "Lasso carves out of the region (or hold Shift)", checkable=True
        )
        self.add_mode.setChecked(True)
        self.add_mode.toggled.connect(lambda on: on and self.canvas.set_mode("add"))
        self.subtract_mode.toggled.connect(lambda on: on and self.canvas.set_mode("subtract"))
        self.add_mode.toggled.connect(lambda on: self.subtract_mode.setChecked(not on))
        self.subtract_mode.toggled.connect(lambda on: self.add_mode.setChecked(not on))
        self.clear_action = self._action("Clear", "Remove the whole lasso region", self.canvas.clear)
        self.undo_action = self._action(
            "Undo", "Undo the last lasso change (Ctrl+Z)", self.canvas.undo, "Ctrl+Z"
        )
        self.redo_action = self._action(
            "Redo", "Redo the lasso change (Ctrl+Shift+Z)", self.canvas.redo, "Ctrl+Shift+Z", "Ctrl+Y"
        )
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Lasso:"))
        for action in (
            self.add_mode,
            self.subtract_mode,
            self.clear_action,
            self.undo_action,
            self.redo_action,
        ):
            tools.addWidget(self._tool_button(action))
        hint = QLabel("Drag on the image to draw a region; Shift-drag subtracts.")
        hint.setStyleSheet("color: palette(placeholder-text);")
        hint.setMinimumWidth(1)
        tools.addWidget(hint, 1)

        self.plot = TraversalPlot()
        self.plot.setMinimumHeight(60)
        images = QSplitter(Qt.Orientation.Horizontal)
        images.addWidget(self.canvas)
        images.addWidget(self.frame_view)
        images.setChildrenCollapsible(False)
        self.view_splitter = QSplitter(Qt.Orientation.Vertical)
        self.view_splitter.addWidget(images)
        self.view_splitter.addWidget(self.plot)
        self.view_splitter.setStretchFactor(0, 3)
        self.view_splitter.setStretchFactor(1, 1)
        self.view_splitter.setSizes([380, 190])  # the images first; the plot's own size hint is large
        self.view_splitter.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.view_splitter)
        self.splitter.addWidget(self._build_panel())
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setChildrenCollapsible(False)

        self.play_timer = QTimer(self, interval=PLAY_MS)
        self.play_timer.timeout.connect(self._play_step)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play the path's waypoints one after another")
        self.play_button.toggled.connect(self.set_playing)
        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="waypoint_slider")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.show_frame)
        self.frame_label = QLabel("")
        self.frame_label.setObjectName("waypoint_label")
        self.frame_label.setMinimumWidth(1)
        playback = QHBoxLayout()
        playback.addWidget(self.play_button)
        playback.addWidget(self.slider, 1)
        playback.addWidget(self.frame_label, 1)
        self.filmstrip = WaypointStrip(thumb=48)
        self.filmstrip.frameActivated.connect(self.slider.setValue)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(source_row)
        layout.addLayout(tools)
        layout.addWidget(self.message_label)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(playback)
        layout.addWidget(self.filmstrip)

    def _build_panel(self) -> QWidget:
        self.fixed_list = SpecList("fixed", DEFAULT_FIXED)
        self.vary_list = SpecList("vary", DEFAULT_VARY)
        self.method_combo = QComboBox(objectName="explore_method")
        for method in METHODS:
            self.method_combo.addItem(method, method)
        self.method_combo.setToolTip(
            "reds follows the Rayleigh eigendirection; the others walk a straight line"
        )
        self.direction_spin = QSpinBox(objectName="explore_direction")
        self.direction_spin.setRange(-1, 9)
        self.direction_spin.setValue(-1)
        self.direction_spin.setSpecialValueText("auto")
        self.direction_spin.setToolTip("Which eigenvector or component to follow (auto: the best one)")
        self.step_spin = QDoubleSpinBox(objectName="explore_step", decimals=2, singleStep=0.1)
        self.step_spin.setRange(0.0, MAX_STEP_SIZE)
        self.step_spin.setValue(TraversalSettings.step_size)
        self.step_spin.setToolTip("Latent distance between waypoints")
        self.steps_spin = QSpinBox(objectName="explore_waypoints")
        self.steps_spin.setRange(1, MAX_STEPS)
        self.steps_spin.setValue(8)
        self.steps_spin.setToolTip(f"Waypoints after the start (at most {MAX_STEPS})")
        self.backwards = QCheckBox("Walk backwards")
        form = QFormLayout()
        form.addRow("Method", self.method_combo)
        form.addRow("Direction", self.direction_spin)
        form.addRow("Step size", self.step_spin)
        form.addRow("Waypoints", self.steps_spin)
        form.addRow("", self.backwards)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("explore_run")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.jobs.bridge.progress.connect(self._on_progress)
        self.send_generate = QPushButton("Send to Generate")
        self.send_generate.clicked.connect(lambda: self._send(self.sendToGenerate))
        self.send_dataset = QPushButton("Send to Dataset")
        self.send_dataset.clicked.connect(lambda: self._send(self.sendToDataset))
        self.export_frames_button = QPushButton("Export frames…")
        self.export_frames_button.clicked.connect(lambda: self.export_frames())
        self.export_gif_button = QPushButton("Export GIF…")
        self.export_gif_button.clicked.connect(lambda: self.export_gif())
        outputs = QGridLayout()
        outputs.addWidget(self.send_generate, 0, 0)
        outputs.addWidget(self.send_dataset, 0, 1)
        outputs.addWidget(self.export_frames_button, 1, 0)
        outputs.addWidget(self.export_gif_button, 1, 1)

        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(QLabel("<b>Hold fixed</b>"))
        layout.addWidget(self.fixed_list)
        layout.addWidget(QLabel("<b>Vary</b>"))
        layout.addWidget(self.vary_list)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(QLabel("<b>Path</b>"))
        layout.addLayout(outputs)
        layout.addStretch(1)
        scroll = QScrollArea()  # the panel scrolls rather than making the window taller than a small screen
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(
            panel.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
        )
        scroll.setMaximumWidth(320)
        return scroll

    def _action(self, text, tip, slot=None, *keys, checkable=False) -> QAction:
        action = QAction(text, self, checkable=checkable)
        action.setToolTip(tip)
        if keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
            # Only while focus is in this workspace: Generate has its own Ctrl+Z in the same window.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        if slot is not None:
            action.triggered.connect(lambda _checked=False: slot())
        return action

    def _tool_button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    # ------------------------------------------------------------------------------------------------ the source

    def title(self) -> str:
        return self.title_edit.text()

    def seed(self) -> int:
        return self.seed_spin.value()

    def set_source(self, title: str, seed: int) -> None:
        """Explore the garment of ``title`` and ``seed`` (e.g. sent from Generate); draws it on the worker."""
        self.title_edit.setText(title if isinstance(title, str) else "")
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(int(seed) % (MAX_SEED + 1))
        self.seed_spin.blockSignals(False)
        self.load_source()

    def load_source(self) -> int | None:
        if self._stopped:
            return None
        title, seed, path, gen = self.title(), self.seed(), self.model_path, self.generator
        self._source_id = self.jobs.submit(
            SOURCE_KIND, lambda ctx: draw_source(ctx, title, seed, path=path, generator=gen),
            self._on_source, "Drawing the garment to explore",
        )  # fmt: skip
        return self._source_id

    def _on_source(self, result: Result) -> None:
        if self._stopped or result.request_id != self._source_id or result.cancelled:
            return
        if not result.ok:
            self.message_label.show_problem(f"The garment could not be drawn: {result.error}.")
        elif isinstance(result.value, ModelUnavailable):
            self.canvas.set_placeholder(result.value.message)
            self.message_label.show_problem(result.value.message)
        else:
            self.source = result.value
            self.canvas.set_image(self.source.image)
            self._update_actions()
            self.sourceShown.emit(self.source)

    # ------------------------------------------------------------------------------------------------ running

    def settings(self) -> TraversalSettings:
        direction = self.direction_spin.value()
        return TraversalSettings(
            method=self.method_combo.currentData(), steps=self.steps_spin.value(),
            step_size=float(self.step_spin.value()), sign=-1 if self.backwards.isChecked() else 1,
            direction=None if direction < 0 else direction, seed=self.seed(),
        )  # fmt: skip

    def run(self) -> int | None:
        """Check the inputs and start the traversal on the worker; returns the request id (None: a message)."""
        if self._stopped:
            return None
        fixed, vary = self.fixed_list.specs(), self.vary_list.specs()
        problem = None
        if self.step_spin.value() <= 0:
            problem = (
                "The step size must be above zero: it is how far each waypoint moves in the latent space."
            )
        elif not fixed:
            problem = "Check at least one feature to hold fixed."
        elif not vary:
            problem = "Check at least one feature to vary."
        elif uses_lasso(fixed + vary) and (self.canvas.mask() is None or not self.canvas.mask().any()):
            problem = "Draw a lasso on the image first: drag around the part to hold fixed."
        if problem is None:
            try:
                settings = self.settings().check()
            except TraversalError as exc:
                problem = sentence(exc)
        if problem is not None:
            self.message_label.show_problem(problem)
            return None
        if self.source is None or (self.source.title, self.source.seed) != (self.title(), self.seed()):
            self.load_source()
        polygons = tuple((op.mode, op.polygon.points) for op in self.canvas.lasso.operations)
        request = TraversalRequest(self.title(), self.seed(), fixed, vary, settings, polygons)
        self._reset_path()
        self._request = request
        relay, path, gen = self.relay, self.model_path, self.generator

        def job(ctx: JobContext):
            rid = ctx.request.id
            return run_traversal(ctx, request, lambda f: relay.send(rid, f), path=path, generator=gen)

        self._run_id = self.jobs.submit(
            TRAVERSAL_KIND, job, self._on_finished, f"Walking the {settings.method} path"
        )
        self.message_label.say(f"Walking {settings.steps} waypoints ({settings.method})…")
        self._update_actions()
        return self._run_id

    def cancel(self) -> bool:
        """Stop the running traversal (within one waypoint); the waypoints so far stay."""
        return self._run_id is not None and self.jobs.bridge.cancel(self._run_id)

    def is_running(self) -> bool:
        return self._run_id is not None

    def _reset_path(self) -> None:
        self.set_playing(False)
        self.frames = []
        self.outcome = None
        self.filmstrip.clear()
        self.plot.clear()
        self.slider.setRange(0, 0)
        self.frame_view.set_placeholder("Waiting for the first waypoint…")
        self.frame_label.setText("")
        self.progress_bar.setValue(0)

    def _on_progress(self, request_id: int, fraction: float, _message: str) -> None:
        if request_id == self._run_id:
            self.progress_bar.setValue(round(fraction * 1000))

    def _on_frame(self, request_id: int, frame: Frame) -> None:
        if not self._stopped and request_id == self._run_id:
            self._add_frame(frame)

    def _add_frame(self, frame: Frame) -> None:
        following = not self.frames or self.slider.value() == len(self.frames) - 1
        self.frames.append(frame)
        self.filmstrip.append_frame(str(frame.index), frame.image)
        self.plot.append(frame.index, frame.fixed_total, frame.varied_total)
        self.slider.setRange(0, len(self.frames) - 1)
        if following:
            self.slider.setValue(len(self.frames) - 1)
        self.show_frame(self.slider.value())
        self.frameArrived.emit(frame.index)

    def _on_finished(self, result: Result) -> None:
        if self._stopped or result.request_id != self._run_id:
            return
        self._run_id = None
        state = "failed"
        value = result.value
        if result.cancelled:
            state = "cancelled"
            self.message_label.say(f"Cancelled after {max(len(self.frames) - 1, 0)} waypoints.")
        elif not result.ok:
            self.message_label.show_problem(f"The traversal failed: {result.error}.")
        elif isinstance(value, (ModelUnavailable, Problem)):
            self.message_label.show_problem(value.message)
        else:
            self.outcome = value
            if [f.index for f in self.frames] != [f.index for f in value.frames]:
                self._reset_path()  # a frame went missing on the way: show the whole path from the result
                for frame in value.frames:
                    self._add_frame(frame)
            self.progress_bar.setValue(1000)
            last = value.frames[-1]
            self.message_label.say(
                f"{len(value.frames) - 1} waypoints in {value.seconds:.1f} s: fixed features changed "
                f"{last.fixed_total:.3g}, varied {last.varied_total:.3g}."
            )
            state = "done"
        self._update_actions()
        self.traversalFinished.emit(state)

    # ------------------------------------------------------------------------------------------------ the path

    def show_frame(self, k: int) -> None:
        if not (0 <= k < len(self.frames)):
            return
        frame = self.frames[k]
        self.frame_view.set_image(frame.image)
        self.filmstrip.setCurrentRow(k)
        self.plot.set_current(frame.index)
        total = self._request.settings.steps if self._request is not None else len(self.frames) - 1
        self.frame_label.setText(
            f"Waypoint {frame.index}/{total} · fixed {frame.fixed_total:.3g}"
            f" · varied {frame.varied_total:.3g}"
        )
        self._update_actions()

    def current_frame(self) -> Frame | None:
        k = self.slider.value()
        return self.frames[k] if 0 <= k < len(self.frames) else None

    def set_playing(self, on: bool) -> None:
        if on and len(self.frames) < 2:
            on = False
        if on and self.slider.value() >= len(self.frames) - 1:
            self.slider.setValue(0)
        if on:
            self.play_timer.start()
        else:
            self.play_timer.stop()
        self.play_button.blockSignals(True)
        self.play_button.setChecked(on)
        self.play_button.setText("Pause" if on else "Play")
        self.play_button.blockSignals(False)

    def _play_step(self) -> None:
        k = self.slider.value() + 1
        if k >= len(self.frames):
            self.set_playing(False)
        else:
            self.slider.setValue(k)

    def _send(self, signal) -> SentFrame | None:
        frame, request = self.current_frame(), self._request
        if frame is None or request is None:
            return None
        sent = SentFrame(request.title, request.seed, frame.index, frame.image, frame.latent)
        signal.emit(sent)
        return sent

    # ------------------------------------------------------------------------------------------------ exporting

    def _stem(self) -> str:
        method = self._request.settings.method if self._request is not None else "path"
        return f"{method}-seed{self._request.seed if self._request else 0}"

    def export_frames(self, folder: str | Path | None = None, scale: int = 1) -> int | None:
        """Save every waypoint as PNG (``{method}-seed{seed}-{index:03d}.png``, all or none) on the worker;
        returns the request id (None: nothing to export or no folder chosen). ``exported(paths)`` follows."""
        if not self.frames:
            self.message_label.show_problem("There are no waypoints to export yet: run a traversal first.")
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Export frames to folder", str(Path.home()))
            if not folder:
                return None
        frames, stem = tuple(self.frames), self._stem()
        return self._export(
            EXPORT_FRAMES_KIND, lambda: write_frames(folder, frames, stem, scale),
            f"Could not export the frames to {folder}", lambda paths: f"Exported {len(paths)} frames to {folder}.",
        )  # fmt: skip

    def export_gif(
        self, path: str | Path | None = None, scale: int = 4, frame_ms: int = PLAY_MS
    ) -> int | None:
        """Save the path as a looping animated GIF, upscaled ``scale`` times (nearest), atomically, on the worker;
        returns the request id (None: nothing to export or no file chosen). ``exported([path])`` follows."""
        if not self.frames:
            self.message_label.show_problem("There are no waypoints to export yet: run a traversal first.")
            return None
        if path is None:
            suggested = str(Path.home() / f"{self._stem()}.gif")
            path, _ = QFileDialog.getSaveFileName(self, "Export GIF", suggested, "GIF animations (*.gif)")
            if not path:
                return None
        images = [f.image for f in self.frames]
        return self._export(
            EXPORT_GIF_KIND, lambda: [write_gif(path, images, scale, frame_ms)],
            f"Could not export the GIF to {path}", lambda paths: f"Exported the path as {paths[0]}.",
        )  # fmt: skip

    def _export(self, kind: str, write, failure: str, success) -> int | None:
        """Encode and write on the worker (seconds for a long path), never on the GUI thread."""
        if self._stopped:
            return None

        def job(_ctx: JobContext):
            try:
                return list(write())
            except (OSError, ValueError) as exc:
                return Problem(f"{failure}: {sentence(exc)}")

        def done(result: Result) -> None:
            if self._stopped:
                return
            value = result.value
            if result.cancelled:
                self.message_label.say("The export was cancelled.")
            elif not result.ok:
                self.message_label.show_problem(f"{failure}: {result.error}.")
            elif isinstance(value, Problem):
                self.message_label.show_problem(value.message)
            else:
                self.message.emit(success(value))
                self.message_label.say(success(value))
                self.exported.emit(value)
                return
            self.exported.emit([])

        return self.jobs.submit(kind, job, done, "Exporting the path")

    # ------------------------------------------------------------------------------------------------ state

    def _update_actions(self) -> None:
        self.undo_action.setEnabled(self.canvas.lasso.can_undo())
        self.redo_action.setEnabled(self.canvas.lasso.can_redo())
        self.clear_action.setEnabled(not self.canvas.lasso.is_empty())
        running = self._run_id is not None
        self.cancel_button.setEnabled(running)
        has = bool(self.frames)
        for w in (self.send_generate, self.send_dataset, self.export_frames_button, self.export_gif_button):
            w.setEnabled(has)
        self.play_button.setEnabled(len(self.frames) > 1)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._started and not self._stopped:
            self._started = True
            QTimer.singleShot(0, self.load_source)

    def stop(self) -> None:
        """Stop playing and ignore results still on their way (the window is closing)."""
        self.cancel()
        self._stopped = True
        self.play_timer.stop()

    def save_settings(self, s) -> None:
        s.setValue("explore/title", self.title())
        s.setValue("explore/seed", self.seed())
        s.setValue("explore/method", self.method_combo.currentData())
        s.setValue("explore/step_size", float(self.step_spin.value()))
        s.setValue("explore/waypoints", self.steps_spin.value())
        s.setValue("explore/fixed", "\n".join(self.fixed_list.specs()))
        s.setValue("explore/vary", "\n".join(self.vary_list.specs()))

    def restore_settings(self, s) -> None:
        title = s.value("explore/title")
        if isinstance(title, str):
            self.title_edit.setText(title)
        try:
            self.seed_spin.blockSignals(True)
            self.seed_spin.setValue(int(s.value("explore/seed", self.seed())))
            self.step_spin.setValue(float(s.value("explore/step_size", self.step_spin.value())))
            self.steps_spin.setValue(int(s.value("explore/waypoints", self.steps_spin.value())))
        except (TypeError, ValueError):
            pass
        finally:
            self.seed_spin.blockSignals(False)
        self.method_combo.setCurrentIndex(
            max(0, self.method_combo.findData(s.value("explore/method", "reds")))
        )
        for key, specs in (("explore/fixed", self.fixed_list), ("explore/vary", self.vary_list)):
            value = s.value(key)
            if isinstance(value, str) and value.strip():
                specs.set_specs(value.split("\n"))
