"""The line under a workspace's controls that says what just happened: plain for news, amber for a caution, red
for a problem the user must act on.

Every workspace shows its sentences through one :class:`MessageLine`, so they look alike and a problem reaches
the log the same way everywhere: ``problemShown(sentence)``, which the workspace forwards to its own signals.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QWidget

LEVEL_COLORS = {"info": None, "warning": "#b36b00", "error": "#c62828"}  # also the log's colors


class MessageLine(QLabel):
    """A word-wrapped, selectable label that may be clipped in a narrow window rather than widen it.

    ``say(text, level)`` only shows; ``show_problem(sentence)`` shows in red and emits ``problemShown``.
    """

    problemShown = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__("", parent, objectName=name, wordWrap=True, minimumWidth=1)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def say(self, text: str, level: str = "info") -> None:
        """Show ``text`` in the color of ``level`` ("info", "warning" or "error")."""
        color = LEVEL_COLORS[level]
        self.setText(text)
        self.setStyleSheet(f"color: {color};" if color else "")

    def show_problem(self, sentence: str) -> None:
        """Show ``sentence`` as an error and report it (``problemShown``)."""
        self.say(sentence, "error")
        self.problemShown.emit(sentence)

    def forward_problems(self, *signals) -> None:
        """Re-emit every problem shown on each of ``signals`` (str signals, e.g. ``problem`` and ``warning``)."""
        for signal in signals:
            self.problemShown.connect(signal)
