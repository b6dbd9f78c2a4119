"""Work around a reference-count bug in ``SignalInstance.emit`` of the installed PySide6.

With PySide6 6.12 on CPython 3.11, every ``signal.emit(...)`` returns ``True`` without taking a reference to it, so
each emit from Python drops one reference to ``True``. Since ``True`` is not immortal before CPython 3.12, a few
thousand emits later the interpreter aborts with "Fatal Python error: bool_dealloc" (often at exit, sometimes
mid-session). The check below measures the bug once at import and, only if it is present, wraps ``emit`` to give
back the reference it took. On a fixed PySide6 (or an immortal-bool CPython) nothing is changed.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBES = 64


class _Probe(QObject):
    ping = Signal()


def emit_steals_reference() -> bool:
    """True when ``SignalInstance.emit`` returns ``True`` without owning a reference to it."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.ping.emit()
    lost = before - sys.getrefcount(True)
    for _ in range(max(lost, 0)):  # give back what the probe itself took
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return lost >= _PROBES


def install() -> bool:
    """Patch ``SignalInstance.emit`` if the bug is present; return whether a patch is in place."""
    if getattr(SignalInstance.emit, "_gan_studio_fixed", False):
        return True
    if not emit_steals_reference():
        return False
    original = SignalInstance.emit
    incref = ctypes.pythonapi.Py_IncRef
    incref.argtypes = [ctypes.py_object]
    incref.restype = None

    def emit(self, *args):
        result = original(self, *args)
        if result is True or result is False:
            incref(result)
        return result

    emit._gan_studio_fixed = True
    SignalInstance.emit = emit
    return True


FIXED = install()
