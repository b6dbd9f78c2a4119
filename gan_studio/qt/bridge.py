"""The thin Qt side of the device worker: worker callbacks become signals delivered on the GUI thread.

The worker calls back on its own thread. The bridge re-emits each callback through a private signal connected
with a queued connection to itself, so the public signals are always emitted on the thread the bridge lives in
(the GUI thread), whatever connection type their receivers use. Signals carry plain data: ids, floats, strings
and `Result` objects whose torch tensors were turned into numpy arrays.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gan_studio.runtime.jobs import JobContext, Request, Result
from gan_studio.runtime.worker import DeviceWorker, default_device


def plain_value(value: Any) -> Any:
    """Return `value` with torch tensors (also inside lists, tuples and dicts) converted to numpy arrays."""
    torch = sys.modules.get("torch")  # if torch was never imported, no tensor can exist
    if torch is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(plain_value(v) for v in value)
    return value


class WorkerBridge(QObject):
    """Owns a `DeviceWorker` and reports its work as signals on the GUI thread.

    Signals: `started(request_id, kind, label)`, `progress(request_id, fraction, message)`,
    `finished(result)` for every request (including cancelled ones: check `result.cancelled`), and
    `error(request_id, sentence)` for failed ones, emitted just before their `finished`.
    Call `shutdown()` when the application quits.
    """

    started = Signal(int, str, str)
    progress = Signal(int, float, str)
    finished = Signal(object)
    error = Signal(int, str)

    # Emitted on the worker thread; queued to this object's thread.
    _started_from_worker = Signal(int, str, str)
    _progress_from_worker = Signal(int, float, str)
    _result_from_worker = Signal(object)

    def __init__(
        self, device: str | None = None, *, synchronous: bool = False, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        queued = Qt.ConnectionType.QueuedConnection
        self._started_from_worker.connect(self._deliver_started, queued)
        self._progress_from_worker.connect(self._deliver_progress, queued)
        self._result_from_worker.connect(self._deliver_result, queued)
        self.worker = DeviceWorker(
            device if device is not None else default_device(),
            on_result=self._on_worker_result,
            on_progress=self._progress_from_worker.emit,
            on_started=self._on_worker_started,
            synchronous=synchronous,
        )

    @property
    def device(self) -> str:
        return self.worker.device

    def submit(self, kind: str, fn: Callable[[JobContext], Any], label: str = "") -> int:
        """Queue `fn(ctx)` on the worker (see `DeviceWorker.submit`); return the request id."""
        return self.worker.submit(kind, fn, label)

    def cancel(self, request_id: int) -> bool:
        return self.worker.cancel(request_id)

    def cancel_kind(self, kind: str) -> int:
        return self.worker.cancel_kind(kind)

    def cancel_all(self) -> int:
        return self.worker.cancel_all()

    def shutdown(self, timeout: float | None = 5.0) -> bool:
        """Cancel all work and stop the worker thread; return True when it has ended."""
        return self.worker.shutdown(wait=True, timeout=timeout)

    # Worker thread -------------------------------------------------------------------------------------

    def _on_worker_started(self, request: Request) -> None:
        self._started_from_worker.emit(request.id, request.kind, request.label)

    def _on_worker_result(self, result: Result) -> None:
        if result.ok:  # convert here so device-to-host copies never run on the GUI thread
            result = replace(result, value=plain_value(result.value))
        self._result_from_worker.emit(result)

    # GUI thread ----------------------------------------------------------------------------------------

    @Slot(int, str, str)
    def _deliver_started(self, request_id: int, kind: str, label: str) -> None:
        self.started.emit(request_id, kind, label)

    @Slot(int, float, str)
    def _deliver_progress(self, request_id: int, fraction: float, message: str) -> None:
        self.progress.emit(request_id, fraction, message)

    @Slot(object)
    def _deliver_result(self, result: Result) -> None:
        if not result.ok and not result.cancelled:
            self.error.emit(result.request_id, result.error or "unknown error")
        self.finished.emit(result)


def run_in_worker_async(
    bridge: WorkerBridge, kind: str, fn: Callable[[JobContext], Any], label: str = ""
) -> asyncio.Future[Result]:
    """Submit through `bridge` and return a future resolved with the `Result` on the GUI thread.

    Needs a running asyncio loop integrated with Qt (qasync). Errors and cancellations come back as values in
    the `Result`; cancelling the future cancels the request.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Result] = loop.create_future()
    request_id = -1  # set right after submit; results are queued, so none can arrive before

    def on_finished(result: Result) -> None:
        if result.request_id != request_id:
            return
        bridge.finished.disconnect(on_finished)
        if not future.done():
            future.set_result(result)

    def on_done(f: asyncio.Future[Result]) -> None:
        if f.cancelled():
            bridge.cancel(request_id)

    bridge.finished.connect(on_finished)
    try:
        request_id = bridge.submit(kind, fn, label)
    except BaseException:
        bridge.finished.disconnect(on_finished)
        raise
    future.add_done_callback(on_done)
    return future
