"""A small text progress bar for headless commands (stderr, no dependencies)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


class ProgressBar:
    """``label [#####-----] 120/3000 loss 1.23 | 5.1 it/s ETA 9:03``.

    On a terminal the line is redrawn in place at most every ``interval`` seconds; elsewhere (a log file, CI) a
    full line is written at most every ``log_interval`` seconds so logs stay readable. ``enabled=False`` prints
    nothing.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        start: int = 0,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 0.2,
        log_interval: float = 10.0,
        width: int = 24,
    ):
        self.total = max(1, int(total))
        self.label = label
        self.start = int(start)
        self.n = int(start)
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.tty else log_interval
        self.width = width
        self.t0 = time.monotonic()
        self._last = 0.0
        self._drawn_n: int | None = None
        self._postfix = ""

    def rate(self) -> float:
        elapsed = time.monotonic() - self.t0
        return (self.n - self.start) / elapsed if elapsed > 0 else 0.0

    def text(self, postfix: str = "") -> str:
        frac = min(1.0, self.n / self.total)
        filled = round(frac * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        rate = self.rate()
        eta = format_duration((self.total - self.n) / rate) if rate > 0 else "?"
        parts = [f"{self.label} [{bar}] {self.n}/{self.total}".strip()]
        if postfix:
            parts.append(postfix)
        parts.append(f"{rate:.2f} it/s ETA {eta}")
        return " | ".join(parts)

    def update(self, n: int, postfix: str = "", force: bool = False) -> None:
        """Set the position to ``n`` and redraw if enough time has passed (or ``force``)."""
        self.n = int(n)
        if postfix:
            self._postfix = postfix
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval and self.n < self.total:
            return
        self._last = now
        self._drawn_n = self.n
        if self.tty:
            self.stream.write("\r" + self.text(self._postfix) + "\x1b[K")
        else:
            self.stream.write(self.text(self._postfix) + "\n")
        self.stream.flush()

    def close(self, postfix: str = "") -> None:
        if not self.enabled:
            return
        if self._drawn_n != self.n or postfix:
            self.update(self.n, postfix, force=True)
        if self.tty and self._drawn_n is not None:
            self.stream.write("\n")
            self.stream.flush()
