"""The Dataset workspace's generated samples: a grid and a detail view with label overlays, the uncertainty
histogram with its drop threshold, and the export row under the threshold it applies.

Plain widgets: the workspace connects the buttons to its jobs and hands the samples in.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gan_studio.methods.dataset_jobs import Sample, export_candidates
from gan_studio.qt.catalog_detail import DetailPanel
from gan_studio.qt.catalog_source import Detail
from gan_studio.qt.dataset_items import SampleGrid
from gan_studio.qt.uncertainty_histogram import UncertaintyHistogram


def spin_box(name: str, lo: int, hi: int, value: int, tip: str, step: int = 1, suffix: str = "") -> QSpinBox:
    spin = QSpinBox(objectName=name, singleStep=step, suffix=suffix)
    spin.setRange(lo, hi)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin


class SampleBrowser(QWidget):
    """Samples (count, seed, Generate), the grid and the detail view, the histogram with "drop most uncertain
    %", and Export (items, Export…, Cancel, progress). The histogram line and the percentage move together; the
    samples beyond the line are grayed out in the grid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples_spin = spin_box(
            "dataset_sample_count", 1, 512, 32, "How many generated samples to browse"
        )
        self.seed_spin = spin_box(
            "dataset_seed", 0, 2**31 - 1, 0, "Samples and exported items are drawn from this seed"
        )
        self.samples_button = QPushButton("Generate samples", objectName="dataset_generate")
        self.samples_button.setToolTip("Generate and label samples with the label generator")
        self.seed_spin.setPrefix("seed ")
        row = QHBoxLayout()
        row.addWidget(QLabel("<b>Generated samples</b>", minimumWidth=1), 1)
        for w in (self.samples_spin, self.seed_spin, self.samples_button):
            row.addWidget(w)
        self.grid = SampleGrid()
        self.grid.sampleActivated.connect(self.show_sample)
        self.detail = DetailPanel()
        self.detail.setMinimumWidth(180)
        self.detail.clear("Fit a label generator or use the built-in one to see generated samples here.")
        self.detail.set_overlay("parts")  # what a label generator adds shows first
        self.grid.set_overlay(self.detail.overlay)
        self.detail.overlayChanged.connect(self.grid.set_overlay)
        browse = QSplitter(Qt.Orientation.Horizontal)
        browse.addWidget(self.grid)
        browse.addWidget(self.detail)
        browse.setChildrenCollapsible(False)
        browse.setSizes([200, 340])

        self.histogram = UncertaintyHistogram()
        self.histogram.setMinimumHeight(110)
        self.histogram.dropDragged.connect(self._on_drop_dragged)
        self.drop_spin = spin_box(
            "dataset_drop", 0, 90, 10, "Drop this share of the most uncertain generated images (HandsOff: 10 %)",
            suffix=" %",
        )  # fmt: skip
        self.drop_spin.valueChanged.connect(self._on_drop_spin)
        self.histogram.set_drop(self.drop())
        self.drop_label = QLabel("", minimumWidth=1)
        drop_row = QHBoxLayout()
        drop_row.addWidget(QLabel("Drop most uncertain"))
        drop_row.addWidget(self.drop_spin)
        drop_row.addWidget(self.drop_label, 1)
        # Export sits under the threshold it applies.
        self.export_spin = spin_box(
            "dataset_export_count", 1, 1_000_000, 1000, "Items in the exported dataset"
        )
        self.export_spin.setSuffix(" items")
        self.export_spin.valueChanged.connect(lambda _v: self.update_drop_label())
        self.export_button = QPushButton("Export…", objectName="dataset_export")
        self.export_button.setToolTip("Export a labeled dataset to a folder (Ctrl+E)")
        self.cancel_export_button = QPushButton("Cancel")
        self.cancel_export_button.setToolTip("Stop the export; export again to the same folder to continue")
        self.export_progress = QProgressBar(maximum=1000, textVisible=False, minimumWidth=40)
        export_row = QHBoxLayout()
        export_row.addWidget(QLabel("<b>Export</b>"))
        for w in (self.export_spin, self.export_button, self.cancel_export_button):
            export_row.addWidget(w)
        export_row.addWidget(self.export_progress, 1)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.histogram, 1)
        lower_layout.addLayout(drop_row)
        lower_layout.addLayout(export_row)
        self.samples_splitter = QSplitter(Qt.Orientation.Vertical)
        self.samples_splitter.addWidget(browse)
        self.samples_splitter.addWidget(lower)
        self.samples_splitter.setSizes([420, 170])
        self.samples_splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addLayout(row)
        layout.addWidget(self.samples_splitter, 1)

    def show_sample(self, row: int) -> None:
        samples = self.grid.samples()
        if not 0 <= row < len(samples):
            return
        s = samples[row]
        size = s.image.shape[:2]
        self.detail.show_detail(
            Detail(row, s.name, s.title, None, size, s.views, parts_present=s.parts_present)
        )
        u = "none (no segmentation)" if s.uncertainty is None else f"{s.uncertainty:.4f} nats"
        note = (
            "dropped by the threshold" if row < len(self.grid.dropped()) and self.grid.dropped()[row] else ""
        )
        self.detail.attributes.setText(f"uncertainty {u}" + (f" · {note}" if note else ""))

    def drop(self) -> float:
        return self.drop_spin.value() / 100.0

    def _on_drop_spin(self, value: int) -> None:
        self.histogram.set_drop(value / 100.0)
        self.update_drop_label()

    def _on_drop_dragged(self, fraction: float) -> None:
        self.drop_spin.blockSignals(True)  # the line is where the user put it: do not snap it back
        self.drop_spin.setValue(min(self.drop_spin.maximum(), round(fraction * 100)))
        self.drop_spin.blockSignals(False)
        self.update_drop_label()

    def update_drop_label(self) -> None:
        self.grid.set_dropped(self.histogram.dropped())
        n = self.export_spin.value()
        candidates = export_candidates(n, self.drop())
        text = f"an export of {n} draws {candidates}"
        t = self.histogram.threshold()
        if t is not None:
            shown = len(self.histogram.scores())
            text = f"above {t:.3f}: {int(self.histogram.dropped().sum())} of {shown} · " + text
        self.drop_label.setText(text)
        self.drop_label.setToolTip(
            f"Samples more uncertain than the red line are dropped; to keep {n} items an export generates "
            f"{candidates} candidates and drops the {candidates - n} most uncertain"
        )

    def set_samples(self, samples: Sequence[Sample]) -> None:
        """Show generated samples (their uncertainties go into the histogram)."""
        self.grid.set_samples(samples)
        self.histogram.set_scores([float("nan") if s.uncertainty is None else s.uncertainty for s in samples])
        self.update_drop_label()
