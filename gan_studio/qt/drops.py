"""Files and folders dropped on a widget: which local paths a drag carries, and the drag events of a widget that
takes a drag only when it can use what it carries."""

from __future__ import annotations

from PySide6.QtCore import QMimeData


def paths_from_mime(mime: QMimeData) -> list[str]:
    """The local files and folders among dropped URLs."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class DropTarget:
    """Mixin for a QWidget (listed before it): ``accepts_drop(mime)`` says whether a drag is welcome and
    ``handle_drop(mime)`` takes the drop, returning whether it did; the widget must ``setAcceptDrops(True)``."""

    def accepts_drop(self, mime: QMimeData) -> bool:
        raise NotImplementedError

    def handle_drop(self, mime: QMimeData) -> bool:
        raise NotImplementedError

    def dragEnterEvent(self, event) -> None:
        if self.accepts_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()
