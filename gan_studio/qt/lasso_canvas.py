"""The lasso canvas: an image scaled up with nearest sampling, and a freehand polygon lasso drawn on it.

The region itself is the Qt-free :class:`~gan_studio.methods.lasso.Lasso` model; the canvas only turns mouse
strokes into polygons in image fractions, keeps the draft being drawn apart from the committed region, and paints
both through :func:`paint_canvas`. Press starts a stroke, moving adds points, release closes and commits it; Shift
held at the press (or :meth:`set_mode` "subtract") carves the stroke out of the region instead; Esc drops the draft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from gan_studio.methods.lasso import MODES, Lasso, LassoError, Polygon, rasterize_polygon
from gan_studio.qt.imageutil import to_qimage

ADD_COLOR = QColor(255, 64, 129)  # a pink no garment of the catalog is likely to be
SUBTRACT_COLOR = QColor(0, 176, 255)
FILL_ALPHA = 90
MIN_STEP_PX = 2.0  # screen pixels between recorded points of a stroke


@dataclass
class CanvasScene:
    """Everything :func:`paint_canvas` draws, as plain data (widget coordinates for the target)."""

    rect: QRect
    target: QRect
    background: QColor
    pixmap: QPixmap | None = None
    overlay: QImage | None = None
    outlines: Sequence[tuple[str, np.ndarray]] = ()  # (mode, (N, 2) fractions)
    draft: np.ndarray | None = None  # (N, 2) fractions
    draft_mode: str = "add"
    placeholder: str = ""
    text_color: QColor = field(default_factory=lambda: QColor(128, 128, 128))
    focus_color: QColor | None = None


def _to_widget(points: np.ndarray, target: QRect) -> QPolygonF:
    xs = target.x() + points[:, 0] * target.width()
    ys = target.y() + points[:, 1] * target.height()
    return QPolygonF([QPointF(float(x), float(y)) for x, y in zip(xs, ys, strict=True)])


def paint_canvas(painter: QPainter, scene: CanvasScene) -> None:
    """Paint the image, the committed region (translucent fill, outlines) and the draft stroke."""
    painter.fillRect(scene.rect, scene.background)
    if scene.pixmap is None:
        if scene.placeholder:
            painter.setPen(scene.text_color)
            painter.drawText(
                scene.rect.adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                scene.placeholder,
            )
    else:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)  # bilinear, as in Generate
        painter.drawPixmap(scene.target, scene.pixmap)
        if scene.overlay is not None:
            painter.drawImage(QRectF(scene.target), scene.overlay)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for mode, points in scene.outlines:
            pen = QPen(ADD_COLOR if mode == "add" else SUBTRACT_COLOR, 1.5)
            if mode != "add":
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawPolygon(_to_widget(points, scene.target))
        if scene.draft is not None and len(scene.draft) > 1:
            color = ADD_COLOR if scene.draft_mode == "add" else SUBTRACT_COLOR
            painter.setPen(QPen(color, 2))
            line = _to_widget(scene.draft, scene.target)
            painter.drawPolyline(line)
            closing = QPen(color, 1, Qt.PenStyle.DotLine)
            painter.setPen(closing)
            painter.drawLine(line[len(line) - 1], line[0])  # where release will close the loop
    if scene.focus_color is not None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(scene.focus_color)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(scene.rect.adjusted(0, 0, -1, -1))


def mask_overlay(mask: np.ndarray, color: QColor = ADD_COLOR, alpha: int = FILL_ALPHA) -> QImage:
    """A boolean (S, S) region -> an (S, S) RGBA image: ``color`` at ``alpha`` inside, transparent outside."""
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[mask] = (color.red(), color.green(), color.blue(), alpha)
    return to_qimage(rgba)


class LassoCanvas(QWidget):
    """Signals: ``lassoChanged()`` after the region changed (drawn, undone, redone, cleared);
    ``message(sentence)`` when a stroke was not added (crossing itself, too small), for the status line."""

    lassoChanged = Signal()
    message = Signal(str)

    def __init__(self, lasso: Lasso | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lasso_canvas")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(100, 100)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAccessibleName("Image with lasso region")
        self.lasso = lasso if lasso is not None else Lasso()
        self._image: np.ndarray | None = None
        self._pixmap: QPixmap | None = None
        self._overlay: QImage | None = None
        self._placeholder = ""
        self._mode = "add"
        self._draft: list[tuple[float, float]] | None = None
        self._draft_mode = "add"
        self._last_screen: QPointF | None = None

    # --- content -----------------------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None) -> None:
        """Show an (S, S, 3) uint8 image (the lasso stays: it is in fractions of the image)."""
        if image is None:
            self._image, self._pixmap = None, None
        else:
            self._image = np.ascontiguousarray(image)
            self._pixmap = QPixmap.fromImage(to_qimage(self._image))
        self._refresh_overlay()

    def image(self) -> np.ndarray | None:
        return self._image

    def set_placeholder(self, text: str) -> None:
        """A sentence shown when there is no image."""
        self._placeholder = text
        self.update()

    @property
    def placeholder(self) -> str:
        return self._placeholder

    def image_size(self) -> int | None:
        return None if self._image is None else int(self._image.shape[0])

    def mask(self) -> np.ndarray | None:
        """The region at the image's size, or None without an image."""
        size = self.image_size()
        return None if size is None else self.lasso.mask(size)

    # --- mode and edits ----------------------------------------------------------------------------------------
    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown lasso mode {mode!r}")
        self._mode = mode

    def add_polygon(
        self, points: Sequence[tuple[float, float]] | np.ndarray, mode: str | None = None
    ) -> bool:
        """Commit a polygon (fractions); on a bad one emit ``message`` and return False, changing nothing."""
        mode = self._mode if mode is None else mode
        try:
            polygon = Polygon(points)
            size = self.image_size()
            if size is not None and not rasterize_polygon(polygon.points, size).any():
                raise LassoError("the lasso covers no pixel center; draw a larger region")
            self.lasso.add(polygon, mode)
        except LassoError as exc:
            text = str(exc)
            self.message.emit(text[:1].upper() + text[1:] + ".")
            return False
        self._changed()
        return True

    def undo(self) -> bool:
        return self._edit(self.lasso.undo)

    def redo(self) -> bool:
        return self._edit(self.lasso.redo)

    def clear(self) -> bool:
        return self._edit(self.lasso.clear)

    def _edit(self, fn) -> bool:
        self.cancel_draft()
        if not fn():
            return False
        self._changed()
        return True

    def _changed(self) -> None:
        self._refresh_overlay()
        self.lassoChanged.emit()

    def _refresh_overlay(self) -> None:
        mask = self.mask()
        self._overlay = None if mask is None or not mask.any() else mask_overlay(mask)
        self.update()

    def cancel_draft(self) -> None:
        if self._draft is not None:
            self._draft = None
            self.update()

    def is_drawing(self) -> bool:
        return self._draft is not None

    # --- geometry ----------------------------------------------------------------------------------------------
    def target_rect(self) -> QRect:
        """Where the image is drawn: the largest centered square that fits, in whole multiples when it can."""
        if self._pixmap is None:
            return QRect()
        side = min(self.width(), self.height()) - 8
        w = self._pixmap.width()
        if side >= w:
            side = (side // w) * w  # whole multiples keep the lasso's pixel grid regular
        side = max(side, 1)
        return QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def to_fraction(self, pos: QPointF) -> tuple[float, float]:
        """A widget position -> (x, y) in image fractions, clamped to the image."""
        t = self.target_rect()
        x = (pos.x() - t.x()) / max(t.width(), 1)
        y = (pos.y() - t.y()) / max(t.height(), 1)
        return min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)

    def to_widget(self, x: float, y: float) -> QPointF:
        """(x, y) in image fractions -> the widget position (the inverse of :meth:`to_fraction`)."""
        t = self.target_rect()
        return QPointF(t.x() + x * t.width(), t.y() + y * t.height())

    # --- mouse ------------------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._pixmap is None:
            super().mousePressEvent(event)
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self._draft_mode = "subtract" if shift else self._mode
        pos = event.position()
        self._draft = [self.to_fraction(pos)]
        self._last_screen = pos
        self.update()
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._draft is None:
            super().mouseMoveEvent(event)
            return
        pos = event.position()
        last = self._last_screen
        if last is None or (pos - last).manhattanLength() >= MIN_STEP_PX:
            self._draft.append(self.to_fraction(pos))
            self._last_screen = pos
            self.update()
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self._draft is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        self._draft.append(self.to_fraction(event.position()))
        points, mode = np.asarray(self._draft, dtype=np.float64), self._draft_mode
        self._draft = None
        self.add_polygon(points, mode)
        self.update()
        event.accept()

    def event(self, event) -> bool:
        # While a stroke is drawn, Esc drops it rather than triggering the window's "cancel jobs" shortcut.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and self._draft is not None
            and event.key() == Qt.Key.Key_Escape
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self._draft is not None:
            self.cancel_draft()
            event.accept()
            return
        super().keyPressEvent(event)

    # --- painting ---------------------------------------------------------------------------------------------
    def scene(self) -> CanvasScene:
        palette = self.palette()
        return CanvasScene(
            rect=self.rect(),
            target=self.target_rect(),
            background=palette.color(QPalette.ColorRole.Base),
            pixmap=self._pixmap,
            overlay=self._overlay,
            outlines=[(op.mode, op.polygon.points) for op in self.lasso.operations],
            draft=None if self._draft is None else np.asarray(self._draft, dtype=np.float64),
            draft_mode=self._draft_mode,
            placeholder=self._placeholder,
            text_color=palette.color(QPalette.ColorRole.PlaceholderText),
            focus_color=palette.color(QPalette.ColorRole.Highlight) if self.hasFocus() else None,
        )

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        try:
            paint_canvas(painter, self.scene())
        finally:
            painter.end()
