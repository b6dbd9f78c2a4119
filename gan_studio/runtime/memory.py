"""Handing freed heap memory back to the system after a big job, which glibc otherwise keeps.

A REDS traversal or a fit allocates hundreds of MB of activations and frees them when it ends; glibc keeps much
of that in its arenas, so the app's resident size rose by about 100 MB after the first traversals and moved with
every later one (``gan-studio bench soak``). ``malloc_trim(0)`` returns it in well under a millisecond. Elsewhere
(macOS, Windows, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_trim = None
_looked = False


def release_free_memory() -> bool:
    """Return freed heap pages to the system (glibc's ``malloc_trim``); False where there is no such call."""
    global _trim, _looked
    if not _looked:
        _looked = True
        if sys.platform.startswith("linux"):
            try:
                _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
                _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
            except (OSError, AttributeError):  # not glibc
                _trim = None
    if _trim is None:
        return False
    _trim(0)
    return True
