"""What the desktop bundle leaves out, and why (read by ``gan-studio.spec``; measured in ``README.md``).

- ``EXCLUDED_MODULES``: Python modules PyInstaller must not follow at all.
- ``PRUNED``: files its hooks collect that the app never loads (glob patterns on the path inside the bundle's
  ``_internal/`` folder, with the reason).
- Then the shared libraries that only pruned files linked to: PyInstaller collected them as dependencies of, say,
  the QtQuick-based virtual keyboard plugin; :func:`prune` follows the ELF ``DT_NEEDED`` entries and drops a
  dependency-only library (top level, or Qt's ``lib/``) that a pruned file reaches and no kept file does.
- ``STRIPPED``: libraries shipped with their symbol tables; the bundle gets copies without them.

The bundle's ``--self-test`` is what says a pruning was safe; ``build.py`` also checks afterwards that every
bundled Qt binary still finds the Qt libraries it links to.
"""

from __future__ import annotations

import mmap
import os
import posixpath
import struct
from collections.abc import Iterable
from fnmatch import fnmatchcase

QT = "PySide6/Qt"

EXCLUDED_MODULES = [
    # other Qt bindings and GUI toolkits: the app is PySide6 only
    "PyQt5",
    "PyQt6",
    "PySide2",
    "sip",
    "tkinter",
    "_tkinter",
    "turtle",
    "idlelib",
    # Qt modules the app does not use (not QtOpenGL / QtOpenGLWidgets: pyqtgraph 0.14 imports both when its
    # plot items are imported, even though the app draws no OpenGL)
    "PySide6.QtNetwork",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuickWidgets",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.Qt3DCore",
    "PySide6.QtDesigner",
    "PySide6.QtUiTools",
    "PySide6.QtSql",
    "PySide6.QtPrintSupport",
    "pyqtgraph.opengl",
    "pyqtgraph.examples",
    "pyqtgraph.jupyter",
    # development tools and test-only packages
    "IPython",
    "matplotlib",
    "pytest",
    "_pytest",
    "pytestqt",
    "pycocotools",
    "ruff",
    "pip",
    # GPU and extras that a CPU torch never imports
    "nvidia",
    "triton",
    "tensorboard",
]

PRUNED: list[tuple[str, str]] = [
    # torch: build-time and test files, never loaded by `import torch`
    ("torch/include/*", "C++ headers for building extensions"),
    ("torch/share/*", "CMake files for building extensions"),
    (
        "torch/bin/test_*",
        "C++ test binaries (torch/bin/torch_shm_manager stays: `import torch` checks for it)",
    ),
    ("torch/bin/*StoreTest", "C++ test binaries"),
    ("torch/bin/protoc*", "protobuf compiler"),
    ("torch/bin/*.pt", "test models"),
    ("torch/bin/*.ptl", "test models"),
    ("torch/test/*", "C++ test binaries"),
    ("torch/lib/*.a", "static libraries"),
    ("torch/lib/libshm_windows/*", "Windows only"),
    ("torch/lib/libtorchbind_test.so", "torch's own tests"),
    ("torch/lib/libjitbackend_test.so", "torch's own tests"),
    ("torch/lib/libbackend_with_compiler.so", "torch's own tests"),
    ("torch/lib/libaoti_custom_ops.so", "torch's own tests"),
    ("caffe2/*", "legacy, unused"),
    # Qt: translations and plugins for platforms, formats and services the app does not use
    (f"{QT}/translations/*", "Qt's own UI translations; the app is English only"),
    (f"{QT}/plugins/platforms/libqeglfs.so", "embedded-Linux platform"),
    (f"{QT}/plugins/platforms/libqlinuxfb.so", "embedded-Linux platform"),
    (f"{QT}/plugins/platforms/libqminimalegl.so", "embedded-Linux platform"),
    (f"{QT}/plugins/platforms/libqvkkhrdisplay.so", "embedded-Linux platform"),
    (f"{QT}/plugins/platforms/libqvnc.so", "VNC platform (needs QtNetwork)"),
    (f"{QT}/plugins/egldeviceintegrations/*", "eglfs only"),
    (f"{QT}/plugins/generic/libqtuiotouchplugin.so", "TUIO touch over the network (needs QtNetwork)"),
    (f"{QT}/plugins/imageformats/libqpdf.so", "PDF (needs QtPdf); images are read with PIL"),
    (f"{QT}/plugins/imageformats/libqicns.so", "macOS icons"),
    (f"{QT}/plugins/imageformats/libqtga.so", "unused format; images are read with PIL"),
    (f"{QT}/plugins/imageformats/libqtiff.so", "unused format; images are read with PIL"),
    (f"{QT}/plugins/imageformats/libqwbmp.so", "unused format; images are read with PIL"),
    (f"{QT}/plugins/imageformats/libqwebp.so", "unused format; images are read with PIL"),
    (f"{QT}/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", "virtual keyboard (needs QtQuick)"),
    (f"{QT}/plugins/vectorimageformats/*", "Lottie (needs QtQuick)"),
    (f"{QT}/plugins/networkinformation/*", "needs QtNetwork"),
    (f"{QT}/plugins/tls/*", "needs QtNetwork"),
    (f"{QT}/plugins/sqldrivers/*", "needs QtSql"),
    (f"{QT}/plugins/qmltooling/*", "needs QtQml"),
    (f"{QT}/plugins/designer/*", "Qt Designer"),
    (f"{QT}/plugins/printsupport/*", "printing is not offered"),
    (f"{QT}/plugins/wayland-graphics-integration-server/*", "Wayland compositor side"),
    (
        f"{QT}/plugins/platformthemes/libqgtk3.so",
        "GTK 3 theme: needs the system's GTK, which would then mix with the bundled cairo/pango",
    ),
    (f"{QT}/qml/*", "QML modules"),
    (f"{QT}/metatypes/*", "build-time metadata"),
    (f"{QT}/libexec/*", "QtWebEngine / tools"),
    # type information (not the .pyi stubs: scikit-image's lazy loader reads its __init__.pyi at run time)
    ("*/py.typed", "type marker"),
]

