"""A live plot of a label generator's training losses, one curve per task, on a log scale.

Points arrive once per optimizer step from the worker; the curves are redrawn at most every ``REDRAW_MS`` so that a
fit of a thousand steps does not redraw a thousand times.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

TASK_COLORS = {"segmentation": (0, 150, 255), "keypoints": (255, 140, 0), "depth": (120, 80, 200)}
REDRAW_MS = 100


class LossRelay(QObject):
    """Carries losses from the worker thread to the GUI thread: ``lossArrived(request_id, step, losses)``."""

    lossArrived = Signal(int, int, object)
    _from_worker = Signal(int, int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._from_worker.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def send(self, request_id: int, step: int, losses: dict) -> None:
        """Safe from any thread; delivered in order, before the job's result."""
        self._from_worker.emit(request_id, int(step), dict(losses))

    @Slot(int, int, object)
    def _deliver(self, request_id: int, step: int, losses: object) -> None:
        self.lossArrived.emit(request_id, step, losses)


class LossPlot(QWidget):
    """Loss per step by task (segmentation: the mean member's cross-entropy)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("loss_plot")
        self.plot = pg.PlotWidget(background=None)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLogMode(x=False, y=True)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.legend = self.plot.addLegend(offset=(-8, 4))
        self.setToolTip("Training loss of each task per step (log scale); it should fall and level off")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._steps: dict[str, list[float]] = {}
        self._values: dict[str, list[float]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._timer = QTimer(self, singleShot=True, interval=REDRAW_MS)
        self._timer.timeout.connect(self.redraw)

    def sizeHint(self) -> QSize:
        # pyqtgraph asks for 640 x 480; in the side panel that would make the panel scroll instead of fit.
        return QSize(260, 200)

    def clear(self) -> None:
        self._timer.stop()
        for curve in self._curves.values():
            self.plot.removeItem(curve)
        self.legend.clear()
        self._steps, self._values, self._curves = {}, {}, {}

    def append(self, step: int, losses: Mapping[str, float]) -> None:
        """Add one step's losses by task; the curves follow within ``REDRAW_MS``."""
        for task, value in losses.items():
            if not np.isfinite(value) or value <= 0:  # nothing to draw on a log scale
                continue
            self._steps.setdefault(task, []).append(float(step))
            self._values.setdefault(task, []).append(float(value))
        if not self._timer.isActive():
            self._timer.start()

    def redraw(self) -> None:
        self._timer.stop()
        for task, steps in self._steps.items():
            curve = self._curves.get(task)
            if curve is None:
                color = TASK_COLORS.get(task, (128, 128, 128))
                curve = self._curves[task] = self.plot.plot([], [], pen=pg.mkPen(color, width=2), name=task)
            curve.setData(steps, self._values[task])

    def tasks(self) -> list[str]:
        return list(self._steps)

    def data(self, task: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, losses) of ``task`` as received."""
        return np.array(self._steps.get(task, [])), np.array(self._values.get(task, []))

    def __len__(self) -> int:
        """Steps received (of the task with the most)."""
        return max((len(s) for s in self._steps.values()), default=0)
