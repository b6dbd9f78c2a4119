"""What the Generate workspace shows, without its behaviour: the title box, seed and color rows, the image beside the
similar catalog items, and the word filmstrip.

:class:`GenerateView` builds and lays out the widgets and actions; :class:`~gan_studio.qt.generate_workspace.
GenerateWorkspace` (its subclass) connects them to the drawing, the history and the jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gan_studio.qt.discovery_panel import DiscoveryPanel
from gan_studio.qt.filmstrip import Filmstrip
from gan_studio.qt.image_view import ImageView
from gan_studio.qt.message_line import MessageLine
from gan_studio.qt.title_edit import TitleEdit

SAVE_SCALES = (1, 4, 8)
MAX_SEED = 2**31 - 1


def _swatch(rgb: Sequence[int], size: int = 14) -> QPixmap:
    pix = QPixmap(size, size)
    pix.fill(QColor(*[int(v) for v in rgb]))
    return pix


def text_tool_button(action: QAction) -> QToolButton:
    """A tool button that shows ``action`` as its text only."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


class GenerateView(QWidget):
    """The Generate workspace's widgets: ``title_edit``, ``seed_spin``, ``color_swatch`` / ``color_label``,
    ``message_label``, ``stats_label``, ``scale_combo``, ``image_view``, ``discovery_panel``, ``filmstrip``, and the
    actions ``variation_action``, ``undo_action``, ``redo_action``, ``save_action``, ``copy_action`` (unconnected)."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("generate_workspace")
        self.title_edit = TitleEdit()
        self.title_edit.set_text(title)

        self.message_label = MessageLine("title_message")
        self.stats_label = QLabel("")
        self.stats_label.setObjectName("generate_stats")
        self.stats_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.stats_label.setMinimumWidth(1)  # labels may be clipped in a narrow window rather than widen it

        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("generate_seed")
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setPrefix("seed ")
        self.seed_spin.setToolTip(
            "The noise of the image: the same title and seed always give the same garment"
        )
        self.seed_spin.setMinimumWidth(90)

        self.variation_action = QAction("New variation", self)
        self.variation_action.setShortcut(QKeySequence("Ctrl+R"))
        self.variation_action.setToolTip("Draw the same title with a new random seed (Ctrl+R)")
        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.setToolTip("Back to the previous result: title, seed and image (Ctrl+Z)")
        self.redo_action = QAction("Redo", self)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setToolTip("Forward to the next result (Ctrl+Shift+Z)")
        self.save_action = QAction("Save image…", self)
        self.save_action.setShortcut(QKeySequence("Ctrl+S"))
        self.save_action.setToolTip("Save the image as PNG (Ctrl+S)")
        for action in (self.variation_action, self.undo_action, self.redo_action, self.save_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)  # only while this workspace is shown
            self.addAction(action)

        self.color_swatch = QLabel()
        self.color_label = QLabel("")
        self.color_label.setObjectName("color_cluster_label")
        self.color_label.setMinimumWidth(1)
        self.color_label.setToolTip(
            "The color-table cluster of the title's color word; pick a palette swatch to change it"
        )

        self.scale_combo = QComboBox()
        self.scale_combo.setToolTip("Size of saved and copied images")
        self.scale_combo.setMinimumWidth(60)
        self.copy_button = QToolButton()
        self.copy_button.setText("Copy")
        self.copy_button.setToolTip("Copy the image to the clipboard (Ctrl+C on the image)")

        # Two short rows rather than one long one, so the window still fits a small screen next to the palette.
        controls = QHBoxLayout()
        controls.addWidget(self.seed_spin)
        controls.addWidget(text_tool_button(self.variation_action))
        controls.addSpacing(8)
        controls.addWidget(self.color_swatch)
        controls.addWidget(self.color_label, 1)
        controls.addWidget(text_tool_button(self.undo_action))
        controls.addWidget(text_tool_button(self.redo_action))
        output = QHBoxLayout()
        output.addWidget(self.message_label, 1)
        output.addWidget(self.stats_label)
        output.addSpacing(8)
        output.addWidget(self.scale_combo)
        output.addWidget(text_tool_button(self.save_action))
        output.addWidget(self.copy_button)

        self.image_view = ImageView()
        copy = QAction("Copy image", self.image_view)
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.image_view.addAction(copy)
        self.image_view.addAction(self.save_action)
        self.image_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.copy_action = copy

        self.discovery_panel = DiscoveryPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.image_view)
        self.splitter.addWidget(self.discovery_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([620, 300])

        self.filmstrip = Filmstrip(thumb=64)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title_edit)
        layout.addLayout(controls)
        layout.addLayout(output)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.filmstrip)
        self.fill_scales(64)

    def fill_scales(self, size: int) -> None:
        """Offer the save sizes of a ``size`` px image, keeping the chosen factor."""
        current = self.scale_combo.currentData() or 4
        self.scale_combo.blockSignals(True)
        self.scale_combo.clear()
        for s in SAVE_SCALES:
            self.scale_combo.addItem(f"{size * s} px", s)
        self.scale_combo.setCurrentIndex(max(0, self.scale_combo.findData(current)))
        self.scale_combo.blockSignals(False)

    def save_scale(self) -> int:
        return int(self.scale_combo.currentData() or 1)

    def show_color(self, cluster, word: str = "") -> None:
        """Show the color-table ``cluster`` the title's color ``word`` falls in (None: no color stated)."""
        if cluster is not None:
            self.color_swatch.setPixmap(_swatch(cluster.rgb))
            self.color_swatch.setVisible(True)
            self.color_label.setText(f"Color: <b>{cluster.name}</b> cluster (“{word}”)")
            self.color_label.setToolTip(f"Cluster {cluster.index}: {', '.join(cluster.words)}")
        else:
            self.color_swatch.setVisible(False)
            self.color_label.setText("Color: none stated")
