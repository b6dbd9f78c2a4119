"""The detail panel of the Catalog browser: one item at full size with a choice of label overlay."""

from __future__ import annotations

import html

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gan_studio.data.overlay import OVERLAYS, keypoint_color
from gan_studio.qt.catalog_source import Detail
from gan_studio.qt.imageutil import to_qpixmap

OVERLAY_LABELS = {"none": "Photo", "parts": "Parts", "keypoints": "Keypoints", "depth": "Depth"}


class ImageView(QWidget):
    """Paints a pixmap scaled to fit, keeping its aspect ratio, centered on a light checker-free background."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap = QPixmap()
        self._placeholder = ""
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(360, 360)

    def pixmap(self) -> QPixmap:
        """The unscaled pixmap shown now (null when none)."""
        return self._pixmap

    def set_pixmap(self, pixmap: QPixmap | None, placeholder: str = "") -> None:
        self._pixmap = pixmap if pixmap is not None else QPixmap()
        self._placeholder = placeholder
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        if self._pixmap.isNull():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(
                self.rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
            return
        pw, ph = self._pixmap.width(), self._pixmap.height()
        scale = min(self.width() / pw, self.height() / ph)
        w, h = pw * scale, ph * scale
        target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        painter.setPen(self.palette().mid().color())
        painter.drawRect(target.adjusted(-0.5, -0.5, 0.5, 0.5))


def _chip(rgb: tuple[int, int, int]) -> str:
    r, g, b = rgb
    return f'<span style="background-color: rgb({r},{g},{b}); color: rgb({r},{g},{b});">&#9632;&#9632;</span>'


class DetailPanel(QWidget):
    """Title, image with overlay choice (photo / parts / keypoints / depth), legend and attributes.

    ``overlayChanged(kind)`` is emitted when the user picks another overlay.
    """

    overlayChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.detail: Detail | None = None
        self._pixmaps: dict[str, QPixmap] = {}
        self._overlay = "none"

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)

        self.image = ImageView()

        self.overlay_group = QButtonGroup(self)
        overlay_row = QHBoxLayout()
        self.overlay_buttons: dict[str, QRadioButton] = {}
        for kind in OVERLAYS:
            button = QRadioButton(OVERLAY_LABELS[kind])
            button.setObjectName(f"overlay_{kind}")
            button.toggled.connect(self._on_overlay_button)
            self.overlay_group.addButton(button)
            self.overlay_buttons[kind] = button
            overlay_row.addWidget(button)
        overlay_row.addStretch(1)
        self.overlay_buttons["none"].setChecked(True)

        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.attributes = QLabel()
        self.attributes.setWordWrap(True)
        self.attributes.setTextFormat(Qt.TextFormat.RichText)
        self.attributes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.attributes.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.image, 1)
        layout.addLayout(overlay_row)
        layout.addWidget(self.legend)
        layout.addWidget(self.attributes)
        self.clear()

    # ------------------------------------------------------------------------------------------------ state

    @property
    def overlay(self) -> str:
        return self._overlay

    def set_overlay(self, kind: str) -> None:
        """Show another overlay; one the item has no labels for falls back to the photo."""
        if kind not in OVERLAYS:
            raise ValueError(f"unknown overlay {kind!r}")
        self.overlay_buttons[kind].setChecked(True)  # toggled -> _on_overlay_toggled
        self._overlay = kind
        self._refresh()

    def clear(self, message: str = "Select an item to see it at full size with its labels.") -> None:
        self.detail = None
        self._pixmaps = {}
        self.title.setText("")
        self.image.set_pixmap(None, message)
        self.legend.setText("")
        self.attributes.setText("")
        for kind, button in self.overlay_buttons.items():
            button.setEnabled(kind == "none")

    def show_detail(self, detail: Detail) -> None:
        self.detail = detail
        self._pixmaps = {kind: to_qpixmap(view) for kind, view in detail.views.items()}
        for kind, button in self.overlay_buttons.items():
            button.setEnabled(kind in self._pixmaps)
            button.setToolTip("" if kind in self._pixmaps else "This item has no such labels.")
        self.title.setText(detail.title or detail.id)
        self.title.setToolTip(detail.id)
        self.attributes.setText(self._attributes_html(detail))
        self._refresh()

    def shown_pixmap(self) -> QPixmap:
        """The unscaled pixmap on screen now."""
        return self.image.pixmap()

    # ------------------------------------------------------------------------------------------------ private

    def _on_overlay_button(self, checked: bool) -> None:
        if checked:
            kind = next(k for k, b in self.overlay_buttons.items() if b.isChecked())
            self._on_overlay_toggled(kind)

    def _on_overlay_toggled(self, kind: str) -> None:
        if kind == self._overlay:
            return
        self._overlay = kind
        self._refresh()
        self.overlayChanged.emit(kind)

    def _refresh(self) -> None:
        if self.detail is None:
            return
        kind = self._overlay if self._overlay in self._pixmaps else "none"
        self.image.set_pixmap(self._pixmaps.get(kind))
        self.legend.setText(self._legend_html(kind))

    def _legend_html(self, kind: str) -> str:
        detail = self.detail
        if detail is None:
            return ""
        if kind == "parts":
            parts = []
            for i in detail.parts_present:
                name, rgb = detail.parts[i] if i < len(detail.parts) else (f"part {i}", (255, 255, 255))
                parts.append(f"{_chip(rgb)}&nbsp;{html.escape(name.replace('_', ' '))}")
            return "&nbsp;&nbsp; ".join(parts)
        if kind == "keypoints":
            return (
                f"{_chip(keypoint_color(0))}&nbsp;image left &nbsp;&nbsp;{_chip(keypoint_color(1))}&nbsp;image right"
                f" &nbsp;&nbsp;{_chip(keypoint_color(2))}&nbsp;center &nbsp;&nbsp;hollow: hidden"
            )
        if kind == "depth":
            return "Depth: yellow is near the camera, purple is far; gray background has no depth."
        h, w = detail.size
        return f"{w} × {h} pixels"

    @staticmethod
    def _attributes_html(detail: Detail) -> str:
        a = detail.attributes
        seen = detail.predicted or {}
        rows = [("id", detail.id, "")]
        if a is None:
            rows.append(("attributes", "none given", ""))
        else:
            rows += [
                ("type", a.type, ""),
                ("gender", a.gender, ""),
                ("color", a.color, ""),
                ("length", a.length, ""),
                ("fit", a.fit, ""),
                ("details", ", ".join(a.details) or "—", ""),
            ]
        rows = [(k, v, "{} ({:.0%})".format(*seen[k]) if k in seen else "") for k, v, _ in rows]
        if a is None and seen:  # unlabeled images still get the classifier's reading
            rows += [(k, "", "{} ({:.0%})".format(*p)) for k, p in seen.items()]
        head = ""
        if seen:
            head = (
                "<tr><td></td><td style='color: gray'>label</td><td style='color: gray'>classifier</td></tr>"
            )
        cells = "".join(
            f"<tr><td style='color: gray; padding-right: 10px'>{html.escape(k)}</td>"
            f"<td style='padding-right: 10px'>{html.escape(v)}</td><td>{html.escape(c)}</td></tr>"
            for k, v, c in rows
        )
        note = ""
        if detail.prediction_problem:
            note = f"<p style='color: gray'>{html.escape(detail.prediction_problem)}</p>"
        return f"<table>{head}{cells}</table>{note}"
