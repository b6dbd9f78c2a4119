"""What a job sees: its request, its context (token, progress, device, model cache) and its result.

Requests and results are small frozen dataclasses with an id. Results carry plain data and turn exceptions into
values (`ok=False`, `error` one sentence), so a failing job never takes the worker thread down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gan_studio.runtime.cancel import CancelToken

ProgressFn = Callable[[float, str], None]


@dataclass(frozen=True)
class Request:
    """One unit of work for a device worker.

    `id` is unique per worker and assigned by `DeviceWorker.submit`. `kind` names what the request computes
    ("preview", "traversal", ...): a newer request of the same kind makes an older one stale. `label` is a short
    text the UI may show while the job runs.
    """

    id: int
    kind: str
    fn: Callable[[JobContext], Any] = field(repr=False, compare=False)
    label: str = ""


@dataclass(frozen=True)
class Result:
    """The outcome of a request: a value, an error sentence, or a cancellation.

    `ok` is True only when the job returned normally and was not cancelled. `error` is one sentence such as
    "ValueError: title is empty" (None when ok or cancelled); `traceback` holds the full text for logs.
    `seconds` is the wall time the job ran (0.0 when it never started).
    """

    request_id: int
    kind: str
    ok: bool
    value: Any = None
    error: str | None = None
    cancelled: bool = False
    seconds: float = 0.0
    traceback: str | None = field(default=None, repr=False)

    @classmethod
    def cancelled_before_start(cls, request: Request) -> Result:
        return cls(request_id=request.id, kind=request.kind, ok=False, cancelled=True)


def error_sentence(exc: BaseException) -> str:
    """One clear line for the UI: "TypeName: message" (or just the type name when the message is empty)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ModelCache:
    """Loaded models keyed by (model name, device), so each model is loaded once per device.

    Models should be loaded on the worker thread that owns `device` (jobs do this through `JobContext.models`);
    the cache itself is thread-safe. A loader runs outside the lock, so a slow load does not block lookups.
    """

    def __init__(self, device: str = "cpu") -> None:
        self.device = str(device)
        self._models: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get_or_load(self, name: str, loader: Callable[[], Any], device: str | None = None) -> Any:
        """Return the model cached under (name, device), calling `loader()` once to create it if missing.

        `device` defaults to the cache's device; the loader is responsible for placing the model there.
        """
        key = (name, str(device) if device is not None else self.device)
        with self._lock:
            if key in self._models:
                return self._models[key]
        model = loader()
        with self._lock:
            # Another thread may have loaded the same key meanwhile; keep the first so callers share one model.
            return self._models.setdefault(key, model)

    def get(self, name: str, device: str | None = None, default: Any = None) -> Any:
        with self._lock:
            return self._models.get((name, str(device) if device is not None else self.device), default)

    def pop(self, name: str, device: str | None = None) -> Any:
        """Forget one model and return it (None if it was not cached)."""
        with self._lock:
            return self._models.pop((name, str(device) if device is not None else self.device), None)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def keys(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._models)

    def __contains__(self, key: Hashable) -> bool:
        if isinstance(key, str):
            key = (key, self.device)
        with self._lock:
            return key in self._models

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.keys())


@dataclass(frozen=True)
class JobContext:
    """Handed to a job's function: `fn(ctx) -> value`.

    `device` is a torch device string ("cpu", "cuda", "cuda:1"); `models` caches models for this device.
    """

    request: Request
    token: CancelToken
    device: str
    models: ModelCache
    _report: ProgressFn = field(repr=False, default=lambda fraction, message: None)

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress in [0, 1] (clamped) with an optional short message.

        Also a cancellation point: raises `Cancelled` if the request was cancelled, so a job that reports
        progress between steps is cancellable at each report.
        """
        self.token.raise_if_cancelled()
        self._report(min(1.0, max(0.0, float(fraction))), str(message))

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def raise_if_cancelled(self) -> None:
        self.token.raise_if_cancelled()
