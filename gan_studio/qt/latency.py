"""Word-to-pixels latency of the Generate workspace, measured on the real widgets (offscreen when headless).

For each title the probe types the words one at a time into the title box and commits each with Enter, timing
from the Enter key to the paint event that puts the new image on screen. It does this twice: with the incremental
session (one new image per word) and in "scratch" mode, where every prefix is redrawn with
``TitleGenerator.generate``. The 150 ms typing debounce is not part of the timings (Enter commits at once).
"""

from __future__ import annotations

import os
import statistics
import time

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest

MODES = ("incremental", "scratch")
TIMEOUT_S = 120.0


def _application():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from gan_studio.qt.app import make_application

        app = make_application(["gan-studio-latency"])
    return app


def _wait_for_frame(workspace, frame_before: int, timeout_s: float = TIMEOUT_S) -> None:
    """Run the event loop until the image view painted a frame newer than ``frame_before``."""
    view = workspace.image_view
    if view.painted_frame > frame_before:
        return
    loop = QEventLoop()
    view.framePainted.connect(loop.quit)
    workspace.modelUnavailable.connect(loop.quit)
    timer = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    timer.timeout.connect(loop.quit)
    timer.start()
    try:
        while view.painted_frame <= frame_before and timer.isActive() and workspace.problem is None:
            loop.exec()
    finally:
        timer.stop()
        view.framePainted.disconnect(loop.quit)
        workspace.modelUnavailable.disconnect(loop.quit)
    if workspace.problem is not None:
        raise RuntimeError(workspace.problem)
    if view.painted_frame <= frame_before:
        raise TimeoutError(f"no image was painted within {timeout_s:.0f} s")


def measure_word_to_pixels(titles: list[str], generator, seed: int = 0) -> dict:
    """Milliseconds from committing a word to its image being painted, incremental session vs from scratch.

    ``generator`` is a loaded :class:`~gan_studio.methods.restgan.TitleGenerator`; it runs on a worker thread on
    its own device, exactly as in the app. Each title starts cold (empty session), its empty prefix is drawn
    unmeasured, then each word (split on whitespace) is typed and committed and timed.

    Returns a dict with keys:

    - ``"incremental_ms"``, ``"scratch_ms"``: lists of float ms, one per committed word, titles in order;
    - ``"incremental_median_ms"``, ``"scratch_median_ms"``: their medians (float; nan when no word was timed);
    - ``"n"``: words timed per mode; ``"words"``: words per title; ``"debounce_ms"``: the typing debounce that
      the timings leave out; ``"device"``: the worker's device; ``"image_size"``: generated image side in px.
    """
    _application()
    from gan_studio.qt.bridge import WorkerBridge
    from gan_studio.qt.generate_workspace import GenerateWorkspace

    bridge = WorkerBridge(str(generator.device))
    workspace = GenerateWorkspace(bridge, generator=generator, discovery=False, title="")
    workspace.resize(900, 700)
    timings: dict[str, list[float]] = {mode: [] for mode in MODES}
    words_per_title = [len(str(t).split()) for t in titles]
    debounce_ms = workspace.debounce_ms
    try:
        workspace.show()
        QTest.qWaitForWindowExposed(workspace, 5000)
        workspace.set_seed(int(seed), commit=False)
        edit = workspace.title_edit
        for mode in MODES:
            workspace.set_mode(mode)
            for title in titles:
                workspace.reset_session()
                frame = workspace.image_view.painted_frame
                workspace.set_title("", commit=True)
                _wait_for_frame(workspace, frame)
                edit.setFocus()
                for k, word in enumerate(str(title).split()):
                    QTest.keyClicks(edit, (" " if k else "") + word)
                    frame = workspace.image_view.painted_frame
                    start = time.perf_counter()
                    QTest.keyClick(edit, Qt.Key.Key_Return)
                    _wait_for_frame(workspace, frame)
                    timings[mode].append((workspace.image_view.painted_at - start) * 1000.0)
    finally:
        workspace.stop()
        workspace.close()
        bridge.shutdown(timeout=30)
        workspace.deleteLater()

    def median(values: list[float]) -> float:
        return float(statistics.median(values)) if values else float("nan")

    return {
        "incremental_ms": timings["incremental"],
        "scratch_ms": timings["scratch"],
        "incremental_median_ms": median(timings["incremental"]),
        "scratch_median_ms": median(timings["scratch"]),
        "n": len(timings["incremental"]),
        "words": words_per_title,
        "debounce_ms": debounce_ms,
        "device": str(generator.device),
        "image_size": int(generator.image_size),
    }
