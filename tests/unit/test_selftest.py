"""`gan-studio --self-test` from the source tree: the hash check catches a changed weight file with one clear
line, the steps pass on the shipped resources, and the resources are found in a frozen bundle too."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gan_studio import resources, selftest
from gan_studio.resources import resource_path, resources_dir
from gan_studio.selftest import SelfTestError, check_resources, run_self_test


@pytest.fixture
def resource_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the shipped resources that the app uses instead of the tree's."""
    copy = tmp_path / "resources"
    shutil.copytree(resources_dir(), copy, ignore=shutil.ignore_patterns("*.md"))
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(copy))
    return copy


def _run(steps: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_self_test(steps, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_shipped_resources_pass_the_hash_check():
    assert "5 weight files" in check_resources()  # HandsOff now runs on the shipped 128 px ReStGAN


def test_a_tampered_weight_file_fails_with_one_line_naming_the_step_and_file(resource_copy):
    weights = resource_copy / "restgan" / "restgan.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the middle of the tensors
    weights.write_bytes(bytes(data))
    code, out, err = _run(["resources", "models"])
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("self-test: FAILED at step 'resources'")
    assert str(weights) in err and "changed or damaged" in err
    assert out.splitlines()[-1] == "self-test: resources FAILED"  # and stops at the first failure
    assert "passed" not in out and "models" not in out


def test_a_changed_color_table_fails_against_the_classifier_manifest(resource_copy):
    table = resource_copy / "color_table.json"
    table.write_text(table.read_text() + "\n")
    with pytest.raises(SelfTestError, match=r"color_table\.json has sha256 .*classifier\.json records"):
        check_resources()


def test_a_missing_model_fails(resource_copy):
    shutil.rmtree(resource_copy / "stackgan")
    with pytest.raises(SelfTestError, match=r"stackgan\.safetensors is missing"):
        check_resources()


def test_headless_steps_pass_and_report_their_times():
    steps = ["resources", "models", "generate", "autograd", "dataset"]
    code, out, err = _run(steps)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("self-test: source install, resources ")
    for name, line in zip(steps, lines[1:], strict=False):
        assert line.startswith(f"self-test: {name:<9} ok") and " s  " in line
    assert lines[-1].startswith(f"self-test: passed, {len(steps)} steps in ")


def test_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown self-test steps: nope"):
        run_self_test(["nope"])


def test_cli_flag_runs_the_self_test(monkeypatch):
    from gan_studio.cli import main

    calls = []
    monkeypatch.setattr(selftest, "run_self_test", lambda: calls.append(1) or 0)
    assert main(["--self-test"]) == 0
    assert calls == [1]


def test_whole_self_test_passes_from_the_source_tree(tmp_path):
    """All steps, the window included, in a fresh process (as `gan-studio --self-test` runs)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        "OMP_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "gan_studio.cli", "--self-test"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test: window    ok" in result.stdout
    assert "self-test: passed, 6 steps" in result.stdout


def test_frozen_bundle_finds_resources_next_to_its_libraries(tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_STUDIO_RESOURCES", raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources.resources_dir() == tmp_path / "resources"
    assert resource_path("color_table.json") == tmp_path / "resources" / "color_table.json"
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(tmp_path / "elsewhere"))  # still wins
    assert resources.resources_dir() == tmp_path / "elsewhere"


def test_source_tree_resources_are_next_to_the_package(monkeypatch):
    monkeypatch.delenv("GAN_STUDIO_RESOURCES", raising=False)
    assert not getattr(sys, "frozen", False)
    assert resources_dir() == Path(resources.__file__).resolve().parent.parent / "resources"


def test_a_flipped_byte_in_the_icon_fails_against_icons_json(resource_copy):
    icon = resource_copy / "icons" / "gan-studio.png"
    data = bytearray(icon.read_bytes())
    data[len(data) // 2] ^= 0x01
    icon.write_bytes(bytes(data))
    code, _out, err = _run(["resources"])
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert str(icon) in err and "icons.json records" in err and "changed or damaged" in err
