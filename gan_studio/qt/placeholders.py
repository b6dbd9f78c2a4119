"""Pages for the workspaces that are not built yet: they say plainly what will come there, with no fake controls."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

PLANNED: dict[str, tuple[str, str]] = {
    "generate": (
        "Generate",
        (
            "Type a product title word by word and watch the garment follow: the text-to-image generator (ReStGAN) "
            "redraws the image after each word, keeping what earlier words stated — color, type, gender — while the "
            "new word takes effect. Color words go through the color table, so the palette can pick them."
        ),
    ),
    "explore": (
        "Explore",
        (
            "Draw a lasso around a region of a generated garment and walk the generator's latent space so that only "
            "that region changes (REDS, Rayleigh traversal), side by side with linear baselines (random, PCA, SeFa)."
        ),
    ),
    "dataset": (
        "Dataset",
        (
            "Label a handful of generated images — part masks, keypoints, depth — and let HandsOff turn the generator "
            "into a labeled synthetic dataset, with its uncertainty, exported as mask folders, COCO or the catalog "
            "layout."
        ),
    ),
    "train": (
        "Train",
        (
            "Start, follow and stop training runs of the attribute classifier and the generators on the built-in or "
            "your own catalog, with losses, sample grids and metrics as they arrive."
        ),
    ),
}


class PlaceholderPage(QWidget):
    """A centered heading, what the workspace will do, and that it is not available in this version."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title, text = PLANNED[key]
        self.setObjectName(f"placeholder_{key}")
        heading = QLabel(title)
        font = heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        heading.setFont(font)
        body = QLabel(text)
        body.setWordWrap(True)
        body.setMaximumWidth(620)
        status = QLabel("This workspace is not available in this version yet.")
        status.setStyleSheet("color: palette(placeholder-text);")
        status.setWordWrap(True)
        self.body = body
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for w in (heading, body, status):
            layout.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
            w.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
