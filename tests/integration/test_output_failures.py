"""Every sub-command that writes output, against a read-only folder, a file in the way and a full file system.

Each must exit 2 with one sentence on stderr that names the path, print no traceback and leave no half-written
output. The commands that finish in seconds with tiny options (``COMMANDS``: generate, traverse, catalog,
colortable, the dataset commands, ``train restgan|classifier`` and the fast ``bench`` sub-commands) run to the
failure. The long ones (``CHECKED_FIRST``: ``train inversion`` and the ``bench`` sub-commands that take minutes) must
refuse all three before any work, since their up-front output check writes a block and removes it: their work is
replaced by a failing stand-in, so each such test takes seconds and proves nothing was measured first.

A disk that fills mid-run is tested where it can be done cheaply: a traversal whose later frame does not fit, a
``bench gui-stalls`` whose (stand-in) measurement fills the disk before the report is written, and a ``train restgan
--tiny`` whose disk fills before its first log line. Each leaves the previous output as it was and no stray or
half-written file (the training log holds whole lines only).

The read-only folder and the full disk are small tmpfs mounts (the tests skip, saying why, where mounting is not
allowed); the read-only case falls back to ``chmod 0o555`` for a user whom that stops.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

from gan_studio.cli import main
from gan_studio.models.inversion import InversionConfig, InversionEncoder, save_inversion
from gan_studio.models.text_to_image import load_text_to_image
from tests.tiny_models import save_tiny_text_to_image

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

TITLE = "women's black pants petite capri"
TINY_FIT = [
    "--steps",
    "2",
    "--ensemble",
    "2",
    "--hidden",
    "8",
    "--pixels-per-image",
    "32",
    "--refine-steps",
    "0",
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny generator, a labeled catalog, a fitted tiny HandsOff model and the two shards of one export."""
    root = tmp_path_factory.mktemp("inputs")
    generator = save_tiny_text_to_image(root / "generator")
    model = load_text_to_image(generator, "restgan")
    encoder = save_inversion(
        InversionEncoder(InversionConfig.tiny(model.image_size, model.latent_dim)), root / "inv.safetensors"
    )
    labels = root / "labels"
    assert main(["catalog", "--n", "2", "--size", "64", "--out", str(labels)]) == 0
    handsoff = root / "handsoff"
    fit = ["dataset", "fit", "--labels", str(labels), "--out", str(handsoff), "--generator", str(generator)]
    assert main([*fit, "--encoder", str(encoder), *TINY_FIT, "--no-progress"]) == 0
    export = ["dataset", "export", "--model", str(handsoff), "--n", "2", "--batch", "1", "--no-progress"]
    for i in (0, 1):
        assert main([*export, "--shard", f"{i}/2", "--out", str(root / f"shard{i}")]) == 0
    return {
        "generator": generator,
        "encoder": encoder,
        "labels": labels,
        "handsoff": handsoff,
        "shard0": root / "shard0",
        "shard1": root / "shard1",
        "ok": root / "ok",
    }


