"""A job that raises never takes the window down: in every workspace with background work, the window stays,
one sentence (never a traceback) says what failed, and the next job of the same kind runs normally."""

from __future__ import annotations

import errno
import sys

import pytest
import torch

from gan_studio.data.catalog import iter_items
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.models.inversion import InversionConfig, InversionEncoder
from gan_studio.models.perceptual import PerceptualDistance
from gan_studio.qt import (
    catalog_browser,
    dataset_workspace,
    explore_workspace,
    generate_output,
    generate_workspace,
)
from gan_studio.qt.main_window import MainWindow
from gan_studio.train.settings import launch_command
from tests.tiny_models import save_tiny_text_to_image, tiny_text_to_image

RUN_TIMEOUT_MS = 120_000  # two shared cores
TRACE = 'injected failure\nTraceback (most recent call last):\n  File "x.py", line 1, in <module>'
TINY = LabelGeneratorConfig(ensemble_size=2, hidden=(16, 8), steps=2, images_per_step=2, pixels_per_image=128)


def boom(*_args, **_kwargs):
    raise RuntimeError(TRACE)


def assert_one_sentence(text: str) -> None:
    assert "injected failure" in text, text
    assert "\n" not in text and "Traceback" not in text and 'File "' not in text and text.endswith("."), text


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return save_tiny_text_to_image(tmp_path_factory.mktemp("tiny_restgan"))


@pytest.fixture
def launches():
    """What the Train workspace launches: a child that raises first, then the real command."""
    return []


@pytest.fixture
def window(qtbot, bridge, tiny_path, tmp_path, launches):
    generator = TitleGenerator(tiny_text_to_image()).catalog_protocol(
        ["men's blue jeans", "women's black pants"]
    )
    torch.manual_seed(0)
    encoder = InversionEncoder(InversionConfig.tiny(generator.image_size, generator.latent_dim))
    perceptual = PerceptualDistance(AttributeClassifier(ClassifierConfig(in_size=32, width=4)))

    def launcher(arguments: list[str]) -> list[str]:
        launches.append(arguments)
        if len(launches) == 1:
            return [sys.executable, "-c", f"raise RuntimeError({TRACE!r})"]
        return launch_command(arguments)

    w = MainWindow(
        bridge, builtin_count=8, show_dialogs=False,
        generate_options={"model_path": tiny_path, "discovery": False},
        explore_options={"model_path": tiny_path},
        dataset_options={"generator": generator, "encoder": encoder, "perceptual": perceptual, "config": TINY},
        train_options={"runs_dir": tmp_path / "runs", "tiny": True, "poll_ms": 200, "launcher": launcher},
    )  # fmt: skip
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.train.stop(timeout=10)


def still_up(window, bridge) -> None:
    assert window.isVisible() and bridge.worker.is_alive


def test_generate(qtbot, window, bridge, monkeypatch, tmp_path) -> None:
    ws = window.generate
    with qtbot.waitSignal(ws.generated, timeout=RUN_TIMEOUT_MS):
        window.set_workspace("generate")
    monkeypatch.setattr(generate_workspace, "draw_title", boom)
    with qtbot.waitSignal(ws.modelUnavailable, timeout=RUN_TIMEOUT_MS) as failed:
        ws.set_title("men's blue jeans")
    still_up(window, bridge)
    assert_one_sentence(failed.args[0])
    assert ws.message_label.text() == failed.args[0] and failed.args[0] in window.log_view.toPlainText()
    monkeypatch.undo()
    with qtbot.waitSignal(ws.generated, timeout=RUN_TIMEOUT_MS) as drawn:
        ws.set_title("men's black jeans")
    assert drawn.args[0].title == "men's black jeans" and ws.problem is None
    monkeypatch.setattr(generate_output, "write_png", boom)  # saving runs on the worker too
    with (
        qtbot.waitSignal(ws.warning, timeout=RUN_TIMEOUT_MS) as warned,
        qtbot.waitSignal(ws.saved, timeout=RUN_TIMEOUT_MS) as saved,
    ):
        assert ws.save_image(tmp_path / "x.png", scale=1) is not None
    assert saved.args == [None] and not (tmp_path / "x.png").exists()
    assert_one_sentence(warned.args[0])
    still_up(window, bridge)


def test_a_failure_showing_a_result_is_a_sentence_too(qtbot, window, bridge, monkeypatch) -> None:
    ws = window.generate
    with qtbot.waitSignal(ws.generated, timeout=RUN_TIMEOUT_MS):
        window.set_workspace("generate")
    monkeypatch.setattr(ws, "_show", boom)  # a bug on the GUI side, after the job itself succeeded
    with qtbot.waitSignal(window.errorReported, timeout=RUN_TIMEOUT_MS) as failed:
        ws.set_title("men's blue jeans")
    still_up(window, bridge)
    assert_one_sentence(failed.args[0])
    assert failed.args[0].startswith("Could not show the result of drawing the title: RuntimeError: injected")
    monkeypatch.undo()
    with qtbot.waitSignal(ws.generated, timeout=RUN_TIMEOUT_MS) as drawn:
        ws.set_title("men's black jeans")
    assert drawn.args[0].title == "men's black jeans"


