"""Screenshots of the app, for the docs: ``python -m gan_studio.qt.screenshot docs/screenshots/main_window.png``.

Runs offscreen when no display is set, with settings in a temporary folder so the user's own are not touched.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMainWindow, QWidget


def grab_window(path: str | Path, window: QWidget | None = None) -> Path:
    """Save a PNG of ``window`` (default: the first visible main window) at ``path``; returns the path."""
    if window is None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMainWindow) and w.isVisible()]
        if not windows:
            raise RuntimeError("there is no visible main window to grab")
        window = windows[0]
    QApplication.processEvents()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path), "PNG"):
        raise OSError(f"could not write the screenshot {path}")
    return path


@contextmanager
def _fresh_window(count: int, **options):
    """A shown 1280x820 main window with settings in a temporary folder and its own worker; yields
    (window, event loop) and tears both down after the caller grabbed what it needed."""
    from PySide6.QtCore import QEventLoop, QSettings

    from gan_studio.qt.app import make_application
    from gan_studio.qt.bridge import WorkerBridge
    from gan_studio.qt.main_window import MainWindow

    app = make_application(sys.argv[:1])
    with tempfile.TemporaryDirectory() as settings_dir:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
        bridge = WorkerBridge("cpu")
        window = MainWindow(bridge, builtin_count=count, show_dialogs=False, **options)
        window.resize(1280, 820)
        window.show()
        try:
            yield window, QEventLoop()
        finally:
            window.close()
            bridge.shutdown()
    app.processEvents()


def main_window_screenshot(path: str | Path, *, seed: int = 0, count: int = 512, row: int = 5) -> Path:
    """The main window on the built-in catalog with item ``row`` selected and its parts overlay shown."""
    from PySide6.QtCore import QTimer

    with _fresh_window(count) as (window, loop):
        catalog = window.catalog

        def loaded(_n: int) -> None:
            catalog.select_row(row)

        def shown(_index: int) -> None:
            catalog.detail.set_overlay("parts")
            QTimer.singleShot(600, loop.quit)  # let the status bar settle

        catalog.loadingFinished.connect(loaded)
        catalog.detailShown.connect(shown)
        QTimer.singleShot(120_000, loop.quit)
        catalog.open_builtin(seed)
        loop.exec()
        return grab_window(path, window)


def generate_screenshot(path: str | Path, title: str, *, seed: int = 7) -> Path:
    """The main window on the Generate workspace after drawing ``title``, with its similar catalog items."""
    from PySide6.QtCore import QTimer

    with _fresh_window(64) as (window, loop):
        ws = window.generate
        state = {"title_set": False}

        def matches(_n: int) -> None:
            if not state["title_set"]:  # the first matches: the discovery index is ready
                state["title_set"] = True
                ws.set_seed(seed, commit=False)
                ws.set_title(title)
            elif ws.last_outcome is not None and ws.last_outcome.title == title:
                QTimer.singleShot(600, loop.quit)

        ws.matchesShown.connect(matches)
        QTimer.singleShot(180_000, loop.quit)
        window.set_workspace("generate")
        loop.exec()
        return grab_window(path, window)


def explore_screenshot(path: str | Path, title: str, *, seed: int = 7, steps: int = 8) -> Path:
    """The main window on the Explore workspace after a REDS path from ``title`` holding the waistband fixed."""
    from PySide6.QtCore import QTimer

    with _fresh_window(64) as (window, loop):
        ws = window.explore

        def shown(_source) -> None:
            if ws.canvas.lasso.is_empty():  # the first garment shown: lasso the waistband and walk
                ws.canvas.add_polygon([(0.25, 0.04), (0.75, 0.04), (0.75, 0.3), (0.25, 0.3)])
                ws.steps_spin.setValue(steps)
                ws.run()

        ws.sourceShown.connect(shown)
        ws.traversalFinished.connect(lambda _state: QTimer.singleShot(600, loop.quit))
        QTimer.singleShot(300_000, loop.quit)
        ws.set_source(title, seed)
        window.set_workspace("explore")
        loop.exec()
        return grab_window(path, window)


def dataset_screenshot(
    path: str | Path,
    *,
    encoder: str | None = None,
    count: int = 6,
    steps: int = 150,
    refine_steps: int = 20,
    fit: bool = False,
) -> Path:
    """The main window on the Dataset workspace: ``count`` built-in catalog items imported and inverted with
    ``encoder`` (a checkpoint; default the shipped one), then the built-in label generator loaded (or, with
    ``fit``, a small one fitted on the imported items, ``steps`` steps of 4 members), its samples shown."""
    from dataclasses import replace

    from PySide6.QtCore import QTimer

    from gan_studio.data.catalog import iter_items
    from gan_studio.data.catalog_writer import write_catalog
    from gan_studio.methods.label_generator import LabelGeneratorConfig

    config = replace(LabelGeneratorConfig(), ensemble_size=4, steps=steps)
    with (
        tempfile.TemporaryDirectory() as tmp,
        _fresh_window(64, dataset_options={"encoder": encoder, "config": config}) as (window, loop),
    ):
        labels = write_catalog(iter_items(0, 0, count, 128), Path(tmp) / "labels")
        ws = window.dataset
        ws.refine_spin.setValue(refine_steps)
        next_step = ws.fit if fit else ws.use_builtin
        ws.inversionFinished.connect(lambda state: next_step() if state == "done" else loop.quit())
        ws.fitFinished.connect(lambda state: state != "done" and loop.quit())
        ws.problem.connect(lambda _sentence: loop.quit())

        def shown(_n: int) -> None:
            ws.grid.setCurrentRow(1)
            QTimer.singleShot(600, loop.quit)

        ws.samplesShown.connect(shown)
        QTimer.singleShot(900_000, loop.quit)
        window.set_workspace("dataset")
        ws.import_paths([labels])
        loop.exec()
        return grab_window(path, window)


def train_screenshot(path: str | Path, *, steps: tuple[int, int] = (80, 40)) -> Path:
    """The main window on the Train workspace after a real short ReStGAN run (the commands' tiny config, ``steps``
    of stage I and II), with its curves, last sample grid and the model in the Trained models list."""
    from PySide6.QtCore import QTimer

    with (
        tempfile.TemporaryDirectory() as tmp,
        _fresh_window(8, train_options={"runs_dir": Path(tmp) / "runs", "tiny": True}) as (window, loop),
    ):
        ws = window.train
        ws.form.steps_spin.setValue(steps[0])
        ws.form.stage2_spin.setValue(steps[1])
        ws.trainingFinished.connect(lambda _state: QTimer.singleShot(800, loop.quit))
        QTimer.singleShot(600_000, loop.quit)
        window.set_workspace("train")
        ws.start()
        loop.exec()
        return grab_window(path, window)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if len(args) >= 3 and args[1] == "--generate":  # PATH --generate TITLE
        print(generate_screenshot(args[0], args[2]))
        return 0
    if len(args) >= 3 and args[1] == "--explore":  # PATH --explore TITLE
        print(explore_screenshot(args[0], args[2]))
        return 0
    if len(args) >= 2 and args[1] == "--dataset":  # PATH --dataset [--fit] [ENCODER]
        fit = "--fit" in args[2:]
        rest = [a for a in args[2:] if a != "--fit"]
        print(dataset_screenshot(args[0], encoder=rest[0] if rest else None, fit=fit))
        return 0
    if len(args) >= 2 and args[1] == "--train":  # PATH --train
        print(train_screenshot(args[0]))
        return 0
    path = args[0] if args else "docs/screenshots/main_window.png"
    print(main_window_screenshot(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
