"""The Train workspace driving real tiny training runs in a child process: live curves and samples, pause and
resume, cancel and resume training, the finished model used in Generate; a crash, bad input, closing the app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gan_studio.data.catalog import iter_items
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.qt.main_window import MainWindow
from gan_studio.runtime.train_process import PAUSE_SUPPORTED
from gan_studio.train.settings import load_settings

RUN_TIMEOUT_MS = 90_000  # a child process importing torch on two shared cores


def proc_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def train_window(qtbot, bridge, tmp_path):
    """A main window whose Train workspace uses the commands' tiny configs and ``tmp_path/runs``."""
    w = MainWindow(
        bridge,
        builtin_count=8,
        show_dialogs=False,
        generate_options={"discovery": False},
        train_options={"runs_dir": tmp_path / "runs", "tiny": True, "poll_ms": 200},
    )
    qtbot.addWidget(w)
    w.resize(1280, 820)
    w.show()
    qtbot.waitExposed(w)
    w.set_workspace("train")
    yield w
    w.train.stop(timeout=10)  # never leave a child behind, whatever the test did


@pytest.mark.skipif(not PAUSE_SUPPORTED, reason="pause needs SIGSTOP")
def test_train_pause_cancel_resume_and_use_in_generate(qtbot, train_window, tmp_path) -> None:
    window = train_window
    ws = window.train
    form = ws.form
    assert form.kind() == "restgan" and form.out_edit.text() == str(tmp_path / "runs" / "restgan-001")
    form.steps_spin.setValue(400)  # long enough to pause and cancel it before it ends
    form.stage2_spin.setValue(2)
    form.threads_spin.setValue(1)
    assert ws.start_button.text() == "Start training" and not ws.pause_button.isEnabled()
    with qtbot.waitSignal(ws.started, timeout=10_000):
        qtbot.mouseClick(ws.start_button, Qt.MouseButton.LeftButton)
    process = ws.process
    pid = process.pid
    assert ws.pause_button.isEnabled() and ws.cancel_button.isEnabled() and not ws.start_button.isEnabled()
    assert not form.kind_combo.isEnabled()  # the form is the run's while it goes

    # live curves and a sample grid
    qtbot.waitUntil(lambda: len(ws.curves) >= 4 and ws.samples.path is not None, timeout=RUN_TIMEOUT_MS)
    assert {"loss_d", "loss_g"} <= set(ws.curves.keys())
    assert ws.samples.image() is not None and ws.samples.caption.text().startswith("Samples after stage I")
    assert "ETA" in ws.progress_bar.format() or "steps" in ws.progress_bar.format()
    assert ws.progress_bar.value() > 0

    # pause: the process is stopped and the log does not grow
    with qtbot.waitSignal(ws.paused, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier)
    assert ws.state == "paused" and ws.pause_button.text() == "Resume"
    if proc_state(pid) is not None:
        qtbot.waitUntil(lambda: proc_state(pid) == "T", timeout=5000)
    qtbot.wait(600)
    size = (ws.run_settings.log_path).stat().st_size
    qtbot.wait(800)
    assert ws.run_settings.log_path.stat().st_size == size

    # resume: it runs and logs again
    done = ws.history.done
    qtbot.mouseClick(ws.pause_button, Qt.MouseButton.LeftButton)
    assert ws.state == "running" and ws.pause_button.text() == "Pause"
    if proc_state(pid) is not None:
        assert proc_state(pid) != "T"
    qtbot.waitUntil(lambda: ws.history.done > done, timeout=RUN_TIMEOUT_MS)

    # cancel: the process is gone, the state stays, and the run can be resumed
    with qtbot.waitSignal(ws.trainingFinished, timeout=30_000) as blocker:
        qtbot.mouseClick(ws.cancel_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["cancelled"]
    assert not alive(pid)
    out = Path(ws.run_settings.out)
    assert (out / "train_state.safetensors").is_file() and not (out / "restgan.safetensors").exists()
    assert "Resume training continues" in ws.status_label.text()
    assert ws.start_button.text() == "Resume training" and ws.start_button.isEnabled()
    assert load_settings(out).steps == 400

    # resume training to the end, with fewer steps than planned
    cancelled_at = ws.history.done
    form.steps_spin.setValue(cancelled_at + 2)
    with qtbot.waitSignal(ws.trainingFinished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert ws.start()
    assert blocker.args == ["finished"], ws.status_label.text()
    weights = out / "restgan.safetensors"
    assert weights.is_file()
    positions = ws.history.positions
    assert (
        positions == sorted(positions) and positions[0] <= cancelled_at
    )  # the earlier part of the run is shown
    assert ws.progress_bar.value() == 1000
    assert [m.path for m in ws.trained_models()] == [weights]
    assert form.out_edit.text() == str(tmp_path / "runs" / "restgan-002")  # the next run gets a new folder

    # use it in Generate
    generate = window.generate
    with qtbot.waitSignal(generate.generated, timeout=RUN_TIMEOUT_MS) as blocker:
        qtbot.mouseClick(ws.use_button, Qt.MouseButton.LeftButton)
    assert window.current_workspace() == "generate"
    assert Path(generate.model_path) == weights and generate.generator is None
    images = blocker.args[0]
    assert images.images[-1].shape[-1] == 3 and generate.problem is None
    assert f"Generate now draws with {weights}" in window.log_view.toPlainText()


def test_a_crash_is_one_sentence(qtbot, train_window, tmp_path) -> None:
    ws = train_window.train
    broken = write_catalog(iter_items(0, 0, 3, 32), tmp_path / "broken")
    (broken / "images" / os.listdir(broken / "images")[0]).write_bytes(b"not a png")  # found only when read
    ws.form.kind_combo.setCurrentIndex(ws.form.kind_combo.findData("classifier"))
    ws.form.choose_data(str(broken))
    with qtbot.waitSignal(ws.trainingFinished, timeout=RUN_TIMEOUT_MS) as blocker:
        assert ws.start()
    assert blocker.args == ["failed"]
    sentence = ws.status_label.text()
    assert sentence.startswith("Training failed: ") and "not an image" in sentence
    assert "Traceback" not in sentence and "\n" not in sentence and sentence.endswith(".")
    assert ws.last_problem == sentence and sentence in train_window.log_view.toPlainText()
    assert ws.trained_models() == [] and ws.start_button.isEnabled()


def test_bad_input_is_refused_before_starting(qtbot, train_window, tmp_path) -> None:
    ws = train_window.train
    empty = tmp_path / "empty"
    empty.mkdir()
    ws.form.choose_data(str(empty))
    with qtbot.waitSignal(ws.problem, timeout=1000) as blocker:
        assert not ws.start()
    assert "holds no titles.csv" in blocker.args[0]
    assert ws.process is None and not (tmp_path / "runs").exists()
    assert ws.status_label.text() == blocker.args[0]
    ws.form.set_data("builtin")
    ws.form.out_edit.setText("")
    assert not ws.start() and ws.last_problem == "Choose a run folder for the training."


def test_inversion_form_and_closing_while_training(qtbot, train_window, monkeypatch) -> None:
    ws = train_window.train
    form = ws.form
    form.kind_combo.setCurrentIndex(form.kind_combo.findData("inversion"))
    assert not form.data_combo.isEnabled() and form.generator_combo.isVisible()
    form.kind_combo.setCurrentIndex(form.kind_combo.findData("classifier"))
    assert not form.stage2_spin.isVisible() and form.layout_.labelForField(form.steps_spin).text() == "Steps"
    assert not form.generator_combo.isVisible()
    assert form.out_edit.text().endswith("classifier-001")
    assert ws.start()
    pid = ws.process.pid
    assert alive(pid)
    asked = []
    no = QMessageBox.StandardButton.No
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[2]) or no)
    assert not ws.confirm_close(train_window)  # with dialogs on, the user is asked and may keep the run
    assert "training run is still going" in asked[0] and alive(pid)
    train_window.close()  # no dialogs in tests: the run is stopped, not left behind
    assert not alive(pid) and ws.process.state in ("cancelled", "failed")
