"""The Explore workspace on a tiny untrained model: drawing the lasso, walking a path, cancelling, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from gan_studio.methods.lasso import rasterize_polygon
from gan_studio.methods.reds import MAX_STEPS
from gan_studio.methods.title_jobs import MODEL_ENV
from gan_studio.qt.explore_workspace import ExploreWorkspace
from gan_studio.qt.main_window import MainWindow
from tests.gui.conftest import TIMEOUT_MS
from tests.tiny_models import save_tiny_text_to_image

SQUARE = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
HOLE = [(0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.4, 0.6)]
BOWTIE = [(0.2, 0.2), (0.8, 0.8), (0.8, 0.2), (0.2, 0.8)]
RUN_TIMEOUT_MS = 120_000  # REDS on two shared cores


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return save_tiny_text_to_image(tmp_path_factory.mktemp("tiny_restgan"))


@pytest.fixture
def ws(qtbot, bridge, tiny_path) -> ExploreWorkspace:
    w = ExploreWorkspace(bridge, model_path=tiny_path, title="black slim jeans", seed=3)
    qtbot.addWidget(w)
    w.resize(1100, 760)
    with qtbot.waitSignal(w.sourceShown, timeout=TIMEOUT_MS):
        w.show()
    qtbot.waitExposed(w)
    return w


def drag(qtbot, canvas, corners, shift: bool = False) -> None:
    """Press at the first corner, move along every edge in small steps, release at the first corner again."""
    modifier = Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier
    points = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        points += [(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in np.linspace(0, 1, 6, endpoint=False)]
    pos = [canvas.to_widget(x, y).toPoint() for x, y in points]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, modifier, pos[0])
    for p in pos[1:]:
        qtbot.mouseMove(canvas, p)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, modifier, pos[0])


def widget_fractions(canvas, corners) -> list[tuple[float, float]]:
    """Where the corners land after rounding to whole widget pixels, as image fractions."""
    return [canvas.to_fraction(canvas.to_widget(x, y).toPoint().toPointF()) for x, y in corners]


def draw_square(qtbot, ws) -> None:
    with qtbot.waitSignal(ws.canvas.lassoChanged, timeout=TIMEOUT_MS):
        drag(qtbot, ws.canvas, SQUARE)


def test_drawing_the_lasso_with_the_mouse(qtbot, ws) -> None:
    canvas = ws.canvas
    assert canvas.image().shape == (64, 64, 3) and canvas.target_rect().width() % 64 == 0
    np.testing.assert_array_equal(canvas.image(), ws.source.image)
    assert not ws.undo_action.isEnabled() and not ws.clear_action.isEnabled()

    draw_square(qtbot, ws)
    mask = canvas.mask()
    (op,) = canvas.lasso.operations
    assert op.mode == "add" and len(op.polygon) >= 20  # every mouse move became a point
    np.testing.assert_array_equal(mask, rasterize_polygon(widget_fractions(canvas, SQUARE), 64))
    expected = np.zeros((64, 64), dtype=bool)
    expected[16:48, 16:48] = True
    assert (mask != expected).sum() <= 2 * 64  # the square within a pixel at most along its edges
    assert mask[17:47, 17:47].all() and not mask[:15].any() and not mask[:, 49:].any()

    with qtbot.waitSignal(canvas.lassoChanged, timeout=TIMEOUT_MS):  # Shift-drag carves a hole
        drag(qtbot, canvas, HOLE, shift=True)
    assert [o.mode for o in canvas.lasso.operations] == ["add", "subtract"]
    holed = canvas.mask()
    assert not holed[30:34, 30:34].any() and holed[20, 20] and holed.sum() < mask.sum()

    ws.window().activateWindow()
    qtbot.waitUntil(ws.window().isActiveWindow, timeout=TIMEOUT_MS)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(canvas.mask(), mask)
    qtbot.keyClick(
        canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    np.testing.assert_array_equal(canvas.mask(), holed)

    messages = []
    ws.problem.connect(messages.append)
    with qtbot.waitSignal(canvas.message, timeout=TIMEOUT_MS):
        drag(qtbot, canvas, BOWTIE)
    assert "crosses itself" in messages[-1] and ws.message_label.text() == messages[-1]
    assert len(canvas.lasso) == 2  # the bowtie was not added

    ws.subtract_mode.trigger()  # the mode toggle subtracts without Shift
    assert canvas.mode() == "subtract" and not ws.add_mode.isChecked()
    with qtbot.waitSignal(canvas.lassoChanged, timeout=TIMEOUT_MS):
        drag(qtbot, canvas, SQUARE)
    assert not canvas.mask().any() and canvas.lasso.operations[-1].mode == "subtract"
    ws.clear_action.trigger()
    assert canvas.lasso.is_empty() and ws.undo_action.isEnabled()


def test_a_short_traversal_streams_into_the_filmstrip_and_plot(qtbot, ws, tmp_path) -> None:
    tmp_path = tmp_path / "out"  # the test's folder also holds its settings
    tmp_path.mkdir()
    draw_square(qtbot, ws)
    ws.steps_spin.setValue(2)
    assert ws.method_combo.currentData() == "reds" and ws.fixed_list.specs() == ("lasso",)
    assert ws.vary_list.specs() == ("rest",)
    arrived = []
    ws.frameArrived.connect(arrived.append)
    with qtbot.waitSignal(ws.traversalFinished, timeout=RUN_TIMEOUT_MS) as done:
        assert ws.run() is not None
        assert ws.cancel_button.isEnabled() and ws.is_running()
    assert done.args == ["done"], ws.message_label.text()
    assert arrived == [0, 1, 2]  # streamed one by one, before the result
    assert ws.filmstrip.count() == 3 and len(ws.plot) == 3 and len(ws.outcome.frames) == 3
    index, fixed, varied = ws.plot.data()
    assert index.tolist() == [0, 1, 2] and fixed[0] == 0 and varied[0] == 0 and varied[-1] > 0
    np.testing.assert_array_equal(ws.frames[0].image, ws.source.image)  # waypoint 0 is the start
    assert ws.slider.maximum() == 2 and ws.slider.value() == 2  # followed the newest waypoint
    np.testing.assert_array_equal(ws.frame_view.image(), ws.frames[2].image)
    assert not ws.cancel_button.isEnabled() and ws.progress_bar.value() == 1000
    assert "2 waypoints" in ws.message_label.text()

    ws.slider.setValue(0)  # scrubbing shows that waypoint everywhere
    np.testing.assert_array_equal(ws.frame_view.image(), ws.frames[0].image)
    assert ws.filmstrip.currentRow() == 0 and ws.frame_label.text().startswith("Waypoint 0/2")
    ws.filmstrip.frameActivated.emit(1)
    assert ws.slider.value() == 1

    ws.play_button.click()  # plays from the current waypoint to the end, then stops
    qtbot.waitUntil(lambda: not ws.play_timer.isActive(), timeout=TIMEOUT_MS)
    assert ws.slider.value() == 2 and ws.play_button.text() == "Play"

    with qtbot.waitSignal(ws.sendToGenerate) as sent:
        ws.send_generate.click()
    frame = sent.args[0]
    assert (frame.title, frame.seed, frame.index) == ("black slim jeans", 3, 2)
    assert frame.latent.shape == ws.frames[2].latent.shape and frame.image.shape == (64, 64, 3)

    out = tmp_path / "frames"
    out.mkdir()
    with qtbot.waitSignal(ws.exported, timeout=TIMEOUT_MS) as blocker:
        assert ws.export_frames(out) is not None  # encoded and written on the worker
    written = blocker.args[0]
    assert [p.name for p in written] == [f"reds-seed3-{k:03d}.png" for k in range(3)]
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in written]  # no temporary files left
    with Image.open(written[1]) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), ws.frames[1].image)
    with qtbot.waitSignal(ws.exported, timeout=TIMEOUT_MS) as blocker:
        ws.export_gif(tmp_path / "path", scale=2)
    (gif,) = blocker.args[0]
    assert gif == tmp_path / "path.gif"
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.size == (128, 128)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "path.gif"]
    with qtbot.waitSignal(ws.exported, timeout=TIMEOUT_MS) as blocker:
        ws.export_gif(tmp_path / "missing" / "x.gif")
    assert blocker.args == [[]]  # a message, not a crash
    assert "Could not export" in ws.message_label.text()


def test_cancel_stops_within_a_waypoint(qtbot, ws) -> None:
    draw_square(qtbot, ws)
    ws.steps_spin.setValue(60)
    arrived = []
    ws.frameArrived.connect(arrived.append)
    with qtbot.waitSignal(ws.frameArrived, timeout=RUN_TIMEOUT_MS):
        ws.run()
    with qtbot.waitSignal(ws.traversalFinished, timeout=RUN_TIMEOUT_MS) as done:
        assert ws.cancel()
    assert done.args == ["cancelled"]
    assert 1 <= len(ws.frames) <= 3 and ws.filmstrip.count() == len(ws.frames) == len(ws.plot)
    assert ws.message_label.text().startswith("Cancelled after") and not ws.is_running()
    assert ws.send_generate.isEnabled()  # the waypoints so far stay usable

    # a new run replaces the old path; a different method on the same garment
    ws.steps_spin.setValue(3)
    ws.method_combo.setCurrentIndex(ws.method_combo.findData("random"))
    with qtbot.waitSignal(ws.traversalFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.run()
    assert done.args == ["done"] and [f.index for f in ws.frames] == [0, 1, 2, 3]


def test_bad_input_gives_one_sentence(qtbot, ws) -> None:
    messages = []
    ws.problem.connect(messages.append)
    assert ws.run() is None and "Draw a lasso" in messages[-1]  # the default fixes the lasso, none is drawn
    draw_square(qtbot, ws)
    ws.step_spin.setValue(0)
    assert ws.run() is None and "step size must be above zero" in messages[-1]
    assert ws.message_label.text() == messages[-1] and not ws.is_running()
    ws.step_spin.setValue(0.5)
    assert ws.steps_spin.maximum() == MAX_STEPS
    ws.steps_spin.setValue(MAX_STEPS + 50)
    assert ws.steps_spin.value() == MAX_STEPS

    ws.fixed_list.set_specs([])
    assert ws.run() is None and "hold fixed" in messages[-1]
    ws.fixed_list.edit.setText("box:2,2,3,3")  # outside the image: the engine's FeatureError, as a sentence
    qtbot.keyClick(ws.fixed_list.edit, Qt.Key.Key_Return)
    assert ws.fixed_list.specs() == ("box:2,2,3,3",) and ws.fixed_list.edit.text() == ""
    ws.steps_spin.setValue(2)
    with qtbot.waitSignal(ws.traversalFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.run()
    assert done.args == ["failed"]
    assert "outside the image" in messages[-1] and messages[-1].endswith(".") and "\n" not in messages[-1]
    assert ws.export_frames() is None and "no waypoints" in messages[-1]


def test_missing_model_is_a_sentence(qtbot, bridge, tmp_path) -> None:
    ws = ExploreWorkspace(bridge, model_path=tmp_path / "restgan.safetensors")
    qtbot.addWidget(ws)
    with qtbot.waitSignal(ws.problem, timeout=TIMEOUT_MS) as blocker:
        ws.show()
    assert blocker.args[0].startswith("No text-to-image model at")
    assert ws.canvas.placeholder == blocker.args[0] and ws.canvas.image() is None


def test_main_window_explore_page_and_shortcuts(qtbot, bridge, tiny_path, monkeypatch) -> None:
    monkeypatch.setenv(MODEL_ENV, str(tiny_path))
    window = MainWindow(bridge, builtin_count=8, show_dialogs=False, generate_options={"discovery": False})
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    ws = window.explore
    assert window.pages["explore"] is ws
    with qtbot.waitSignal(ws.sourceShown, timeout=TIMEOUT_MS):
        window.set_workspace("explore")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT_MS)
    draw_square(qtbot, ws)
    ws.canvas.setFocus()
    qtbot.keyClick(ws.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # not Generate's undo
    assert ws.canvas.lasso.is_empty() and ws.canvas.lasso.can_redo()

    with qtbot.waitSignal(ws.sourceShown, timeout=TIMEOUT_MS) as shown:  # Generate's image -> Explore
        window.generate.set_title("navy shorts", commit=False)
        window.send_to_explore_action.trigger()
    assert window.current_workspace() == "explore" and shown.args[0].title == "navy shorts"
    assert window.send_to_explore_action in window.generate.image_view.actions()

    with qtbot.waitSignal(ws.problem, timeout=TIMEOUT_MS):
        ws.run()  # no lasso: the sentence goes to the log too
    assert "Draw a lasso" in window.log_view.toPlainText()
    qtbot.mouseClick(ws.canvas, Qt.MouseButton.LeftButton, pos=QPoint(1, 1))  # a click is no polygon
    assert ws.canvas.lasso.is_empty()
