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
from PySide6.QtCore import QMimeData, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

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
from gan_studio.qt.dataset_view import DatasetView
from gan_studio.qt.drops import DropTarget, paths_from_mime
from gan_studio.qt.job_client import JobClient
from gan_studio.qt.loss_plot import LossRelay
from gan_studio.runtime.jobs import JobContext, Result

IMPORT_KIND = "dataset.import"
INVERT_KIND = "dataset.invert"
FIT_KIND = "dataset.fit"
MODEL_KIND = "dataset.model"
SAMPLES_KIND = "dataset.samples"
LABEL_KIND = "dataset.label"
EXPORT_KIND = "dataset.export"
SAVE_KIND = "dataset.save"
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


class DatasetWorkspace(DropTarget, DatasetView):
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
        base_config = config or LabelGeneratorConfig()
        super().__init__(base_config, parent)
        self.base_config = base_config
        self.jobs = JobClient(bridge, self)
        self.setup = DatasetSetup(generator, encoder, perceptual)
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
        self._connect()
        self.message_label.say(HINT)
        self._update_actions()

    def _connect(self) -> None:
        self.message_label.forward_problems(self.problem, self.warning)
        self.import_folder_action.triggered.connect(lambda: self.import_dialog(folder=True))
        self.import_files_action.triggered.connect(lambda: self.import_dialog(folder=False))
        self.export_action.triggered.connect(lambda: self.export())
        self.builtin_button.clicked.connect(self.use_builtin)
        self.open_model_button.clicked.connect(lambda: self.open_model())
        self.save_model_button.clicked.connect(lambda: self.save_model())
        self.samples_button.clicked.connect(lambda: self.generate_samples())
        self.export_button.clicked.connect(lambda: self.export())
        self.cancel_export_button.clicked.connect(self.cancel_export)
        self._refine_timer = QTimer(self, singleShot=True, interval=400)  # typing 50 is not two inversions
        self._refine_timer.timeout.connect(self.invert)
        self.refine_spin.valueChanged.connect(lambda _v: self.imported and self._refine_timer.start())
        self.fit_button.clicked.connect(lambda: self.fit())
        self.cancel_fit_button.clicked.connect(self.cancel_fit)
        self.jobs.bridge.progress.connect(self._on_progress)

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
        for w in outcome.warnings:
            self.warning.emit(w)
        self.show_warnings(outcome.warnings)
        self.message_label.say(
            f"Imported {what}." + (f" {outcome.skipped} skipped." if outcome.skipped else "")
        )
        self.message.emit(f"Imported {what}.")
        self.invert()

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

    def accepts_drop(self, mime: QMimeData) -> bool:
        return bool(paths_from_mime(mime))

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
        folder = self._folder_for_model(
            folder,
            "Save HandsOff model to an empty folder",
            "There is no label generator to save yet: fit one first.",
        )
        if folder is None:
            return None
        key = self.model_key

        def saved(path: str) -> None:
            self.message_label.say(f"Saved the label generator to {path}.")
            self.message.emit(f"Saved the HandsOff model to {path}.")

        return self._submit(
            SAVE_KIND, lambda ctx: save_model_job(ctx, key, folder), saved, "Saving the model"
        )

    def _folder_for_model(self, folder: str | Path | None, caption: str, missing: str) -> str | None:
        """The folder for a job that needs the label generator: ``folder``, or one asked for with ``caption``;
        None when there is no label generator (after saying ``missing``) or no folder was chosen."""
        if self.model is None:
            self.message_label.show_problem(missing)
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, caption, self.last_folder)
            if not folder:
                return None
        return str(folder)

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
        folder = self._folder_for_model(
            folder, "Export dataset to an empty folder",
            "Fit a label generator or use the built-in one before exporting.",
        )  # fmt: skip
        if folder is None:
            return None
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

    def stop(self) -> None:
        """Cancel this workspace's jobs and ignore results still on their way (the window is closing)."""
        for rid in [r for r in self._ids.values() if r is not None]:
            self.jobs.bridge.cancel(rid)
        self._stopped = True
        self._refine_timer.stop()

    def save_settings(self, s) -> None:
        super().save_settings(s)
        s.setValue("dataset/last_folder", self.last_folder)

    def restore_settings(self, s) -> None:
        super().restore_settings(s)
        folder = s.value("dataset/last_folder")
        if isinstance(folder, str) and folder:
            self.last_folder = folder
