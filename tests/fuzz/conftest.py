"""Fuzz suite set-up: the ``--fuzz-long`` scale (the option itself is declared in ``tests/conftest.py``, which
pytest reads before collecting) and a summary line of how many malformed inputs the run fed."""

from __future__ import annotations

import pytest

from tests.fuzz.harness import SLOWEST, TOTALS, peak_rss_mb

LONG_FACTOR = 10


@pytest.fixture(scope="session")
def fuzz_scale(pytestconfig) -> int:
    """How many times the default number of inputs each target feeds: 1, or 10 with ``--fuzz-long``."""
    return LONG_FACTOR if pytestconfig.getoption("fuzz_long", default=False) else 1


def pytest_terminal_summary(terminalreporter) -> None:
    if TOTALS:
        per = ", ".join(f"{name} {n}" for name, n in sorted(TOTALS.items()))
        terminalreporter.write_line(f"fuzz: fed {sum(TOTALS.values())} malformed inputs ({per})")
        terminalreporter.write_line(
            f"fuzz: slowest input {SLOWEST['seconds'] * 1000:.0f} ms ({SLOWEST['case']}); "
            f"peak memory of the process {peak_rss_mb():.0f} MB"
        )
