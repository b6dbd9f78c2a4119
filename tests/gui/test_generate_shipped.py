"""A new user's first minute with the shipped ReStGAN: type a title word by word in the main window and watch it."""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtCore import Qt

from gan_studio.qt.main_window import MainWindow
from tests.gui.conftest import TIMEOUT_MS


def _wait_for(qtbot, ws, title: str) -> None:
    qtbot.waitUntil(
        lambda: ws.last_outcome is not None and ws.last_outcome.title == title, timeout=TIMEOUT_MS
    )
    qtbot.waitUntil(lambda: ws.image_view.painted_frame == ws.image_view.frame, timeout=TIMEOUT_MS)


def test_typing_a_title_word_by_word_with_the_shipped_model(qtbot, bridge) -> None:
    window = MainWindow(bridge, builtin_count=8, show_dialogs=False, generate_options={"discovery": False})
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    ws = window.generate
    with qtbot.waitSignal(ws.generated, timeout=TIMEOUT_MS):
        window.set_workspace("generate")
    ws.set_title("")
    _wait_for(qtbot, ws, "")
    assert ws.filmstrip.count() == 1
    ws.title_edit.setFocus()

    typed, images = "", [ws.image_view.image().copy()]
    for word in ["women's", "black", "pants", "petite", "capri"]:
        qtbot.keyClicks(ws.title_edit, word + " ")
        typed += word + " "
        _wait_for(qtbot, ws, typed)
        out = ws.last_outcome
        assert ws.filmstrip.count() == len(typed.split()) + 1
        # only the new word's image was drawn ("women's" was already drawn for the default title)
        assert out.computed == (0 if typed == "women's " else 1)
        assert out.image.shape == (128, 128, 3)
        images.append(ws.image_view.image().copy())
    qtbot.keyClick(ws.title_edit, Qt.Key.Key_Return)

    change = [float(np.abs(b.astype(int) - a.astype(int)).mean()) for a, b in itertools.pairwise(images)]
    # each word that states an attribute changes the garment, and the image is a garment on a light background
    assert all(c > 0.5 for c in change), change
    final = images[-1]
    assert final.std() > 10 and final[:4, :4].mean() > 180
    assert not ws.message_label.text()  # every word was known