def _commands(i: dict[str, Path]) -> dict[str, Callable[[Path], list[str]]]:
    """Sub-command name -> argv writing its output under a given folder."""
    gen = ["--model", str(i["generator"])]
    return {
        "generate": lambda d: ["generate", TITLE, *gen, "--out", str(d / "img.png")],
        # the image's own folder is fine: a failing --steps must not leave the image behind either
        "generate-steps": lambda d: [
            "generate", TITLE, *gen, "--out", str(i["ok"] / "img.png"), "--steps", str(d / "steps"),
        ],
        "traverse": lambda d: [
            "traverse", "--title", TITLE, *gen, "--fix", "box:0,0,1,0.4", "--vary", "rest", "--steps", "2",
            "--step-size", "0.5", "--no-progress", "--out", str(d / "path"),
        ],
        "catalog": lambda d: ["catalog", "--n", "2", "--size", "32", "--out", str(d / "cat")],
        "colortable": lambda d: ["colortable", "--n", "20", "--k", "2", "--out", str(d / "ct.json")],
        "dataset-fit": lambda d: [
            "dataset", "fit", "--labels", str(i["labels"]), "--out", str(d / "fit"), "--generator",
            str(i["generator"]), "--encoder", str(i["encoder"]), *TINY_FIT, "--no-progress",
        ],
        "dataset-export": lambda d: [
            "dataset", "export", "--model", str(i["handsoff"]), "--n", "2", "--batch", "1", "--no-progress",
            "--out", str(d / "ds"),
        ],
        "dataset-merge": lambda d: [
            "dataset", "merge", str(i["shard0"]), str(i["shard1"]), "--no-progress", "--out", str(d / "merged"),
        ],
        "train-restgan": lambda d: ["train", "restgan", "--tiny", "--no-progress", "--out", str(d / "run")],
        "train-classifier": lambda d: ["train", "classifier", "--tiny", "--no-progress", "--out", str(d / "run")],
        "bench-catalog": lambda d: ["bench", "catalog", "--n", "2", "--size", "32", "--out", str(d / "bench")],
        "bench-classifier": lambda d: ["bench", "classifier", "--n", "4", "--out", str(d / "bench")],
        "bench-soak": lambda d: [
            "bench", "soak", *gen, "--generations", "4", "--waypoints", "2", "--rounds", "2",
            "--samples-per-round", "1", "--out", str(d / "bench"),
        ],
        "bench-stage2": lambda d: [
            "bench", "stage2", "--model", f"a={i['generator']}", "--n", "2", "--out", str(d / "bench"),
        ],
        "bench-reds-measure": lambda d: [  # the per-path results file, appended to as paths are measured
            "bench", "reds", *gen, "--seeds", "1", "--steps", "1", "--pairs", "1", "--methods", "linear",
            "--measure-only", "0:1", "--out", str(d / "bench"),
        ],
        # refused before any work (these take minutes)
        "train-inversion": lambda d: [
            "train", "inversion", "--tiny", *gen, "--no-progress", "--out", str(d / "run"),
        ],
        "bench-reds": lambda d: [
            "bench", "reds", *gen, "--seeds", "1", "--steps", "1", "--pairs", "1", "--out", str(d / "bench"),
        ],
        "bench-restgan": lambda d: ["bench", "restgan", "--n", "4", "--no-qt", "--out", str(d / "bench")],
        "bench-handsoff": lambda d: ["bench", "handsoff", "--quiet", "--out", str(d / "bench")],
        "bench-export": lambda d: ["bench", "export", "--n", "2", "--out", str(d / "bench")],
        "bench-pti": lambda d: ["bench", "pti", "--items", "1", "--quiet", "--out", str(d / "bench")],
        "bench-gui-stalls": lambda d: ["bench", "gui-stalls", "--out", str(d / "bench")],
        "bench-interactive": lambda d: ["bench", "interactive", "--out", str(d / "bench")],
    }  # fmt: skip


COMMANDS = [
    "generate", "generate-steps", "traverse", "catalog", "colortable", "dataset-fit", "dataset-export",
    "dataset-merge", "train-restgan", "train-classifier", "bench-catalog", "bench-classifier", "bench-soak",
    "bench-stage2", "bench-reds-measure",
]  # fmt: skip
# Long commands: checked against a read-only folder and a file in the way, which they refuse before any work.
CHECKED_FIRST = [
    "train-inversion", "bench-reds", "bench-restgan", "bench-handsoff", "bench-export", "bench-pti",
    "bench-gui-stalls", "bench-interactive",
]  # fmt: skip


# Where each long command's work starts: replaced by a stand-in that fails the test, so a command that did not check
# its output first cannot pass by failing later (after minutes of work).
WORK_OF = {
    "train-inversion": "gan_studio.commands.train_inversion._train_inversion",
    "bench-reds": "gan_studio.metrics.bench_reds.bench_reds_command",
    "bench-restgan": "gan_studio.metrics.bench_restgan.bench_restgan_command",
    "bench-handsoff": "gan_studio.metrics.bench_handsoff.bench_handsoff_command",
    "bench-export": "gan_studio.metrics.bench_export.bench_export_command",
    "bench-pti": "gan_studio.metrics.bench_pti.bench_pti_command",
    "bench-gui-stalls": "gan_studio.commands.bench_gui_stalls.bench_gui_stalls_command",
    "bench-interactive": "gan_studio.commands.bench_interactive.bench_interactive_command",
}


