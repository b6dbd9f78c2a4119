"""What the Explore workspace shows, without its behaviour: the source row, the lasso canvas and its tools, the
waypoint image and plot, the settings panel (what to hold fixed and vary, method, steps), and the path's playback.

:class:`ExploreView` builds and lays out the widgets; the lasso tools act on the canvas directly, and
:class:`~gan_studio.qt.explore_workspace.ExploreWorkspace` (its subclass) connects the rest to the jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
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

from gan_studio.methods.reds import MAX_STEP_SIZE, MAX_STEPS, METHODS, TraversalSettings
from gan_studio.qt.filmstrip import Filmstrip
from gan_studio.qt.image_view import ImageView
from gan_studio.qt.imageutil import to_qpixmap
from gan_studio.qt.lasso_canvas import LassoCanvas
from gan_studio.qt.message_line import MessageLine
from gan_studio.qt.traversal_plot import TraversalPlot

MAX_SEED = 2**31 - 1
FEATURE_CHOICES = (
    "lasso", "rest", "low:4", "high:2", "attr:length", "attr:fit", "attr:color", "color:lasso", "color:garment",
)  # fmt: skip
DEFAULT_FIXED = ("lasso",)
DEFAULT_VARY = ("rest",)


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


class ExploreView(QWidget):
    """The Explore workspace's widgets: ``title_edit``, ``seed_spin``, ``show_button``, ``canvas`` with the lasso
    actions, ``message_label``, ``frame_view``, ``plot``, ``fixed_list`` / ``vary_list``, the traversal settings,
    ``run_button`` / ``cancel_button`` / ``progress_bar``, the send and export buttons, and the playback
    (``play_button``, ``slider``, ``frame_label``, ``filmstrip``)."""

    def __init__(self, title: str, seed: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explore_workspace")
        self.message_label = MessageLine("explore_message")
        self.title_edit = QLineEdit(title)
        self.title_edit.setObjectName("explore_title")
        self.title_edit.setPlaceholderText("A product title, e.g. women's navy slim jeans")
        self.seed_spin = QSpinBox(objectName="explore_seed", prefix="seed ", minimumWidth=90)
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setValue(int(seed) % (MAX_SEED + 1))
        self.show_button = show = QPushButton("Show")
        show.setToolTip("Draw the garment of this title and seed to explore (Enter in the title box)")
        source_row = QHBoxLayout()
        for w, stretch in ((QLabel("Title"), 0), (self.title_edit, 1), (self.seed_spin, 0), (show, 0)):
            source_row.addWidget(w, stretch)

        self.canvas = LassoCanvas()
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

        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Play the path's waypoints one after another")
        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="waypoint_slider")
        self.slider.setRange(0, 0)
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
        self.backwards = QCheckBox("Backwards")
        self.backwards.setToolTip("Walk the path the other way along the direction")
        self.exact_check = QCheckBox("Exact Jacobian", objectName="explore_exact")
        self.exact_check.setToolTip(
            "Recompute the full Jacobian at every waypoint (slower). Off: refresh it every few waypoints "
            "and update it along each step"
        )
        form = QFormLayout()
        form.addRow("Method", self.method_combo)
        form.addRow("Direction", self.direction_spin)
        form.addRow("Step size", self.step_spin)
        form.addRow("Waypoints", self.steps_spin)
        checks = QHBoxLayout()  # one row for both, so Run stays above the fold of a 820 px window
        checks.addWidget(self.backwards)
        checks.addWidget(self.exact_check)
        checks.addStretch(1)
        form.addRow(checks)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("explore_run")
        self.cancel_button = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.send_generate = QPushButton("Send to Generate")
        self.send_dataset = QPushButton("Send to Dataset")
        self.export_frames_button = QPushButton("Export frames…")
        self.export_gif_button = QPushButton("Export GIF…")
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
