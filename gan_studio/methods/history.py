"""An undo/redo history of generated results (Qt-free).

Each entry is whatever the caller records (the Generate workspace stores title, seed and images). Pushing after an
undo drops the entries that could have been redone, as text editors do; the oldest entries fall off past
``capacity``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class History(Generic[T]):
    def __init__(self, capacity: int = 200, same: Callable[[T, T], bool] | None = None) -> None:
        self.capacity = max(1, int(capacity))
        self._same = same or (lambda a, b: a == b)
        self._entries: list[T] = []
        self._pos = -1  # index of the current entry

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def current(self) -> T | None:
        return self._entries[self._pos] if self._pos >= 0 else None

    @property
    def position(self) -> int:
        return self._pos

    def entries(self) -> list[T]:
        return list(self._entries)

    def can_undo(self) -> bool:
        return self._pos > 0

    def can_redo(self) -> bool:
        return self._pos < len(self._entries) - 1

    def push(self, entry: T) -> bool:
        """Record ``entry`` as the current one; returns False (and records nothing) when it equals the current."""
        if self.current is not None and self._same(self.current, entry):
            return False
        del self._entries[self._pos + 1 :]
        self._entries.append(entry)
        if len(self._entries) > self.capacity:
            del self._entries[: len(self._entries) - self.capacity]
        self._pos = len(self._entries) - 1
        return True

    def undo(self) -> T | None:
        """Step back and return the entry now current, or None when there is nothing to undo."""
        if not self.can_undo():
            return None
        self._pos -= 1
        return self._entries[self._pos]

    def redo(self) -> T | None:
        if not self.can_redo():
            return None
        self._pos += 1
        return self._entries[self._pos]

    def clear(self) -> None:
        self._entries, self._pos = [], -1
