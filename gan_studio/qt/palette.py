"""The palette widget: the color table's clusters as swatches with their member words.

Picking a swatch emits ``colorPicked(cluster_index, word)``; picking any color from a color dialog snaps it to the
nearest cluster (CIEDE2000), as the ReStGAN color model does. Used by the Catalog browser to filter by color group
and later by the Generate workspace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QColorDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gan_studio.data import attributes


@dataclass(frozen=True)
class Cluster:
    """The part of a color-table cluster the palette shows (``ColorTable.clusters`` items fit this shape)."""

    index: int
    name: str
    lab: tuple[float, float, float]
    rgb: tuple[int, int, int]
    words: tuple[str, ...]


def fallback_clusters() -> list[Cluster]:
    """Clusters from the expected color groups, used when no color table has been built yet."""
    from gan_studio.data.color import lab_to_rgb

    out = []
    for i, (name, words) in enumerate(attributes.COLOR_GROUPS.items()):
        lab = tuple(float(v) for v in np.mean([attributes.COLOR_LAB[w] for w in words], axis=0))
        rgb = tuple(round(v * 255) for v in np.clip(lab_to_rgb(np.array(lab)), 0, 1))
        out.append(Cluster(i, name, lab, rgb, tuple(words)))
    return out


def load_clusters() -> tuple[list, Callable[[tuple[int, int, int]], int] | None, str | None]:
    """(clusters, nearest, problem): the shipped color table's clusters and its ``nearest`` snapping function.

    When the table cannot be loaded, returns the expected color groups, a CIEDE2000 snapper over them, and one
    sentence saying why, for the log.
    """
    try:
        from gan_studio.data.colortable import ColorTable

        table = ColorTable.load()
        return list(table.clusters), table.nearest, None
    except (ImportError, OSError, ValueError, KeyError) as exc:
        clusters = fallback_clusters()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            clusters,
            nearest_by_lab(clusters),
            f"Color table not available ({reason}); showing the color groups.",
        )


def nearest_by_lab(clusters: Sequence) -> Callable[[tuple[int, int, int]], int]:
    """A snapper: RGB (0-255 ints) -> index of the cluster nearest in CIEDE2000."""

    def nearest(rgb: tuple[int, int, int]) -> int:
        from gan_studio.data.color import ciede2000, rgb_to_lab

        lab = rgb_to_lab(np.asarray(rgb, dtype=np.float64) / 255.0)
        labs = np.array([c.lab for c in clusters], dtype=np.float64)
        return int(clusters[int(np.argmin(ciede2000(np.broadcast_to(lab, labs.shape), labs)))].index)

    return nearest


def _chip(rgb: tuple[int, int, int], size: int = 28) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(90, 90, 90))
    painter.setBrush(QColor(*rgb))
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 5, 5)
    painter.end()
    return QIcon(pix)


class PaletteWidget(QWidget):
    """A grid of swatches, one per cluster; at most one is selected.

    Signals: ``colorPicked(cluster_index, word)`` when a swatch is picked (``word`` is the cluster's first member
    word, or the word asked for in :meth:`pick_word`), ``cleared()`` when the selection is removed.
    """

    colorPicked = Signal(int, str)
    cleared = Signal()

    SWATCH_WIDTH = 190

    def __init__(
        self,
        clusters: Sequence | None = None,
        nearest: Callable[[tuple[int, int, int]], int] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._clusters: list = []
        self._nearest = nearest
        self._buttons: list[QToolButton] = []
        self._columns = 0
        self._group = QButtonGroup(self)
        self._group.setExclusive(False)  # exclusive groups cannot be unchecked by a second click
        self._group.idClicked.connect(self._on_clicked)

        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._grid_host)
        self._scroll = scroll

        self._status = QLabel("Any color")
        self._status.setWordWrap(True)
        any_button = QPushButton("Any color")
        any_button.setToolTip("Clear the color selection")
        any_button.clicked.connect(self.clear_selection)
        pick_button = QPushButton("Pick a color…")
        pick_button.setToolTip("Choose any color; it snaps to the nearest cluster (CIEDE2000)")
        pick_button.clicked.connect(self._pick_from_dialog)
        buttons = QHBoxLayout()
        buttons.addWidget(any_button)
        buttons.addWidget(pick_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._status)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        if clusters is not None:
            self.set_clusters(clusters, nearest)

    # ------------------------------------------------------------------------------------------------ data

    @property
    def clusters(self) -> list:
        return list(self._clusters)

    def swatches(self) -> list[QToolButton]:
        """The swatch buttons, in cluster order."""
        return list(self._buttons)

    def set_clusters(self, clusters: Sequence, nearest: Callable | None = None) -> None:
        """Show these clusters (objects with ``index, name, rgb, words``), replacing any shown before."""
        for button in self._buttons:
            self._group.removeButton(button)
            button.deleteLater()
        self._buttons = []
        self._clusters = list(clusters)
        if nearest is not None:
            self._nearest = nearest
        elif self._nearest is None:
            self._nearest = nearest_by_lab(self._clusters)
        for pos, cluster in enumerate(self._clusters):
            button = QToolButton()
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setIcon(_chip(tuple(cluster.rgb)))
            button.setIconSize(QSize(28, 28))
            words = ", ".join(cluster.words)
            button.setText(f"{cluster.name}\n{_elide_words(cluster.words)}")
            button.setToolTip(f"<b>{cluster.name}</b> (cluster {cluster.index})<br>{words}")
            button.setAccessibleName(f"color {cluster.name}")
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self._group.addButton(button, pos)
            self._buttons.append(button)
        self._columns = 0
        self._relayout()

    def selected_index(self) -> int | None:
        """The selected cluster's index, or None."""
        for pos, button in enumerate(self._buttons):
            if button.isChecked():
                return int(self._clusters[pos].index)
        return None

    # ------------------------------------------------------------------------------------------------ picking

    def set_selected(self, cluster_index: int | None) -> None:
        """Select a cluster by index without emitting signals (None clears)."""
        for pos, button in enumerate(self._buttons):
            button.setChecked(cluster_index is not None and self._clusters[pos].index == cluster_index)
        self._update_status()

    def clear_selection(self) -> None:
        had = self.selected_index() is not None
        self.set_selected(None)
        if had:
            self.cleared.emit()

    def pick_word(self, word: str) -> int:
        """Select the cluster holding ``word`` and emit ``colorPicked``; ValueError for an unknown word."""
        for cluster in self._clusters:
            if word in cluster.words:
                self.set_selected(cluster.index)
                self.colorPicked.emit(int(cluster.index), word)
                return int(cluster.index)
        raise ValueError(f"{word!r} is not a color word of any cluster")

    def pick_rgb(self, rgb: tuple[int, int, int]) -> int:
        """Snap any color to its nearest cluster, select it and emit ``colorPicked``."""
        index = int(self._nearest(tuple(int(v) for v in rgb)))
        cluster = self._cluster_by_index(index)
        self.set_selected(index)
        self.colorPicked.emit(index, cluster.words[0] if cluster.words else cluster.name)
        return index

    def _cluster_by_index(self, index: int):
        for cluster in self._clusters:
            if cluster.index == index:
                return cluster
        raise ValueError(f"no color cluster {index}")

    def _on_clicked(self, pos: int) -> None:
        button = self._buttons[pos]
        cluster = self._clusters[pos]
        if not button.isChecked():  # a second click on the selected swatch clears it
            self._update_status()
            self.cleared.emit()
            return
        for other in self._buttons:
            if other is not button:
                other.setChecked(False)
        self._update_status()
        self.colorPicked.emit(int(cluster.index), cluster.words[0] if cluster.words else cluster.name)

    def _pick_from_dialog(self) -> None:
        color = QColorDialog.getColor(parent=self, title="Pick a color")
        if color.isValid():
            self.pick_rgb((color.red(), color.green(), color.blue()))

    def _update_status(self) -> None:
        index = self.selected_index()
        if index is None:
            self._status.setText("Any color")
        else:
            cluster = self._cluster_by_index(index)
            self._status.setText(f"<b>{cluster.name}</b>: {', '.join(cluster.words)}")

    # ------------------------------------------------------------------------------------------------ layout

    def _relayout(self) -> None:
        width = self._scroll.viewport().width() if self.isVisible() else self.width()
        columns = max(1, width // self.SWATCH_WIDTH)
        if columns == self._columns:
            return
        self._columns = columns
        for button in self._buttons:
            self._grid.removeWidget(button)
        for pos, button in enumerate(self._buttons):
            self._grid.addWidget(button, pos // columns, pos % columns)
        self._grid.setRowStretch(self._grid.rowCount(), 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()


def _elide_words(words: Sequence[str], limit: int = 26) -> str:
    text = ", ".join(words)
    return text if len(text) <= limit else text[: limit - 1].rstrip(", ") + "…"
