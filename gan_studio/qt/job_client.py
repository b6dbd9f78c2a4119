"""Per-request callbacks on top of the worker bridge's broadcast ``finished`` signal.

A widget submits through its own :class:`JobClient` and gets its own results back, on the GUI thread, without
filtering every result the bridge reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from gan_studio.runtime.jobs import JobContext, Result


class JobClient(QObject):
    """Submit jobs through ``bridge`` and call ``on_done(result)`` for each one's result (also when cancelled)."""

    def __init__(self, bridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._callbacks: dict[int, Callable[[Result], None]] = {}
        bridge.finished.connect(self._on_finished)

    def submit(
        self, kind: str, fn: Callable[[JobContext], Any], on_done: Callable[[Result], None], label: str = ""
    ) -> int:
        # Results are delivered through a queued signal, so registering after submit cannot miss one.
        request_id = self.bridge.submit(kind, fn, label)
        self._callbacks[request_id] = on_done
        return request_id

    def pending(self) -> int:
        """How many of this client's requests have not reported yet."""
        return len(self._callbacks)

    def _on_finished(self, result: Result) -> None:
        callback = self._callbacks.pop(result.request_id, None)
        if callback is not None:
            callback(result)
