"""The desktop bundle: `packaging/build.py` (what `make package` runs) builds dist/gan-studio/, and the frozen app
passes its own `--self-test` in a clean environment (`env -i`: no .venv, no source tree, a temporary cwd and HOME).

The build is incremental (skipped when nothing it is made from changed since the last build); a fresh clone
always builds, which takes a few minutes.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gan_studio.selftest import STEPS

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "gan-studio"
EXECUTABLE = BUNDLE / "gan-studio"
BUILD_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 600

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bundle is built for Linux")


@pytest.fixture(scope="module")
def bundle() -> Path:
    result = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "build.py")],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, f"build failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    assert EXECUTABLE.is_file() and os.access(EXECUTABLE, os.X_OK)
    return BUNDLE


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "QT_QPA_PLATFORM": "offscreen", **extra}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_frozen_self_test_passes_in_a_clean_environment(bundle, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [str(EXECUTABLE), "--self-test"],
        cwd=work,
        env=_clean_env(tmp_path / "home"),
        check=False,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-6000:]}"
    out = result.stdout
    assert out.startswith("self-test: frozen bundle, resources ")
    assert str(BUNDLE / "_internal" / "resources") in out.splitlines()[0]  # the bundled copy, not the tree's
    for step in STEPS:
        assert re.search(rf"^self-test: {step.name}\s+ok\s+[0-9.]+ s", out, re.MULTILINE), step.name
    assert re.search(r"^self-test: passed, \d+ steps in [0-9.]+ s$", out, re.MULTILINE)
    assert "Traceback" not in result.stderr
    assert not any(work.iterdir())  # scratch files went to a temporary folder that is gone


def test_frozen_self_test_names_a_tampered_weight_file(bundle, tmp_path):
    resources = tmp_path / "resources"
    shutil.copytree(BUNDLE / "_internal" / "resources", resources)
    weights = resources / "classifier" / "classifier.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    result = subprocess.run(
        [str(EXECUTABLE), "--self-test"],
        cwd=tmp_path,
        env=_clean_env(tmp_path / "home", GAN_STUDIO_RESOURCES=str(resources)),
        check=False,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("self-test: FAILED at step 'resources'")
    assert "classifier.safetensors" in lines[0] and "changed or damaged" in lines[0]
    assert "passed" not in result.stdout


def test_bundle_ships_the_resources_and_leaves_out_what_it_must(bundle):
    shipped = bundle / "_internal" / "resources"
    sources = [p for p in (ROOT / "resources").rglob("*") if p.is_file()]
    assert sources
    for src in sources:
        copy = shipped / src.relative_to(ROOT / "resources")
        assert copy.is_file() and _sha256(copy) == _sha256(src), copy
    names = [p.relative_to(bundle).as_posix() for p in bundle.rglob("*")]
    forbidden = re.compile(
        r"libcuda|libcudart|libcudnn|libcublas|libnccl|libtorch_cuda|(^|/)nvidia/|(^|/)triton/"
        r"|(^|/)(PyQt5|PyQt6|PySide2|tkinter)/|_tkinter\.|libtk|libtcl"
        r"|Qt/translations/|libQt6(Quick|Qml|WebEngine|Pdf|Network|Sql|Designer)"
        r"|torch/include/|torch/test/|torch/bin/test_|torch/lib/[^/]*\.a$|libtorchbind_test"
    )
    assert [n for n in names if forbidden.search(n)] == []
    platforms = {
        p.name for p in (bundle / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms").iterdir()
    }
    assert {"libqoffscreen.so", "libqxcb.so", "libqwayland.so"} <= platforms
    assert [p for p in bundle.rglob("*") if p.is_symlink() and not p.exists()] == []


def test_desktop_entry_and_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(ROOT / "packaging" / "gan-studio.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name"] == "GAN Studio"
    assert desktop["Exec"].split()[0] == EXECUTABLE.name
    assert desktop["Icon"] == "gan-studio" and desktop["Terminal"] == "false"
    icon = ROOT / "resources" / "icons" / "gan-studio.png"
    assert icon.stat().st_size < 20_000  # committed: keep it small
    from PIL import Image

    with Image.open(icon) as im:
        assert im.size == (256, 256)
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(ROOT / "packaging" / "gan-studio.desktop")],
            check=False,
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
