"""Per-request callbacks on top of the worker bridge's broadcast ``finished`` signal.

A widget submits through its own :class:`JobClient` and gets its own results back, on the GUI thread, without
filtering every result the bridge reports. A callback that raises while showing a result is logged with its
traceback and reported as one sentence (``failed``); it never escapes into the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from gan_studio.runtime.jobs import JobContext, Result, error_sentence

log = logging.getLogger(__name__)


class JobClient(QObject):
    """Submit jobs through ``bridge`` and call ``on_done(result)`` for each one's result (also when cancelled).

    ``failed(sentence)``: an ``on_done`` raised; the sentence names the job and the error.
    """

    failed = Signal(str)

    def __init__(self, bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._callbacks: dict[int, tuple[Callable[[Result], None], str]] = {}
        bridge.finished.connect(self._on_finished)

    def submit(
        self, kind: str, fn: Callable[[JobContext], Any], on_done: Callable[[Result], None], label: str = ""
    ) -> int:
        # Results are delivered through a queued signal, so registering after submit cannot miss one.
        request_id = self.bridge.submit(kind, fn, label)
        self._callbacks[request_id] = (on_done, label or kind)
        return request_id

    def pending(self) -> int:
        """How many of this client's requests have not reported yet."""
        return len(self._callbacks)

    def _on_finished(self, result: Result) -> None:
        entry = self._callbacks.pop(result.request_id, None)
        if entry is None:
            return
        callback, what = entry
        try:
            callback(result)
        except Exception as exc:  # a bug showing one result must not reach the event loop
            log.exception("showing the result of %r failed", what)
            what = what[:1].lower() + what[1:]
            self.failed.emit(f"Could not show the result of {what}: {error_sentence(exc).rstrip('.')}.")
