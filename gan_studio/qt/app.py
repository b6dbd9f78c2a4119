"""`run_app()`: the GUI entry point (``gan-studio`` with no sub-command)."""

from __future__ import annotations

import logging
import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from gan_studio.qt.settings import APPLICATION, ORGANIZATION
from gan_studio.resources import checked_icon


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (existing or new) with the names the settings use."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("GAN Studio")
    # The window, task bar and dialogs. The icon is cosmetic: a missing or damaged one (checked against icons.json,
    # as the self-test does) is one warning line and the platform's default icon, never a refusal to start.
    icon, why = checked_icon()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    else:
        logging.getLogger(__name__).warning("%s", why)
    return app


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window on the built-in catalog and run the event loop; returns the exit code.

    ``argv`` may name a catalog folder to open instead of the built-in catalog.
    """
    from gan_studio.qt.bridge import WorkerBridge
    from gan_studio.qt.main_window import MainWindow

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = make_application(argv)
    args = list(argv[1:]) if argv is not None else sys.argv[1:]
    bridge = WorkerBridge()
    window = MainWindow(bridge)
    window.show()
    window.log(f"Worker running on {bridge.device}.")
    folder = next((a for a in args if not a.startswith("-")), None)
    if folder:
        window.open_folder(folder)
    else:
        window.catalog.open_builtin()
    try:
        return int(app.exec())
    finally:
        bridge.shutdown()
