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

from gan_studio.qt.plot_widget import panel_plot

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


class CurvePlot(QWidget):
    """Curves of values per step, one per key, arriving point by point and redrawn at most every ``redraw_ms``.

    The base of the Dataset workspace's :class:`LossPlot` and the Train workspace's run curves. ``accepts(value)``
    says which points are drawn; ``color(key, index)`` picks a new curve's pen color.
    """

    def __init__(
        self, parent: QWidget | None = None, *, log_y: bool = False, redraw_ms: int = REDRAW_MS
    ) -> None:
        super().__init__(parent)
        self.plot = panel_plot("step", mouse=True)
        self.plot.setLogMode(x=False, y=log_y)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._x: dict[str, list[float]] = {}
        self._y: dict[str, list[float]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._timer = QTimer(self, singleShot=True, interval=redraw_ms)
        self._timer.timeout.connect(self.redraw)

    def accepts(self, value: float) -> bool:
        return bool(np.isfinite(value))

    def color(self, key: str, index: int):
        return pg.intColor(index, hues=9, values=1, maxValue=220)

    def clear(self) -> None:
        self._timer.stop()
        for curve in self._curves.values():
            self.plot.removeItem(curve)
        self.legend.clear()
        self._x, self._y, self._curves = {}, {}, {}

    def append(self, step: int, values: Mapping[str, float]) -> None:
        """Add one step's values by key; the curves follow within the redraw interval."""
        for key, value in values.items():
            if not self.accepts(value):
                continue
            self._x.setdefault(key, []).append(float(step))
            self._y.setdefault(key, []).append(float(value))
        if not self._timer.isActive():
            self._timer.start()

    def redraw(self) -> None:
        self._timer.stop()
        for key, xs in self._x.items():
            curve = self._curves.get(key)
            if curve is None:
                pen = pg.mkPen(self.color(key, len(self._curves)), width=2)
                curve = self._curves[key] = self.plot.plot([], [], pen=pen, name=key)
            curve.setData(xs, self._y[key])

    def keys(self) -> list[str]:
        return list(self._x)

    def data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of ``key`` as received."""
        return np.array(self._x.get(key, [])), np.array(self._y.get(key, []))

    def __len__(self) -> int:
        """Steps received (of the key with the most)."""
        return max((len(x) for x in self._x.values()), default=0)


class LossPlot(CurvePlot):
    """Loss per step by task (segmentation: the mean member's cross-entropy), on a log scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, log_y=True)
        self.setObjectName("loss_plot")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setLabel("left", "loss")
        self.legend = self.plot.addLegend(offset=(-8, 4))
        self.setToolTip("Training loss of each task per step (log scale); it should fall and level off")

    def sizeHint(self) -> QSize:
        # pyqtgraph asks for 640 x 480; in the side panel that would make the panel scroll instead of fit.
        return QSize(260, 200)

    def accepts(self, value: float) -> bool:
        return bool(np.isfinite(value)) and value > 0  # nothing to draw on a log scale

    def color(self, key: str, index: int):
        return TASK_COLORS.get(key, (128, 128, 128))

    def tasks(self) -> list[str]:
        return self.keys()
