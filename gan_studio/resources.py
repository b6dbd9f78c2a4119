"""Where the shipped resources (weights, color table, icons) live.

The source tree keeps them in ``resources/`` next to the package; the packaged desktop bundle (PyInstaller, see
``packaging/``) keeps them in ``resources/`` inside its data folder (``sys._MEIPASS``); an unusual install can point
elsewhere with ``GAN_STUDIO_RESOURCES``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

ICONS_MANIFEST = (
    "icons.json"  # resources/icons/icons.json: file name -> sha256, written by packaging/make_icon.py
)


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


def checked_icon(name: str = "gan-studio.png") -> tuple[Path | None, str]:
    """The shipped icon ``name`` if its sha256 is the one ``icons/icons.json`` records, else (None, why).

    Checked like the weights: a damaged or replaced icon is refused with one sentence instead of being shown.
    """
    path = resource_path("icons", name)
    manifest = resource_path("icons", ICONS_MANIFEST)
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))[name]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError as exc:
        return None, f"the icon cannot be checked: {exc.filename} is missing"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, f"the icon cannot be checked: {manifest} is unreadable or does not list {name}"
    if digest != recorded:
        return None, f"the icon {path} does not match the sha256 that {manifest} records; it is not shown"
    return path, ""
