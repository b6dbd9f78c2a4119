"""Feeding mutants to a reader and judging how it ends.

A case passes when the reader either succeeds or raises one of the project's user-error classes with a one-line
message naming the file (or its folder); anything else is a finding: another exception (TypeError, KeyError,
numpy or PIL errors leaking out), a run past the per-input time limit, or a jump of the process's peak memory
past the bound. Findings are collected, not raised at once, so one run lists all of them with their recipes.
"""

from __future__ import annotations

import signal
import sys
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import resource
except ImportError:  # Windows
    resource = None

TIME_LIMIT_S = 5.0  # per input; generous because the test machine may be loaded
MEMORY_BOUND_MB = 300  # growth of the peak resident set during one input
TOTALS: Counter[str] = Counter()  # inputs fed per fuzz target, over the session (for the summary line)
SLOWEST: dict[str, object] = {"seconds": 0.0, "case": ""}  # the slowest input of the session


class FuzzTimeout(BaseException):
    """Raised by the alarm inside a reader that ran past the time limit (BaseException: readers' broad
    ``except Exception`` must not swallow it)."""


def _on_alarm(signum, frame) -> None:
    raise FuzzTimeout()


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (0 where the platform does not say: Windows)."""
    if resource is None:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (
        peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
    )  # bytes on macOS, KiB on Linux


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


@dataclass
class Fuzz:
    """One fuzz target: ``feed`` each mutant, then ``check`` (fails the test listing every finding)."""

    target: str
    errors: tuple[type[BaseException], ...]
    time_limit_s: float = TIME_LIMIT_S
    memory_bound_mb: float = MEMORY_BOUND_MB
    counted: bool = True  # whether the inputs count in the session's summary line (not for self-tests)
    fed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    def feed(self, case: str, what: str, run: Callable[[], object], names: Sequence[str]) -> None:
        """Run ``run()`` on one mutant described by ``case`` (its seed) and ``what`` (the mutation); a user
        error's message must name one of ``names`` (the file or its folder)."""
        self.fed += 1
        if self.counted:
            TOTALS[self.target] += 1
        problem = None
        peak = peak_rss_mb()
        alarm = hasattr(signal, "setitimer")  # not on Windows: there only the measured time is checked
        if alarm:
            previous = signal.signal(signal.SIGALRM, _on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.time_limit_s)
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run()
            self.outcomes["imported"] += 1
        except FuzzTimeout:
            problem = f"ran past the {self.time_limit_s:g} s limit"
        except self.errors as exc:
            self.outcomes["refused"] += 1
            msg = str(exc)
            if not msg.strip() or "\n" in msg:
                problem = f"{type(exc).__name__} is not one sentence: {msg!r}"
            elif not any(name in msg for name in names):
                problem = f"{type(exc).__name__} names no file: {msg[:200]!r}"
        except Exception as exc:  # noqa: BLE001 - the point of the fuzz: anything else leaked out of the reader
            problem = f"{type(exc).__name__} at {_where(exc)}: {str(exc)[:200]}"
        finally:
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        elapsed = time.perf_counter() - start
        if self.counted and elapsed > SLOWEST["seconds"]:
            SLOWEST.update(seconds=elapsed, case=f"{case} [{what}]")
        grown = peak_rss_mb() - peak
        if problem is None and elapsed > self.time_limit_s:
            problem = f"took {elapsed:.1f} s (limit {self.time_limit_s:g} s)"
        if problem is None and grown > self.memory_bound_mb:
            problem = f"peak memory grew by {grown:.0f} MB (bound {self.memory_bound_mb:g} MB)"
        if problem is not None:
            self.outcomes["finding"] += 1
            self.findings.append(f"{case} [{what}]: {problem}")

    def check(self, minimum: int) -> None:
        """Fail with every finding listed; also insist that at least ``minimum`` inputs were fed."""
        assert self.fed >= minimum, f"{self.target}: only {self.fed} inputs were fed (expected {minimum})"
        if self.findings:
            shown = "\n".join(self.findings[:25])
            more = f"\n... and {len(self.findings) - 25} more" if len(self.findings) > 25 else ""
            raise AssertionError(
                f"{self.target}: {len(self.findings)} of {self.fed} inputs failed:\n{shown}{more}"
            )


@contextmanager
def replaced(path: Path, data: bytes) -> Iterator[None]:
    """``path`` holds ``data`` inside the block and its original bytes again after it."""
    original = path.read_bytes()
    path.write_bytes(data)
    try:
        yield
    finally:
        path.write_bytes(original)


SEED = [0]  # --fuzz-seed, set by the fuzz conftest for the session


def case_rng(target: str, i: int) -> np.random.Generator:
    """The generator of case ``i`` of ``target``: the same mutant on every run and machine for one seed."""
    return np.random.default_rng([zlib.crc32(target.encode()), i, SEED[0]])
