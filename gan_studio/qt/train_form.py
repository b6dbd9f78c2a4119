"""The Train workspace's settings form: model kind, data, generator (inversion), run folder, steps, batch, seed,
threads. It turns into a :class:`~gan_studio.train.settings.TrainSettings` and back; it checks nothing
(:func:`~gan_studio.train.settings.problem` does)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from gan_studio.train.settings import (
    KIND_TITLES,
    KINDS,
    TrainSettings,
    default_batch,
    default_runs_dir,
    load_settings,
    next_run_folder,
    planned_steps,
)

BUILTIN_DATA = "Built-in catalog"
SHIPPED_GENERATOR = "Shipped ReStGAN"


def _spin(name: str, low: int, high: int, tip: str) -> QSpinBox:
    spin = QSpinBox(objectName=name, minimum=low, maximum=high)
    spin.setToolTip(tip)
    spin.setMinimumWidth(90)
    return spin


class TrainForm(QWidget):
    """Signals: ``changed()`` when any setting changes."""

    changed = Signal()

    def __init__(self, runs_dir: str | Path | None = None, tiny: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        self.tiny = bool(tiny)  # the commands' tiny configs (tests); not shown
        self.auto_out = True  # the run folder follows the kind until the user picks one
        self._setting = False

        self.kind_combo = QComboBox(objectName="train_kind")
        for kind in KINDS:
            self.kind_combo.addItem(KIND_TITLES[kind], kind)
        self.kind_combo.setToolTip("The model to train")
        self.data_combo = QComboBox(objectName="train_data", minimumContentsLength=12)
        self.data_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.data_combo.addItem(BUILTIN_DATA, "builtin")
        self.data_combo.setToolTip(
            "Train on the built-in catalog or on a catalog folder (images/ and titles.csv)"
        )
        self.data_button = QPushButton("Choose folder…")
        self.data_button.setToolTip("Train on your own catalog folder (images/ and titles.csv)")
        self.data_button.clicked.connect(lambda: self.choose_data())
        self.generator_combo = QComboBox(objectName="train_generator", minimumContentsLength=12)
        self.generator_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.generator_combo.addItem(SHIPPED_GENERATOR, "builtin")
        self.generator_combo.setToolTip("The ReStGAN whose images the inversion encoder learns to invert")
        self.generator_button = QPushButton("Choose…")
        self.generator_button.setToolTip("A ReStGAN checkpoint (.safetensors)")
        self.generator_button.clicked.connect(lambda: self.choose_generator())
        self.out_edit = QLineEdit(objectName="train_out")
        self.out_edit.setToolTip(
            "Run folder: state, log, samples and the trained model; a folder with a saved state resumes"
        )
        self.out_edit.textEdited.connect(self._out_edited)
        self.out_button = QPushButton("Choose…")
        self.out_button.setToolTip("Choose a run folder (an earlier run's folder resumes it)")
        self.out_button.clicked.connect(lambda: self.choose_out())
        self.steps_spin = _spin("train_steps", 0, 10_000_000, "Optimizer steps")
        self.stage2_spin = _spin("train_stage2", 0, 10_000_000, "Optimizer steps of stage II")
        self.batch_spin = _spin("train_batch", 1, 4096, "Items per optimizer step")
        self.seed_spin = _spin("train_seed", 0, 2**31 - 1, "The run's seed: batches and initial weights")
        self.threads_spin = _spin(
            "train_threads", 0, max(1, os.cpu_count() or 1) * 2, "CPU threads for torch"
        )
        self.threads_spin.setSpecialValueText("auto")

        def row(*widgets: QWidget) -> QHBoxLayout:
            box = QHBoxLayout()
            box.setContentsMargins(0, 0, 0, 0)
            box.addWidget(widgets[0], 1)
            for w in widgets[1:]:
                box.addWidget(w)
            return box

        self.layout_ = form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model", self.kind_combo)
        form.addRow("Data", row(self.data_combo, self.data_button))
        form.addRow("Generator", row(self.generator_combo, self.generator_button))
        form.addRow("Run folder", row(self.out_edit, self.out_button))
        form.addRow("Stage I steps", self.steps_spin)
        form.addRow("Stage II steps", self.stage2_spin)
        form.addRow("Batch", self.batch_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Threads", self.threads_spin)

        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        for combo in (self.data_combo, self.generator_combo):
            combo.currentIndexChanged.connect(self._emit_changed)
        for spin in (self.steps_spin, self.stage2_spin, self.batch_spin, self.seed_spin, self.threads_spin):
            spin.valueChanged.connect(self._emit_changed)
        self._kind_changed()

    # ------------------------------------------------------------------------------------------------ values

    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def settings(self) -> TrainSettings:
        kind = self.kind()
        return TrainSettings(
            kind=kind,
            out=self.out_edit.text().strip(),
            data=str(self.data_combo.currentData() or "builtin"),
            steps=self.steps_spin.value(),
            stage2_steps=self.stage2_spin.value() if kind != "classifier" else None,
            batch=self.batch_spin.value(),
            seed=self.seed_spin.value(),
            threads=self.threads_spin.value() or None,
            generator=str(self.generator_combo.currentData() or "builtin"),
            tiny=self.tiny,
        )

    def set_settings(self, s: TrainSettings) -> None:
        """Show ``s`` (an earlier run's settings)."""
        self._setting = True
        try:
            self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(s.kind)))
            self._apply_kind_defaults()
            self.tiny = s.tiny
            self.set_data(s.data)
            self.set_generator(s.generator)
            self.out_edit.setText(str(s.out))
            self.auto_out = False
            totals = planned_steps(s)
            self.steps_spin.setValue(totals[0])
            if len(totals) > 1:
                self.stage2_spin.setValue(totals[1])
            self.batch_spin.setValue(s.batch if s.batch is not None else default_batch(s.kind, s.tiny))
            self.seed_spin.setValue(int(s.seed))
            self.threads_spin.setValue(int(s.threads or 0))
        finally:
            self._setting = False
        self.changed.emit()

    def set_data(self, data: str) -> None:
        """Select ``"builtin"`` or a catalog folder (added to the list)."""
        self._select_or_add(self.data_combo, data, data if data != "builtin" else BUILTIN_DATA)

    def set_generator(self, path: str) -> None:
        self._select_or_add(self.generator_combo, path, path if path != "builtin" else SHIPPED_GENERATOR)

    def add_generator(self, path: str | Path, label: str | None = None) -> None:
        """Offer a trained ReStGAN as the inversion's generator (without selecting it)."""
        if self.generator_combo.findData(str(path)) < 0:
            self.generator_combo.addItem(label or str(path), str(path))

    def _select_or_add(self, combo: QComboBox, data: str, label: str) -> None:
        index = combo.findData(data)
        if index < 0:
            combo.addItem(label, data)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def set_out(self, folder: str | Path, auto: bool = False) -> None:
        self.out_edit.setText(str(folder))
        self.auto_out = auto
        self._emit_changed()

    def new_run_folder(self) -> None:
        """A fresh default run folder for the current kind (after a run finished there)."""
        self.set_out(next_run_folder(self.kind(), self.runs_dir), auto=True)

    # ------------------------------------------------------------------------------------------------ dialogs

    def choose_data(self, folder: str | None = None) -> None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Catalog folder to train on", str(Path.home()))
        if folder:
            self.set_data(folder)

    def choose_generator(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "ReStGAN checkpoint", str(self.runs_dir), "Checkpoints (*.safetensors)"
            )
        if path:
            self.set_generator(path)

    def choose_out(self, folder: str | None = None) -> None:
        """Pick a run folder; an earlier run's folder brings back its settings (so it resumes)."""
        if folder is None:
            start = self.out_edit.text() or str(self.runs_dir)
            folder = QFileDialog.getExistingDirectory(self, "Run folder", str(Path(start).parent))
        if not folder:
            return
        saved = load_settings(folder)
        if saved is not None:
            self.set_settings(saved)
        else:
            self.set_out(folder)

    # ------------------------------------------------------------------------------------------------ reacting

    def _out_edited(self, _text: str) -> None:
        self.auto_out = False
        self._emit_changed()

    def _emit_changed(self, *_args) -> None:
        if not self._setting:
            self.changed.emit()

    def _kind_changed(self, *_args) -> None:
        if self._setting:
            return
        self._setting = True
        try:
            self._apply_kind_defaults()
            if self.auto_out:
                self.out_edit.setText(str(next_run_folder(self.kind(), self.runs_dir)))
        finally:
            self._setting = False
        self.changed.emit()

    def _apply_kind_defaults(self) -> None:
        kind = self.kind()
        defaults = TrainSettings(kind=kind, out="", tiny=self.tiny)
        totals = planned_steps(defaults)
        self.steps_spin.setValue(totals[0])
        self.steps_spin.setMinimum(0 if kind == "inversion" else 1)
        if len(totals) > 1:
            self.stage2_spin.setValue(totals[1])
        self.batch_spin.setMinimum(2 if kind in ("restgan", "stackgan") else 1)
        self.batch_spin.setValue(default_batch(kind, self.tiny))
        two_stage = kind != "classifier"
        form = self.layout_
        form.setRowVisible(self.stage2_spin, two_stage)
        form.labelForField(self.steps_spin).setText("Stage I steps" if two_stage else "Steps")
        form.setRowVisible(self._row_of(self.generator_combo), kind == "inversion")
        self.data_combo.setEnabled(kind != "inversion")
        self.data_button.setEnabled(kind != "inversion")
        tip = (
            "The inversion encoder learns from the generator's own images; it needs no catalog"
            if kind == "inversion"
            else "Train on the built-in catalog or on a catalog folder (images/ and titles.csv)"
        )
        self.data_combo.setToolTip(tip)

    def _row_of(self, widget: QWidget) -> int:
        for r in range(self.layout_.rowCount()):
            item = self.layout_.itemAt(r, QFormLayout.ItemRole.FieldRole)
            layout = item.layout() if item is not None else None
            if item is not None and (item.widget() is widget or (layout and layout.indexOf(widget) >= 0)):
                return r
        return -1

    def set_enabled_for_run(self, running: bool) -> None:
        """Freeze the form while a run goes (its settings are the run's)."""
        for w in (self.kind_combo, self.out_edit, self.out_button, self.steps_spin, self.stage2_spin,
                  self.batch_spin, self.seed_spin, self.threads_spin, self.generator_combo,
                  self.generator_button):  # fmt: skip
            w.setEnabled(not running)
        inversion = self.kind() == "inversion"
        self.data_combo.setEnabled(not running and not inversion)
        self.data_button.setEnabled(not running and not inversion)
