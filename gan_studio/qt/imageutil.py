"""numpy images -> QImage / QPixmap.

The QImage is copied out of the numpy buffer so it never points at memory that numpy may free or reuse.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_qimage(array: np.ndarray) -> QImage:
    """(H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> an independent QImage."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {array.dtype}")
    if array.ndim == 2:
        fmt, channels = QImage.Format.Format_Grayscale8, 1
    elif array.ndim == 3 and array.shape[2] == 3:
        fmt, channels = QImage.Format.Format_RGB888, 3
    elif array.ndim == 3 and array.shape[2] == 4:
        fmt, channels = QImage.Format.Format_RGBA8888, 4
    else:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {array.shape}")
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, w * channels, fmt)
    return image.copy()


def to_qpixmap(array: np.ndarray) -> QPixmap:
    """numpy uint8 image -> QPixmap (GUI thread only)."""
    return QPixmap.fromImage(to_qimage(array))


def to_numpy(image: QImage) -> np.ndarray:
    """QImage -> (H, W, 3) uint8 RGB copy; used by tests and screenshots to compare pixels."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), dtype=np.uint8, count=h * stride).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()
