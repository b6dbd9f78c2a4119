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


def test_a_damaged_icon_is_not_shown_and_is_one_warning_line(qapp, tmp_path, monkeypatch, caplog) -> None:
    """An icon is cosmetic: the app still opens (with the platform's default icon), and the log says why once."""
    import logging
    import shutil

    from PySide6.QtGui import QIcon

    from gan_studio.qt.app import make_application
    from gan_studio.resources import resource_path

    copy = tmp_path / "resources" / "icons"
    shutil.copytree(resource_path("icons"), copy)
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(copy.parent))
    qapp.setWindowIcon(QIcon())
    assert make_application() is qapp and not qapp.windowIcon().isNull()  # the intact copy is shown
    qapp.setWindowIcon(QIcon())
    data = bytearray((copy / "gan-studio.png").read_bytes())
    data[len(data) // 2] ^= 0x01  # a flipped byte
    (copy / "gan-studio.png").write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="gan_studio.qt.app"):
        make_application()
    assert qapp.windowIcon().isNull()
    lines = [r.getMessage() for r in caplog.records if r.name == "gan_studio.qt.app"]
    assert len(lines) == 1 and "does not match the sha256" in lines[0] and "\n" not in lines[0], lines
