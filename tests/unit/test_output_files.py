"""The atomic output writer: modes, clean failures, staged sets, the lock, and the shipped color table's check."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from gan_studio.data.colortable import ColorTable
from gan_studio.data.output_files import (
    OutputError,
    StagedOutputs,
    lock_path,
    output_errors,
    output_lock,
    write_file,
    write_text,
)
from gan_studio.resources import resource_path


@pytest.fixture
def work(tmp_path) -> Path:
    """An empty folder of its own (the test's tmp_path may also hold isolated settings)."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def _full(f) -> None:
    f.write(b"half")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_file_gets_the_umask_mode_and_a_failure_leaves_the_old_file_and_no_temp(work):
    old = os.umask(0o027)
    try:
        path = write_text(work / "a.txt", "one")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    with pytest.raises(OutputError, match="a.txt cannot be written: the disk is full"):
        write_file(path, _full)
    assert path.read_text() == "one" and [p.name for p in work.iterdir()] == ["a.txt"]


def test_each_kind_of_failure_is_one_sentence_naming_the_path(work):
    (work / "afile").write_text("x")
    (work / "dir").mkdir()
    cases = {
        work / "afile" / "out.txt": "a file is in the way",
        work / "dir": "is a folder, not a file",
        work / "missing" / "out.txt": "its folder",
    }
    for path, words in cases.items():
        with pytest.raises(OutputError, match=words) as info:
            write_text(path, "x")
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    for code, words in [
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only"),
        (errno.ENOSPC, "full"),
    ]:
        with pytest.raises(OutputError, match=words), output_errors(work / "x"):
            raise OSError(code, os.strerror(code), "somewhere")
    with pytest.raises(OutputError, match="disk is full"), output_errors(work / "x"):
        raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")


def test_a_staged_set_lands_whole_replacing_only_its_own_stale_files(work):
    out = work / "out"
    with StagedOutputs() as outputs:
        outputs.folder(out, own=r"frame_\d{3}\.png", index="index.json")
        for i in range(3):
            outputs.add_text(out / f"frame_{i:03d}.png", f"frame {i}")
        outputs.add_text(out / "index.json", "3 frames")
    (out / "notes.txt").write_text("mine")
    with StagedOutputs() as outputs:
        outputs.folder(out, own=r"frame_\d{3}\.png", index="index.json")
        outputs.add_text(out / "frame_000.png", "new 0")
        outputs.add_text(out / "index.json", "1 frame")
    assert sorted(p.name for p in out.iterdir()) == ["frame_000.png", "index.json", "notes.txt"]
    assert (out / "frame_000.png").read_text() == "new 0"


def test_a_failing_set_changes_nothing_and_leaves_no_staging_or_new_folder(work):
    out = work / "out"
    out.mkdir()
    (out / "frame_000.png").write_text("old")
    full = "frame_001.png cannot be written: the disk is full"
    with pytest.raises(OutputError, match=full), StagedOutputs() as outputs:
        outputs.folder(out, own=r"frame_\d{3}\.png")
        outputs.add_text(out / "frame_000.png", "new")
        outputs.add(out / "frame_001.png", _full)
    assert [(p.name, p.read_text()) for p in out.iterdir()] == [("frame_000.png", "old")]
    with pytest.raises(OutputError), StagedOutputs() as outputs:
        outputs.folder(work / "new" / "deeper")
        outputs.add(work / "new" / "deeper" / "a.png", _full)
    assert sorted(p.name for p in work.iterdir()) == ["out"]


def test_the_lock_refuses_a_live_writer_and_takes_over_a_dead_ones(work):
    out = work / "ds"
    with output_lock(out) as lock:
        assert lock == lock_path(out) and lock.read_text().strip() == str(os.getpid())
        with pytest.raises(OutputError, match="is being written by another gan-studio"), output_lock(out):
            pass
    assert not lock.exists()
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock.write_text(f"{dead.pid}\n")
    with output_lock(out):
        assert lock.read_text().strip() == str(os.getpid())
    assert not lock.exists()


@pytest.fixture
def resources(tmp_path, monkeypatch) -> Path:
    copy = tmp_path / "resources"
    (copy / "classifier").mkdir(parents=True)
    shutil.copy(resource_path("color_table.json"), copy / "color_table.json")
    shutil.copy(resource_path("classifier", "classifier.json"), copy / "classifier" / "classifier.json")
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(copy))
    return copy


def test_the_shipped_color_table_is_checked_like_the_weights(resources):
    assert len(ColorTable.load()) > 0
    table = resources / "color_table.json"
    doc = json.loads(table.read_text())
    doc["clusters"][0]["lab"][0] += 5.0  # still valid JSON, silently wrong colors
    table.write_text(json.dumps(doc, indent=1) + "\n")
    with pytest.raises(ValueError, match="changed or damaged") as info:
        ColorTable.load()
    assert str(table) in str(info.value) and "\n" not in str(info.value)
    assert len(ColorTable.load(verify=False)) > 0  # what training a new classifier on a rebuilt table uses
    assert len(ColorTable.load(table)) > 0  # a user's own table has no recorded hash to check


