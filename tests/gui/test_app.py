"""`run_app()` opens the main window on the built-in catalog and returns when the window closes."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import gan_studio.qt.bridge as bridge_module
from gan_studio.qt.app import run_app
from gan_studio.qt.main_window import MainWindow


def test_run_app_shows_the_window_and_exits_cleanly(qapp, monkeypatch) -> None:
    real = bridge_module.WorkerBridge
    monkeypatch.setattr(bridge_module, "WorkerBridge", lambda *args, **kwargs: real("cpu"))
    seen: dict[str, object] = {}

    def close_once_loading() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if not windows or windows[0].catalog.model.loaded == 0:
            QTimer.singleShot(20, close_once_loading)
            return
        window = windows[0]
        seen["title"] = window.windowTitle()
        seen["source"] = window.catalog.source.description
        window.close()

    safety = QTimer(singleShot=True, interval=60_000)
    safety.timeout.connect(qapp.quit)
    safety.start()
    QTimer.singleShot(0, close_once_loading)
    assert run_app(["gan-studio"]) == 0
    safety.stop()
    assert seen == {"title": "GAN Studio", "source": "Built-in catalog, seed 0"}
