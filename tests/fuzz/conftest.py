"""Fuzz suite set-up: the ``--fuzz-long`` scale and the ``--fuzz-seed`` (both options are declared in
``tests/conftest.py``, which pytest reads before collecting), and a summary of how many malformed inputs the run
fed, the slowest one and the process's peak memory.

Run it alone with ``python -m pytest -q tests/fuzz`` (``--fuzz-long`` for ten times more inputs); a failing case
is reported as ``target #i [mutation]`` and comes back with the same seed on any machine.
"""

from __future__ import annotations

import pytest

from tests.fuzz.harness import SEED, SLOWEST, TOTALS, peak_rss_mb

LONG_FACTOR = 10


@pytest.fixture(scope="session")
def fuzz_scale(pytestconfig) -> int:
    """How many times the default number of inputs each target feeds: 1, or 10 with ``--fuzz-long``."""
    return LONG_FACTOR if pytestconfig.getoption("fuzz_long", default=False) else 1


@pytest.fixture(scope="session", autouse=True)
def fuzz_seed(pytestconfig) -> int:
    """``--fuzz-seed``: mixed into every case's generator, so that another seed explores other mutants."""
    SEED[0] = int(pytestconfig.getoption("fuzz_seed", default=0) or 0)
    return SEED[0]


def pytest_terminal_summary(terminalreporter) -> None:
    if TOTALS:
        per = ", ".join(f"{name} {n}" for name, n in sorted(TOTALS.items()))
        seed = f", seed {SEED[0]}" if SEED[0] else ""
        terminalreporter.write_line(f"fuzz: fed {sum(TOTALS.values())} malformed inputs{seed} ({per})")
        terminalreporter.write_line(
            f"fuzz: slowest input {SLOWEST['seconds'] * 1000:.0f} ms ({SLOWEST['case']}); "
            f"peak memory of the process {peak_rss_mb():.0f} MB"
        )
