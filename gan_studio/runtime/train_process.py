"""A training run as a child process: start, pause, resume, cancel, and what it printed.

Training runs in its own process so that the app stays responsive and a crash there cannot take the app down. The
child is the ordinary ``gan-studio train …`` command (see :mod:`gan_studio.train.settings`); it writes its
state, log and samples into the run folder, so a cancelled run continues from that folder when started again.

- **Pause** stops the child's process group (SIGSTOP) and **resume** continues it (SIGCONT): POSIX only
  (:data:`PAUSE_SUPPORTED`).
- **Cancel** interrupts the child like Ctrl-C (SIGINT: the trainers that can save their exact position do so), then
  after ``grace`` seconds terminates it (SIGTERM) and after ``kill_after`` more seconds kills it. The escalation
  happens in :meth:`TrainProcess.poll`, which the caller invokes on a timer, so nothing here ever blocks; only
  :meth:`TrainProcess.stop` (closing the app) waits.
- The child's stdout and stderr are read by a daemon thread into a bounded buffer; :meth:`TrainProcess.read_output`
  hands out the lines that arrived since the last call, and :func:`failure_sentence` turns the last ones into one
  sentence when the run fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence

PAUSE_SUPPORTED = sys.platform != "win32" and hasattr(signal, "SIGSTOP")
PAUSE_UNSUPPORTED_REASON = "Pausing a training process needs a POSIX system (Linux, macOS)."
GRACE_S = 10.0  # after the interrupt, before SIGTERM: time for the trainer to save its state
KILL_AFTER_S = 3.0  # after SIGTERM, before SIGKILL
TAIL_LINES = 400

# States: "idle" before start, "running", "paused", "stopping" (cancel asked), then one of the ends.
ENDS = ("finished", "failed", "cancelled")


class TrainProcess:
    """One child process running ``argv`` (a list, never a shell string)."""

    def __init__(
        self, argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None
    ) -> None:
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.state = "idle"
        self.returncode: int | None = None
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._new: list[str] = []
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._cancel_at: float | None = None
        self._term_at: float | None = None
        self._escalated = 0  # 0: interrupted (or nothing), 1: terminated, 2: killed
        self.grace_s = GRACE_S
        self.kill_after_s = KILL_AFTER_S

    # ------------------------------------------------------------------------------------------------ lifecycle

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def active(self) -> bool:
        """Started and not yet ended (running, paused or stopping)."""
        return self.state in ("running", "paused", "stopping")

    def start(self) -> None:
        """Start the child; raises OSError when it cannot be started."""
        if self.state != "idle":
            raise RuntimeError("a TrainProcess starts once")
        kwargs: dict = {}
        if sys.platform == "win32":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            # Its own process group: pause and cancel reach its helpers too, and a Ctrl-C meant for the app's
            # terminal does not reach it (the app cancels it when it closes).
            kwargs["start_new_session"] = True
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            **kwargs,
        )
        self.started_at = time.monotonic()
        self.state = "running"
        self._reader = threading.Thread(target=self._read, name="train-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        pending = b""
        while True:
            chunk = self._proc.stdout.read1(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = re.split(rb"\r\n|\r|\n", pending)
            self._add([line.decode("utf-8", "replace") for line in lines])
        if pending:
            self._add([pending.decode("utf-8", "replace")])

    def _add(self, lines: list[str]) -> None:
        lines = [line.rstrip() for line in lines if line.strip()]
        if lines:
            with self._lock:
                self._new.extend(lines)
                self._tail.extend(lines)

    def read_output(self) -> list[str]:
        """Lines printed since the last call (stdout and stderr together, progress bars included)."""
        with self._lock:
            lines, self._new = self._new, []
        return lines

    def tail(self, n: int = 20) -> list[str]:
        with self._lock:
            return list(self._tail)[-n:]

    def poll(self) -> int | None:
        """Check on the child (and escalate a cancel that takes too long); returns the exit code once ended."""
        if self._proc is None:
            return None
        if self.returncode is not None:
            return self.returncode
        code = self._proc.poll()
        if code is None:
            self._escalate(time.monotonic())
            return None
        self._ended(code)
        return code

    def _ended(self, code: int) -> None:
        self.returncode = code
        self.ended_at = time.monotonic()
        if self._reader is not None:
            self._reader.join(timeout=1.0)  # the last lines (the error sentence) arrive after the exit
        if self._reader is not None and not self._reader.is_alive() and self._proc is not None:
            # Closed only once the reader is done: a helper still holding the pipe would make close() wait.
            self._proc.stdout.close()
        if code == 0:
            self.state = "finished"
        elif self._cancel_at is not None:
            self.state = "cancelled"
        else:
            self.state = "failed"

    # ------------------------------------------------------------------------------------------------ control

    def _signal(self, sig: int) -> bool:
        if self._proc is None or self.returncode is not None:
            return False
        try:
            if sys.platform == "win32":
                if sig == getattr(signal, "SIGKILL", None):
                    self._proc.kill()
                else:
                    self._proc.terminate()
            else:
                os.killpg(self._proc.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def pause(self) -> bool:
        """Stop the child where it is (SIGSTOP); returns whether it is now paused."""
        return self._switch("running", "SIGSTOP", "paused")

    def resume(self) -> bool:
        """Continue a paused child (SIGCONT); returns whether it is running again."""
        return self._switch("paused", "SIGCONT", "running")

    def _switch(self, before: str, sig: str, after: str) -> bool:
        """From state ``before``, send the signal named ``sig`` and take state ``after`` once it was delivered;
        returns whether the child is now in ``after`` (False where pausing is not supported: Windows has no
        SIGSTOP, so the name is looked up only after that check)."""
        if not PAUSE_SUPPORTED or self.state != before:
            return False
        if self._signal(getattr(signal, sig)):
            self.state = after
        return self.state == after

    def cancel(self) -> None:
        """Ask the child to stop (an interrupt, as Ctrl-C); :meth:`poll` escalates if it does not stop in time."""
        if not self.active or self._cancel_at is not None:
            return
        self._cancel_at = time.monotonic()
        was_paused = self.state == "paused"
        self.state = "stopping"
        if sys.platform == "win32":
            self._signal(signal.SIGTERM)
            return
        self._signal(signal.SIGINT)
        if was_paused:
            self._signal(signal.SIGCONT)  # a stopped process only sees the interrupt once it runs

    def _escalate(self, now: float) -> None:
        if self._cancel_at is None:
            return
        if self._escalated == 0 and now - self._cancel_at >= self.grace_s:
            self._escalated = 1
            self._term_at = now
            self._signal(signal.SIGTERM)
        elif self._escalated == 1 and self._term_at is not None and now - self._term_at >= self.kill_after_s:
            self._escalated = 2
            self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))

    def stop(self, timeout: float | None = None) -> int | None:
        """Cancel and wait until the child has ended (closing the app); returns its exit code.

        ``timeout`` bounds the whole wait (default: the grace period plus the kill delay plus a second); past it the
        child is killed outright.
        """
        if self._proc is None:
            return None
        if self.active:
            self.cancel()
        deadline = time.monotonic() + (self.grace_s + self.kill_after_s + 1.0 if timeout is None else timeout)
        while self.poll() is None:
            if time.monotonic() >= deadline:
                self._signal(getattr(signal, "SIGKILL", signal.SIGTERM))
                try:
                    self._proc.wait(timeout=5.0)
                except subprocess.TimeoutExpired:
                    return None
                continue
            time.sleep(0.05)
        return self.returncode


# ------------------------------------------------------------------------------------------------- messages

_CLI_PREFIX = "gan-studio: "
_FRAME = re.compile(r"^(\s|Traceback|During handling|The above exception)")  # traceback lines, not its error


def failure_reason(lines: Sequence[str], returncode: int | None) -> str:
    """Why a run failed, from the last lines it printed: the CLI's own sentence, else the exception line of a
    traceback, else the last line, else the exit code. No trailing period."""
    lines = [line.rstrip() for line in lines if line.strip()]
    reason = next(
        (line[len(_CLI_PREFIX) :] for line in reversed(lines) if line.startswith(_CLI_PREFIX)), None
    )
    if reason is None:
        if any(line.startswith("Traceback") for line in lines):
            raw = [line for line in lines if not _FRAME.match(line)]
            reason = raw[-1] if raw else None
        elif lines:
            reason = lines[-1].strip()
    if not reason:
        if returncode is not None and returncode < 0:
            name = _signal_name(-returncode)
            return f"the training process was stopped by {name}"
        return f"the training process exited with code {returncode}"
    reason = " ".join(reason.split()).rstrip(".")
    return reason if len(reason) <= 300 else reason[:299] + "…"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def failure_sentence(lines: Sequence[str], returncode: int | None) -> str:
    """One sentence for the user: ``Training failed: REASON.``"""
    return f"Training failed: {failure_reason(lines, returncode)}."
