"""Ctrl-C (SIGINT) that stops a training loop at the next step boundary instead of in the middle of a step.

The Train workspace cancels a run with SIGINT, like Ctrl-C in a terminal. Raised mid-step, KeyboardInterrupt could
land between the discriminator's update and the generator's, and the state saved then would not be any step's.
Inside :func:`deferred_interrupt` the first SIGINT only sets a flag that the loop checks after each whole step;
a second SIGINT interrupts at once. Only in the main thread of a single process: under torchrun the ranks could
see the signal at different steps and wait on each other forever, so there SIGINT keeps its usual effect.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def deferred_interrupt(enabled: bool = True) -> Iterator[Callable[[], bool]]:
    """Yields ``requested()``: True once SIGINT arrived. Restores the previous handler on exit."""
    flag = {"hit": False}
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame) -> None:
        if flag["hit"]:  # a second Ctrl-C: stop now
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag["hit"] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: flag["hit"]
    finally:
        signal.signal(signal.SIGINT, previous)
