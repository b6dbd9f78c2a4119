"""What the Dataset workspace shows, without its behaviour: the import and model row, the message and warning lines,
and three columns (the labeled images, the sample browser, the fit panel), with their sizes and saved state.

:class:`DatasetView` builds and lays out the widgets; :class:`~gan_studio.qt.dataset_workspace.DatasetWorkspace`
(its subclass) connects them to the jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.qt.dataset_fit_panel import FitPanel
from gan_studio.qt.dataset_items import LabeledItemList
from gan_studio.qt.dataset_samples import SampleBrowser
from gan_studio.qt.message_line import MessageLine

MAX_WARNINGS_SHOWN = 4


class DatasetView(QWidget):
    """The Dataset workspace's widgets: the import button and actions, ``source_label``, the model buttons,
    ``message_label`` / ``warnings_label``, ``items_list`` / ``items_progress``, the sample browser's and the fit
    panel's widgets (also as attributes of their own), and ``splitter``; ``config`` gives the fit panel's
    starting values."""

    def __init__(self, config: LabelGeneratorConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataset_workspace")
        self.setAcceptDrops(True)
        self._sized = False  # the columns get their first widths when first shown (or from the settings)
        self.import_folder_action = self._action(
            "Import folder…", "Import a folder of labeled images", "Ctrl+I"
        )
        self.import_files_action = self._action(
            "Import files…", "Import labelme/COCO JSON files or images with their JSON", "Ctrl+Shift+I"
        )
        self.export_action = self._action("Export…", "Export a labeled dataset to a folder", "Ctrl+E")
        self.import_button = QToolButton(objectName="dataset_import")
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.import_button.setDefaultAction(self.import_folder_action)
        menu = QMenu(self.import_button)
        menu.addActions([self.import_folder_action, self.import_files_action])
        self.import_button.setMenu(menu)
        self.source_label = QLabel("No labeled images yet")
        self.source_label.setMinimumWidth(1)
        self.builtin_button = QPushButton("Use built-in model", objectName="dataset_builtin")
        self.builtin_button.setToolTip("Label generated images with the shipped HandsOff model")
        self.open_model_button = QPushButton("Open model…")
        self.open_model_button.setToolTip("Load a HandsOff model folder (from `gan-studio dataset fit`)")
        self.save_model_button = QPushButton("Save model…")
        self.save_model_button.setToolTip("Save the label generator as a HandsOff model folder")
        top = QHBoxLayout()
        top.addWidget(self.import_button)
        top.addWidget(self.source_label, 1)
        for w in (self.builtin_button, self.open_model_button, self.save_model_button):
            top.addWidget(w)
        self.message_label = MessageLine("dataset_message")
        self.warnings_label = MessageLine("dataset_warnings")
        self.warnings_label.hide()

        self.items_list = LabeledItemList()
        self.items_progress = QProgressBar(maximum=1000, textVisible=False, maximumHeight=8)
        self.items_progress.hide()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        header = QLabel("<b>Labeled images</b>", toolTip="Each row: the photo, its labels, its inversion")
        left_layout.addWidget(header)
        left_layout.addWidget(self.items_list, 1)
        left_layout.addWidget(self.items_progress)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self._build_samples())
        self.splitter.addWidget(self._build_panel(config))
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        # In a window too small for three columns they scroll instead of widening the window. (The splitter is
        # the scrolled widget itself: a layout with word-wrapped labels would make it as tall as its size hint.)
        outer = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        outer.setWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.message_label)
        layout.addWidget(self.warnings_label)
        layout.addWidget(outer, 1)

    def _build_samples(self) -> QWidget:
        b = self.browser = SampleBrowser()
        self.samples_spin, self.seed_spin, self.grid, self.detail = (
            b.samples_spin,
            b.seed_spin,
            b.grid,
            b.detail,
        )
        self.histogram, self.drop_spin, self.export_spin = b.histogram, b.drop_spin, b.export_spin
        self.samples_button, self.export_button = b.samples_button, b.export_button
        self.cancel_export_button, self.export_progress = b.cancel_export_button, b.export_progress
        return b

    def _build_panel(self, config: LabelGeneratorConfig) -> QWidget:
        p = self.fit_panel = FitPanel(config)
        self.ensemble_spin, self.steps_spin, self.refine_spin = p.ensemble_spin, p.steps_spin, p.refine_spin
        self.task_boxes, self.loss_plot = p.task_boxes, p.loss_plot
        self.fit_button, self.cancel_fit_button = p.fit_button, p.cancel_fit_button
        self.fit_progress, self.fit_label = p.fit_progress, p.fit_label
        return p

    def _action(self, text: str, tip: str, key: str) -> QAction:
        action = QAction(text, self)
        action.setToolTip(f"{tip} ({key})")
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # only while focus is here
        self.addAction(action)
        return action

    def show_warnings(self, warnings: Sequence[str]) -> None:
        """Show the first warnings of an import (amber) under the message line; none hides the line."""
        shown = list(warnings[:MAX_WARNINGS_SHOWN])
        if len(warnings) > MAX_WARNINGS_SHOWN:
            shown.append(f"…and {len(warnings) - MAX_WARNINGS_SHOWN} more (see the log).")
        self.warnings_label.say("\n".join(shown), "warning")
        self.warnings_label.setVisible(bool(shown))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            QTimer.singleShot(0, self._first_sizes)  # once the layout gave the splitter its width

    def _first_sizes(self) -> None:
        side = max(self.splitter.widget(0).minimumSizeHint().width(), 240)
        self.splitter.setSizes([side, max(self.splitter.width() - 2 * side, 400), side])

    def save_settings(self, s) -> None:
        """Write the spin boxes, tasks, column sizes and overlay to the QSettings ``s``."""
        for key, spin in self._spins().items():
            s.setValue(f"dataset/{key}", spin.value())
        s.setValue("dataset/tasks", ",".join(t for t, box in self.task_boxes.items() if box.isChecked()))
        s.setValue("dataset/splitter", self.splitter.saveState())
        s.setValue("dataset/overlay", self.detail.overlay)

    def restore_settings(self, s) -> None:
        """Read back what :meth:`save_settings` wrote (missing or bad values keep the current ones)."""
        for key, spin in self._spins().items():
            try:
                spin.blockSignals(True)
                spin.setValue(int(s.value(f"dataset/{key}", spin.value())))
            except (TypeError, ValueError):
                pass
            finally:
                spin.blockSignals(False)
        tasks = s.value("dataset/tasks")
        if isinstance(tasks, str) and tasks:
            for task, box in self.task_boxes.items():
                box.setChecked(task in tasks.split(","))
        overlay = s.value("dataset/overlay")
        if overlay in self.detail.overlay_buttons:
            self.detail.set_overlay(str(overlay))
            self.grid.set_overlay(self.detail.overlay)
        state = s.value("dataset/splitter")
        if state is not None:
            self._sized = self.splitter.restoreState(state)
        self.histogram.set_drop(self.drop())
        self.browser.update_drop_label()

    def _spins(self) -> dict[str, QSpinBox]:
        return {
            "ensemble": self.ensemble_spin, "steps": self.steps_spin, "refine_steps": self.refine_spin,
            "samples": self.samples_spin, "seed": self.seed_spin, "drop_percent": self.drop_spin,
            "export_n": self.export_spin,
        }  # fmt: skip