def _forbid_work(command: str, monkeypatch) -> None:
    if command in WORK_OF:

        def never(*args, **kwargs):
            raise AssertionError(f"{command} started its work before checking its output")

        monkeypatch.setattr(WORK_OF[command], never)


def _fill(folder: Path) -> None:
    """Write into ``folder`` until its file system is full, to the last byte."""
    try:
        with open(folder / "filler", "ab", buffering=0) as f:
            while True:
                f.write(b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC


def _mount(folder: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})")


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True, check=False)


@pytest.fixture
def read_only(tmp_path) -> Iterator[Path]:
    """A folder nothing can be written into: a read-only tmpfs as root, else ``chmod 0o555``."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        _mount(folder, "ro,size=64k")
        yield folder
        _unmount(folder)
        return
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):
        folder.chmod(0o755)
        pytest.skip("chmod 0o555 does not stop this user from writing")
    yield folder
    folder.chmod(0o755)


@pytest.fixture
def file_in_the_way(tmp_path) -> Iterator[Path]:
    """A regular file where the output's folder should be."""
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder\n")
    yield blocker
    assert blocker.read_text() == "not a folder\n"


@pytest.fixture
def full_disk(tmp_path) -> Iterator[Path]:
    """A 64 KiB tmpfs filled to the last byte."""
    folder = tmp_path / "full"
    folder.mkdir()
    _mount(folder, "size=64k")
    _fill(folder)
    yield folder
    _unmount(folder)


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.is_dir() else set()


def _check_failure(command: str, argv: list[str], where: Path, capsys) -> str:
    before = _tree(where)
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan-studio: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "[Errno" not in err, err
    assert str(where) in err, err  # names the path
    left = _tree(where) - before
    if command == "dataset-export":  # by design it keeps its hidden work folder, to continue from on a rerun
        left = {p for p in left if Path(p).parts[0] != ".ds.partial"}
    assert not left, left  # nothing half-written
    return err


@pytest.mark.parametrize("command", COMMANDS + CHECKED_FIRST)
def test_a_read_only_folder_is_one_sentence(command, inputs, read_only, monkeypatch, capsys):
    _forbid_work(command, monkeypatch)
    err = _check_failure(command, _commands(inputs)[command](read_only), read_only, capsys)
    assert "read-only" in err.lower() or "permission denied" in err.lower(), err
    assert not (inputs["ok"] / "img.png").exists()


@pytest.mark.parametrize("command", COMMANDS + CHECKED_FIRST)
def test_a_file_in_the_way_is_one_sentence(command, inputs, file_in_the_way, monkeypatch, capsys):
    _forbid_work(command, monkeypatch)
    err = _check_failure(command, _commands(inputs)[command](file_in_the_way), file_in_the_way, capsys)
    assert "a file is in the way" in err, err
    assert not (inputs["ok"] / "img.png").exists()


@pytest.mark.parametrize("command", COMMANDS + CHECKED_FIRST)
def test_a_full_disk_is_one_sentence(command, inputs, full_disk, monkeypatch, capsys):
    _forbid_work(command, monkeypatch)
    err = _check_failure(command, _commands(inputs)[command](full_disk), full_disk, capsys)
    assert "the disk is full" in err, err
    assert not (inputs["ok"] / "img.png").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_disk_full_past_the_up_front_check_is_one_sentence(command, inputs, full_disk, monkeypatch, capsys):
    """The disk fills between the up-front check and the writes (the check's probe writes nothing here): the writers
    themselves word the error and leave nothing behind."""
    from gan_studio.data import output_files

    monkeypatch.setattr(output_files, "_PROBE_BYTES", 0)
    err = _check_failure(command, _commands(inputs)[command](full_disk), full_disk, capsys)
    assert "the disk is full" in err, err
    assert not (inputs["ok"] / "img.png").exists()


