"""Bringing images of any size to a network's square input size."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def pad_square_resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) float -> (N, C, size, size): padded to a square with its edge pixels, then area-averaged down
    or bilinearly up (antialiasing is area averaging's job; upsampling needs none)."""
    h, w = images.shape[-2:]
    if h != w:
        d = abs(h - w)
        pad = (d // 2, d - d // 2, 0, 0) if h > w else (0, 0, d // 2, d - d // 2)
        images = F.pad(images, pad, mode="replicate")
    s = images.shape[-1]
    if s > size:
        return F.interpolate(images, size=(size, size), mode="area")
    if s < size:
        return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    return images


def resize_uint8(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: padded to a square with its edge pixels, then resized."""
    t = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1)[None].float()
    t = pad_square_resize(t, size)
    return t[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
