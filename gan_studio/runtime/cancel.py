"""Cooperative cancellation: a job checks its token between steps and stops when asked.

Threads cannot be killed safely, so cancelling only sets a flag; the job decides where it is safe to stop
(between batches, rows, optimizer steps) by calling `raise_if_cancelled()`.
"""

from __future__ import annotations

import threading


class Cancelled(Exception):
    """Raised inside a job when its token was cancelled; the worker reports the job as cancelled."""


class CancelToken:
    """A thread-safe, one-way flag: once cancelled it stays cancelled."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job holding this token to stop at its next check. Safe from any thread."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `Cancelled` if `cancel()` was called; jobs call this between steps."""
        if self._event.is_set():
            raise Cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout` seconds pass; return whether the token is cancelled."""
        return self._event.wait(timeout)

    def __repr__(self) -> str:
        return f"CancelToken(cancelled={self.cancelled})"


def check_cancel(cancel) -> None:
    """Stop here if asked: ``cancel`` is None, a token with ``raise_if_cancelled`` (a :class:`CancelToken` or a job
    context), or a callable returning True to stop, which raises :class:`Cancelled`."""
    if cancel is None:
        return
    if hasattr(cancel, "raise_if_cancelled"):
        cancel.raise_if_cancelled()
    elif callable(cancel) and cancel():
        raise Cancelled()
