"""Event-loop stalls of the real main window while its workspaces' jobs run (offscreen when headless).

A probe timer on the GUI thread asks to fire every few milliseconds; how late each firing comes after the one
before is how long the event loop could not run (a stall). The probe runs through each phase in the real window:
idle (the probe's floor on this machine), typing titles word by word in Generate, a first one-waypoint walk in
Explore (the worker's first traversal imports parts of torch, holding the GIL), then REDS waypoints, fitting the label generator and exporting a labeled dataset in Dataset, and exporting the Explore path
(frames and GIF). Waiting is always the event loop's own ``exec()`` (``QTest.qWait`` sleeps, which would count).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, QSettings, Qt, QTimer
from PySide6.QtTest import QTest

PHASES = ("idle", "generate", "traverse-first", "traverse", "fit", "export", "explore-export")
SQUARE = [(0.25, 0.2), (0.75, 0.2), (0.75, 0.6), (0.25, 0.6)]
KEY_MS = 40  # one keystroke every 40 ms: a fast typist
TIMEOUT_S = 1800.0


class StallProbe(QObject):
    """A precise timer of ``interval_ms``; :meth:`stop` returns each firing's lateness in ms (>= 0)."""

    def __init__(self, interval_ms: int = 5, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = int(interval_ms)
        self._timer = QTimer(self, interval=self.interval_ms, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self._late: list[float] = []

    def start(self) -> None:
        self._late = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> list[float]:
        """Stop; the firing due now counts too (a phase that never let the loop run has one long stall)."""
        self._timer.stop()
        self._tick()
        return self._late

    def _tick(self) -> None:
        now = time.perf_counter()
        self._late.append(max(0.0, (now - self._last) * 1000.0 - self.interval_ms))
        self._last = now


def run_until(done: Callable[[], bool], timeout_s: float | None = None, what: str = "the job") -> None:
    """Run the event loop until ``done()`` (checked every 20 ms); TimeoutError after ``timeout_s`` (TIMEOUT_S)."""
    timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    check = QTimer(interval=20)
    check.timeout.connect(lambda: (done() or time.monotonic() > deadline) and loop.quit())
    check.start()
    try:
        if not done():
            loop.exec()
    finally:
        check.stop()
    if not done():
        raise TimeoutError(f"{what} did not finish within {timeout_s:.0f} s")


def stats(late: list[float]) -> dict:
    """p50 / p99 / max lateness in ms and how many firings were measured."""
    if not late:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(late)
    return {
        "n": len(late),
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "max_ms": float(a.max()),
        "over_16_ms": int((a > 16).sum()),
    }


def _type(edit, text: str) -> None:
    """Type ``text`` one key per ``KEY_MS`` through the event loop, as a person would."""
    keys = list(text)

    def next_key() -> None:
        if keys:
            QTest.keyClicks(edit, keys.pop(0))

    timer = QTimer(interval=KEY_MS)
    timer.timeout.connect(next_key)
    timer.start()
    try:
        run_until(lambda: not keys, what="typing")
    finally:
        timer.stop()


def phase_idle(seconds: float) -> dict:
    """Nothing but the event loop for ``seconds``: the probe's floor on this machine."""
    end = time.monotonic() + seconds
    run_until(lambda: time.monotonic() > end, what="idle")
    return {}


def phase_generate(window, titles: list[str], words: int) -> dict:
    """Type titles word by word (a space after each word commits it), each word's image painted before the next.

    A token that adds no word (a lone "-" or "&") leaves the drawing as it was: nothing is drawn for it, so
    nothing is awaited and it does not count as a word.
    """
    from gan_studio.qt.title_text import boundary_state

    ws = window.generate
    window.set_workspace("generate")
    run_until(lambda: ws.last_outcome is not None or ws.problem is not None, what="the first image")
    typed = 0
    for i, title in enumerate(titles):
        ws.set_seed(i, commit=False)
        ws.set_title("", commit=False)
        ws.title_edit.setFocus()
        for word in title.split():
            if typed >= words:
                return {"words": typed}
            before = boundary_state(ws.title())
            _type(ws.title_edit, word + " ")
            text = ws.title()
            if boundary_state(text) == before:
                continue
            run_until(
                lambda t=text: ws.problem is not None
                or (ws.last_outcome is not None and ws.last_outcome.title == t
                    and ws.image_view.painted_frame == ws.image_view.frame),
                what=f"the image of {text!r}",
            )  # fmt: skip
            if ws.problem is not None:
                raise RuntimeError(ws.problem)
            typed += 1
    return {"words": typed}


def phase_traverse(window, waypoints: int) -> dict:
    """Walk REDS paths (lasso held, rest varied) until ``waypoints`` waypoints streamed into the filmstrip."""
    from gan_studio.methods.reds import MAX_STEPS

    ws = window.explore
    window.set_workspace("explore")
    run_until(lambda: ws.source is not None or ws.message_label.text().endswith("."), what="the garment")
    if ws.source is None:
        raise RuntimeError(ws.message_label.text())
    if ws.canvas.lasso.is_empty():
        ws.canvas.add_polygon(SQUARE)
    walked, runs = 0, 0
    while walked < waypoints:
        ws.steps_spin.setValue(min(MAX_STEPS, waypoints - walked))
        states: list[str] = []
        ws.traversalFinished.connect(states.append)
        if ws.run() is None:
            raise RuntimeError(ws.message_label.text())
        run_until(lambda s=states: bool(s), what="the traversal")
        ws.traversalFinished.disconnect(states.append)
        if states[0] != "done":
            raise RuntimeError(ws.message_label.text())
        walked += len(ws.frames) - 1
        runs += 1
    return {"waypoints": walked, "traversals": runs}


def _wait_signal(signal, start: Callable[[], object], what: str) -> str:
    states: list[str] = []
    signal.connect(states.append)
    try:
        if start() is None:
            raise RuntimeError(f"{what} did not start")
        run_until(lambda: bool(states), what=what)
    finally:
        signal.disconnect(states.append)
    return states[0]


def prepare_dataset(window, labeled: Path) -> None:
    """Import and invert the labeled folder (not measured: it only sets the fit up)."""
    ws = window.dataset
    window.set_workspace("dataset")
    done: list[str] = []
    ws.inversionFinished.connect(done.append)
    state = _wait_signal(ws.importFinished, lambda: ws.import_paths([labeled]), "the import")
    if state != "done":
        raise RuntimeError(ws.message_label.text())
    run_until(lambda: bool(done), what="the inversion")


def phase_fit(window, steps: int) -> dict:
    ws = window.dataset
    ws.steps_spin.setValue(steps)
    samples: list[int] = []
    ws.samplesShown.connect(samples.append)
    state = _wait_signal(ws.fitFinished, ws.fit, "the fit")
    if state != "done":
        raise RuntimeError(ws.message_label.text())
    run_until(lambda: bool(samples), what="the samples")  # they follow a fit on their own, and show
    return {"steps": steps}


def phase_export(window, n: int, folder: Path) -> dict:
    ws = window.dataset
    ws.export_spin.setValue(n)
    state = _wait_signal(ws.exportFinished, lambda: ws.export(folder), "the export")
    if state != "done":
        raise RuntimeError(ws.message_label.text())
    return {"items": n}


def phase_explore_export(window, folder: Path) -> dict:
    """Export the last path as PNG frames and as a GIF (4x), as the Explore buttons do."""
    ws = window.explore
    window.set_workspace("explore")
    written: list[list] = []
    ws.exported.connect(written.append)
    try:
        if ws.export_frames(folder / "frames") is None or ws.export_gif(folder / "path.gif") is None:
            raise RuntimeError(ws.message_label.text())
        run_until(lambda: len(written) == 2, what="the exports")
    finally:
        ws.exported.disconnect(written.append)
    if not all(written):
        raise RuntimeError(ws.message_label.text())
    return {"frames": len(written[0])}


def measure_stalls(
    *,
    titles: list[str],
    words: int = 200,
    waypoints: int = 40,
    fit_steps: int = 200,
    export: int = 100,
    labeled: Path | None = None,
    interval_ms: int = 5,
    phases: tuple[str, ...] = PHASES,
    generate_options: dict | None = None,
    explore_options: dict | None = None,
    dataset_options: dict | None = None,
    idle_s: float = 3.0,
    log: Callable[[str], None] = print,
) -> dict:
    """Per phase: the probe's lateness statistics (:func:`stats`), what ran and its seconds.

    ``labeled`` is a labeled catalog folder the Dataset workspace imports (needed by "fit" and "export").
    A phase that fails is reported with ``"error"`` (one sentence) and the next one still runs.
    """
    from gan_studio.qt.latency import _application
    from gan_studio.qt.main_window import MainWindow

    _application()
    tmp = Path(tempfile.mkdtemp(prefix="gan-studio-stalls-"))
    # The window reads and saves its settings on close: keep the user's own out of the measurement.
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    window = MainWindow(
        builtin_count=8, show_dialogs=False,
        generate_options={"discovery": False, **(generate_options or {})},  # discovery: the caller's choice
        explore_options=explore_options, dataset_options=dataset_options,
    )  # fmt: skip
    window.resize(1280, 820)
    probe = StallProbe(interval_ms)
    results: dict[str, dict] = {}
    prepared = False
    start = time.perf_counter()
    try:
        window.show()
        QTest.qWaitForWindowExposed(window, 10_000)
        for name in phases:
            run = {
                "idle": lambda: phase_idle(idle_s),
                "generate": lambda: phase_generate(window, titles, words),
                "traverse-first": lambda: phase_traverse(window, 1),
                "traverse": lambda: phase_traverse(window, waypoints),
                "fit": lambda: phase_fit(window, fit_steps),
                "export": lambda: phase_export(window, export, tmp / "dataset"),
                "explore-export": lambda: phase_explore_export(window, tmp / "explore"),
            }[name]
            late: list[float] | None = None
            try:
                if name in ("fit", "export") and not prepared:
                    if labeled is None:
                        raise ValueError("no labeled folder to import")
                    prepare_dataset(window, labeled)
                    prepared = True
                start = time.perf_counter()
                probe.start()
                late = []
                info = run() or {}
            except (RuntimeError, TimeoutError, OSError, ValueError) as exc:
                info = {"error": str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}
            if late is not None:  # the probe ran: its figures stand even when the job failed
                info.update(stats(probe.stop()))
            results[name] = {**info, "seconds": time.perf_counter() - start}
            r = results[name]
            log(f"{name}: " + (f"failed: {r['error']}" if "error" in r else
                f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms over "
                f"{r['seconds']:.0f} s"))  # fmt: skip
    finally:
        window.train.stop(timeout=10)
        window.close()
        window.bridge.shutdown(timeout=30)
        window.deleteLater()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "phases": results,
        "interval_ms": interval_ms,
        "platform": os.environ.get("QT_QPA_PLATFORM", ""),
        "key_ms": KEY_MS,
    }
