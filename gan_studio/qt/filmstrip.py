"""The filmstrip: one image per known-word prefix of the title, left to right, with the prefix under each."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from gan_studio.qt.imageutil import to_qpixmap

EMPTY_PREFIX = "(no words)"


class Filmstrip(QListWidget):
    """Signals: ``frameActivated(k)`` when the image of prefix ``k`` is clicked or activated."""

    frameActivated = Signal(int)

    def __init__(self, thumb: int = 80, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideLeft)  # the newest words matter most
        self.setIconSize(QSize(thumb, thumb))
        lines = self.fontMetrics().lineSpacing() * 2 + 8  # two lines of prefix under the image
        self.setGridSize(QSize(thumb + 72, thumb + lines))
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setFixedHeight(thumb + lines + self.horizontalScrollBar().sizeHint().height() + 6)
        self.setToolTip("The image after each known word of the title")
        self.itemClicked.connect(lambda item: self.frameActivated.emit(self.row(item)))
        self.itemActivated.connect(lambda item: self.frameActivated.emit(self.row(item)))
        self._prefixes: tuple[str, ...] = ()

    def set_frames(self, prefixes: Sequence[str], images: Sequence[np.ndarray]) -> None:
        """Show ``images[k]`` above ``prefixes[k]`` (the first prefix is the empty title)."""
        self.clear()
        self._prefixes = tuple(prefixes)
        for prefix, image in zip(prefixes, images, strict=True):
            item = QListWidgetItem(to_qpixmap(image), self._label(prefix))
            item.setToolTip(prefix or EMPTY_PREFIX)
            item.setData(Qt.ItemDataRole.UserRole, prefix)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)
        if self.count():
            self.scrollToItem(self.item(self.count() - 1))

    def _label(self, prefix: str) -> str:
        """The prefix, its start elided so that what is left fits in two lines (the newest words matter most)."""
        if not prefix:
            return EMPTY_PREFIX
        fm = self.fontMetrics()
        width = int((self.gridSize().width() - 10) * 1.7)  # word wrap leaves some of each line empty
        return fm.elidedText(prefix, Qt.TextElideMode.ElideLeft, width)

    def prefixes(self) -> tuple[str, ...]:
        return self._prefixes
