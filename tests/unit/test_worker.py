"""The device worker: results and errors as values, latest-request-wins queue, cooperative cancellation.

Ordering is made deterministic with events (a "blocker" job holds the thread while the test arranges the
queue), never with sleeps.
"""

from __future__ import annotations

import sys
import threading
import types

import pytest

from gan_studio.runtime.cancel import Cancelled, CancelToken, check_cancel
from gan_studio.runtime.jobs import ModelCache, Result
from gan_studio.runtime.worker import DeviceWorker, WorkerPool, available_devices, default_device

TIMEOUT = 5.0


class Recorder:
    """Collects what the worker reports, with the thread each callback ran on."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.started: list[int] = []
        self.progress: list[tuple[int, float, str]] = []
        self.threads: set[int] = set()

    def on_result(self, result: Result) -> None:
        self.threads.add(threading.get_ident())
        self.results.append(result)

    def on_started(self, request) -> None:
        self.threads.add(threading.get_ident())
        self.started.append(request.id)

    def on_progress(self, request_id: int, fraction: float, message: str) -> None:
        self.threads.add(threading.get_ident())
        self.progress.append((request_id, fraction, message))

    def by_id(self) -> dict[int, Result]:
        return {r.request_id: r for r in self.results}


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def worker(rec: Recorder):
    w = DeviceWorker("cpu", on_result=rec.on_result, on_progress=rec.on_progress, on_started=rec.on_started)
    yield w
    w.shutdown(timeout=TIMEOUT)


def hold(worker: DeviceWorker, kind: str = "blocker") -> tuple[int, threading.Event]:
    """Occupy the worker until the returned event is set; returns once the job is running."""
    entered, release = threading.Event(), threading.Event()

    def job(ctx):
        entered.set()
        assert release.wait(TIMEOUT)
        return "held"

    rid = worker.submit(kind, job)
    assert entered.wait(TIMEOUT)
    return rid, release


def wait_for_cancel(ctx):
    """A job that runs until cancelled, checking its token cooperatively."""
    ctx.token.wait(TIMEOUT)
    ctx.raise_if_cancelled()
    return "not cancelled"


def test_cancel_token() -> None:
    token = CancelToken()
    assert not token.cancelled
    token.raise_if_cancelled()
    token.cancel()
    assert token.cancelled and token.wait(0)
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_check_cancel_takes_none_a_token_or_a_callable() -> None:
    token = CancelToken()
    for cancel in (None, token, lambda: False):
        check_cancel(cancel)  # nothing asked: goes on
    token.cancel()
    for cancel in (token, lambda: True):
        with pytest.raises(Cancelled):
            check_cancel(cancel)


def test_result_is_returned_on_the_worker_thread(worker: DeviceWorker, rec: Recorder) -> None:
    rid = worker.submit("preview", lambda ctx: (ctx.request.kind, ctx.device), label="title")
    assert worker.wait_idle(TIMEOUT)
    (result,) = rec.results
    assert result.request_id == rid and result.kind == "preview"
    assert result.ok and not result.cancelled and result.error is None
    assert result.value == ("preview", "cpu")
    assert result.seconds >= 0.0
    assert rec.started == [rid]
    assert rec.threads and threading.get_ident() not in rec.threads


def test_error_comes_back_as_value_and_thread_survives(worker: DeviceWorker, rec: Recorder) -> None:
    def bad(ctx):
        raise ValueError("the title is empty")

    bad_id = worker.submit("preview", bad)
    good_id = worker.submit("traversal", lambda ctx: 7)
    assert worker.wait_idle(TIMEOUT)
    results = rec.by_id()
    assert not results[bad_id].ok and not results[bad_id].cancelled
    assert results[bad_id].error == "ValueError: the title is empty"
    assert "the title is empty" in results[bad_id].traceback
    assert results[good_id].ok and results[good_id].value == 7
    assert worker.is_alive


def test_queued_request_of_same_kind_is_replaced_in_place(worker: DeviceWorker, rec: Recorder) -> None:
    ran: list[str] = []
    _, release = hold(worker)
    stale = worker.submit("preview", lambda ctx: ran.append("stale"))
    other = worker.submit("traversal", lambda ctx: ran.append("traversal"))
    fresh = worker.submit("preview", lambda ctx: ran.append("fresh"))
    assert [r.id for r in worker.pending()] == [fresh, other]  # the kind keeps its place in line
    release.set()
    assert worker.wait_idle(TIMEOUT)
    assert ran == ["fresh", "traversal"]
    results = rec.by_id()
    assert results[stale].cancelled and not results[stale].ok and results[stale].seconds == 0.0
    assert stale not in rec.started
    assert results[fresh].ok and results[other].ok


def test_running_request_of_same_kind_is_cancelled_cooperatively(worker: DeviceWorker, rec: Recorder) -> None:
    entered = threading.Event()

    def slow(ctx):
        entered.set()
        return wait_for_cancel(ctx)

    old = worker.submit("preview", slow)
    assert entered.wait(TIMEOUT)
    assert worker.running().id == old
    new = worker.submit("preview", lambda ctx: "new image")
    assert worker.wait_idle(TIMEOUT)
    results = rec.by_id()
    assert results[old].cancelled and results[old].value is None
    assert results[new].ok and results[new].value == "new image"
    assert [r.request_id for r in rec.results] == [old, new]


def test_cancelled_job_that_finishes_anyway_is_reported_cancelled(
    worker: DeviceWorker, rec: Recorder
) -> None:
    entered, release = threading.Event(), threading.Event()

    def ignores_token(ctx):
        entered.set()
        release.wait(TIMEOUT)
        return "stale image"

    rid = worker.submit("preview", ignores_token)
    assert entered.wait(TIMEOUT)
    assert worker.cancel(rid)
    release.set()
    assert worker.wait_idle(TIMEOUT)
    assert rec.results[0].cancelled and rec.results[0].value is None


def test_different_kinds_run_in_submission_order(worker: DeviceWorker, rec: Recorder) -> None:
    _, release = hold(worker)
    a = worker.submit("a", lambda ctx: "a")
    b = worker.submit("b", lambda ctx: "b")
    assert [r.kind for r in worker.pending()] == ["a", "b"]
    release.set()
    assert worker.wait_idle(TIMEOUT)
    assert [(r.request_id, r.value) for r in rec.results[1:]] == [(a, "a"), (b, "b")]
    assert all(r.ok for r in rec.results)


def test_cancel_by_id(worker: DeviceWorker, rec: Recorder) -> None:
    ran: list[int] = []
    held, release = hold(worker)
    queued = worker.submit("preview", lambda ctx: ran.append(1))
    assert worker.cancel(queued)
    assert worker.pending() == []
    assert not worker.cancel(queued)  # already gone
    assert not worker.cancel(12345)
    release.set()
    assert worker.wait_idle(TIMEOUT)
    assert ran == []
    results = rec.by_id()
    assert results[queued].cancelled and results[held].ok
    assert len(rec.results) == 2  # exactly one result per request


def test_cancel_running_by_id(worker: DeviceWorker, rec: Recorder) -> None:
    entered = threading.Event()

    def job(ctx):
        entered.set()
        return wait_for_cancel(ctx)

    rid = worker.submit("preview", job)
    assert entered.wait(TIMEOUT)
    assert worker.cancel(rid)
    assert worker.wait_idle(TIMEOUT)
    assert rec.results[0].cancelled and rec.results[0].seconds < TIMEOUT


def test_cancel_kind_and_cancel_all(worker: DeviceWorker, rec: Recorder) -> None:
    held, release = hold(worker, kind="blocker")
    a = worker.submit("a", lambda ctx: "a")
    b = worker.submit("b", lambda ctx: "b")
    assert worker.cancel_kind("a") == 1
    assert [r.id for r in worker.pending()] == [b]
    release.set()
    assert worker.wait_idle(TIMEOUT)
    results = rec.by_id()
    assert results[a].cancelled and results[b].ok and results[held].ok

    entered = threading.Event()

    def job(ctx):
        entered.set()
        return wait_for_cancel(ctx)

    running = worker.submit("c", job)
    assert entered.wait(TIMEOUT)
    queued = worker.submit("d", lambda ctx: "d")
    assert worker.cancel_all() == 2
    assert worker.wait_idle(TIMEOUT)
    results = rec.by_id()
    assert results[running].cancelled and results[queued].cancelled


def test_progress_callbacks_carry_clamped_fractions(worker: DeviceWorker, rec: Recorder) -> None:
    def job(ctx):
        ctx.progress(0.25, "stage I")
        ctx.progress(0.5)
        ctx.progress(1.5, "done")
        return "ok"

    rid = worker.submit("preview", job)
    assert worker.wait_idle(TIMEOUT)
    assert rec.progress == [(rid, 0.25, "stage I"), (rid, 0.5, ""), (rid, 1.0, "done")]
    assert threading.get_ident() not in rec.threads


def test_progress_is_a_cancellation_point(worker: DeviceWorker, rec: Recorder) -> None:
    steps: list[int] = []

    def job(ctx):
        for step in range(5):
            if step == 2:
                ctx.token.cancel()  # as if the user pressed stop between steps
            ctx.progress(step / 5)
            steps.append(step)

    worker.submit("train", job)
    assert worker.wait_idle(TIMEOUT)
    assert steps == [0, 1]
    assert rec.results[0].cancelled
    assert [p[1] for p in rec.progress] == [0.0, 0.2]


def test_failing_callback_does_not_stop_the_worker(rec: Recorder) -> None:
    def broken(result):
        raise RuntimeError("the GUI went away")

    with DeviceWorker("cpu", on_result=broken) as w:
        w.submit("a", lambda ctx: 1)
        assert w.wait_idle(TIMEOUT)
        assert w.is_alive


def test_shutdown_cancels_everything_and_joins(worker: DeviceWorker, rec: Recorder) -> None:
    entered = threading.Event()

    def job(ctx):
        entered.set()
        return wait_for_cancel(ctx)

    running = worker.submit("preview", job)
    assert entered.wait(TIMEOUT)
    queued = worker.submit("traversal", lambda ctx: "never")
    assert worker.shutdown(wait=True, timeout=TIMEOUT)
    assert not worker.is_alive
    results = rec.by_id()
    assert results[running].cancelled and results[queued].cancelled
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit("preview", lambda ctx: None)
    assert worker.shutdown()  # idempotent


def test_synchronous_mode_runs_inline(rec: Recorder) -> None:
    w = DeviceWorker("cpu", on_result=rec.on_result, on_progress=rec.on_progress, synchronous=True)
    rid = w.submit("preview", lambda ctx: (ctx.progress(0.5, "half"), 3)[1])
    assert rec.results[0].request_id == rid and rec.results[0].value == 3
    assert rec.progress == [(rid, 0.5, "half")]
    assert rec.threads == {threading.get_ident()}

    def bad(ctx):
        raise KeyError("missing")

    w.submit("preview", bad)
    assert rec.results[1].error == "KeyError: 'missing'"
    assert w.pending() == [] and w.running() is None
    assert w.wait_idle(0)
    assert w.shutdown()
    with pytest.raises(RuntimeError):
        w.submit("preview", lambda ctx: None)


def test_model_cache_keyed_by_name_and_device() -> None:
    loads: list[str] = []
    cache = ModelCache("cpu")

    def loader(tag):
        return lambda: loads.append(tag) or object()

    a = cache.get_or_load("restgan", loader("cpu"))
    assert cache.get_or_load("restgan", loader("again")) is a
    b = cache.get_or_load("restgan", loader("cuda"), device="cuda")
    assert b is not a
    assert loads == ["cpu", "cuda"]
    assert ("restgan", "cpu") in cache and ("restgan", "cuda") in cache and "restgan" in cache
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0
    cache.get_or_load("restgan", loader("reloaded"))
    assert loads[-1] == "reloaded"


def test_jobs_share_models_loaded_once_on_the_worker_thread(worker: DeviceWorker, rec: Recorder) -> None:
    load_threads: list[int] = []

    def loader():
        load_threads.append(threading.get_ident())
        return {"weights": 1}

    def job(ctx):
        return id(ctx.models.get_or_load("classifier", loader))

    worker.submit("a", job)
    worker.submit("b", job)
    assert worker.wait_idle(TIMEOUT)
    assert len(load_threads) == 1 and load_threads[0] != threading.get_ident()
    assert rec.results[0].value == rec.results[1].value
    assert ("classifier", "cpu") in worker.models


def fake_torch(n_cuda: int) -> types.SimpleNamespace:
    cuda = types.SimpleNamespace(is_available=lambda: n_cuda > 0, device_count=lambda: n_cuda)
    return types.SimpleNamespace(cuda=cuda)


def test_default_device_follows_cuda_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in torch keeps this test fast and covers the CUDA branch on machines without a GPU.
    monkeypatch.setitem(sys.modules, "torch", fake_torch(0))
    assert default_device() == "cpu"
    assert available_devices() == ["cpu"]
    monkeypatch.setitem(sys.modules, "torch", fake_torch(2))
    assert default_device() == "cuda"
    assert available_devices() == ["cpu", "cuda:0", "cuda:1"]


def test_pool_has_one_worker_per_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", fake_torch(1))
    pool = WorkerPool()  # no job touches a device, so the fake CUDA device is never used
    try:
        assert [w.device for w in pool] == ["cpu", "cuda:0"]
        assert pool.default is pool["cuda:0"]
        assert pool["cpu"].models is not pool["cuda:0"].models
    finally:
        assert pool.shutdown(timeout=TIMEOUT)
    cpu_only = WorkerPool(["cpu"])
    assert cpu_only.default is cpu_only["cpu"]
    assert cpu_only.shutdown(timeout=TIMEOUT)
