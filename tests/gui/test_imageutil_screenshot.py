"""numpy <-> QImage conversion and the screenshot helper."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from gan_studio.qt.imageutil import to_numpy, to_qimage, to_qpixmap
from gan_studio.qt.screenshot import grab_window


def test_rgb_round_trip_and_independent_copy(qapp) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)  # odd width: rows are padded in QImage
    qimage = to_qimage(image)
    image[:] = 0  # the QImage must not share the buffer
    assert (qimage.width(), qimage.height()) == (5, 7)
    back = to_numpy(qimage)
    assert back.shape == (7, 5, 3) and back.any()
    assert to_qpixmap(back).size() == qimage.size()


def test_gray_and_rgba_and_bad_input(qapp) -> None:
    assert to_qimage(np.zeros((4, 6), np.uint8)).format() == QImage.Format.Format_Grayscale8
    assert to_qimage(np.zeros((4, 6, 4), np.uint8)).format() == QImage.Format.Format_RGBA8888
    with pytest.raises(ValueError):
        to_qimage(np.zeros((4, 6, 3), np.float32))
    with pytest.raises(ValueError):
        to_qimage(np.zeros((4, 6, 2), np.uint8))


def test_grab_window_writes_a_png(window, tmp_path) -> None:
    path = grab_window(tmp_path / "shots" / "main.png", window)
    shot = QImage(str(path))
    assert (shot.width(), shot.height()) == (window.width(), window.height())
    assert grab_window(tmp_path / "default.png").exists()  # finds the visible main window itself
