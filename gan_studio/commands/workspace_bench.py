"""What the benchmarks of the real workspaces (`bench gui-stalls`, `bench interactive`) check and set before they
measure: the phases asked for, the GUI installed, torch's CPU threads, and the machine's load around the run
(another process's work shows in every timing, so the report gives the load at the start and the end).
"""

from __future__ import annotations

import argparse
import importlib.util
import os


def add_phases_argument(p: argparse.ArgumentParser, phases: tuple[str, ...]) -> None:
    """``--phases``: some of ``phases``, comma-separated (default: all of them)."""
    every = "both" if len(phases) == 2 else "all"
    p.add_argument(
        "--phases",
        default=",".join(phases),
        help=f"comma-separated, of {', '.join(phases)} (default: {every})",
    )


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """``--model``, ``--threads`` and ``--out``, the same for every workspace benchmark."""
    p.add_argument("--model", default="builtin", help="'builtin' or a ReStGAN checkpoint")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    p.add_argument("--out", default="docs/benchmarks")


def phases_from(text: str, known: tuple[str, ...]) -> tuple[str, ...]:
    """The comma-separated phases of ``--phases`` in the order given; ValueError for none or an unknown one."""
    phases = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in phases if p not in known]
    if unknown or not phases:
        raise ValueError(f"unknown phase {', '.join(unknown) or '(none)'}; use {', '.join(known)}")
    return phases


def require_gui(benchmark: str) -> None:
    """ValueError naming ``benchmark`` (e.g. "bench interactive") when PySide6 is not installed."""
    if importlib.util.find_spec("PySide6") is None:
        raise ValueError(f"{benchmark} needs the GUI (PySide6), which is not installed")


def set_torch_threads(threads: int | None) -> None:
    """``--threads``: torch's CPU threads (None leaves torch's own choice); ValueError below 1."""
    if threads is None:
        return
    if threads < 1:
        raise ValueError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


class LoadAverage:
    """The 1-minute load average when made, and again at :meth:`span`."""

    def __init__(self) -> None:
        self.start = os.getloadavg()[0]

    def span(self) -> dict[str, float]:
        """``{"start": load when made, "end": load now}``, as the reports record it."""
        return {"start": self.start, "end": os.getloadavg()[0]}


def load_text(load: dict[str, float]) -> str:
    """The report's words for a :meth:`LoadAverage.span` (no final full stop)."""
    return f"Load average (1 min) {load['start']:.2f} at the start, {load['end']:.2f} at the end"
