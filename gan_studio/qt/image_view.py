"""A widget that shows one generated image scaled to fit, or a sentence when there is none.

It reports each new image once it is on screen (``framePainted``), which is how the latency probe times
word-to-pixels. It takes focus, so Ctrl+C copies the image when the image is focused.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from gan_studio.qt.imageutil import to_qimage


def paint_placeholder(painter: QPainter, widget: QWidget, text: str) -> None:
    """``text`` centered and word-wrapped in ``widget``'s placeholder color: what a view shows where no image is."""
    painter.setPen(widget.palette().color(QPalette.ColorRole.PlaceholderText))
    painter.drawText(
        widget.rect().adjusted(16, 16, -16, -16),
        Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
        text,
    )


class ImageView(QWidget):
    """Signals: ``framePainted(frame)`` after the first paint of the image that :meth:`set_image` numbered."""

    framePainted = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generated_image")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(120, 96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Generated image")
        self._array: np.ndarray | None = None
        self._pixmap: QPixmap | None = None
        self._placeholder = ""
        self._frame = 0
        self._painted = 0
        self.painted_at = 0.0  # perf_counter() when the latest frame was painted

    # --- content -------------------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> int:
        """Show an (H, W, 3) uint8 image; returns its frame number. Paints at once when visible."""
        self._array = np.ascontiguousarray(image)
        self._pixmap = QPixmap.fromImage(to_qimage(self._array))
        self._frame += 1
        if self.isVisible():
            self.repaint()
        else:
            self.update()
        return self._frame

    def set_placeholder(self, text: str, clear_image: bool = True) -> None:
        """A sentence shown when there is no image (e.g. why the model is unavailable)."""
        self._placeholder = text
        if clear_image:
            self._array, self._pixmap = None, None
        self.update()

    def image(self) -> np.ndarray | None:
        return self._array

    def qimage(self) -> QImage | None:
        return None if self._array is None else to_qimage(self._array)

    @property
    def frame(self) -> int:
        return self._frame

    @property
    def painted_frame(self) -> int:
        return self._painted

    @property
    def placeholder(self) -> str:
        return self._placeholder

    # --- painting ------------------------------------------------------------------------------------------
    def target_rect(self) -> QRect:
        """Where the image is drawn: the largest centered square that fits (scaled with a smooth filter)."""
        if self._pixmap is None:
            return QRect()
        side = max(min(self.width(), self.height()) - 8, 1)
        return QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(QPalette.ColorRole.Base))
        if self._pixmap is not None:
            # Bilinear upscaling: 128 px drawn at 256 px and more reads as a photo, not as blocks of pixels.
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(self.target_rect(), self._pixmap)
        elif self._placeholder:
            paint_placeholder(painter, self, self._placeholder)
        if self.hasFocus():
            painter.setPen(self.palette().color(QPalette.ColorRole.Highlight))
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()
        if self._pixmap is not None and self._painted != self._frame:
            self._painted = self._frame
            self.painted_at = time.perf_counter()
            self.framePainted.emit(self._frame)
