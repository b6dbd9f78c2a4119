"""Handing freed memory back: never raises, and on glibc the resident size drops after a big allocation is freed."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from gan_studio.metrics.bench_soak import rss_bytes
from gan_studio.runtime.memory import release_free_memory


def test_release_never_raises() -> None:
    assert release_free_memory() in (True, False)
    assert release_free_memory() in (True, False)  # the library is looked up once


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_freed_small_blocks_go_back_to_the_system() -> None:
    if not release_free_memory():
        pytest.skip("not glibc")
    blocks = [np.ones(4096, np.uint8) for _ in range(40_000)]  # ~160 MB of heap blocks (below the mmap size)
    keep = blocks[-1]
    del blocks
    before = rss_bytes()
    release_free_memory()
    assert rss_bytes() < before - 50 * 2**20 and keep.sum() == 4096
