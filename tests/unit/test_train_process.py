"""The Train workspace's Qt-free core: settings and command lines, checks before starting, following a run folder
(log records, samples, progress), and a child process paused, resumed, cancelled and failing.

The process tests run small Python children (no torch), so they take a fraction of a second each.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gan_studio.data.catalog import iter_items
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.runtime import train_log
from gan_studio.runtime.train_process import (
    PAUSE_SUPPORTED,
    TrainProcess,
    failure_reason,
    failure_sentence,
)
from gan_studio.train.settings import (
    STATE_NAMES,
    TrainSettings,
    can_resume,
    child_environment,
    default_runs_dir,
    find_trained_models,
    launch_command,
    load_settings,
    next_run_folder,
    planned_steps,
    problem,
    save_settings,
    train_arguments,
)

posix_only = pytest.mark.skipif(not PAUSE_SUPPORTED, reason="pause needs SIGSTOP")


def proc_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (R, S, T, Z…), or None when there is no /proc entry."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# ------------------------------------------------------------------------------------------------- settings


def test_command_lines_for_each_kind(tmp_path) -> None:
    out = tmp_path / "run"
    gan = train_arguments(
        TrainSettings("restgan", str(out), steps=5, stage2_steps=3, batch=4, seed=2, threads=1)
    )
    assert gan == ["train", "restgan", "--out", str(out), "--seed", "2", "--data", "builtin", "--stage1-steps",
                   "5", "--stage2-steps", "3", "--batch", "4", "--threads", "1"]  # fmt: skip
    folder = tmp_path / "catalog"
    clf = train_arguments(TrainSettings("classifier", str(out), data=str(folder), steps=7, stage2_steps=9,
                                        threads=2, tiny=True))  # fmt: skip
    assert clf == [
        "train",
        "classifier",
        "--out",
        str(out),
        "--seed",
        "0",
        "--data",
        str(folder),
        "--steps",
        "7",
        "--tiny",
    ]  # fmt: skip  (no stage II, threads from the environment)
    inv = train_arguments(TrainSettings("inversion", str(out), generator=str(tmp_path / "g.safetensors")))
    assert "--data" not in inv and inv[inv.index("--model") + 1] == str(tmp_path / "g.safetensors")
    stack = train_arguments(TrainSettings("stackgan", "rel/run"))
    assert stack[1] == "stackgan" and Path(stack[3]).is_absolute()
    # the real parser takes them all
    from gan_studio.cli import build_parser

    for args in (gan, clf, inv, stack):
        build_parser().parse_args(args)


def test_launch_command_plain_and_frozen() -> None:
    args = ["train", "restgan", "--out", "x"]
    assert launch_command(args, frozen=False) == [sys.executable, "-m", "gan_studio.cli", *args]
    assert launch_command(args, frozen=True, executable="/opt/GAN Studio/gan-studio") == [
        "/opt/GAN Studio/gan-studio",
        *args,
    ]
    assert launch_command(args)[:3] == [sys.executable, "-m", "gan_studio.cli"]  # not frozen under pytest


def test_child_environment() -> None:
    env = child_environment(TrainSettings("classifier", "x", threads=3), base={"PATH": "/bin"})
    assert env == {"PATH": "/bin", "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}
    assert "OMP_NUM_THREADS" not in child_environment(TrainSettings("restgan", "x"), base={})


def test_state_names_and_defaults_follow_the_training_modules() -> None:
    from gan_studio.train import classifier, inversion, restgan

    assert STATE_NAMES["restgan"] == STATE_NAMES["stackgan"] == restgan.STATE_NAME
    assert STATE_NAMES["inversion"] == inversion.STATE_NAME
    assert STATE_NAMES["classifier"] == classifier.CHECKPOINT_NAME
    assert planned_steps(TrainSettings("restgan", "x")) == (3000, 1500)
    assert planned_steps(TrainSettings("restgan", "x", tiny=True)) == (3, 2)
    assert planned_steps(TrainSettings("classifier", "x", tiny=True)) == (6,)
    assert planned_steps(TrainSettings("inversion", "x", steps=9)) == (
        9,
        inversion.InversionTrainConfig().stage2_steps,
    )


def test_problems_are_found_before_starting(tmp_path) -> None:
    ok = TrainSettings("restgan", str(tmp_path / "run"))
    assert problem(ok) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    why = problem(TrainSettings("restgan", str(tmp_path / "run"), data=str(empty)))
    assert why is not None and "titles.csv" in why and why.endswith(".")
    assert "does not exist" in problem(
        TrainSettings("classifier", str(tmp_path / "r"), data=str(tmp_path / "no"))
    )
    one = write_catalog(iter_items(0, 0, 1, 32), tmp_path / "one")
    assert "at least 2" in problem(TrainSettings("classifier", str(tmp_path / "r"), data=str(one)))
    two = write_catalog(iter_items(0, 0, 2, 32), tmp_path / "two")
    assert problem(TrainSettings("classifier", str(tmp_path / "r"), data=str(two))) is None
    assert problem(TrainSettings("restgan", "")) == "Choose a run folder for the training."
    (tmp_path / "file").write_text("x")
    assert "is a file" in problem(TrainSettings("restgan", str(tmp_path / "file")))
    assert "at least 2" in problem(TrainSettings("restgan", str(tmp_path / "r"), batch=1))
    assert "no generator" in problem(
        TrainSettings("inversion", str(tmp_path / "r"), generator="/no/g.safetensors")
    )
    assert "Unknown model kind" in problem(TrainSettings("gan", str(tmp_path / "r")))


def test_settings_saved_in_the_run_folder_guard_a_resume(tmp_path) -> None:
    s = TrainSettings("restgan", str(tmp_path / "run"), steps=10, batch=4, tiny=True)
    assert not can_resume(s)
    save_settings(s)
    assert load_settings(s.out) == s
    s.state_path.write_bytes(b"state")
    assert can_resume(s)
    assert problem(s) is None
    assert problem(TrainSettings("restgan", s.out, steps=20, batch=4, tiny=True)) is None  # more steps: fine
    why = problem(TrainSettings("restgan", s.out, steps=10, batch=8, tiny=True))
    assert why is not None and "another batch" in why
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train_settings.json").write_text("{not json")
    assert load_settings(tmp_path / "bad") is None


def test_run_folders_and_trained_models(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GAN_STUDIO_RUNS", str(tmp_path))
    assert default_runs_dir() == tmp_path
    assert next_run_folder("restgan") == tmp_path / "restgan-001"
    (tmp_path / "restgan-001").mkdir()
    assert next_run_folder("restgan") == tmp_path / "restgan-002"
    (tmp_path / "restgan-001" / "restgan.safetensors").write_bytes(b"x")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "classifier.safetensors").write_bytes(b"x")
    os.utime(tmp_path / "restgan-001" / "restgan.safetensors", (1, 1))
    models = find_trained_models()
    assert [(m.kind, m.path.parent.name) for m in models] == [("classifier", "c"), ("restgan", "restgan-001")]
    assert "ReStGAN" in models[1].label
    assert find_trained_models(tmp_path / "missing") == []


# ------------------------------------------------------------------------------------------------- run folder


def test_log_tailer_reads_only_whole_new_lines(tmp_path) -> None:
    path = tmp_path / "log.jsonl"
    tailer = train_log.LogTailer(path)
    assert tailer.read_new() == []
    with open(path, "w") as f:
        f.write(json.dumps({"stage": 1, "step": 1, "loss_d": 1.0}) + "\n" + '{"stage": 1, "st')
    assert [r["step"] for r in tailer.read_new()] == [1]
    with open(path, "a") as f:
        f.write('ep": 2, "loss_d": 0.5}\nnot json\n[1, 2]\n{"step": 3}\n')
    assert [r["step"] for r in tailer.read_new()] == [2, 3]
    assert tailer.read_new() == []
    path.write_text(json.dumps({"step": 1}) + "\n")  # rewritten shorter (a resumed run trimming its log)
    assert [r["step"] for r in tailer.read_new()] == [1]


def test_run_history_counts_over_stages_and_never_folds_back() -> None:
    h = train_log.RunHistory((10, 4))
    kept = h.add([{"stage": 1, "step": 5}, {"stage": 1, "step": 10}, {"stage": 2, "step": 2}])
    assert [p for p, _ in kept] == [5, 10, 12]
    assert h.add([{"stage": 1, "step": 8}, {"stage": 2, "step": 2}]) == []  # a resume repeating steps
    assert h.add([{"stage": 2, "step": 4}])[0][0] == 14
    assert h.fraction == 1.0 and h.stage == 2 and h.total == 14
    single = train_log.RunHistory((6,))
    single.add([{"step": 2, "loss": 1.0}])
    assert single.done == 2 and single.fraction == pytest.approx(1 / 3)
    record = {"stage": 1, "step": 2, "lr": 0.1, "wall_time_s": 3.0, "loss": 1.5, "d_real": -0.5,
              "bad": float("nan"), "name": "x", "flag": True}  # fmt: skip
    values = train_log.curve_values(record)
    assert values == {"loss": 1.5, "d_real": -0.5}


def test_progress_clock_eta_ignores_paused_time() -> None:
    clock = train_log.ProgressClock()
    assert clock.eta_seconds(0, 100) is None
    clock.observe(10, now=0.0)
    clock.observe(20, now=2.0)
    assert clock.rate() == pytest.approx(5.0)
    assert clock.eta_seconds(20, 100) == pytest.approx(16.0)
    clock.pause()
    clock.observe(21, now=100.0)  # 98 s later, after the pause
    clock.observe(31, now=102.0)
    assert clock.rate() == pytest.approx(5.0)


def test_newest_sample_by_stage_and_step(tmp_path) -> None:
    assert train_log.newest_sample(tmp_path) is None
    samples = tmp_path / "samples"
    samples.mkdir()
    for name in ("stage1_000900.png", "stage2_000010.png", "stage1_001000.png", "other.png"):
        (samples / name).write_bytes(b"")
    path = train_log.newest_sample(tmp_path)
    assert path.name == "stage2_000010.png"
    assert train_log.sample_caption(path) == "Samples after stage II step 10"


# ------------------------------------------------------------------------------------------------- messages


def test_failure_sentences() -> None:
    cli = ["render [###] 3/3", "gan-studio: images/a.png is missing."]
    assert failure_sentence(cli, 2) == "Training failed: images/a.png is missing."
    traceback = [
        "restgan stage 1 [--] 0/3",
        "Traceback (most recent call last):",
        '  File "x.py", line 3, in <module>',
        "    f()",
        "RuntimeError: Error(s) in loading state_dict:",
        "\tsize mismatch for w.",
    ]
    assert failure_reason(traceback, 1) == "RuntimeError: Error(s) in loading state_dict:"
    assert failure_reason([], -9) == "the training process was stopped by SIGKILL"
    assert failure_reason([], 3) == "the training process exited with code 3"
    assert failure_reason(["something odd."], 1) == "something odd"
    assert len(failure_reason(["x" * 1000], 1)) == 300


# ------------------------------------------------------------------------------------------------- process


def child(tmp_path: Path, body: str, name: str = "child.py") -> list[str]:
    script = tmp_path / name
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


def run_to_end(process: TrainProcess, timeout: float = 10.0) -> int:
    wait_for(lambda: process.poll() is not None, timeout)
    return process.returncode


def test_process_output_and_exit_codes(tmp_path) -> None:
    ok = TrainProcess(child(tmp_path, "import sys\nprint('hello')\nprint('progress', file=sys.stderr)\n"))
    assert ok.state == "idle" and ok.poll() is None
    ok.start()
    assert run_to_end(ok) == 0 and ok.state == "finished" and not ok.active
    assert ok.read_output() == ["hello", "progress"] and ok.read_output() == []
    bad = TrainProcess(child(tmp_path, "import sys\nprint('gan-studio: the data is bad.', file=sys.stderr)\n"
                                       "sys.exit(2)\n", "bad.py"))  # fmt: skip
    bad.start()
    assert run_to_end(bad) == 2 and bad.state == "failed"
    assert failure_sentence(bad.tail(), bad.returncode) == "Training failed: the data is bad."
    with pytest.raises(RuntimeError):
        bad.start()
    with pytest.raises(OSError):
        TrainProcess([str(tmp_path / "no-such-program")]).start()


LOOP = """
import sys, time
n = 0
try:
    while True:
        n += 1
        print(n, flush=True)
        time.sleep(0.02)
