"""Which candidates a synthetic dataset export generates, in which chunks and shards, and which it keeps.

To end with ``n`` items after dropping the fraction ``drop`` most uncertain, ``ceil(n / (1 - drop))`` candidates
are generated (:func:`candidate_count`) and the ``n`` least uncertain kept (:func:`keep_lowest`). Candidate ``k``
is called ``gen_<k>`` (:func:`item_id`). Candidates are rendered in chunks of ``batch`` consecutive indices on the
fixed grid ``[c * batch, (c + 1) * batch)``; shard ``(i, N)`` is the ``i``-th of ``N`` contiguous blocks of whole
chunks (:class:`ExportPlan`). Why, and how seeds are drawn: :mod:`gan_studio.data.dataset_export`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

DEFAULT_BATCH = 16


def candidate_count(n: int, drop: float) -> int:
    """``ceil(n / (1 - drop))``, computed exactly on the decimal ``drop`` (0.1 is 1/10, not 0.1000000000000000055)."""
    return math.ceil(Fraction(n) / (1 - Fraction(str(float(drop)))))


def item_id(index: int, candidates: int) -> str:
    """``gen_<index>``, zero-padded to at least 6 digits and to the widest index of ``candidates``."""
    return f"gen_{index:0{max(6, len(str(max(candidates - 1, 0))))}d}"


def keep_lowest(uncertainties: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Keep mask: True for the ``n`` lowest scores (ties: the earlier one; NaN counts as most uncertain)."""
    scores = np.asarray(uncertainties, dtype=np.float64).reshape(-1)
    scores = np.where(np.isnan(scores), np.inf, scores)
    keep = np.zeros(len(scores), dtype=bool)
    keep[np.argsort(scores, kind="stable")[: max(0, n)]] = True
    return keep


@dataclass(frozen=True)
class ExportPlan:
    """One export's candidates, chunks and shard: it renders chunks ``first_chunk`` to ``stop_chunk - 1``."""

    n: int
    seed: int
    drop: float
    batch: int
    shard: int
    shards: int
    candidates: int
    first_chunk: int
    stop_chunk: int

    @property
    def first(self) -> int:
        return self.first_chunk * self.batch

    @property
    def stop(self) -> int:
        return min(self.stop_chunk * self.batch, self.candidates)

    def chunk(self, c: int) -> range:
        return range(c * self.batch, min((c + 1) * self.batch, self.candidates))

    def identity(self, model_fingerprint: str, generator_id: str) -> dict:
        return {
            "label_generator_sha256": model_fingerprint,
            "generator": generator_id,
            "n": self.n,
            "seed": self.seed,
            "uncertainty_drop": self.drop,
            "candidates": self.candidates,
            "shard": self.shard,
            "shards": self.shards,
            "first": self.first,
            "stop": self.stop,
            "batch": self.batch,
        }


def plan_export(n: int, seed: int, drop: float, shard: tuple[int, int], batch: int) -> ExportPlan:
    """The plan of an export's settings; ``ValueError`` (one sentence) for settings that make none."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of items must be a positive whole number, not {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"the seed must be a whole number >= 0, not {seed!r}")
    drop = float(drop)
    if not 0.0 <= drop < 1.0:
        raise ValueError(f"the uncertainty drop must be at least 0 and below 1, not {drop}")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"the batch must be a positive whole number, not {batch!r}")
    i, count = (int(v) for v in shard)
    if count < 1 or not 0 <= i < count:
        raise ValueError(f"shard {i}/{count} does not exist: shards are numbered 0 to N - 1 of N >= 1")
    candidates = candidate_count(n, drop)
    chunks = -(-candidates // batch)
    if count > chunks:
        raise ValueError(
            f"{count} shards is more than the {chunks} chunk(s) of {batch} candidates this export has; "
            "use fewer shards or a smaller batch"
        )
    return ExportPlan(
        n, seed, drop, batch, i, count, candidates, i * chunks // count, (i + 1) * chunks // count
    )


def shard_range(
    n: int, uncertainty_drop: float = 0.0, shard: tuple[int, int] = (0, 1), batch: int = DEFAULT_BATCH
) -> range:
    """The candidate indices shard ``(i, N)`` of an export of ``n`` items generates (all of them for N = 1)."""
    plan = plan_export(n, 0, uncertainty_drop, shard, batch)
    return range(plan.first, plan.stop)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``."""
    try:
        i, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"a shard is written I/N (e.g. 0/4), not {text!r}") from None
    if count < 1 or not 0 <= i < count:
        raise ValueError(f"shard {text} does not exist: shards are numbered 0 to N - 1 of N >= 1")
    return i, count
