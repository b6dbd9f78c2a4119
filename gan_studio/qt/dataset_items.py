"""The Dataset workspace's two lists: the imported labeled images with their inversions, and generated samples.

:class:`LabeledItemList` shows each imported image, its labels and the generator's reconstruction of it side by
side, with the reconstruction error. :class:`SampleGrid` shows generated samples with the chosen label overlay;
the samples the uncertainty threshold drops are grayed out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from gan_studio.methods.dataset_jobs import ImportedItem, InversionOutcome, Sample
from gan_studio.qt.imageutil import to_qpixmap

GAP = 3  # pixels between the tiles of a row


def side_by_side(tiles: Sequence[np.ndarray | None], size: int) -> np.ndarray:
    """(size, n * size + gaps, 3) uint8: the tiles left to right on white; a missing tile is light gray."""
    out = np.full((size, len(tiles) * (size + GAP) - GAP, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        x = i * (size + GAP)
        if tile is None:
            out[:, x : x + size] = 225
        else:
            tile = np.asarray(tile, dtype=np.uint8)
            rows = np.arange(size) * tile.shape[0] // size  # nearest neighbor to the tile size
            cols = np.arange(size) * tile.shape[1] // size
            out[:, x : x + size] = tile[rows][:, cols, :3]
    return out


class LabeledItemList(QListWidget):
    """One row per imported image: photo | labels | reconstruction, with id, labels and reconstruction error."""

    def __init__(self, tile: int = 64, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("labeled_items")
        self.tile = tile
        # Icon mode flowing top to bottom: each image strip with its text under it, one per row.
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.TopToBottom)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        width = 3 * tile + 2 * GAP
        self.setIconSize(QSize(width, tile))
        self.setGridSize(QSize(width + 12, tile + 3 * self.fontMetrics().lineSpacing() + 12))
        self.setMinimumWidth(width + 24)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setToolTip(
            "Each labeled image, its labels, and the generator's reconstruction of it (its inversion)"
        )
        self._items: list[ImportedItem] = []
        self._recon: list[np.ndarray | None] = []
        self._errors: list[tuple[float, float] | None] = []
        self._note = "inverting…"

    def set_items(self, items: Sequence[ImportedItem], note: str = "inverting…") -> None:
        """Show the imported items; their reconstructions are ``note`` until :meth:`set_inversion`."""
        self.clear()
        self._items = list(items)
        self._recon = [None] * len(items)
        self._errors = [None] * len(items)
        self._note = note
        for row in range(len(self._items)):
            self.addItem(QListWidgetItem())
            self._refresh(row)

    def set_inversion(self, outcome: InversionOutcome) -> None:
        by_id = {item_id: k for k, item_id in enumerate(outcome.ids)}
        for row, item in enumerate(self._items):
            k = by_id.get(item.id)
            if k is not None:
                self._recon[row] = outcome.reconstructions[k]
                self._errors[row] = (float(outcome.perceptual[k]), float(outcome.psnr[k]))
                self._refresh(row)

    def set_note(self, note: str) -> None:
        """What rows without a reconstruction say instead (e.g. why there is none)."""
        self._note = note
        for row in range(len(self._items)):
            if self._recon[row] is None:
                self._refresh(row)

    def items(self) -> list[ImportedItem]:
        return list(self._items)

    def reconstruction(self, row: int) -> np.ndarray | None:
        return self._recon[row]

    def errors(self, row: int) -> tuple[float, float] | None:
        """(perceptual distance, PSNR dB) of row ``row``'s reconstruction, or None."""
        return self._errors[row]

    def _refresh(self, row: int) -> None:
        item, recon, errors = self._items[row], self._recon[row], self._errors[row]
        strip = side_by_side([item.image, item.labels_view, recon], self.tile)
        text = f"{item.id}\n{', '.join(item.labels)}\n"
        text += f"perceptual {errors[0]:.3f} · PSNR {errors[1]:.1f} dB" if errors else self._note
        widget_item = self.item(row)
        widget_item.setIcon(to_qpixmap(strip))
        widget_item.setText(text)
        widget_item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        widget_item.setToolTip(f"{item.source}\nphoto · its labels · the generator's reconstruction")


class SampleGrid(QListWidget):
    """Thumbnails of generated samples with the chosen overlay and their uncertainty.

    Signals: ``sampleActivated(row)`` when the current sample changes.
    """

    sampleActivated = Signal(int)

    def __init__(self, thumb: int = 64, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sample_grid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(thumb, thumb))
        self.setGridSize(QSize(thumb + 24, thumb + 2 * self.fontMetrics().lineSpacing() + 12))
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMinimumWidth(thumb + 40)
        self.currentRowChanged.connect(lambda row: row >= 0 and self.sampleActivated.emit(row))
        self._samples: list[Sample] = []
        self._dropped = np.zeros(0, dtype=bool)
        self._overlay = "parts"

    @property
    def overlay(self) -> str:
        return self._overlay

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def set_samples(self, samples: Sequence[Sample]) -> None:
        current = self.currentRow()
        self.clear()
        self._samples = []
        self.add_samples(samples)
        if self.count():
            self.setCurrentRow(min(max(current, 0), self.count() - 1))

    def add_samples(self, samples: Sequence[Sample]) -> None:
        for sample in samples:
            self._samples.append(sample)
            self.addItem(QListWidgetItem())
            self._refresh(len(self._samples) - 1)
        self._dropped = np.resize(self._dropped, len(self._samples))

    def set_overlay(self, kind: str) -> None:
        self._overlay = kind
        for row in range(len(self._samples)):
            self._refresh(row)

    def set_dropped(self, dropped: np.ndarray) -> None:
        """Gray out the samples the threshold drops (one flag per sample, in order)."""
        flags = np.zeros(len(self._samples), dtype=bool)
        flags[: min(len(dropped), len(flags))] = np.asarray(dropped, dtype=bool)[: len(flags)]
        changed = np.nonzero(flags != np.resize(self._dropped, len(flags)))[0]
        self._dropped = flags
        for row in changed:
            self._refresh(int(row))

    def dropped(self) -> np.ndarray:
        return self._dropped.copy()

    def _refresh(self, row: int) -> None:
        sample = self._samples[row]
        view = sample.views.get(self._overlay, sample.image)
        dropped = row < len(self._dropped) and bool(self._dropped[row])
        if dropped:  # faded toward white: still visible, clearly out
            view = (0.35 * view.astype(np.float32) + 0.65 * 255).astype(np.uint8)
        item = self.item(row)
        item.setIcon(to_qpixmap(view))
        u = "—" if sample.uncertainty is None else f"{sample.uncertainty:.3f}"
        item.setText(f"{sample.name}\n{'✕ ' if dropped else ''}u {u}")
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        color = self.palette().color(
            QPalette.ColorRole.PlaceholderText if dropped else QPalette.ColorRole.Text
        )
        item.setForeground(QBrush(QColor(color)))
        tip = f"{sample.name}: {sample.title}" if sample.title else sample.name
        item.setToolTip(tip + f"\nuncertainty {u} nats" + ("\ndropped by the threshold" if dropped else ""))