except KeyboardInterrupt:
    print("saved state at", n, flush=True)
    sys.exit(130)
"""


@posix_only
def test_pause_resume_and_cancel(tmp_path) -> None:
    process = TrainProcess(child(tmp_path, LOOP))
    process.start()
    wait_for(lambda: process.read_output())
    assert process.pause() and process.state == "paused"
    if proc_state(process.pid) is not None:
        wait_for(lambda: proc_state(process.pid) == "T")
    time.sleep(0.2)
    process.read_output()
    time.sleep(0.3)
    assert process.read_output() == []  # stopped: prints nothing
    assert not process.pause()
    assert process.resume() and process.state == "running"
    wait_for(lambda: process.read_output())
    process.pause()
    process.cancel()  # from paused: the interrupt is delivered once it runs again
    assert process.state == "stopping"
    assert run_to_end(process) == 130 and process.state == "cancelled"
    # The child printed this line before exiting 130; the reader thread may deliver it just after the exit is seen.
    # The interrupt can land between a number and its newline, so the line may read "123saved state at 123".
    wait_for(lambda: any("saved state at" in line for line in process.tail()))


@posix_only
def test_cancel_escalates_when_the_interrupt_is_ignored(tmp_path) -> None:
    body = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('up', flush=True)\n" \
           "time.sleep(60)\n"  # fmt: skip
    process = TrainProcess(child(tmp_path, body))
    process.grace_s = 0.2
    process.start()
    wait_for(lambda: process.read_output())
    process.cancel()
    assert run_to_end(process) == -signal.SIGTERM and process.state == "cancelled"


@posix_only
def test_stop_waits_and_kills_a_stubborn_child(tmp_path) -> None:
    body = "import signal, time\nfor s in (signal.SIGINT, signal.SIGTERM):\n    signal.signal(s, signal.SIG_IGN)\n" \
           "print('up', flush=True)\ntime.sleep(60)\n"  # fmt: skip
    process = TrainProcess(child(tmp_path, body))
    process.grace_s, process.kill_after_s = 0.2, 0.2
    process.start()
    wait_for(lambda: process.read_output())
    pid = process.pid
    t0 = time.monotonic()
    assert process.stop() == -signal.SIGKILL
    assert time.monotonic() - t0 < 5
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
