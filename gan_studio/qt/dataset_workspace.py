"""The Dataset workspace (HandsOff): a few labeled images become a label generator and a labeled synthetic dataset.

Import labeled images (a folder or files, from the menu or dropped on the workspace): each is listed beside its
labels and its inversion, with the reconstruction error. Fit the label generator (ensemble size, steps, tasks)
with a live loss plot, or use the built-in model. Browse generated samples with their predicted masks, keypoints
and depth, pick how many of the most uncertain to drop on the histogram, and export a dataset to a folder; a
cancelled export continues when exported again into the same folder.

All work runs on the device worker (:mod:`gan_studio.methods.dataset_jobs`, Qt-free); the fitted model stays
there, and only plain data comes back. Losses stream through a queued signal while the fit runs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
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

from gan_studio.methods.dataset_jobs import (
    DatasetSetup,
    ExportOutcome,
    ImportOutcome,
    InversionOutcome,
    ModelSummary,
    Sample,
    SamplesOutcome,
    export_job,
    fit_job,
    import_job,
    invert_job,
    label_latents_job,
    load_model_job,
    samples_job,
    save_model_job,
)
from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.methods.traversal_jobs import Problem
from gan_studio.qt.dataset_fit_panel import FitPanel
from gan_studio.qt.dataset_items import LabeledItemList
from gan_studio.qt.dataset_samples import SampleBrowser
from gan_studio.qt.job_client import JobClient
from gan_studio.qt.loss_plot import LossRelay
from gan_studio.qt.message_line import MessageLine
from gan_studio.runtime.jobs import JobContext, Result

IMPORT_KIND = "dataset.import"
INVERT_KIND = "dataset.invert"
FIT_KIND = "dataset.fit"
MODEL_KIND = "dataset.model"
SAMPLES_KIND = "dataset.samples"
LABEL_KIND = "dataset.label"
EXPORT_KIND = "dataset.export"
SAVE_KIND = "dataset.save"
MAX_WARNINGS_SHOWN = 4
JOB_NAMES = {
    IMPORT_KIND: "import", INVERT_KIND: "inversion", FIT_KIND: "fit", MODEL_KIND: "model loading",
    SAMPLES_KIND: "sampling", LABEL_KIND: "labeling", EXPORT_KIND: "export", SAVE_KIND: "saving",
}  # fmt: skip
CANCELLED = {
    FIT_KIND: "The fit was cancelled; the label generator from before (if any) stays.",
    EXPORT_KIND: "The export was cancelled; export again into the same folder with the same settings to continue.",
    IMPORT_KIND: "The import was cancelled.",
    INVERT_KIND: "The inversion was cancelled.",
}
HINT = (
    "Import a few labeled images (a folder or files, or drop them here) and fit a label generator, or use the "
    "built-in model."
)


def paths_from_mime(mime: QMimeData) -> list[str]:
    """The local files and folders among dropped URLs."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class DatasetWorkspace(QWidget):
    """Imported labeled images, fit settings with the loss plot, generated samples with the uncertainty
    histogram, and export.

    ``generator``, ``encoder`` and ``perceptual`` choose the models (see
    :class:`~gan_studio.methods.dataset_jobs.DatasetSetup`); ``config`` is the label generator's base settings,
    of which the workspace sets ensemble size, steps and tasks. Signals (GUI thread), states "done", "cancelled"
    or "failed": ``importFinished``, ``inversionFinished``, ``fitFinished``, ``exportFinished``;
    ``lossArrived(step)``; ``modelReady(ModelSummary)``; ``samplesShown(n)``; ``problem(sentence)`` for what the
    message line shows as an error; ``message(text)`` / ``warning(text)`` for the log.
    """

    importFinished = Signal(str)
    inversionFinished = Signal(str)
    lossArrived = Signal(int)
    fitFinished = Signal(str)
    modelReady = Signal(object)
    samplesShown = Signal(int)
    exportFinished = Signal(str)
    problem = Signal(str)
    message = Signal(str)
    warning = Signal(str)

    def __init__(
        self, bridge, *, generator=None, encoder=None, perceptual=None,
        config: LabelGeneratorConfig | None = None, parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("dataset_workspace")
        self.setAcceptDrops(True)
        self.jobs = JobClient(bridge, self)
        self.setup = DatasetSetup(generator, encoder, perceptual)
        self.base_config = config or LabelGeneratorConfig()
        self.model_key = f"dataset.handsoff:{id(self)}"
        self.relay = LossRelay(self)
        self.relay.lossArrived.connect(self._on_loss)
        self.imported: ImportOutcome | None = None
        self.inversion: InversionOutcome | None = None
        self.model: ModelSummary | None = None
        self.samples: SamplesOutcome | None = None
        self.sent: list[tuple[str, str, np.ndarray, np.ndarray]] = []  # (name, title, latent, image)
        self.last_folder = str(Path.home())
        self._ids: dict[str, int | None] = {}  # job kind -> the request this workspace waits for
        self._stopped = False
        self._sized = False  # the columns get their first widths when first shown (or from the settings)
        self._build()
        self.jobs.bridge.progress.connect(self._on_progress)
        self.message_label.say(HINT)
        self._update_actions()

    # ------------------------------------------------------------------------------------------------ building

    def _build(self) -> None:
        self.import_folder_action = self._action(
            "Import folder…", "Import a folder of labeled images", "Ctrl+I"
        )
        self.import_folder_action.triggered.connect(lambda: self.import_dialog(folder=True))
        self.import_files_action = self._action(
            "Import files…", "Import labelme/COCO JSON files or images with their JSON", "Ctrl+Shift+I"
        )
        self.import_files_action.triggered.connect(lambda: self.import_dialog(folder=False))
        self.export_action = self._action("Export…", "Export a labeled dataset to a folder", "Ctrl+E")
        self.export_action.triggered.connect(lambda: self.export())
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
        self.builtin_button.clicked.connect(self.use_builtin)
        self.open_model_button = QPushButton("Open model…")
        self.open_model_button.setToolTip("Load a HandsOff model folder (from `gan-studio dataset fit`)")
        self.open_model_button.clicked.connect(lambda: self.open_model())
        self.save_model_button = QPushButton("Save model…")
        self.save_model_button.setToolTip("Save the label generator as a HandsOff model folder")
        self.save_model_button.clicked.connect(lambda: self.save_model())
        top = QHBoxLayout()
        top.addWidget(self.import_button)
        top.addWidget(self.source_label, 1)
        for w in (self.builtin_button, self.open_model_button, self.save_model_button):
            top.addWidget(w)
        self.message_label = MessageLine("dataset_message")
        self.message_label.forward_problems(self.problem, self.warning)
        self.warnings_label = QLabel("", objectName="dataset_warnings", wordWrap=True, minimumWidth=1)
        self.warnings_label.setStyleSheet("color: #b36b00;")
        self.warnings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
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
        self.splitter.addWidget(self._build_panel())
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
        self.samples_button.clicked.connect(lambda: self.generate_samples())
        self.export_button.clicked.connect(lambda: self.export())
        self.cancel_export_button.clicked.connect(self.cancel_export)
        return b

    def _build_panel(self) -> QWidget:
        p = self.fit_panel = FitPanel(self.base_config)
        self.ensemble_spin, self.steps_spin, self.refine_spin = p.ensemble_spin, p.steps_spin, p.refine_spin
        self.task_boxes, self.loss_plot = p.task_boxes, p.loss_plot
        self.fit_button, self.cancel_fit_button = p.fit_button, p.cancel_fit_button
        self.fit_progress, self.fit_label = p.fit_progress, p.fit_label
        self._refine_timer = QTimer(self, singleShot=True, interval=400)  # typing 50 is not two inversions
        self._refine_timer.timeout.connect(self.invert)
        self.refine_spin.valueChanged.connect(lambda _v: self.imported and self._refine_timer.start())
        self.fit_button.clicked.connect(lambda: self.fit())
        self.cancel_fit_button.clicked.connect(self.cancel_fit)
        return p

    def _action(self, text: str, tip: str, key: str) -> QAction:
        action = QAction(text, self)
        action.setToolTip(f"{tip} ({key})")
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)  # only while focus is here
        self.addAction(action)
        return action

    # ------------------------------------------------------------------------------------------------ jobs

    def _submit(self, kind: str, fn, on_done, label: str, finished=None) -> int | None:
        """Submit ``fn`` as this workspace's request of ``kind``; ``on_done(value)`` gets a good result and
        ``finished`` (a signal) the state: "done", "cancelled" or "failed" (after a sentence)."""
        if self._stopped:
            return None
        done = functools.partial(self._done, kind, on_done, finished)
        self._ids[kind] = self.jobs.submit(kind, fn, done, label)
        self._update_actions()
        return self._ids[kind]

    def _done(self, kind: str, on_done, finished, result: Result) -> None:
        if self._stopped or self._ids.get(kind) != result.request_id:
            return  # replaced by a newer request of the same kind, or the window is closing
        self._ids[kind] = None
        state = "failed"
        if result.cancelled:
            state = "cancelled"
            self.message_label.say(CANCELLED.get(kind, "Cancelled."))
            self.message.emit(CANCELLED.get(kind, "Cancelled."))
        elif not result.ok:
            self.message_label.show_problem(f"The {JOB_NAMES.get(kind, kind)} failed: {result.error}.")
        elif isinstance(result.value, Problem):
            self.message_label.show_problem(result.value.message)
        else:
            on_done(result.value)
            state = "done"
        if kind == INVERT_KIND and state != "done":
            self.items_list.set_note("not inverted")
        if kind == FIT_KIND and state != "done":
            self.fit_label.setText(self.model.description + "." if self.model else "No label generator yet.")
        self._update_actions()
        if finished is not None:
            finished.emit(state)

    def is_running(self, kind: str) -> bool:
        return self._ids.get(kind) is not None

    def _on_progress(self, request_id: int, fraction: float, text: str) -> None:
        bars = {
            IMPORT_KIND: self.items_progress, INVERT_KIND: self.items_progress, FIT_KIND: self.fit_progress,
            EXPORT_KIND: self.export_progress,
        }  # fmt: skip
        for kind, bar in bars.items():
            if self._ids.get(kind) == request_id:
                bar.setValue(round(fraction * 1000))
                if kind == FIT_KIND and text:
                    self.fit_label.setText(text)

    # ------------------------------------------------------------------------------------------------ import

    def import_dialog(self, folder: bool = True) -> int | None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Import labeled images", self.last_folder)
            paths = [path] if path else []
        else:
            paths, _ = QFileDialog.getOpenFileNames(
                self, "Import labeled files", self.last_folder, "Labels (*.json *.png *.jpg *.jpeg);;All (*)"
            )
        return self.import_paths(paths) if paths else None

    def import_paths(self, paths: Sequence[str | Path]) -> int | None:
        """Import labeled images from one folder or JSON file, or several files; lists them, then inverts them."""
        paths = [str(p) for p in paths]
        if not paths:
            self.message_label.show_problem("Drop or choose a folder or files of labeled images to import.")
            return None
        self.last_folder = str(Path(paths[0]).parent if Path(paths[0]).is_file() else Path(paths[0]))
        setup, config = self.setup, self.base_config
        self.message_label.say(f"Importing {paths[0] if len(paths) == 1 else f'{len(paths)} files'}…")
        self.items_progress.show()
        return self._submit(
            IMPORT_KIND, lambda ctx: import_job(ctx, paths, setup, config), self._on_imported,
            "Importing labels", self.importFinished,
        )  # fmt: skip

    def _on_imported(self, outcome: ImportOutcome) -> None:
        self.imported, self.inversion = outcome, None
        self.items_list.set_items(outcome.items)
        what = f"{len(outcome.items)} labeled image(s) from {outcome.where}"
        self.source_label.setText(f"<b>{len(outcome.items)}</b> labeled image(s) · {outcome.format}")
        self.source_label.setToolTip(outcome.where)
        self._set_warnings(outcome.warnings)
        self.message_label.say(
            f"Imported {what}." + (f" {outcome.skipped} skipped." if outcome.skipped else "")
        )
        self.message.emit(f"Imported {what}.")
        self.invert()

    def _set_warnings(self, warnings: Sequence[str]) -> None:
        for w in warnings:
            self.warning.emit(w)
        shown = list(warnings[:MAX_WARNINGS_SHOWN])
        if len(warnings) > MAX_WARNINGS_SHOWN:
            shown.append(f"…and {len(warnings) - MAX_WARNINGS_SHOWN} more (see the log).")
        self.warnings_label.setText("\n".join(shown))
        self.warnings_label.setVisible(bool(shown))

    def invert(self) -> int | None:
        """Invert the imported images (as the fit will) and show each reconstruction beside its image."""
        if self.imported is None or not self.imported.items or self._stopped:
            return None
        items = self.imported.items
        images = np.stack([it.image for it in items])
        ids = [it.id for it in items]
        setup, steps = self.setup, self.refine_spin.value()
        self.items_list.set_note("inverting…")
        self.items_progress.show()
        return self._submit(
            INVERT_KIND, lambda ctx: invert_job(ctx, images, ids, setup, steps), self._on_inverted,
            "Inverting the labeled images", self.inversionFinished,
        )  # fmt: skip

    def _on_inverted(self, outcome: InversionOutcome) -> None:
        self.inversion = outcome
        self.items_list.set_inversion(outcome)
        self.items_progress.hide()
        mean_psnr = float(np.mean(outcome.psnr)) if len(outcome.psnr) else float("nan")
        self.message.emit(
            f"Inverted {len(outcome.ids)} labeled image(s) in {outcome.seconds:.1f} s: mean perceptual "
            f"{float(np.mean(outcome.perceptual)):.3f}, PSNR {mean_psnr:.1f} dB."
        )

    # ------------------------------------------------------------------------------------------------ drag and drop

    def handle_drop(self, mime: QMimeData) -> bool:
        """Import the dropped folder or files; returns whether the drop was taken."""
        paths = paths_from_mime(mime)
        if not paths:
            return False
        self.import_paths(paths)
        return True

    def dragEnterEvent(self, event) -> None:
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # ------------------------------------------------------------------------------------------------ fitting

    def fit_config(self) -> LabelGeneratorConfig | None:
        tasks = self.fit_panel.tasks()
        if not tasks:
            self.message_label.show_problem("Check at least one task to learn: masks, keypoints or depth.")
            return None
        return replace(
            self.base_config,
            ensemble_size=self.ensemble_spin.value(),
            steps=self.steps_spin.value(),
            tasks=tasks,
        )

    def fit(self) -> int | None:
        """Fit the label generator on the imported images; losses stream into the plot."""
        if self.imported is None or not self.imported.labeled:
            self.message_label.show_problem(
                "Import a few labeled images first: the label generator learns from them."
            )
            return None
        config = self.fit_config()
        if config is None:
            return None
        items, setup, key, relay = self.imported.labeled, self.setup, self.model_key, self.relay
        refine = self.refine_spin.value()

        def job(ctx: JobContext):
            rid = ctx.request.id
            return fit_job(
                ctx, key, items, setup, config, refine, lambda s, losses: relay.send(rid, s, losses)
            )

        self.loss_plot.clear()
        self.fit_progress.setValue(0)
        self.fit_label.setText(f"Fitting on {len(items)} labeled image(s)…")
        return self._submit(FIT_KIND, job, self._on_model, "Fitting the label generator", self.fitFinished)

    def cancel_fit(self) -> bool:
        """Stop the fit within one step; the previous label generator (if any) stays."""
        rid = self._ids.get(FIT_KIND)
        return rid is not None and self.jobs.bridge.cancel(rid)

    def _on_loss(self, request_id: int, step: int, losses: dict) -> None:
        if not self._stopped and request_id == self._ids.get(FIT_KIND):
            self.loss_plot.append(step, losses)
            self.lossArrived.emit(step)

    def use_builtin(self) -> int | None:
        """Load the shipped HandsOff model (one sentence when it is not shipped yet)."""
        key = self.model_key
        return self._submit(
            MODEL_KIND, lambda ctx: load_model_job(ctx, key), self._on_model, "Loading the built-in model"
        )

    def open_model(self, folder: str | Path | None = None) -> int | None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Open HandsOff model folder", self.last_folder)
            if not folder:
                return None
        key, folder = self.model_key, str(folder)
        return self._submit(
            MODEL_KIND,
            lambda ctx: load_model_job(ctx, key, folder),
            self._on_model,
            "Loading a HandsOff model",
        )

    def save_model(self, folder: str | Path | None = None) -> int | None:
        if self.model is None:
            self.message_label.show_problem("There is no label generator to save yet: fit one first.")
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(
                self, "Save HandsOff model to an empty folder", self.last_folder
            )
            if not folder:
                return None
        key, folder = self.model_key, str(folder)

        def saved(path: str) -> None:
            self.message_label.say(f"Saved the label generator to {path}.")
            self.message.emit(f"Saved the HandsOff model to {path}.")

        return self._submit(
            SAVE_KIND, lambda ctx: save_model_job(ctx, key, folder), saved, "Saving the model"
        )

    def _on_model(self, summary: ModelSummary) -> None:
        self.model = summary
        self.fit_progress.setValue(1000)
        self.fit_label.setText(summary.description + ".")
        psnr = summary.inversion_psnr
        text = summary.description + (f", inversion PSNR {psnr:.1f} dB" if psnr is not None else "")
        losses = ", ".join(f"{k} {v:.3f}" for k, v in summary.final_losses.items())
        self.message_label.say(f"{text}, in {summary.seconds:.1f} s.")
        self.message.emit(f"Label generator ready. {text}" + (f"; final losses {losses}." if losses else "."))
        self.modelReady.emit(summary)
        self.generate_samples()

    # ------------------------------------------------------------------------------------------------ samples

    def generate_samples(self) -> int | None:
        """Generate and label the first N export candidates of the seed (what an export of this seed holds)."""
        if self.model is None:
            self.message_label.show_problem("Fit a label generator or use the built-in one first.")
            return None
        key, setup, n, seed = self.model_key, self.setup, self.samples_spin.value(), self.seed_spin.value()
        return self._submit(
            SAMPLES_KIND,
            lambda ctx: samples_job(ctx, key, setup, n, seed),
            self._on_samples,
            "Labeling samples",
        )

    def _on_samples(self, outcome: SamplesOutcome) -> None:
        self.samples = outcome
        self.browser.set_samples(outcome.samples)
        self._label_sent()
        self.samplesShown.emit(len(outcome.samples))

    def add_frame(self, sent) -> None:
        """Add a frame sent from Explore (``SentFrame``) to the samples, labeled when there is a model."""
        name = f"waypoint {sent.index}"
        self.sent.append((name, sent.title, np.asarray(sent.latent, np.float32), np.asarray(sent.image)))
        if self.model is None:
            self.grid.add_samples([Sample(-1, name, sent.title, {"none": np.asarray(sent.image)}, None)])
            self.message.emit(
                f"Waypoint {sent.index} of “{sent.title}” is in the Dataset samples; fit a label generator or use "
                "the built-in one to see its labels."
            )
        else:
            self._label_sent()

    def _label_sent(self) -> int | None:
        if not self.sent or self.model is None:
            return None
        names, titles = [s[0] for s in self.sent], [s[1] for s in self.sent]
        latents = np.stack([s[2] for s in self.sent]) if len({s[2].shape for s in self.sent}) == 1 else None
        if latents is None:
            self.message_label.show_problem(
                "The waypoints sent from Explore have latents of different sizes."
            )
            return None
        key, setup = self.model_key, self.setup

        def labeled(samples: tuple[Sample, ...]) -> None:
            kept = [s for s in self.grid.samples() if s.index >= 0]  # the generated ones; sent ones follow
            self.grid.set_samples(kept + list(samples))
            self.grid.set_dropped(self.histogram.dropped())
            self.message.emit(f"Labeled {len(samples)} waypoint(s) sent from Explore.")
            self.samplesShown.emit(self.grid.count())

        return self._submit(
            LABEL_KIND, lambda ctx: label_latents_job(ctx, key, setup, latents, names, titles), labeled,
            "Labeling waypoints",
        )  # fmt: skip

    def drop(self) -> float:
        return self.browser.drop()

    # ------------------------------------------------------------------------------------------------ export

    def export(self, folder: str | Path | None = None) -> int | None:
        """Export N labeled items into ``folder`` (new or empty; a cancelled export there continues)."""
        if self.model is None:
            self.message_label.show_problem("Fit a label generator or use the built-in one before exporting.")
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(
                self, "Export dataset to an empty folder", self.last_folder
            )
            if not folder:
                return None
        folder = str(folder)
        key, setup, seed, drop = self.model_key, self.setup, self.seed_spin.value(), self.drop()
        n = self.export_spin.value()
        self.export_progress.setValue(0)
        self.message_label.say(f"Exporting {n} items to {folder}…")
        self.export_progress.setToolTip(f"Exporting {n} items to {folder}")
        return self._submit(
            EXPORT_KIND, lambda ctx: export_job(ctx, key, setup, folder, n, seed, drop), self._on_exported,
            "Exporting a dataset", self.exportFinished,
        )  # fmt: skip

    def cancel_export(self) -> bool:
        rid = self._ids.get(EXPORT_KIND)
        return rid is not None and self.jobs.bridge.cancel(rid)

    def _on_exported(self, outcome: ExportOutcome) -> None:
        self.export_progress.setValue(1000)
        self.export_progress.setToolTip(outcome.message)
        self.message_label.say(outcome.message)
        self.message.emit(outcome.message)

    # ------------------------------------------------------------------------------------------------ state

    def _update_actions(self) -> None:
        fitting, exporting = self.is_running(FIT_KIND), self.is_running(EXPORT_KIND)
        has_items = self.imported is not None and bool(self.imported.items)
        self.fit_button.setEnabled(has_items and not fitting)
        self.cancel_fit_button.setEnabled(fitting)
        has_model = self.model is not None
        for w in (self.export_button, self.samples_button, self.save_model_button):
            w.setEnabled(has_model and not exporting)
        self.export_action.setEnabled(has_model and not exporting)
        self.cancel_export_button.setEnabled(exporting)
        if not (self.is_running(IMPORT_KIND) or self.is_running(INVERT_KIND)):
            self.items_progress.hide()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            QTimer.singleShot(0, self._first_sizes)  # once the layout gave the splitter its width

    def _first_sizes(self) -> None:
        side = max(self.splitter.widget(0).minimumSizeHint().width(), 240)
        self.splitter.setSizes([side, max(self.splitter.width() - 2 * side, 400), side])

    def stop(self) -> None:
        """Cancel this workspace's jobs and ignore results still on their way (the window is closing)."""
        for rid in [r for r in self._ids.values() if r is not None]:
            self.jobs.bridge.cancel(rid)
        self._stopped = True
        self._refine_timer.stop()

    def save_settings(self, s) -> None:
        for key, spin in self._spins().items():
            s.setValue(f"dataset/{key}", spin.value())
        s.setValue("dataset/tasks", ",".join(t for t, box in self.task_boxes.items() if box.isChecked()))
        s.setValue("dataset/last_folder", self.last_folder)
        s.setValue("dataset/splitter", self.splitter.saveState())
        s.setValue("dataset/overlay", self.detail.overlay)

    def restore_settings(self, s) -> None:
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
        folder = s.value("dataset/last_folder")
        if isinstance(folder, str) and folder:
            self.last_folder = folder
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
