"""The core (everything but gan_studio.qt) imports with Qt made unavailable, as on a headless machine.

A fresh interpreter installs an import hook that refuses PySide6, shiboken6, pyqtgraph and qasync, then imports
every module of gan_studio outside gan_studio.qt. The walk lists modules from the file system without importing
gan_studio.qt, whose __init__ may import Qt.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib
    import importlib.abc
    import pkgutil
    import sys
    import traceback

    BLOCKED = {"PySide6", "shiboken6", "pyqtgraph", "qasync"}


    class BlockQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked: the core must not import Qt")
            return None


    sys.meta_path.insert(0, BlockQt())
    try:
        import PySide6  # noqa: F401
    except ImportError:
        pass
    else:
        sys.exit("the Qt import blocker does not work")

    import gan_studio


    def core_modules(path, prefix):
        for info in pkgutil.iter_modules(path, prefix):
            if info.name == "gan_studio.qt":
                continue
            yield info.name
            if info.ispkg:
                package = importlib.import_module(info.name)
                yield from core_modules(package.__path__, info.name + ".")


    names = []
    failures = []
    for name in core_modules(gan_studio.__path__, "gan_studio."):
        names.append(name)
        try:
            importlib.import_module(name)
        except BaseException:
            failures.append(name + ":\\n" + traceback.format_exc(limit=-3))

    leaked = sorted(
        m for m in sys.modules
        if m.partition(".")[0] in BLOCKED or m == "gan_studio.qt" or m.startswith("gan_studio.qt.")
    )
    for failure in failures:
        print("FAILED", failure)
    if leaked:
        print("LEAKED", leaked)
    print("IMPORTED", len(names), " ".join(names))
    sys.exit(1 if failures or leaked else 0)
    """
)


def test_core_imports_without_qt() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    imported = report.split("IMPORTED", 1)[1].split()
    assert "gan_studio.cli" in imported[1:]
    assert "gan_studio.runtime.worker" in imported[1:]
    assert not any(name.startswith("gan_studio.qt") for name in imported[1:])
