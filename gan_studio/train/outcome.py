"""What a two-stage training loop (ReStGAN/StackGAN, inversion encoder) reports to its command about the run.

``steps`` and ``steps_per_s`` are keyed ``"stage1"``/``"stage2"``; the rates count this run's steps only (a resumed
run's earlier steps are in the wall time, not in the rate). The command writes them into the model's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(kw_only=True)
class StagedOutcome:
    steps: dict[str, int]  # steps each stage ran (fewer than planned where a time budget ended it)
    wall_time_s: float  # over every run that trained this model, resumed ones included
    steps_per_s: dict[str, float]
