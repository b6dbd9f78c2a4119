"""Fixtures for the GUI tests: a real worker bridge and a main window on a small built-in catalog."""

from __future__ import annotations

import pytest

TIMEOUT_MS = 15000  # generous: the test machine has two shared cores


@pytest.fixture
def bridge(qapp):
    from gan_studio.qt.bridge import WorkerBridge

    b = WorkerBridge("cpu")
    yield b
    b.shutdown(timeout=10)


@pytest.fixture
def window(qtbot, bridge):
    """A main window with 40 built-in items (errors go to the log only, no dialogs)."""
    from gan_studio.qt.main_window import MainWindow

    w = MainWindow(bridge, builtin_count=40, show_dialogs=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w