def test_leftovers_of_a_killed_writer_are_removed_on_the_next_write(tmp_path, monkeypatch):
    import sys

    from gan_studio.data import output_files

    monkeypatch.setattr(output_files, "_swept", set())
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead = int(gone.stdout)  # a process that has exited
    old = time.time() - 600
    stale_file = tmp_path / f".frame_000.png.p{dead}-0123abcd.tmp"
    stale_dir = tmp_path / f"{output_files._STAGING_PREFIX}p{dead}-ab12_x"
    live_dir = tmp_path / f"{output_files._STAGING_PREFIX}p{os.getppid()}-cd34"  # its writer still runs
    fresh = tmp_path / f".g.png.p{dead}-89abcdef.tmp"  # too recent to tell from a writer on another machine
    other = tmp_path / ".notes.tmp"  # not ours: never touched
    stale_dir.mkdir()
    (stale_dir / "step_00.png").write_bytes(b"x")
    live_dir.mkdir()
    for p in (stale_file, fresh, other):
        p.write_bytes(b"half")
    for p in (stale_file, stale_dir, live_dir, other):
        os.utime(p, (old, old))
    output_files.write_text(tmp_path / "steps.json", "{}")
    assert not stale_file.exists() and not stale_dir.exists()
    assert live_dir.exists() and fresh.exists() and other.exists()
    assert (tmp_path / "steps.json").read_text() == "{}"


def test_a_benchmark_report_into_a_file_in_the_way_is_one_sentence_and_writes_nothing(work):
    from gan_studio.metrics.report import write_report

    (work / "afile").write_text("mine")
    with pytest.raises(OutputError, match="afile"):
        write_report(work / "afile" / "docs", "demo", {"x": 1}, "# demo")
    assert (work / "afile").read_text() == "mine" and sorted(p.name for p in work.iterdir()) == ["afile"]
    jpath, mpath = write_report(work / "new" / "docs", "demo", {"x": 1}, "# demo")
    assert json.loads(jpath.read_text())["x"] == 1 and mpath.read_text() == "# demo\n"


def test_the_shipped_icon_is_checked_like_the_weights(tmp_path, monkeypatch):
    from gan_studio.resources import checked_icon

    path, why = checked_icon()
    assert path is not None and path.is_file() and why == ""  # the shipped one passes
    copy = tmp_path / "resources" / "icons"
    shutil.copytree(resource_path("icons"), copy)
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(copy.parent))
    assert checked_icon()[0] == copy / "gan-studio.png"
    data = bytearray((copy / "gan-studio.png").read_bytes())
    data[-20] ^= 0xFF  # a flipped byte
    (copy / "gan-studio.png").write_bytes(bytes(data))
    path, why = checked_icon()
    assert path is None and "does not match the sha256" in why and "\n" not in why
    (copy / "icons.json").unlink()
    assert checked_icon()[0] is None and "icons.json is missing" in checked_icon()[1]


def test_a_report_and_its_figures_are_written_all_or_nothing(work):
    from gan_studio.metrics.report import write_report

    figure = work / "docs" / "plot.png"
    write_report(work / "docs", "demo", {"x": 1}, "# one", figures={figure: lambda f: f.write(b"png one")})
    before = {p.name: p.read_bytes() for p in (work / "docs").iterdir()}
    with pytest.raises(OutputError, match="plot.png cannot be written: the disk is full"):
        write_report(work / "docs", "demo", {"x": 2}, "# two", figures={figure: _full})
    assert {
        p.name: p.read_bytes() for p in (work / "docs").iterdir()
    } == before  # no new JSON beside an old plot


def test_a_final_checkpoint_is_staged_as_one_set(work):
    from gan_studio.commands.train_record import write_final_checkpoint

    weights = work / "run" / "model.safetensors"

    def save(path: Path, card: bool = True) -> None:
        path.write_bytes(b"weights")
        path.with_suffix(".json").write_text("manifest")
        if not card:
            raise OSError(errno.ENOSPC, "No space left on device", str(path.with_suffix(".md")))
        path.with_suffix(".md").write_text("card")

    assert write_final_checkpoint(weights, save) == weights
    assert sorted(p.name for p in weights.parent.iterdir()) == ["model.json", "model.md", "model.safetensors"]
    weights.write_bytes(b"previous")
    with pytest.raises(OutputError, match="model.safetensors cannot be written: the disk is full"):
        write_final_checkpoint(weights, lambda path: save(path, card=False))
    assert weights.read_bytes() == b"previous"  # the previous model stays whole, and nothing stray is left
    assert sorted(p.name for p in weights.parent.iterdir()) == ["model.json", "model.md", "model.safetensors"]


def test_a_result_that_does_not_fit_is_cut_off_again(work, monkeypatch):
    from gan_studio.data import output_files
    from gan_studio.metrics.results_file import append_result, open_results, read_results

    path = work / "new" / "runs.jsonl"
    with open_results(path):
        pass
    assert not (work / "new").exists()  # an empty results file this run made is not left behind
    with open_results(path) as f:
        append_result(f, {"seed": 0, "settings": {}})
        real_write = os.write

        def half(fd, data):
            real_write(fd, bytes(data[:5]))
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(output_files.os, "write", half)
        with pytest.raises(OutputError, match="runs.jsonl cannot be written: the disk is full"):
            append_result(f, {"seed": 1, "settings": {}})
        monkeypatch.setattr(output_files.os, "write", real_write)
        append_result(f, {"seed": 2, "settings": {}})
    assert path.read_text().count("\n") == 2  # whole lines only
    assert [r["seed"] for r in read_results(path, {})] == [0, 2]
