"""Explore end to end in the real workspace (offscreen when headless): Run to the last frame, and scrubbing.

For each Jacobian mode (the fast default, and ``exact``) the probe draws the garment, draws a lasso square, presses
Run and times from the press to the paint of the first and of the last waypoint's image; a stall probe on the GUI
thread records how late the event loop ran meanwhile (the work streams from the worker; the GUI must not block).
Then it scrubs the slider over the finished path back and forth, one value per step as a drag delivers them,
and reports frames painted per second.
"""

from __future__ import annotations

import statistics
import time

from PySide6.QtWidgets import QApplication

from gan_studio.qt.latency import _application
from gan_studio.qt.stall_bench import SQUARE, StallProbe, run_until, stats

MODES = ("fast", "exact")


def _walk(ws, steps: int, exact: bool) -> dict:
    """One Run of ``steps`` waypoints: ms from Run to the first and the last waypoint on screen, and stalls."""
    ws.steps_spin.setValue(steps)
    ws.exact_check.setChecked(exact)
    painted: dict[int, float] = {}

    def arrived(index: int) -> None:
        # _add_frame paints the newest frame synchronously (ImageView.repaint) before it emits frameArrived.
        painted[index] = ws.frame_view.painted_at

    states: list[str] = []
    ws.frameArrived.connect(arrived)
    ws.traversalFinished.connect(states.append)
    probe = StallProbe(5)
    try:
        probe.start()
        start = time.perf_counter()
        if ws.run() is None:
            raise RuntimeError(ws.message_label.text())
        run_until(lambda: bool(states), what="the traversal")
        late = probe.stop()
    finally:
        ws.frameArrived.disconnect(arrived)
        ws.traversalFinished.disconnect(states.append)
    if states[0] != "done" or steps not in painted:
        raise RuntimeError(ws.message_label.text() or f"the traversal ended {states[0]}")
    return {
        "run_to_first_ms": (painted[min(k for k in painted if k > 0)] - start) * 1000.0,
        "run_to_last_ms": (painted[steps] - start) * 1000.0,
        "stalls": stats(late),
    }


def _scrub(ws, passes: int) -> dict:
    """Drag the slider over the path ``passes`` times (there and back); frames painted per second."""
    app = QApplication.instance()
    n = len(ws.frames)
    values = []
    for p in range(passes):
        values += list(range(n)) if p % 2 == 0 else list(range(n - 1, -1, -1))
    view = ws.frame_view
    times = []
    start = time.perf_counter()
    for k in values:
        before = view.painted_frame
        t = time.perf_counter()
        ws.slider.setValue(k)
        app.processEvents()
        if view.painted_frame > before:
            times.append((view.painted_at - t) * 1000.0)
    seconds = time.perf_counter() - start
    return {
        "slider_values": len(values),
        "frames_painted": len(times),
        "frames_per_second": len(times) / seconds if seconds > 0 else float("nan"),
        "median_ms_per_frame": float(statistics.median(times)) if times else float("nan"),
        "max_ms_per_frame": max(times) if times else float("nan"),
    }


def measure_explore(
    *,
    steps: int = 8,
    runs: int = 3,
    modes: tuple[str, ...] = MODES,
    scrub_passes: int = 20,
    title: str = "men's blue jeans",
    seed: int = 0,
    generator=None,
    model_path=None,
) -> dict:
    """Run ``runs`` traversals of ``steps`` waypoints per mode (modes interleaved, after one unmeasured warm-up
    walk) and scrub each mode's last path. Returns per mode the run-to-first/last-frame ms of every run, their
    medians, the stall statistics of every run, and the scrubbing result."""
    _application()
    from gan_studio.qt.bridge import WorkerBridge
    from gan_studio.qt.explore_workspace import ExploreWorkspace

    device = str(generator.device) if generator is not None else "cpu"
    bridge = WorkerBridge(device)
    ws = ExploreWorkspace(bridge, model_path=model_path, generator=generator, title=title, seed=seed)
    ws.resize(1100, 760)
    result: dict = {mode: {"runs": []} for mode in modes}
    try:
        ws.show()
        ws.load_source()
        run_until(lambda: ws.source is not None or ws.message_label.text().endswith("."), what="the garment")
        if ws.source is None:
            raise RuntimeError(ws.message_label.text())
        if ws.canvas.lasso.is_empty():
            ws.canvas.add_polygon(SQUARE)
        _walk(ws, 1, False)  # warm-up: the worker's first traversal imports and allocates
        for _ in range(runs):
            for mode in modes:
                result[mode]["runs"].append(_walk(ws, steps, mode == "exact"))
                result[mode]["scrub"] = _scrub(ws, scrub_passes)
    finally:
        ws.stop()
        ws.close()
        bridge.shutdown(timeout=60)
        ws.deleteLater()
    for mode in modes:
        runs_ = result[mode]["runs"]
        result[mode]["run_to_last_median_ms"] = statistics.median(r["run_to_last_ms"] for r in runs_)
        result[mode]["run_to_first_median_ms"] = statistics.median(r["run_to_first_ms"] for r in runs_)
        result[mode]["max_stall_ms"] = max(r["stalls"]["max_ms"] for r in runs_)
    return {"steps": steps, "title": title, "seed": seed, "fixed": ["lasso"], "vary": ["rest"], **result}
