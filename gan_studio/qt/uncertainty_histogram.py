"""The histogram of generated samples' uncertainty, with a draggable line: samples right of it are dropped.

HandsOff drops the generated images whose segmentation ensemble disagrees most. The line and the workspace's
"drop most uncertain %" box move together: dragging the line sets the percentage of samples right of it, and a new
percentage moves the line between the last kept and the first dropped sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gan_studio.methods.dataset_jobs import drop_fraction, drop_threshold
from gan_studio.qt.plot_widget import panel_plot

BAR_COLOR = (0, 150, 255, 150)
LINE_COLOR = (198, 40, 40)


class UncertaintyHistogram(QWidget):
    """Signals: ``dropDragged(fraction)`` while the user drags the line (the fraction of samples beyond it)."""

    dropDragged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("uncertainty_histogram")
        self.plot = panel_plot("uncertainty (mean JS divergence, nats)", "samples", grid_x=False)
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.bars = pg.PlotDataItem([], [], stepMode="center", fillLevel=0, brush=BAR_COLOR, pen=None)
        self.plot.addItem(self.bars)
        self.line = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen(LINE_COLOR, width=2),
            hoverPen=pg.mkPen(LINE_COLOR, width=4), label="drop →",
            labelOpts={"position": 0.9, "color": LINE_COLOR, "anchors": [(0, 0.5), (0, 0.5)]},
        )  # fmt: skip
        self.line.setCursor(Qt.CursorShape.SizeHorCursor)
        self.line.setVisible(False)
        self.line.sigPositionChanged.connect(self._on_line_moved)
        self.plot.addItem(self.line)
        self.setToolTip(
            "How uncertain the label generator is about each generated sample; drag the red line: samples to "
            "its right are the most uncertain and are dropped from the export"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._scores = np.zeros(0)
        self._drop = 0.0
        self._placing = False

    def set_scores(self, uncertainties: Sequence[float] | np.ndarray) -> None:
        """Show the samples' uncertainties (NaN: none) and put the line at the current drop."""
        scores = np.asarray(uncertainties, dtype=np.float64)
        self._scores = scores
        finite = scores[np.isfinite(scores)]
        if not len(finite):
            self.bars.setData([], [])
            self.line.setVisible(False)
            return
        lo, hi = float(finite.min()), float(finite.max())
        pad = max(1e-6, 0.05 * (hi - lo), 0.05 * abs(hi))
        counts, edges = np.histogram(
            finite, bins=min(30, max(5, len(finite) // 2)), range=(lo - pad, hi + pad)
        )
        self.bars.setData(edges, counts)
        self._placing = True  # new bounds may move the line: that is no drag
        try:
            self.line.setBounds((lo - 2 * pad, hi + 2 * pad))
        finally:
            self._placing = False
        self.line.setVisible(True)
        self.set_drop(self._drop)

    def scores(self) -> np.ndarray:
        return self._scores.copy()

    def set_drop(self, fraction: float) -> None:
        """Move the line so that ``fraction`` of the samples lie beyond it (no ``dropDragged``)."""
        self._drop = float(fraction)
        threshold = drop_threshold(self._scores, self._drop)
        if threshold is not None:
            self._placing = True
            try:
                self.line.setValue(threshold)
            finally:
                self._placing = False

    def threshold(self) -> float | None:
        return float(self.line.value()) if self.line.isVisible() else None

    def drop(self) -> float:
        """The fraction of shown samples beyond the line."""
        return self._drop

    def dropped(self) -> np.ndarray:
        """(n,) bool: the samples beyond the line."""
        t = self.threshold()
        if t is None:
            return np.zeros(len(self._scores), dtype=bool)
        return ~np.isfinite(self._scores) | (np.nan_to_num(self._scores, nan=np.inf) > t)

    def _on_line_moved(self, _line=None) -> None:
        if self._placing:
            return
        self._drop = drop_fraction(self._scores, float(self.line.value()))
        self.dropDragged.emit(self._drop)