def test_explore(qtbot, window, bridge, monkeypatch, tmp_path) -> None:
    ws = window.explore
    with qtbot.waitSignal(ws.sourceShown, timeout=RUN_TIMEOUT_MS):
        window.set_workspace("explore")
    assert ws.canvas.add_polygon([(0.25, 0.2), (0.75, 0.2), (0.75, 0.6), (0.25, 0.6)])
    ws.steps_spin.setValue(1)
    monkeypatch.setattr(explore_workspace, "run_traversal", boom)
    with qtbot.waitSignal(ws.traversalFinished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ws.run() is not None
    still_up(window, bridge)
    assert finished.args == ["failed"]
    assert_one_sentence(ws.message_label.text())
    monkeypatch.undo()
    with qtbot.waitSignal(ws.traversalFinished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ws.run() is not None
    assert finished.args == ["done"] and len(ws.frames) == 2
    # the exports run on the worker too
    monkeypatch.setattr(explore_workspace, "write_gif", boom)
    with qtbot.waitSignal(ws.exported, timeout=RUN_TIMEOUT_MS) as exported:
        assert ws.export_gif(tmp_path / "never.gif") is not None
    assert exported.args == [[]]
    assert_one_sentence(ws.message_label.text())
    assert not (tmp_path / "never.gif").exists()
    # an OSError the writer did not word itself reads as the CLI's sentence naming the path, not "[Errno 13] ..."
    target = tmp_path / "denied.gif"

    def denied(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(explore_workspace, "write_gif", denied)
    with qtbot.waitSignal(ws.exported, timeout=RUN_TIMEOUT_MS) as exported:
        assert ws.export_gif(target) is not None
    text = ws.message_label.text()
    assert exported.args == [[]] and "[Errno" not in text and "PermissionError" not in text, text
    assert f"{target} cannot be written: permission denied" in text and "\n" not in text, text
    still_up(window, bridge)


def test_dataset(qtbot, window, bridge, monkeypatch, tmp_path) -> None:
    ws = window.dataset
    window.set_workspace("dataset")
    labels = write_catalog(iter_items(0, 0, 3, 64), tmp_path / "labels")
    monkeypatch.setattr(dataset_workspace, "import_job", boom)
    with qtbot.waitSignal(ws.importFinished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ws.import_paths([labels]) is not None
    still_up(window, bridge)
    assert finished.args == ["failed"]
    assert_one_sentence(ws.message_label.text())
    monkeypatch.undo()
    with (
        qtbot.waitSignal(ws.inversionFinished, timeout=RUN_TIMEOUT_MS) as inverted,
        qtbot.waitSignal(ws.importFinished, timeout=RUN_TIMEOUT_MS) as imported,
    ):
        assert ws.import_paths([labels]) is not None
    assert imported.args == ["done"] and inverted.args == ["done"] and ws.items_list.count() == 3


def test_catalog(qtbot, window, bridge, monkeypatch, tmp_path) -> None:
    folder = write_catalog(iter_items(0, 0, 3, 32), tmp_path / "catalog")
    monkeypatch.setattr(catalog_browser, "open_folder_job", boom)
    with qtbot.waitSignal(window.errorReported, timeout=RUN_TIMEOUT_MS) as failed:
        window.open_folder(folder)
    still_up(window, bridge)
    assert_one_sentence(failed.args[0])
    monkeypatch.undo()
    with qtbot.waitSignal(window.catalog.sourceOpened, timeout=RUN_TIMEOUT_MS):
        window.open_folder(folder)
    qtbot.waitUntil(lambda: window.catalog.model.loaded == 3, timeout=RUN_TIMEOUT_MS)


def test_train(qtbot, window, bridge, launches) -> None:
    ws = window.train
    window.set_workspace("train")
    ws.form.kind_combo.setCurrentIndex(ws.form.kind_combo.findData("classifier"))
    with qtbot.waitSignal(ws.trainingFinished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ws.start()
    still_up(window, bridge)
    assert finished.args == ["failed"]
    assert_one_sentence(ws.status_label.text())
    with qtbot.waitSignal(ws.trainingFinished, timeout=RUN_TIMEOUT_MS) as finished:
        assert ws.start()
    assert finished.args == ["finished"], ws.status_label.text()
    assert len(launches) == 2 and len(ws.trained_models()) == 1
