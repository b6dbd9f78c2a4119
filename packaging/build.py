"""Build the one-folder desktop bundle ``dist/gan-studio/gan-studio`` (what ``make package`` runs).

    python packaging/build.py [--force] [--clean] [--sizes N]

Runs PyInstaller on ``packaging/gan-studio.spec`` with the Python that runs this script (the project's .venv),
then checks the bundle: every bundled Qt binary finds the Qt libraries it links to (the pruning in ``prune.py``
must not remove one still needed), and no CUDA library or other Qt binding slipped in. Prints the build time, the
bundle's size and its biggest folders.

Incremental: a fingerprint of everything the bundle is made from (the package's sources, ``resources/``, this
folder, ``pyproject.toml``, the installed distributions and their versions, the Python version) is written to
``dist/.gan-studio.fingerprint`` after a successful build; when it matches and the executable is there, nothing
is rebuilt. ``--force`` rebuilds anyway; ``--clean`` also empties PyInstaller's caches first.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NAME = "gan-studio"
SPEC = HERE / f"{NAME}.spec"
DIST = ROOT / "dist"
BUNDLE = DIST / NAME
EXECUTABLE = BUNDLE / NAME
WORK = ROOT / "build" / "pyinstaller"
FINGERPRINT = DIST / f".{NAME}.fingerprint"
PRUNED_REPORT = WORK / NAME / "pruned.tsv"  # written by the spec
INPUTS = ("gan_studio", "resources", "pyproject.toml")
PACKAGING = (
    "gan-studio.spec",
    "gan_studio_app.py",
    "prune.py",
    "build.py",
    "gan-studio.desktop",
)
# Copied next to the executable: the desktop entry and the app's icon (which the window uses too, from resources/).
DESKTOP_FILES = (HERE / "gan-studio.desktop", ROOT / "resources" / "icons" / "gan-studio.png")
SKIPPED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
# Files that must never be in the bundle: GPU runtimes and the Qt bindings the app does not use.
FORBIDDEN = re.compile(
    r"(^|/)(libcuda|libcudart|libcudnn|libcublas|libcufft|libcurand|libcusparse|libcusolver|libnccl|libnvrtc|"
    r"libnvJitLink|libtorch_cuda|libc10_cuda|libamdhip|libMIOpen)[^/]*$"
    r"|(^|/)(nvidia|triton|PyQt5|PyQt6|PySide2|tkinter)/"
    r"|(^|/)_tkinter\."
)


def fingerprint() -> str:
    """sha256 over every input file (path and content) and the installed distributions."""
    digest = hashlib.sha256()
    digest.update(f"python {sys.version}\n".encode())
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
        digest.update(f"dist {dist.metadata['Name']} {dist.version}\n".encode())
    for path in [*(ROOT / name for name in INPUTS), *(HERE / name for name in PACKAGING)]:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            rel = file.relative_to(ROOT)
            if SKIPPED_PARTS & set(rel.parts) or file.suffix == ".pyc":
                continue
            digest.update(f"file {rel.as_posix()} {file.stat().st_size}\n".encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def up_to_date(expected: str) -> bool:
    return EXECUTABLE.is_file() and FINGERPRINT.is_file() and FINGERPRINT.read_text().strip() == expected


def run_pyinstaller(clean: bool) -> None:
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
    command += ["--distpath", str(DIST), "--workpath", str(WORK)]
    if clean:
        command.append("--clean")
    command.append(str(SPEC))
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # the hooks import torch; no need for its thread pool
    env.pop("GAN_STUDIO_RESOURCES", None)
    print("build.py: " + " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def check_qt_links(bundle: Path) -> list[str]:
    """Bundled Qt binaries whose Qt libraries (``libQt6*``, ``libpyside6*``, ``libshiboken6*``) are not found."""
    problems = []
    qt = bundle / "_internal" / "PySide6"
    if shutil.which("ldd") is None or not qt.is_dir():
        return problems
    for path in sorted(p for p in qt.rglob("*.so*") if p.is_file() and _is_elf(p)):
        out = subprocess.run(["ldd", str(path)], check=False, capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "not found" in line and re.search(r"lib(Qt6|pyside6|shiboken6)", line):
                problems.append(f"{path.relative_to(bundle)}: {line.strip()}")
    return problems


def check_forbidden(bundle: Path) -> list[str]:
    found = []
    for path in bundle.rglob("*"):
        rel = path.relative_to(bundle).as_posix()
        if FORBIDDEN.search(rel + ("/" if path.is_dir() else "")):
            found.append(rel)
    return sorted(found)


def check_links(bundle: Path) -> list[str]:
    """Symbolic links in the bundle whose target is missing."""
    return sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_symlink() and not p.exists())


def du(path: Path) -> int:
    """Bytes on disk under ``path`` (files only; links not followed)."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def size_report(bundle: Path, top: int) -> str:
    internal = bundle / "_internal"
    entries = [(du(p), f"_internal/{p.name}") for p in internal.iterdir()]
    entries += [(du(p), p.name) for p in bundle.iterdir() if p != internal]  # the executable holds the .pyc
    entries.sort(reverse=True)
    total = du(bundle)
    lines = [
        f"bundle {bundle.relative_to(ROOT)}: {total / 2**20:.0f} MiB in {sum(1 for _ in bundle.rglob('*'))} files"
    ]
    for size, name in entries[:top]:
        lines.append(f"  {size / 2**20:8.1f} MiB  {100 * size / total:5.1f} %  {name}")
    rest = sum(size for size, _ in entries[top:])
    lines.append(
        f"  {rest / 2**20:8.1f} MiB  {100 * rest / total:5.1f} %  the other {max(len(entries) - top, 0)} entries"
    )
    return "\n".join(lines)


def pruned_summary() -> str:
    if not PRUNED_REPORT.is_file():
        return "no pruning report"
    rows = [line.split("\t", 2) for line in PRUNED_REPORT.read_text(encoding="utf-8").splitlines() if line]
    total = sum(int(size) for _, size, _ in rows)
    return f"pruned {len(rows)} files, {total / 2**20:.0f} MiB (list: {PRUNED_REPORT.relative_to(ROOT)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the bundle is up to date")
    parser.add_argument(
        "--clean", action="store_true", help="empty PyInstaller's caches first (implies --force)"
    )
    parser.add_argument("--sizes", type=int, default=12, help="how many of the biggest folders to list")
    args = parser.parse_args(argv)

    expected = fingerprint()
    if not (args.force or args.clean) and up_to_date(expected):
        print(f"build.py: {EXECUTABLE.relative_to(ROOT)} is up to date (nothing changed since it was built)")
        return 0
    FINGERPRINT.unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        run_pyinstaller(args.clean)
    except subprocess.CalledProcessError as exc:
        print(f"build.py: PyInstaller failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    if not EXECUTABLE.is_file():
        print(f"build.py: PyInstaller did not write {EXECUTABLE}", file=sys.stderr)
        return 1
    problems = [f"missing Qt library: {p}" for p in check_qt_links(BUNDLE)]
    problems += [f"must not be bundled: {p}" for p in check_forbidden(BUNDLE)]
    problems += [f"broken link: {p}" for p in check_links(BUNDLE)]
    if problems:
        print("build.py: the bundle is broken:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    for path in DESKTOP_FILES:
        shutil.copy2(path, BUNDLE / path.name)
    FINGERPRINT.write_text(expected + "\n")
    print(f"build.py: built {EXECUTABLE.relative_to(ROOT)} in {elapsed:.0f} s")
    print(size_report(BUNDLE, args.sizes))
    print(pruned_summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
