"""The Train workspace: train the app's models in a child process and follow the run live.

Start runs ``gan-studio train KIND …`` as a separate process (:mod:`gan_studio.runtime.train_process`), so the
window stays responsive and a crash there cannot take the app down. A timer polls the process and the run folder
every ``poll_ms``: new ``log.jsonl`` records extend the curves and the progress bar, a new sample grid replaces the
old one, and the process's output fills the log below. Pause stops the process (SIGSTOP) and Resume continues it;
Cancel interrupts it and the run folder keeps its state, so **Resume training** later continues from there. A
finished run's model joins the Trained models list, and **Use in Generate** makes a ReStGAN the Generate workspace's
model.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gan_studio.qt.message_line import MessageLine
from gan_studio.qt.train_form import TrainForm
from gan_studio.qt.train_views import RunCurves, SampleGridView
from gan_studio.qt.trained_models import GENERATE_KINDS, TrainedModelList
from gan_studio.runtime.progress import format_duration
from gan_studio.runtime.train_log import (
    LogTailer,
    ProgressClock,
    RunHistory,
    curve_values,
    newest_sample,
    sample_caption,
)
from gan_studio.runtime.train_process import (
    PAUSE_SUPPORTED,
    PAUSE_UNSUPPORTED_REASON,
    TrainProcess,
    failure_sentence,
)
from gan_studio.train.settings import (
    KIND_TITLES,
    TrainedModel,
    TrainSettings,
    can_resume,
    child_environment,
    find_trained_models,
    launch_command,
    planned_steps,
    save_settings,
    train_arguments,
)
from gan_studio.train.settings import problem as settings_problem

HINT = "Choose a model and its data, then Start training; the curves and samples follow the run."


class TrainWorkspace(QWidget):
    """Settings form, Start / Pause / Cancel, progress, Trained models; curves, sample grid and process output.

    ``runs_dir`` is where new run folders go (default: the user data folder, see
    :func:`~gan_studio.train.settings.default_runs_dir`); ``tiny`` selects the commands' tiny configs
    (tests); ``launcher(arguments) -> argv`` builds the child's command line (default: this Python or the frozen
    app, :func:`~gan_studio.train.settings.launch_command`).

    Signals (GUI thread): ``started(folder)``; ``recordsArrived(n)`` with the number of records so far;
    ``sampleShown(path)``; ``paused(bool)``; ``trainingFinished(state)`` with "finished", "failed" or
    "cancelled"; ``modelTrained(path)``; ``useInGenerate(path)``; ``problem(sentence)`` for what the status line
    shows as an error; ``message(text)`` / ``warning(text)`` for the log.
    """

    started = Signal(str)
    recordsArrived = Signal(int)
    sampleShown = Signal(str)
    paused = Signal(bool)
    trainingFinished = Signal(str)
    modelTrained = Signal(str)
    useInGenerate = Signal(str)
    problem = Signal(str)
    message = Signal(str)
    warning = Signal(str)

    def __init__(
        self, *, runs_dir: str | Path | None = None, tiny: bool = False, poll_ms: int = 500, launcher=None,
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("train_workspace")
        self.launcher = launcher or launch_command
        self.process: TrainProcess | None = None
        self.run_settings: TrainSettings | None = None
        self.history: RunHistory | None = None
        self.tailer: LogTailer | None = None
        self.clock = ProgressClock()
        self.last_problem: str | None = None
        self._sample_key: tuple[str, float] | None = None
        self._stopped = False
        self._build(runs_dir, tiny)
        self._timer = QTimer(self, interval=int(poll_ms))
        self._timer.timeout.connect(self.poll)
        for model in find_trained_models(self.form.runs_dir):
            self.add_trained_model(model, select=False)
        self.status_label.say(HINT)
        self._update_actions()

    # ------------------------------------------------------------------------------------------------ building

    def _action(self, text: str, tip: str, shortcut: str, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)  # only while this workspace is shown
        action.setToolTip(
            f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
        )
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _button(self, action: QAction, name: str) -> QPushButton:
        button = QPushButton(action.text(), objectName=name)
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        action.changed.connect(lambda: (button.setText(action.text()), button.setEnabled(action.isEnabled()),
                                        button.setToolTip(action.toolTip())))  # fmt: skip
        return button

    def _build(self, runs_dir, tiny: bool) -> None:
        self.form = TrainForm(runs_dir, tiny)
        self.form.changed.connect(self._update_actions)
        self.start_action = self._action(
            "Start training", "Start the run", "Ctrl+Return", lambda: self.start()
        )
        self.pause_action = self._action("Pause", "Pause the run", "Ctrl+P", self.toggle_pause)
        self.cancel_action = self._action(
            "Cancel", "Stop the run; its folder keeps the state to resume from", "Ctrl+.", self.cancel
        )
        self.start_button = self._button(self.start_action, "train_start")
        self.pause_button = self._button(self.pause_action, "train_pause")
        self.cancel_button = self._button(self.cancel_action, "train_cancel")
        buttons = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.cancel_button):
            buttons.addWidget(b)
        self.progress_bar = QProgressBar(objectName="train_progress", maximum=1000, value=0)
        self.progress_bar.setFormat("")
        self.status_label = MessageLine("train_status")
        self.status_label.forward_problems(self.problem, self.warning)

        self.models = TrainedModelList()
        self.models.useInGenerate.connect(self.useInGenerate)
        self.models.missing.connect(self._refuse)
        self.use_button = self.models.use_button

        panel = QWidget()
        left = QVBoxLayout(panel)
        left.setContentsMargins(0, 0, 4, 0)
        left.addWidget(QLabel("<b>Train a model</b>"))
        left.addWidget(self.form)
        left.addLayout(buttons)
        left.addWidget(self.progress_bar)
        left.addWidget(self.status_label)
        left.addSpacing(8)
        left.addWidget(self.models, 1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(panel)
        # Narrower than the form in a small window (it then scrolls), so the window still fits a small screen.
        scroll.setMinimumWidth(min(260, panel.minimumSizeHint().width() + 16))
        scroll.setMaximumWidth(440)

        self.curves = RunCurves()
        self.samples = SampleGridView()
        self.output = QPlainTextEdit(objectName="train_output", readOnly=True)
        self.output.setMaximumBlockCount(2000)
        self.output.setPlaceholderText("The training process's output appears here.")
        self.views = QSplitter(Qt.Orientation.Horizontal)
        self.views.addWidget(self.curves)
        self.views.addWidget(self.samples)
        self.views.setSizes([500, 400])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.views)
        right.addWidget(self.output)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([380, 900])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.splitter)

    # ------------------------------------------------------------------------------------------------ state

    def is_running(self) -> bool:
        """A child process is running, paused or stopping."""
        return self.process is not None and self.process.active

    @property
    def state(self) -> str:
        return "idle" if self.process is None else self.process.state

    def _update_actions(self) -> None:
        running = self.is_running()
        state = self.state
        self.form.set_enabled_for_run(running)
        self.start_action.setEnabled(not running)
        if not running:
            resume = can_resume(self.form.settings()) if self.form.out_edit.text().strip() else False
            self.start_action.setText("Resume training" if resume else "Start training")
        self.pause_action.setEnabled(PAUSE_SUPPORTED and state in ("running", "paused"))
        self.pause_action.setText("Resume" if state == "paused" else "Pause")
        self.pause_action.setToolTip(
            PAUSE_UNSUPPORTED_REASON if not PAUSE_SUPPORTED else
            ("Continue the paused run (Ctrl+P)" if state == "paused" else "Pause the run (Ctrl+P)")
        )  # fmt: skip
        self.cancel_action.setEnabled(state in ("running", "paused"))

    def _refuse(self, sentence: str) -> None:
        self.last_problem = sentence
        self.status_label.show_problem(sentence)

    # ------------------------------------------------------------------------------------------------ running

    def start(self, settings: TrainSettings | None = None) -> bool:
        """Start (or resume) the run the form describes; returns whether a process started. Bad settings are
        refused with one sentence before anything starts."""
        if self.is_running() or self._stopped:
            return False
        if settings is not None:
            self.form.set_settings(settings)
        s = self.form.settings()
        why = settings_problem(s)
        if why:
            self._refuse(why)
            return False
        resumed = can_resume(s)
        try:
            save_settings(s)
            totals = planned_steps(s)
            process = TrainProcess(self.launcher(train_arguments(s)), env=child_environment(s))
            process.start()
        except (OSError, ValueError) as exc:
            self._refuse(f"The training process could not start: {str(exc).rstrip('.')}.")
            return False
        self.process, self.run_settings, self.last_problem = process, s, None
        self.history = RunHistory(totals)
        self.tailer = LogTailer(s.log_path)
        self.clock.reset()
        self._sample_key = None
        self.curves.clear()
        self.curves.set_stage_ends([sum(totals[: i + 1]) for i in range(len(totals) - 1)])
        self.samples.set_placeholder(
            "Sample grids appear here as the run writes them."
            if s.kind != "classifier"
            else "The classifier writes no sample grids; its curves are on the left."
        )
        self.output.clear()
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("starting…")
        what = KIND_TITLES[s.kind]
        self.status_label.say(f"{'Resuming' if resumed else 'Starting'} {what} in {s.out}…")
        self.message.emit(f"{'Resumed' if resumed else 'Started'} training {what} in {s.out}.")
        self._timer.start()
        self._update_actions()
        self.started.emit(str(s.out))
        return True

    def toggle_pause(self) -> None:
        if self.state == "paused":
            self.resume()
        else:
            self.pause()

    def pause(self) -> bool:
        if self.process is None or not self.process.pause():
            return False
        self.clock.pause()
        self.progress_bar.setFormat(self._progress_text(paused=True))
        self.status_label.say("Paused: the training process is stopped where it was; Resume continues it.")
        self._update_actions()
        self.paused.emit(True)
        return True

    def resume(self) -> bool:
        if self.process is None or not self.process.resume():
            return False
        self.clock.resume()
        self.status_label.say("Training…")
        self._update_actions()
        self.paused.emit(False)
        return True

    def cancel(self) -> None:
        """Stop the run (an interrupt, then harder after a grace period); the run folder keeps its state."""
        if not self.is_running() or self.state == "stopping":
            return
        self.process.cancel()
        self.status_label.say("Stopping the run; its folder keeps the state to resume from…")
        self._update_actions()

    def poll(self) -> None:
        """Read what the run produced since the last poll; finish up when the process has ended."""
        process = self.process
        if process is None:
            return
        code = process.poll()
        self._read_output(process.read_output())
        self._read_log()
        self._read_samples()
        if code is not None:
            self._timer.stop()
            self._read_output(process.read_output())
            self._finished(process)

    def _read_output(self, lines: list[str]) -> None:
        if not lines:
            return
        self.output.appendPlainText("\n".join(lines))
        if self.history is not None and not self.history.records and self.state == "running":
            self.status_label.say(lines[-1][:200])  # preparing data: the command's own progress line

    def _read_log(self) -> None:
        if self.tailer is None or self.history is None:
            return
        kept = self.history.add(self.tailer.read_new())
        if not kept:
            return
        for position, record in kept:
            self.curves.append(position, curve_values(record))
        if self.state == "running":
            self.clock.observe(self.history.done)
            self.status_label.say(self._step_text())
        self.progress_bar.setValue(round(self.history.fraction * 1000))
        self.progress_bar.setFormat(self._progress_text())
        self.recordsArrived.emit(len(self.history.records))

    def _step_text(self) -> str:
        h = self.history
        last = h.records[-1]
        where = f"step {last['step']}/{h.totals[h.stage - 1]}"
        if len(h.totals) > 1:
            where = f"stage {'I' * h.stage} {where}"
        return f"Training: {where}."

    def _progress_text(self, paused: bool = False) -> str:
        h = self.history
        if h is None:
            return ""
        text = f"{h.done}/{h.total} steps"
        if paused:
            return f"{text} · paused"
        eta = self.clock.eta_seconds(h.done, h.total)
        return f"{text} · ETA {format_duration(eta)}" if eta is not None else text

    def _read_samples(self) -> None:
        if self.run_settings is None:
            return
        path = newest_sample(self.run_settings.folder)
        if path is None:
            return
        try:
            key = (path.name, path.stat().st_mtime)
        except OSError:
            return
        if key != self._sample_key and self.samples.show_file(path, sample_caption(path)):
            self._sample_key = key
            self.sampleShown.emit(str(path))

    def _finished(self, process: TrainProcess) -> None:
        s = self.run_settings
        assert s is not None
        elapsed = format_duration((process.ended_at or time.monotonic()) - (process.started_at or 0.0))
        state = process.state
        if state == "finished" and not s.weights_path.is_file():
            state = "failed"  # exited cleanly but wrote no model: treat as a failure, say so
            sentence = f"Training failed: the run ended without writing {s.weights_path.name}."
        else:
            sentence = ""
        if state == "finished":
            self.progress_bar.setValue(1000)
            self.progress_bar.setFormat("done")
            model = TrainedModel(s.kind, s.weights_path, s.weights_path.stat().st_mtime)
            self.add_trained_model(model)
            text = f"Trained {KIND_TITLES[s.kind]} in {elapsed}: {s.weights_path}."
            self.status_label.say(
                text + (" Use in Generate draws with it." if s.kind in GENERATE_KINDS else "")
            )
            self.message.emit(text)
            self.form.new_run_folder()  # the next Start begins a new run instead of re-exporting this one
            self.modelTrained.emit(str(s.weights_path))
        elif state == "cancelled":
            self.progress_bar.setFormat(self._progress_text(paused=False).split(" · ")[0] + " · cancelled")
            where = (
                f" at {self._step_text()[len('Training: ') :].rstrip('.')}" if self.history.records else ""
            )
            text = f"Cancelled{where}; Resume training continues from the run folder's last saved state."
            self.status_label.say(text)
            self.message.emit(text)
        else:
            sentence = sentence or failure_sentence(process.tail(40), process.returncode)
            self.progress_bar.setFormat("failed")
            self._refuse(sentence)
        self._update_actions()
        self.trainingFinished.emit(state)

    # ------------------------------------------------------------------------------------------------ models

    def add_trained_model(self, model: TrainedModel, select: bool = True) -> None:
        """List ``model`` under Trained models (a ReStGAN also becomes a generator the inversion can learn)."""
        self.models.add(model, select)
        if model.kind == "restgan":
            self.form.add_generator(model.path, f"{model.path.parent.name} (ReStGAN)")

    def trained_models(self) -> list[TrainedModel]:
        return self.models.models()

    # ------------------------------------------------------------------------------------------------ lifecycle

    def confirm_close(self, parent: QWidget | None, ask: bool = True) -> bool:
        """Whether the app may close now; while a run goes, ``ask`` asks first (the run stops either way)."""
        if not self.is_running() or not ask:
            return True
        answer = QMessageBox.question(
            parent or self,
            "GAN Studio",
            "A training run is still going. Stop it and quit? Its folder keeps the state, and Resume training "
            "continues it later.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling and end the child process (waiting for it): the window is closing."""
        self._stopped = True
        self._timer.stop()
        if self.process is not None and self.process.active:
            self.process.stop(timeout)

    def save_settings(self, settings) -> None:
        s = self.form.settings()
        settings.setValue("train/kind", s.kind)
        settings.setValue("train/seed", s.seed)
        settings.setValue("train/threads", s.threads or 0)
        settings.setValue("train/splitter", self.splitter.saveState())

    def restore_settings(self, settings) -> None:
        kind = settings.value("train/kind")
        index = self.form.kind_combo.findData(kind)
        if index >= 0:
            self.form.kind_combo.setCurrentIndex(index)
        for key, spin in (("train/seed", self.form.seed_spin), ("train/threads", self.form.threads_spin)):
            try:
                spin.setValue(int(settings.value(key, spin.value())))
            except (TypeError, ValueError):
                pass
        state = settings.value("train/splitter")
        if state is not None:
            self.splitter.restoreState(state)
