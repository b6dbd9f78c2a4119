"""The Qt user interface: the only package that imports PySide6."""

from gan_studio.qt import _pyside_fix  # noqa: F401  (must run before any signal is emitted)
