"""Where the shipped resources (weights, color table, icons) live.

The source tree keeps them in ``resources/`` next to the package; a frozen bundle or an unusual install can point
elsewhere with ``GAN_STUDIO_RESOURCES``.
"""

from __future__ import annotations

import os
from pathlib import Path


def resources_dir() -> Path:
    env = os.environ.get("GAN_STUDIO_RESOURCES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a shipped resource, e.g. ``resource_path("color_table.json")``."""
    return resources_dir().joinpath(*parts)
