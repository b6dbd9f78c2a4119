"""Reading keypoints from heatmaps: the peak of each heatmap refined by a local soft-argmax.

Keypoint coordinates are continuous pixels: the image spans [0, S] and pixel (x, y)'s centre is (x + 0.5, y + 0.5),
as the catalog renderer labels them. Used by HandsOff's label generator and by the benchmark's dense network.
"""

from __future__ import annotations

import numpy as np
import torch


def decode_heatmaps(heatmaps: torch.Tensor, threshold: float, radius: int = 2) -> np.ndarray:
    """Heatmaps (K, S, S) in [0, 1] -> keypoints (K, 3) float32 ``x, y, v`` in continuous pixel coordinates.

    The peak pixel is refined by the heat-weighted mean (a local soft-argmax) of the window of ``radius`` pixels
    around it; near the image's edge the window shrinks to stay symmetric about the peak, since a window cut on one
    side would pull the mean inward. A radius of about 2 sigma keeps the truncation bias of a Gaussian of sigma
    pixels under 0.05 px. ``v`` is 2 when the peak exceeds ``threshold``, else 0 with x = y = 0 (COCO: not labeled).
    """
    heat = heatmaps.detach().to("cpu", torch.float64)
    k, height, width = heat.shape
    out = np.zeros((k, 3), np.float32)
    peaks, where = heat.reshape(k, -1).max(1)
    for j in range(k):
        if float(peaks[j]) <= threshold:
            continue
        y0, x0 = divmod(int(where[j]), width)
        ry = min(radius, y0, height - 1 - y0)
        rx = min(radius, x0, width - 1 - x0)
        window = heat[j, y0 - ry : y0 + ry + 1, x0 - rx : x0 + rx + 1].clamp_min(0.0)
        ys = torch.arange(y0 - ry, y0 + ry + 1, dtype=torch.float64)[:, None]
        xs = torch.arange(x0 - rx, x0 + rx + 1, dtype=torch.float64)[None, :]
        total = float(window.sum())
        x = float((window * xs).sum()) / total
        y = float((window * ys).sum()) / total
        out[j] = (x + 0.5, y + 0.5, 2.0)
    return out
