"""The title box: a one-paragraph text editor whose unknown words get a red wavy underline.

Enter commits the title (``committed``) instead of starting a new line, pasted line breaks become spaces, and
Ctrl+Z / Ctrl+Shift+Z are left to the window's result history rather than the editor's own text undo.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QSyntaxHighlighter, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QWidget


def utf16_index(text: str, index: int) -> int:
    """Python string index (code points) -> Qt string index (UTF-16 code units): emoji count twice in Qt."""
    return len(text[:index].encode("utf-16-le")) // 2


class UnknownWordHighlighter(QSyntaxHighlighter):
    """Underlines character spans (Python indices into the whole text) with a red wavy line."""

    def __init__(self, document) -> None:
        super().__init__(document)
        self._spans: tuple[tuple[int, int], ...] = ()  # (start, length) in UTF-16 units
        self.format = QTextCharFormat()
        self.format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.format.setUnderlineColor(QColor("#d32f2f"))

    def set_spans(self, text: str, spans: Sequence[tuple[int, int]]) -> None:
        """Mark ``text[start:end]`` for each (start, end); re-highlights only when the marks changed."""
        converted = tuple(
            (utf16_index(text, s), utf16_index(text, e) - utf16_index(text, s)) for s, e in spans if e > s
        )
        if converted != self._spans:
            self._spans = converted
            self.rehighlight()

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        return self._spans

    def highlightBlock(self, text: str) -> None:
        block = self.currentBlock()
        first, length = block.position(), block.length()
        for start, size in self._spans:
            s, e = max(start, first), min(start + size, first + length)
            if e > s:
                self.setFormat(s - first, e - s, self.format)


class TitleEdit(QPlainTextEdit):
    """A title editor: ``text()`` / ``set_text()``, ``committed`` on Enter, unknown words via ``mark_unknown``."""

    committed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("title_edit")
        self.setTabChangesFocus(True)
        self.setUndoRedoEnabled(False)  # Ctrl+Z walks the result history (title, seed and image together)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setPlaceholderText("Type a product title, e.g. women's navy slim jeans")
        self.setToolTip(
            "The image is redrawn at each word boundary as you type; Enter redraws now.\n"
            "Words the model does not know are underlined in red and skipped."
        )
        self.highlighter = UnknownWordHighlighter(self.document())
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.setFont(font)
        lines = 2
        margins = self.contentsMargins()
        doc_margin = int(self.document().documentMargin())
        self.setFixedHeight(
            self.fontMetrics().lineSpacing() * lines + 2 * doc_margin + margins.top() + margins.bottom() + 4
        )

    def text(self) -> str:
        return self.toPlainText()

    def set_text(self, text: str) -> None:
        """Replace the title and put the cursor at its end."""
        self.setPlainText(text.replace("\r", " ").replace("\n", " "))
        self.moveCursor(QTextCursor.MoveOperation.End)

    def mark_unknown(self, spans: Sequence[tuple[int, int]]) -> None:
        self.highlighter.set_spans(self.text(), spans)

    # --- keys ------------------------------------------------------------------------------------------------
    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and (
            event.matches(QKeySequence.StandardKey.Undo)
            or event.matches(QKeySequence.StandardKey.Redo)
            or event.keyCombination().toCombined() == QKeySequence("Ctrl+Shift+Z")[0].toCombined()
        ):
            event.ignore()  # let the window's Undo / Redo actions have these keys
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.committed.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def insertFromMimeData(self, source) -> None:
        if source.hasText():
            text = " ".join(source.text().splitlines())
            self.insertPlainText(text.replace("\t", " "))
        else:
            super().insertFromMimeData(source)
