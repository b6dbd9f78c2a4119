"""The Train workspace's list of trained models, with Use in Generate and Open folder."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gan_studio.train.settings import TrainedModel

GENERATE_KINDS = ("restgan",)  # what the Generate workspace draws with (it loads ReStGAN checkpoints)


class TrainedModelList(QWidget):
    """Models trained here or found in the runs folder, newest first.

    Signals: ``useInGenerate(path)`` for the selected ReStGAN (button or double-click); ``missing(sentence)`` when
    the selected model's file is gone.
    """

    useInGenerate = Signal(str)
    missing = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(objectName="train_models")
        self.list.setToolTip("Models trained here or found in the runs folder")
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.list.itemDoubleClicked.connect(lambda _item: self.use_selected())
        self.use_button = QPushButton("Use in Generate", objectName="train_use")
        self.use_button.setToolTip("Draw with the selected ReStGAN in the Generate workspace")
        self.use_button.clicked.connect(lambda: self.use_selected())
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the selected model's run folder (model card, log, samples)")
        self.open_button.clicked.connect(self.open_selected_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Trained models</b>"))
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def add(self, model: TrainedModel, select: bool = True) -> None:
        """List ``model`` first; a path already listed moves to the top."""
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole).path == model.path:
                self.list.takeItem(row)
                break
        stamp = QDateTime.fromSecsSinceEpoch(int(model.mtime)).toString("yyyy-MM-dd hh:mm")
        item = QListWidgetItem(f"{model.label}  ({stamp})")
        item.setData(Qt.ItemDataRole.UserRole, model)
        item.setToolTip(str(model.path))
        self.list.insertItem(0, item)
        if select:
            self.list.setCurrentItem(item)
        self._update_buttons()

    def models(self) -> list[TrainedModel]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())]

    def selected(self) -> TrainedModel | None:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def use_selected(self) -> str | None:
        """Ask for the selected ReStGAN to become the Generate workspace's model; returns its path."""
        model = self.selected()
        if model is None or model.kind not in GENERATE_KINDS:
            return None
        if not model.path.is_file():
            self.missing.emit(f"The model {model.path} is gone.")
            return None
        self.useInGenerate.emit(str(model.path))
        return str(model.path)

    def open_selected_folder(self) -> None:
        model = self.selected()
        if model is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(model.path.parent)))

    def _update_buttons(self) -> None:
        model = self.selected()
        self.use_button.setEnabled(model is not None and model.kind in GENERATE_KINDS)
        self.open_button.setEnabled(model is not None)
