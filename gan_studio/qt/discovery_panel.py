"""Product discovery beside the generated image: the nearest catalog items (thumbnail and title)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gan_studio.methods.retrieval import Match
from gan_studio.qt.imageutil import to_qpixmap


class DiscoveryPanel(QWidget):
    """A heading, one status line (what is indexed, or why nothing is shown) and the list of matches."""

    def __init__(self, thumb: int = 72, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("discovery_panel")
        heading = QLabel("<b>Similar catalog items</b>")
        self.status = QLabel("Nearest items appear once an image is drawn.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.list = QListWidget()
        self.list.setObjectName("discovery_list")
        self.list.setViewMode(QListView.ViewMode.ListMode)
        self.list.setIconSize(QSize(thumb, thumb))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setToolTip(
            "Catalog items nearest to the generated image in the attribute classifier's features"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)
        self.list.setMinimumHeight(48)
        self.setMinimumWidth(thumb + 120)
        self._matches: list[Match] = []

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_matches(self, matches: Sequence[Match]) -> None:
        self._matches = list(matches)
        self.list.clear()
        for m in self._matches:
            item = QListWidgetItem(to_qpixmap(m.image), m.title or m.id)
            item.setToolTip(
                f"<b>{html.escape(m.title)}</b><br>{html.escape(m.id)}<br>cosine distance {m.distance:.3f}"
            )
            item.setData(Qt.ItemDataRole.UserRole, m.id)
            self.list.addItem(item)

    def matches(self) -> list[Match]:
        return list(self._matches)

    def titles(self) -> list[str]:
        return [m.title for m in self._matches]