# Libraries shipped with their symbol tables; the bundle gets copies without them (`strip --strip-unneeded`).
# Not the ones auditwheel patched (numpy's and scipy's): strip breaks their load commands.
STRIPPED = [
    "torch/lib/libtorch_cpu.so",
    "torch/lib/libtorch_python.so",
    "libpython3.*.so*",
    "python3.*/lib-dynload/*.so",
]


def stripped(dest: str) -> bool:
    """Whether the bundle gets ``dest`` without its symbol table."""
    return any(fnmatchcase(dest, pattern) for pattern in STRIPPED)


def pruned(dest: str) -> str | None:
    """The reason ``dest`` (a path inside ``_internal/``, ``/`` separators) is left out, or None to keep it."""
    for pattern, reason in PRUNED:
        if fnmatchcase(dest, pattern):
            return reason
    return None


# Libraries that are in the bundle only because something else links to them.
DEPENDENCY_ONLY = [f"{QT}/lib/*"]


def _dependency_only(dest: str) -> bool:
    return "/" not in dest or any(fnmatchcase(dest, pattern) for pattern in DEPENDENCY_ONLY)


def elf_needed(path: str | os.PathLike) -> list[str]:
    """The ``DT_NEEDED`` names of a 64-bit little-endian ELF file; empty for anything else."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _needed(data)
    except (OSError, ValueError, struct.error):
        return []


def _needed(data) -> list[str]:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 0x20)[0], *struct.unpack_from("<HH", data, 0x36)
    loads, dynamic = [], None
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1:  # PT_LOAD
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:  # PT_DYNAMIC
            dynamic = (p_offset, p_filesz)
    if dynamic is None:
        return []
    needed, strtab = [], None
    for off in range(dynamic[0], dynamic[0] + dynamic[1] - 15, 16):
        tag, value = struct.unpack_from("<qQ", data, off)
        if tag == 0:  # DT_NULL
            break
        if tag == 1:  # DT_NEEDED: an offset into the string table
            needed.append(value)
        elif tag == 5:  # DT_STRTAB: a virtual address
            strtab = next((o + value - v for v, o, n in loads if v <= value < v + n), None)
    if strtab is None:
        return []
    return [data[strtab + n : data.find(b"\0", strtab + n)].decode("utf-8", "replace") for n in needed]


def _closure(starts: Iterable[str], sources: dict[str, str]) -> set[str]:
    """Dependency-only entries reached from ``starts`` (dests) through DT_NEEDED, by file name."""
    by_name = {d: d for d in sources if "/" not in d}
    by_name.update({posixpath.basename(d): d for d in sources if _dependency_only(d) and "/" in d})
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        dest = todo.pop()
        for name in elf_needed(sources[dest]):
            found = by_name.get(name)
            if found is not None and found not in seen:
                seen.add(found)
                todo.append(found)
    return seen


def prune(binaries: list, datas: list) -> tuple[list, list, list[tuple[str, int, str]]]:
    """Drop what ``PRUNED`` names and the libraries only those files linked to, from PyInstaller TOC lists of
    ``(dest, source, typecode)``. Returns the kept binaries, the kept datas and the removed ``(dest, bytes,
    reason)``. A symbolic link goes with its target."""
    removed: dict[str, str] = {}
    for dest, _, kind in [*binaries, *datas]:
        reason = pruned(dest.replace("\\", "/"))
        if reason is not None and kind != "SYMLINK":
            removed[dest] = reason
    sources = {dest: src for dest, src, kind in binaries if kind != "SYMLINK"}
    from_pruned = _closure([d for d in sources if d in removed], sources)
    roots = [d for d in sources if d not in removed and not (_dependency_only(d) and d in from_pruned)]
    still_needed = _closure(roots, sources) | set(roots)
    for dest in from_pruned - still_needed:
        removed.setdefault(dest, "only pruned files link to it")

    def keep(toc: list) -> list:
        kept = []
        for dest, src, kind in toc:
            if kind == "SYMLINK":
                target = posixpath.normpath(posixpath.join(posixpath.dirname(dest), src.replace("\\", "/")))
                if target in removed or dest in removed:
                    removed.setdefault(dest, f"link to {target}")
                    continue
            elif dest in removed:
                continue
            kept.append((dest, src, kind))
        return kept

    kept_binaries, kept_datas = keep(binaries), keep(datas)
    sizes = {dest: src for dest, src, kind in [*binaries, *datas] if kind != "SYMLINK"}
    report = []
    for dest, reason in sorted(removed.items()):
        src = sizes.get(dest)
        report.append((dest, os.path.getsize(src) if src and os.path.isfile(src) else 0, reason))
    return kept_binaries, kept_datas, report
