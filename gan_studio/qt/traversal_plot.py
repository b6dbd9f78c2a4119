"""A live plot of a traversal: how much the fixed and the varied features changed at each waypoint.

A good path keeps the fixed curve flat near zero while the varied curve climbs. Points are appended as waypoints
arrive from the worker; a marker follows the frame the user is looking at.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gan_studio.qt.plot_widget import panel_plot

FIXED_COLOR = (0, 150, 255)
VARIED_COLOR = (255, 64, 129)


class TraversalPlot(QWidget):
    """Fixed-feature change and varied-feature change (each the mean over its features) per waypoint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("traversal_plot")
        self.plot = panel_plot("waypoint", "change")
        self.legend = self.plot.addLegend(offset=(8, 4))
        self.fixed_curve = self.plot.plot(
            [], [], pen=pg.mkPen(FIXED_COLOR, width=2), symbol="o", symbolSize=5,
            symbolBrush=FIXED_COLOR, name="held fixed",
        )  # fmt: skip
        self.varied_curve = self.plot.plot(
            [], [], pen=pg.mkPen(VARIED_COLOR, width=2), symbol="o", symbolSize=5,
            symbolBrush=VARIED_COLOR, name="varied",
        )  # fmt: skip
        self.marker = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DashLine)
        )
        self.marker.setVisible(False)
        self.plot.addItem(self.marker)
        self.setToolTip(
            "Mean change of the features held fixed (should stay low) and of the features varied, per waypoint"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._index: list[float] = []
        self._fixed: list[float] = []
        self._varied: list[float] = []

    def clear(self) -> None:
        self._index, self._fixed, self._varied = [], [], []
        self._redraw()
        self.marker.setVisible(False)

    def append(self, index: int, fixed: float, varied: float) -> None:
        """Add one waypoint's totals."""
        self._index.append(float(index))
        self._fixed.append(float(fixed))
        self._varied.append(float(varied))
        self._redraw()

    def set_points(self, index: Sequence[int], fixed: Sequence[float], varied: Sequence[float]) -> None:
        self._index = [float(i) for i in index]
        self._fixed = [float(v) for v in fixed]
        self._varied = [float(v) for v in varied]
        self._redraw()

    def set_current(self, index: int | None) -> None:
        """Mark waypoint ``index`` (None hides the marker)."""
        self.marker.setVisible(index is not None)
        if index is not None:
            self.marker.setValue(float(index))

    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(waypoint indices, fixed totals, varied totals) as plotted."""
        return np.array(self._index), np.array(self._fixed), np.array(self._varied)

    def __len__(self) -> int:
        return len(self._index)

    def _redraw(self) -> None:
        self.fixed_curve.setData(self._index, self._fixed)
        self.varied_curve.setData(self._index, self._varied)
