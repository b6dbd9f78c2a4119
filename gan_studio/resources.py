"""Where the shipped resources (weights, color table, icons) live.

The source tree keeps them in ``resources/`` next to the package; the packaged desktop bundle (PyInstaller, see
``packaging/``) keeps them in ``resources/`` inside its data folder (``sys._MEIPASS``); an unusual install can point
elsewhere with ``GAN_STUDIO_RESOURCES``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    env = os.environ.get("GAN_STUDIO_RESOURCES")
    if env:
        return Path(env)
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: next to the bundled libraries
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).resolve().parent)) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a shipped resource, e.g. ``resource_path("color_table.json")``."""
    return resources_dir().joinpath(*parts)
