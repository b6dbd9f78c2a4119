"""The Dataset workspace's fit panel: label generator settings, Fit and Cancel, progress and the live loss plot."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gan_studio.methods.handsoff import DEFAULT_REFINE_STEPS
from gan_studio.methods.label_generator import TASKS, LabelGeneratorConfig
from gan_studio.qt.dataset_samples import spin_box
from gan_studio.qt.loss_plot import LossPlot

TASK_LABELS = {"segmentation": "Masks", "keypoints": "Keypoints", "depth": "Depth"}


class FitPanel(QScrollArea):
    """Ensemble size, steps, refine steps and tasks (defaults from ``config``); Fit, Cancel, progress, a status
    line and the loss plot. It scrolls rather than making the window taller than a small screen."""

    def __init__(self, config: LabelGeneratorConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent, widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        self.ensemble_spin = spin_box(
            "dataset_ensemble", 1, 20, config.ensemble_size, "Segmentation ensemble members"
        )
        self.steps_spin = spin_box(
            "dataset_steps", 1, 100_000, config.steps, "Optimizer steps of the label generator"
        )
        self.refine_spin = spin_box(
            "dataset_refine", 0, 1000, DEFAULT_REFINE_STEPS,
            "Adam steps refining each inverted latent (0: the encoder's guess only)", step=10,
        )  # fmt: skip
        self.task_boxes: dict[str, QCheckBox] = {}
        tasks = QGridLayout()
        tasks.setSpacing(2)
        for i, task in enumerate(TASKS):
            box = QCheckBox(
                TASK_LABELS[task], objectName=f"dataset_task_{task}", checked=task in config.tasks
            )
            box.setToolTip(f"Learn {task} (only from the images labeled for it)")
            self.task_boxes[task] = box
            tasks.addWidget(box, i // 2, i % 2)
        form = QFormLayout()
        form.addRow("Ensemble", self.ensemble_spin)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Refine steps", self.refine_spin)
        form.addRow("Tasks", tasks)
        self.fit_button = QPushButton("Fit", objectName="dataset_fit")
        self.fit_button.setToolTip("Fit the label generator on the labeled images")
        self.cancel_fit_button = QPushButton("Cancel")
        self.cancel_fit_button.setToolTip("Stop the fit; the label generator from before (if any) stays")
        buttons = QHBoxLayout()
        buttons.addWidget(self.fit_button)
        buttons.addWidget(self.cancel_fit_button)
        self.fit_progress = QProgressBar(maximum=1000, textVisible=False)
        self.fit_label = QLabel("No label generator yet.", wordWrap=True, minimumWidth=1)
        self.loss_plot = LossPlot()
        self.loss_plot.setMinimumHeight(150)

        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(QLabel("<b>Label generator</b>"))
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.fit_progress)
        layout.addWidget(self.fit_label)
        layout.addWidget(self.loss_plot, 1)
        self.setWidget(panel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumWidth(panel.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width())
        self.setMaximumWidth(360)

    def tasks(self) -> tuple[str, ...]:
        """The tasks checked, in the label generator's order."""
        return tuple(t for t in TASKS if self.task_boxes[t].isChecked())
