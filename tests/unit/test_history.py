"""The undo/redo history of generated results."""

from __future__ import annotations

from gan_studio.methods.history import History


def test_undo_redo_and_branching() -> None:
    h: History[str] = History()
    assert h.current is None and not h.can_undo() and not h.can_redo() and h.undo() is None
    for entry in "abc":
        assert h.push(entry)
    assert not h.push("c")  # the same as the current entry: nothing recorded
    assert h.undo() == "b" and h.undo() == "a" and h.undo() is None
    assert h.redo() == "b" and h.can_redo()
    h.push("d")  # a new entry after an undo drops what could have been redone
    assert h.entries() == ["a", "b", "d"] and not h.can_redo() and h.current == "d"


def test_capacity_and_custom_equality() -> None:
    h = History(capacity=3, same=lambda x, y: x[0] == y[0])
    for entry in [(1, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "e")]:
        h.push(entry)
    assert h.entries() == [(2, "c"), (3, "d"), (4, "e")] and h.position == 2
    h.clear()
    assert len(h) == 0 and h.current is None