def _traverse(inputs, out: Path, steps: int = 2, seed: int = 3) -> list[str]:
    argv = _commands(inputs)["traverse"](out.parent)
    argv[argv.index("--steps") + 1] = str(steps)
    argv[argv.index("--out") + 1] = str(out)
    return [*argv, "--seed", str(seed)]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_disk_full_mid_traversal_leaves_the_previous_run_as_it_was(inputs, tmp_path, capsys):
    folder = tmp_path / "small"
    folder.mkdir()
    _mount(folder, "size=64k")
    try:
        out = folder / "path"
        assert main(_traverse(inputs, out)) == 0
        before = _files(out)
        _fill(folder)
        # free room for about one frame: the new run's first frame fits, a later one does not
        frame = max(len(data) for name, data in before.items() if name.endswith(".png"))
        filler = folder / "filler"
        os.truncate(filler, max(filler.stat().st_size - -(-frame // 4096) * 4096, 0))
        capsys.readouterr()
        assert main(_traverse(inputs, out, seed=4)) == 2
        err = capsys.readouterr().err
        assert "disk is full" in err and str(out) in err and err.count("\n") == 1
        assert _files(out) == before  # the earlier frames and metrics.json, untouched; no staging folder left
    finally:
        _unmount(folder)


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 4 MiB tmpfs, to be filled by the test."""
    folder = tmp_path / "small"
    folder.mkdir()
    _mount(folder, "size=4m")
    yield folder
    _unmount(folder)


def test_a_disk_full_mid_benchmark_leaves_the_previous_report_as_it_was(small_disk, monkeypatch, capsys):
    """``bench gui-stalls`` (a long benchmark) with its measurement replaced by one that returns at once: the second
    run's measurement fills the disk, as another program could during the minutes it takes."""
    from gan_studio.qt import stall_bench

    fills: list[bool] = []

    def measure(**kwargs):
        if fills.pop(0):
            _fill(small_disk)
        idle = {"seconds": 1.0, "n": 200, "p50_ms": 0.1, "p99_ms": 1.5, "max_ms": 3.0, "over_16_ms": 0}
        return {"phases": {"idle": idle}, "interval_ms": 5, "platform": "offscreen", "key_ms": 30}

    monkeypatch.setattr(stall_bench, "measure_stalls", measure)
    out = small_disk / "bench"
    argv = ["bench", "gui-stalls", "--phases", "idle", "--out", str(out)]
    fills.append(False)
    assert main(argv) == 0
    before = _files(out)
    assert sorted(before) == ["gui_stalls.json", "gui_stalls.md"]
    capsys.readouterr()
    fills.append(True)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan-studio: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert "the disk is full" in err and str(out) in err, err
    assert _files(out) == before  # the previous report, untouched; no staging folder or temporary file left


def test_a_disk_full_while_training_is_one_sentence_naming_the_log(small_disk, monkeypatch, capsys):
    """``train restgan --tiny`` whose disk fills just before its first log line: the log, written through
    ``append_line``, is cut back to whole lines (none) and the error names it."""
    from gan_studio.train import restgan

    real_append = restgan.append_line

    def append_on_a_full_disk(log, line):
        _fill(small_disk)
        real_append(log, line)

    monkeypatch.setattr(restgan, "append_line", append_on_a_full_disk)
    out = small_disk / "run"
    capsys.readouterr()
    assert main(["train", "restgan", "--tiny", "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    log = out / "log.jsonl"
    assert err == f"gan-studio: {log} cannot be written: the disk is full; free some space and try again\n"
    assert log.read_bytes() == b""  # no half line
    assert not [p.name for p in out.rglob(".*")]  # no temporary file or staging folder left


def test_a_rerun_with_fewer_frames_or_steps_leaves_no_stale_file(inputs, tmp_path):
    out = tmp_path / "path"
    assert main(_traverse(inputs, out, steps=3)) == 0
    (out / "notes.txt").write_text("mine")  # not the command's: never touched
    assert main(_traverse(inputs, out, steps=1)) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "frame_000.png",
        "frame_001.png",
        "metrics.json",
        "notes.txt",
    ]
    steps = tmp_path / "steps"
    gen = [
        "generate",
        "--model",
        str(inputs["generator"]),
        "--out",
        str(tmp_path / "g.png"),
        "--steps",
        str(steps),
    ]
    assert main([gen[0], TITLE, *gen[1:]]) == 0
    assert len(list(steps.glob("step_*.png"))) == 5
    assert main([gen[0], "black jeans", *gen[1:]]) == 0
    assert sorted(p.name for p in steps.iterdir()) == ["step_00.png", "step_01.png", "steps.json"]


def test_images_and_checkpoints_get_the_mode_a_plain_open_would_give(inputs, tmp_path):
    from gan_studio.models.checkpoint import save_checkpoint

    old = os.umask(0o022)
    try:
        assert main(_commands(inputs)["generate"](tmp_path)) == 0
        assert main(_traverse(inputs, tmp_path / "path", steps=1)) == 0
        save_checkpoint(
            {"w": torch.zeros(2)}, tmp_path / "ck" / "net.safetensors", architecture="x", config={}
        )
    finally:
        os.umask(old)
    for path in (
        tmp_path / "img.png",
        tmp_path / "path" / "frame_001.png",
        tmp_path / "path" / "metrics.json",
        tmp_path / "ck" / "net.safetensors",
        tmp_path / "ck" / "net.json",
    ):
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_traverse_checks_its_folder_before_computing(inputs, file_in_the_way, monkeypatch, capsys):
    from gan_studio.methods.restgan import TitleGenerator

    def never(*args, **kwargs):
        raise AssertionError("the model was loaded before the output folder was checked")

    monkeypatch.setattr(TitleGenerator, "load", never)
    assert main(_commands(inputs)["traverse"](file_in_the_way)) == 2
    assert "a file is in the way" in capsys.readouterr().err


def test_colortable_refuses_k_0_and_a_folder_as_out_at_once(tmp_path, monkeypatch, capsys):
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    from gan_studio.data import colortable

    monkeypatch.setattr(
        colortable, "measure_catalog", lambda *a, **k: pytest.fail("measured before checking")
    )
    assert main(["colortable", "--k", "0", "--out", str(tmp_path / "ct.json")]) == 2
    assert "--k must be a positive number" in capsys.readouterr().err
    folder = tmp_path / "ct"
    folder.mkdir()
    assert main(["colortable", "--n", "20", "--k", "2", "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder} is a folder" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct"] and not any(folder.iterdir())


def test_merge_refuses_an_output_that_is_one_of_its_shards(inputs, tmp_path, capsys):
    shard0, shard1 = inputs["shard0"], inputs["shard1"]
    before = _files(shard0 / "images")
    link = tmp_path / "link"
    link.symlink_to(shard0)
    for out in (shard0, link, shard0 / "inside"):
        argv = [
            "dataset",
            "merge",
            str(shard0),
            str(shard1),
            "--overwrite",
            "--no-progress",
            "--out",
            str(out),
        ]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "merge into a new folder" in err and str(out) in err and err.count("\n") == 1
    assert _files(shard0 / "images") == before and (shard0 / "manifest.json").is_file()


def test_a_second_export_into_the_same_out_is_refused_and_a_stale_lock_is_not(inputs, tmp_path, capsys):
    from gan_studio.data.output_files import lock_path

    out = tmp_path / "ds"
    argv = _commands(inputs)["dataset-export"](tmp_path)
    lock = lock_path(out)
    lock.write_text(f"{os.getpid()}\n")  # a live writer
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is being written by another gan-studio" in err and str(out) in err
    assert not out.exists()
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock.write_text(f"{dead.pid}\n")  # a writer that was killed
    assert main(argv) == 0
    assert (out / "manifest.json").is_file() and not lock.exists()


def test_a_bare_os_error_is_still_one_sentence_without_errno(monkeypatch, capsys):
    from gan_studio.commands import catalog

    def denied(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/catalog")

    monkeypatch.setattr(catalog, "catalog_command", denied)
    assert main(["catalog", "--out", "x"]) == 2
    assert capsys.readouterr().err == "gan-studio: /srv/catalog: permission denied\n"
