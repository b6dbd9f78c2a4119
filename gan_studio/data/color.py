"""CIE LAB <-> sRGB for small arrays, and CIEDE2000 (through scikit-image).

The renderer converts one color per item, so a few lines of numpy beat a round trip through an image API.
Conventions: sRGB as floats in [0, 1] or uint8, D65 white, LAB as (L, a, b) floats.
"""

from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_XYZ_TO_RGB = np.array(
    [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ]
)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """(..., 3) LAB -> (..., 3) sRGB floats in [0, 1] (out-of-gamut values clipped)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    eps = 6.0 / 29.0
    xyz = np.where(f > eps, f**3, 3 * eps**2 * (f - 4.0 / 29.0)) * _WHITE_D65
    lin = xyz @ _XYZ_TO_RGB.T
    lin = np.clip(lin, 0.0, 1.0)
    srgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return np.clip(srgb, 0.0, 1.0)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB (uint8 or floats in [0, 1]) -> (..., 3) LAB."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float64) / 255.0
    shape = rgb.shape
    lab = rgb2lab(rgb.reshape(-1, 1, 3).astype(np.float64))
    return lab.reshape(shape)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 color difference between broadcastable (..., 3) LAB arrays."""
    a, b = np.broadcast_arrays(np.asarray(lab1, np.float64), np.asarray(lab2, np.float64))
    return deltaE_ciede2000(a, b, channel_axis=-1)
