"""The one place that says where the app keeps its settings (window geometry, dock layout, last seed…)."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "gan-studio"
APPLICATION = "gan-studio"


def app_settings() -> QSettings:
    """INI settings in the user scope; tests redirect them with ``QSettings.setPath`` to a temporary folder."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
