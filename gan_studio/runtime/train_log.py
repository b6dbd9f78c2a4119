"""Following a training run from its folder: new ``log.jsonl`` records, the newest sample grid, progress and ETA.

Every training command appends one JSON object per logged step to ``OUT/log.jsonl`` (``step``, for the two-stage
kinds ``stage``, and the losses) and, for the GANs and the inversion encoder, writes sample grids
``OUT/samples/stageS_NNNNNN.png``. Nothing here needs the process: a finished or a still-running folder reads the
same way.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

NOT_CURVES = frozenset({"step", "stage", "lr", "wall_time_s"})  # logged numbers that are not losses
SAMPLE_RE = re.compile(r"stage(\d+)_(\d+)\.png$")


class LogTailer:
    """Reads the records appended to a JSON-lines file since the last call.

    A last line still being written (no newline yet) waits for the next call; a line that is not a JSON object is
    skipped; a file that shrank (rewritten on resume) is read again from its start.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0
        self._partial = b""

    def reset(self) -> None:
        self._offset, self._partial = 0, b""

    def read_new(self) -> list[dict]:
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self._offset:
            self.reset()
        if size == self._offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read(size - self._offset)
        except OSError:
            return []
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
        return records


def curve_values(record: dict) -> dict[str, float]:
    """The loss-like numbers of a record (finite floats), keyed by their log names."""
    out = {}
    for key, value in record.items():
        if key in NOT_CURVES or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(value):
            out[key] = float(value)
    return out


@dataclass
class RunHistory:
    """The records of a run in step order, with their position counted over all stages.

    ``totals`` are the steps of each stage. A record that does not move past the last one kept (a resumed run
    repeating the steps since its last checkpoint) is dropped, so the curves never fold back.
    """

    totals: Sequence[int]
    records: list[dict] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return max(1, sum(self.totals))

    def position(self, record: dict) -> int:
        stage = int(record.get("stage", 1))
        return sum(self.totals[: max(0, stage - 1)]) + int(record["step"])

    def add(self, records: Sequence[dict]) -> list[tuple[int, dict]]:
        """Keep the records that advance the run; returns them as (position, record)."""
        kept = []
        for record in records:
            key = (int(record.get("stage", 1)), int(record["step"]))
            if self.records:
                last = self.records[-1]
                if key <= (int(last.get("stage", 1)), int(last["step"])):
                    continue
            pos = self.position(record)
            self.records.append(record)
            self.positions.append(pos)
            kept.append((pos, record))
        return kept

    @property
    def done(self) -> int:
        return self.positions[-1] if self.positions else 0

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total)

    @property
    def stage(self) -> int:
        return int(self.records[-1].get("stage", 1)) if self.records else 1


class ProgressClock:
    """Steps per second over the recent past while the run is running, and the time left at that rate.

    Time spent paused does not count: :meth:`pause` forgets the window, and steps after :meth:`resume` start it
    again.
    """

    def __init__(self, window: int = 30) -> None:
        self._points: deque[tuple[float, int]] = deque(maxlen=window)

    def reset(self) -> None:
        self._points.clear()

    def observe(self, position: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self._points and position <= self._points[-1][1]:
            return
        self._points.append((now, position))

    def pause(self) -> None:
        self._points.clear()

    resume = pause  # the first step after a pause starts a new window

    def rate(self) -> float | None:
        """Steps per second, or None before two observations."""
        if len(self._points) < 2:
            return None
        (t0, p0), (t1, p1) = self._points[0], self._points[-1]
        return (p1 - p0) / (t1 - t0) if t1 > t0 else None

    def eta_seconds(self, position: int, total: int) -> float | None:
        rate = self.rate()
        if not rate or rate <= 0:
            return None
        return max(0.0, (total - position) / rate)


def newest_sample(folder: str | Path) -> Path | None:
    """The newest ``samples/stageS_NNNNNN.png`` of a run folder by (stage, step), or None."""
    samples = Path(folder) / "samples"
    best, best_key = None, (-1, -1)
    try:
        entries = list(samples.iterdir())
    except OSError:
        return None
    for path in entries:
        m = SAMPLE_RE.match(path.name)
        if m:
            key = (int(m.group(1)), int(m.group(2)))
            if key > best_key:
                best, best_key = path, key
    return best


def sample_caption(path: Path) -> str:
    m = SAMPLE_RE.match(path.name)
    if not m:
        return path.name
    stage = "I" * int(m.group(1)) if int(m.group(1)) <= 3 else m.group(1)
    return f"Samples after stage {stage} step {int(m.group(2))}"
