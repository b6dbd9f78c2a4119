"""One worker thread per device: it hosts the models and runs requests one at a time.

Queue semantics (the Mandelbrot/napari-slicer pattern): at most one request of each kind waits. Submitting a
request of a kind that already waits replaces the stale one in its place in line (the stale one is reported as
cancelled), and the running request of that kind, if any, is cancelled cooperatively. Different kinds run in
the order they were submitted.

Threading contract: `on_started(request)`, `on_progress(request_id, fraction, message)` and `on_result(result)`
are called on the worker thread (in synchronous mode, on the caller's thread). Every submitted request gets
exactly one `on_result`, including requests cancelled before they started; those are reported by the worker
thread as soon as it is between jobs. Callbacks must be quick and thread-safe; the Qt bridge turns them into
queued signals. An exception in a callback is logged and never stops the worker.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gan_studio.runtime.cancel import Cancelled, CancelToken
from gan_studio.runtime.jobs import JobContext, ModelCache, Request, Result, error_sentence
from gan_studio.runtime.memory import release_free_memory

if TYPE_CHECKING:
    from typing_extensions import Self

log = logging.getLogger(__name__)

TRIM_AFTER_S = 0.25  # jobs at least this long hand their freed memory back (see runtime.memory)
StartedFn = Callable[[Request], None]
ProgressCallback = Callable[[int, float, str], None]
ResultFn = Callable[[Result], None]


def default_device() -> str:
    """The device new work goes to: "cuda" when a CUDA device is usable, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def available_devices() -> list[str]:
    """Every device a worker can run on: "cpu", then "cuda:0", "cuda:1", ... for each visible GPU."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ["cpu", *(f"cuda:{i}" for i in range(n))]


@dataclass
class _Job:
    request: Request
    token: CancelToken


class DeviceWorker:
    """Runs requests on one device in one daemon thread (or inline with `synchronous=True`, for tests).

    `models` is the model cache for this device; by default the worker makes its own.
    """

    def __init__(
        self,
        device: str = "cpu",
        on_result: ResultFn | None = None,
        on_progress: ProgressCallback | None = None,
        on_started: StartedFn | None = None,
        *,
        models: ModelCache | None = None,
        synchronous: bool = False,
        name: str | None = None,
    ) -> None:
        self.device = str(device)
        self.models = models if models is not None else ModelCache(self.device)
        self.synchronous = synchronous
        self._on_result = on_result
        self._on_progress = on_progress
        self._on_started = on_started
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._queue: list[_Job] = []  # at most one job per kind, in run order
        # Results of requests cancelled before they started; the worker thread reports them.
        self._notices: list[Result] = []
        self._current: _Job | None = None
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        if not synchronous:
            self._thread = threading.Thread(
                target=self._loop, name=name or f"gan-studio-worker-{self.device}", daemon=True
            )
            self._thread.start()

    # ----------------------------------------------------------------------------------------- submitting

    def submit(self, kind: str, fn: Callable[[JobContext], Any], label: str = "") -> int:
        """Queue `fn(ctx)` as a request of `kind` and return its id.

        A waiting request of the same kind is replaced (and reported cancelled); a running one is cancelled.
        In synchronous mode the job runs before `submit` returns.
        """
        with self._cond:
            if self._stopping:
                raise RuntimeError(f"the {self.device} worker is shut down")
            job = _Job(Request(id=next(self._ids), kind=kind, fn=fn, label=label), CancelToken())
            if self.synchronous:
                outer, self._current, self._busy = self._current, job, True
            else:
                if self._current is not None and self._current.request.kind == kind:
                    self._current.token.cancel()
                for i, waiting in enumerate(self._queue):
                    if waiting.request.kind == kind:
                        self._queue[i] = job  # keep the kind's place in line
                        self._drop(waiting)
                        break
                else:
                    self._queue.append(job)
                self._cond.notify_all()
        if self.synchronous:
            try:
                self._run(job)
            finally:
                with self._cond:
                    self._current = outer  # a callback may have submitted a nested job
                    self._busy = outer is not None
                    self._cond.notify_all()
        return job.request.id

    def cancel(self, request_id: int) -> bool:
        """Cancel one request, waiting or running; return False if it is unknown or already finished."""
        with self._cond:
            if self._current is not None and self._current.request.id == request_id:
                self._current.token.cancel()
                return True
            for job in self._queue:
                if job.request.id == request_id:
                    self._queue.remove(job)
                    self._drop(job)
                    self._cond.notify_all()
                    return True
        return False

    def cancel_kind(self, kind: str) -> int:
        """Cancel the waiting and the running request of `kind`; return how many were cancelled."""
        return self._cancel_where(lambda r: r.kind == kind)

    def cancel_all(self) -> int:
        """Cancel every waiting request and the running one; return how many were cancelled."""
        return self._cancel_where(lambda r: True)

    def _cancel_where(self, match: Callable[[Request], bool]) -> int:
        n = 0
        with self._cond:
            if self._current is not None and match(self._current.request):
                if not self._current.token.cancelled:
                    n += 1
                self._current.token.cancel()
            keep = []
            for job in self._queue:
                if match(job.request):
                    self._drop(job)
                    n += 1
                else:
                    keep.append(job)
            self._queue = keep
            self._cond.notify_all()
        return n

    def _drop(self, job: _Job) -> None:
        # Caller holds the lock. The worker thread reports it, keeping callbacks on one thread.
        job.token.cancel()
        self._notices.append(Result.cancelled_before_start(job.request))

    # ----------------------------------------------------------------------------------------- introspection

    def pending(self) -> list[Request]:
        """Requests waiting to run, in run order."""
        with self._cond:
            return [job.request for job in self._queue]

    def running(self) -> Request | None:
        """The request running now, if any."""
        with self._cond:
            return self._current.request if self._current is not None else None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing waits, runs or remains to be reported; return False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._queue or self._notices or self._busy or self._current), timeout
            )

    @property
    def is_alive(self) -> bool:
        if self._thread is None:
            return not self._stopping
        return self._thread.is_alive()

    # ----------------------------------------------------------------------------------------- shutting down

    def shutdown(self, wait: bool = True, timeout: float | None = 5.0) -> bool:
        """Cancel everything and stop the thread; return True when the thread has ended.

        Waiting requests are reported cancelled; the running job is cancelled and the thread ends once the job
        notices (or returns). Safe to call more than once.
        """
        with self._cond:
            self._stopping = True
        self.cancel_all()
        if self._thread is None:
            return True
        if wait and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    # ----------------------------------------------------------------------------------------- the thread

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._notices or self._stopping)
                notices, self._notices = self._notices, []
                job = self._queue.pop(0) if self._queue else None
                if job is None and not notices and self._stopping:
                    return
                self._current = job
                self._busy = True
            for result in notices:
                self._emit(self._on_result, result)
            try:
                if job is not None:
                    self._run(job)
            except Exception:  # a bug here must not leave the device without a worker
                log.exception("worker failed while running request %r", job and job.request)
            finally:
                with self._cond:
                    self._current = None
                    self._busy = False
                    self._cond.notify_all()

    def _run(self, job: _Job) -> None:
        request, token = job.request, job.token
        if token.cancelled:  # cancelled between leaving the queue and starting
            self._emit(self._on_result, Result.cancelled_before_start(request))
            return
        self._emit(self._on_started, request)

        def report(fraction: float, message: str) -> None:
            self._emit(self._on_progress, request.id, fraction, message)

        ctx = JobContext(request=request, token=token, device=self.device, models=self.models, _report=report)
        start = time.perf_counter()
        value: Any = None
        error: str | None = None
        trace: str | None = None
        try:
            value = request.fn(ctx)
        except Cancelled:
            pass
        except Exception as exc:  # noqa: BLE001 - errors are values: the thread must survive any job
            error, trace = error_sentence(exc), traceback.format_exc()
        seconds = time.perf_counter() - start
        if token.cancelled:
            # A cancelled request's value is stale even if the job finished; the UI must not show it.
            result = Result(request.id, request.kind, ok=False, cancelled=True, seconds=seconds)
        elif error is not None:
            result = Result(request.id, request.kind, ok=False, error=error, seconds=seconds, traceback=trace)
        else:
            result = Result(request.id, request.kind, ok=True, value=value, seconds=seconds)
        del value, ctx  # drop references to big tensors before waiting for the next request
        if seconds >= TRIM_AFTER_S:  # a big job's freed activations go back to the system (glibc keeps them)
            release_free_memory()
        self._emit(self._on_result, result)

    @staticmethod
    def _emit(callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("worker callback %r failed", callback)


class WorkerPool:
    """One `DeviceWorker` per device (default: `available_devices()`), sharing the same callbacks.

    Index by device string; `default` is the first CUDA worker when there is one, else the CPU worker.
    """

    def __init__(self, devices: Iterable[str] | None = None, **worker_kwargs: Any) -> None:
        self.workers = workers_for_devices(devices, **worker_kwargs)

    @property
    def default(self) -> DeviceWorker:
        cuda = [w for d, w in self.workers.items() if d.startswith("cuda")]
        return cuda[0] if cuda else next(iter(self.workers.values()))

    def __getitem__(self, device: str) -> DeviceWorker:
        return self.workers[device]

    def __iter__(self) -> Iterator[DeviceWorker]:
        return iter(self.workers.values())

    def shutdown(self, wait: bool = True, timeout: float | None = 5.0) -> bool:
        for worker in self.workers.values():  # ask all to stop before waiting on any
            worker.shutdown(wait=False)
        stopped = [worker.shutdown(wait=wait, timeout=timeout) for worker in self.workers.values()]
        return all(stopped)


def workers_for_devices(
    devices: Iterable[str] | None = None, **worker_kwargs: Any
) -> dict[str, DeviceWorker]:
    """A worker per device (default: `available_devices()`), e.g. {"cpu": ..., "cuda:0": ...}."""
    names = list(devices) if devices is not None else available_devices()
    return {d: DeviceWorker(d, **worker_kwargs) for d in names}
