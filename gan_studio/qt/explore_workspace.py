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

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QWidget

from gan_studio.data.output_files import output_error
from gan_studio.methods.reds import TraversalError, TraversalSettings
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
from gan_studio.qt.explore_view import MAX_SEED, ExploreView
from gan_studio.qt.job_client import JobClient
from gan_studio.runtime.jobs import JobContext, Result

TRAVERSAL_KIND = "explore.traversal"
SOURCE_KIND = "explore.source"
EXPORT_FRAMES_KIND = "explore.export.frames"
EXPORT_GIF_KIND = "explore.export.gif"
DEFAULT_TITLE = "women's navy slim jeans"
PLAY_MS = 150


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


def uses_lasso(specs: Sequence[str]) -> bool:
    return any(s.strip() == "lasso" or s.strip().endswith(":lasso") for s in specs)


class ExploreWorkspace(ExploreView):
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
        super().__init__(title, seed, parent)
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
        self._connect()
        self._update_actions()

    def _connect(self) -> None:
        self.message_label.forward_problems(self.problem, self.warning)
        self.title_edit.returnPressed.connect(self.load_source)
        self.seed_spin.valueChanged.connect(lambda _v: self.load_source())
        self.show_button.clicked.connect(self.load_source)
        self.canvas.lassoChanged.connect(self._update_actions)
        self.play_timer = QTimer(self, interval=PLAY_MS)
        self.play_timer.timeout.connect(self._play_step)
        self.play_button.toggled.connect(self.set_playing)
        self.slider.valueChanged.connect(self.show_frame)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.jobs.bridge.progress.connect(self._on_progress)
        self.send_generate.clicked.connect(lambda: self._send(self.sendToGenerate))
        self.send_dataset.clicked.connect(lambda: self._send(self.sendToDataset))
        self.export_frames_button.clicked.connect(lambda: self.export_frames())
        self.export_gif_button.clicked.connect(lambda: self.export_gif())

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
            exact=self.exact_check.isChecked(),
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
            EXPORT_FRAMES_KIND, lambda: write_frames(folder, frames, stem, scale), folder,
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
            EXPORT_GIF_KIND, lambda: [write_gif(path, images, scale, frame_ms)], path,
            f"Could not export the GIF to {path}", lambda paths: f"Exported the path as {paths[0]}.",
        )  # fmt: skip

    def _export(self, kind: str, write, target, failure: str, success) -> int | None:
        """Encode and write ``target`` on the worker (seconds for a long path), never on the GUI thread; an
        ``OSError`` the writer did not word itself is worded by it (:func:`output_error`), never "[Errno 13] ..."."""
        if self._stopped:
            return None

        def job(_ctx: JobContext):
            try:
                return list(write())
            except OSError as exc:
                return Problem(f"{failure}: {sentence(output_error(exc, exc.filename or target))}")
            except ValueError as exc:
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
        s.setValue("explore/exact", self.exact_check.isChecked())
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
        self.exact_check.setChecked(str(s.value("explore/exact", False)).lower() in ("true", "1"))
        for key, specs in (("explore/fixed", self.fixed_list), ("explore/vary", self.vary_list)):
            value = s.value(key)
            if isinstance(value, str) and value.strip():
                specs.set_specs(value.split("\n"))
