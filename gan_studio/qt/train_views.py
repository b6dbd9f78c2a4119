"""What the Train workspace shows of a run: live loss curves (pyqtgraph) and the newest sample grid.

The curves take any numbers a training log records (one line per key, over the run's steps counted across its
stages) on a linear scale, because a GAN's logged values go negative; they share
:class:`~gan_studio.qt.loss_plot.CurvePlot` (throttled redraws) with the Dataset workspace's log-scale loss plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from gan_studio.qt.image_view import paint_placeholder
from gan_studio.qt.loss_plot import CurvePlot

REDRAW_MS = 200
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class RunCurves(CurvePlot):
    """One curve per logged key against the step (counted over all stages); dashed lines mark stage ends.

    Click a legend entry to hide or show its curve.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, redraw_ms=REDRAW_MS)
        self.setObjectName("train_curves")
        self.plot.setLabel("left", "value")
        base = self.palette().color(QPalette.ColorRole.Base)
        base.setAlpha(200)  # the legend stays readable over the curves
        self.legend = self.plot.addLegend(offset=(-8, 4), labelTextSize="8pt", brush=pg.mkBrush(base))
        self.setToolTip(
            "The losses the training logs, per step over both stages (drag to pan, wheel to zoom; click a legend "
            "entry to hide its curve)"
        )
        self._marks: list[pg.InfiniteLine] = []

    def sizeHint(self) -> QSize:
        return QSize(420, 260)

    def accepts(self, value: float) -> bool:
        return True  # drawn as logged

    def clear(self) -> None:
        super().clear()
        for item in self._marks:
            self.plot.removeItem(item)
        self._marks = []
        self.plot.enableAutoRange()

    def set_stage_ends(self, positions: Sequence[int]) -> None:
        """Dashed vertical lines at these steps (the end of each stage but the last)."""
        for line in self._marks:
            self.plot.removeItem(line)
        pen = pg.mkPen((128, 128, 128), width=1, style=Qt.PenStyle.DashLine)
        self._marks = [pg.InfiniteLine(float(p), angle=90, pen=pen) for p in positions]
        for line in self._marks:
            self.plot.addItem(line, ignoreBounds=True)


class _GridCanvas(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(120, 96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.pixmap: QPixmap | None = None
        self.placeholder = ""

    def target_rect(self) -> QRect:
        """The largest rectangle of the image's aspect that fits, in whole multiples from 2x up (crisp pixels)."""
        if self.pixmap is None or self.pixmap.isNull():
            return QRect()
        w, h = self.pixmap.width(), self.pixmap.height()
        scale = min((self.width() - 8) / w, (self.height() - 8) / h)
        if scale >= 2:
            scale = int(scale)
        sw, sh = max(1, int(w * scale)), max(1, int(h * scale))
        return QRect((self.width() - sw) // 2, (self.height() - sh) // 2, sw, sh)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if self.pixmap is not None and not self.pixmap.isNull():
            painter.drawPixmap(self.target_rect(), self.pixmap)
        elif self.placeholder:
            paint_placeholder(painter, self, self.placeholder)
        painter.end()


class SampleGridView(QWidget):
    """The newest sample grid of a run, scaled to fit with its aspect kept, under a caption."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("train_samples")
        self.caption = QLabel("", objectName="train_sample_caption", minimumWidth=1)
        self.canvas = _GridCanvas()
        self.canvas.setToolTip(
            "The generator's samples: one row per sample title, one column per word of it (the empty title first)"
        )
        self.path: Path | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        self.set_placeholder("Sample grids appear here while a generator trains.")

    def set_placeholder(self, text: str) -> None:
        self.path = None
        self.canvas.pixmap = None
        self.canvas.placeholder = text
        self.caption.setText("")
        self.canvas.update()

    def show_file(self, path: str | Path, caption: str = "") -> bool:
        """Show the PNG at ``path``; False (and the old image kept) when it cannot be read yet (still being
        written)."""
        try:
            data = Path(path).read_bytes()
        except OSError:
            return False
        if data[:8] == PNG_SIGNATURE and b"IEND" not in data[-12:]:
            return False  # still being written: try again at the next poll (and keep libpng quiet)
        image = QImage.fromData(data)
        if image.isNull():
            return False
        self.path = Path(path)
        self.canvas.pixmap = QPixmap.fromImage(image)
        self.caption.setText(caption)
        self.canvas.update()
        return True

    def image(self) -> QImage | None:
        pixmap = self.canvas.pixmap
        return None if pixmap is None else pixmap.toImage()
