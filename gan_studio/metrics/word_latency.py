"""Word-to-image latency of a title generator: appending one word incrementally against redrawing from scratch.

An :class:`~gan_studio.methods.restgan.IncrementalSession` keeps the earlier prefixes' LSTM states, so appending a
word costs one encoder step and one image; ``generate`` redraws every prefix of the same words. Both are timed on
the same words in milliseconds, after one warm-up of each. Word to pixels on screen is measured in the GUI layer
(``gan_studio.qt.latency``).
"""

from __future__ import annotations

import time

import numpy as np
import torch


def measure_latency(gen, titles: list[str], seed0: int) -> dict:
    """Word-to-image latency: an IncrementalSession appending one word (its earlier prefixes cached) against
    ``generate`` redrawing every prefix of the same words from scratch. Milliseconds per word."""
    from gan_studio.methods.restgan import IncrementalSession

    inc, scratch, computed = [], [], []
    if titles:
        gen.generate(titles[0], seed0)  # warm-up
        IncrementalSession(gen).run(titles[0], seed0)
    for i, title in enumerate(titles):
        words = gen.parse(title).known_words
        seed = seed0 + i
        session = IncrementalSession(gen)
        session.run("", seed)
        for k in range(1, len(words) + 1):
            prefix = " ".join(words[:k])
            t0 = time.perf_counter()
            got = session.run(prefix, seed)
            inc.append((time.perf_counter() - t0) * 1000.0)
            computed.append(got.computed)
            t0 = time.perf_counter()
            gen.generate(prefix, seed)
            scratch.append((time.perf_counter() - t0) * 1000.0)
    inc_med = float(np.median(inc)) if inc else None
    scr_med = float(np.median(scratch)) if scratch else None
    return {
        "titles": len(titles),
        "words": len(inc),
        "incremental_median_ms": inc_med,
        "incremental_p90_ms": float(np.percentile(inc, 90)) if inc else None,
        "scratch_median_ms": scr_med,
        "scratch_p90_ms": float(np.percentile(scratch, 90)) if scratch else None,
        "speedup": (scr_med / inc_med) if inc_med and scr_med is not None else None,
        "images_drawn_per_appended_word": float(np.mean(computed)) if computed else None,
        "torch_threads": torch.get_num_threads(),
    }
