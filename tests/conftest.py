"""Shared test set-up.

GUI tests run offscreen: the platform must be chosen before any Qt module is imported, so it is set here, at the
top of the first file pytest imports. Qt settings are redirected into each test's temporary folder so that tests
never read or write the user's real settings, and caches into it too. Nothing here imports Qt: the core tests must run without it.
"""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_addoption(parser) -> None:
    """``--fuzz-long``: the fuzz suite (tests/fuzz) feeds ten times more malformed inputs; ``--fuzz-seed N``
    makes other ones (the default run is the same on every machine)."""
    parser.addoption(
        "--fuzz-long", action="store_true", default=False, help="feed the readers 10x more fuzz inputs"
    )
    parser.addoption(
        "--fuzz-seed", type=int, default=0, help="another seed gives other fuzz mutants (default 0)"
    )


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Caches (the product-discovery index) and training run folders go to the test's temporary folder, never the user's."""
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path / "runs"))


@pytest.fixture(autouse=True)
def isolated_qsettings(tmp_path):
    """Point QSettings (INI and native formats, user and system scope) at ``tmp_path/settings``."""
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is None:  # a test that does not use Qt: leave it unimported
        yield None
        return
    QSettings = qtcore.QSettings
    folder = tmp_path / "settings"
    folder.mkdir(exist_ok=True)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    yield folder
