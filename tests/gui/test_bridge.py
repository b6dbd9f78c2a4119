"""The Qt bridge: worker callbacks arrive as signals on the GUI thread, carrying plain data."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading

import numpy as np
import pytest
from PySide6.QtCore import QThread

from gan_studio.qt.bridge import WorkerBridge, plain_value, run_in_worker_async
from gan_studio.runtime.jobs import Result

TIMEOUT_MS = 5000


@pytest.fixture
def bridge(qapp):
    b = WorkerBridge("cpu")
    yield b
    assert b.shutdown(timeout=TIMEOUT_MS / 1000)


def test_finished_is_delivered_on_the_gui_thread(qtbot, qapp, bridge: WorkerBridge) -> None:
    seen: list[tuple[bool, object]] = []

    def on_finished(result: Result) -> None:
        seen.append((QThread.currentThread() == qapp.thread(), threading.current_thread()))

    bridge.finished.connect(on_finished)
    worker_threads: list[threading.Thread] = []

    def job(ctx):
        worker_threads.append(threading.current_thread())
        return 6 * 7

    with (
        qtbot.waitSignal(bridge.started, timeout=TIMEOUT_MS) as started,
        qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS) as finished,
    ):
        rid = bridge.submit("preview", job, label="black skinny jeans")
    assert started.args == [rid, "preview", "black skinny jeans"]
    result = finished.args[0]
    assert isinstance(result, Result) and result.ok and result.value == 42 and result.request_id == rid
    assert seen == [(True, threading.main_thread())]
    assert worker_threads and worker_threads[0] is not threading.main_thread()


def test_progress_signals_arrive_before_finished(qtbot, bridge: WorkerBridge) -> None:
    progress: list[tuple[int, float, str]] = []
    bridge.progress.connect(lambda rid, f, msg: progress.append((rid, f, msg)))

    def job(ctx):
        for i in range(1, 4):
            ctx.progress(i / 4, f"step {i}")
        return "done"

    with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS):
        rid = bridge.submit("traversal", job)
    assert progress == [(rid, 0.25, "step 1"), (rid, 0.5, "step 2"), (rid, 0.75, "step 3")]


def test_error_job_emits_error_then_finished(qtbot, bridge: WorkerBridge) -> None:
    order: list[str] = []
    bridge.error.connect(lambda rid, msg: order.append("error"))
    bridge.finished.connect(lambda result: order.append("finished"))

    def bad(ctx):
        raise ValueError("no garment type in the title")

    with (
        qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS) as finished,
        qtbot.waitSignal(bridge.error, timeout=TIMEOUT_MS) as error,
    ):
        rid = bridge.submit("preview", bad)
    assert error.args == [rid, "ValueError: no garment type in the title"]
    assert order == ["error", "finished"]
    result = finished.args[0]
    assert not result.ok and not result.cancelled and result.error == error.args[1]


def test_cancelled_request_finishes_without_error(qtbot, bridge: WorkerBridge) -> None:
    errors: list[int] = []
    bridge.error.connect(lambda rid, msg: errors.append(rid))
    entered, release = threading.Event(), threading.Event()

    def held(ctx):
        entered.set()
        release.wait(TIMEOUT_MS / 1000)

    bridge.submit("blocker", held)
    assert entered.wait(TIMEOUT_MS / 1000)
    stale = bridge.submit("preview", lambda ctx: "stale")
    with qtbot.waitSignal(
        bridge.finished, timeout=TIMEOUT_MS, check_params_cb=lambda r: r.request_id == stale
    ) as blocker:
        bridge.submit("preview", lambda ctx: "fresh")
        release.set()
    assert blocker.args[0].cancelled
    assert errors == []


def test_synchronous_bridge_delivers_through_the_event_loop(qtbot, qapp) -> None:
    bridge = WorkerBridge("cpu", synchronous=True)
    got: list[Result] = []
    bridge.finished.connect(got.append)
    with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS):
        bridge.submit("preview", lambda ctx: 1)
        assert got == []  # queued, never re-entrant inside submit()
    assert got[0].value == 1
    assert bridge.shutdown()


def test_tensors_become_numpy_arrays(qtbot, bridge: WorkerBridge) -> None:
    torch = pytest.importorskip("torch")
    with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS) as blocker:
        bridge.submit("preview", lambda ctx: {"image": torch.ones(2, 3), "scores": [torch.zeros(1)], "n": 2})
    value = blocker.args[0].value
    assert isinstance(value["image"], np.ndarray) and value["image"].shape == (2, 3)
    assert isinstance(value["scores"][0], np.ndarray)
    assert value["n"] == 2
    assert plain_value(("a", 1.0)) == ("a", 1.0)


def test_run_in_worker_async_with_qasync(qapp, bridge: WorkerBridge) -> None:
    qasync = pytest.importorskip("qasync")

    async def main() -> tuple[Result, Result]:
        ok = await run_in_worker_async(bridge, "preview", lambda ctx: "image")
        failed = await run_in_worker_async(bridge, "preview", lambda ctx: 1 / 0)
        return ok, failed

    loop = qasync.QEventLoop(qapp)
    try:
        ok, failed = loop.run_until_complete(main())
    finally:
        loop.close()
    assert ok.ok and ok.value == "image"
    assert not failed.ok and failed.error == "ZeroDivisionError: division by zero"
