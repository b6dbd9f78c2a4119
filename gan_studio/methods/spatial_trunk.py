"""Spatial context for HandsOff's label generator: a small convolutional trunk over the generator's block maps.

The HandsOff reference reads each pixel's hypercolumn alone with a per-pixel MLP, so a pixel never sees its
neighbours, and at 128 px it multiplies an 853-channel hypercolumn per pixel. The MLP's first layer is linear and
bilinear upsampling is linear too, so ``W · up(f) = up(W · f)``: projecting every block's map to ``width`` channels
at its *native* resolution and then upsampling is that same first layer for a fraction of the cost, and the
hypercolumns of whole images are never built. On the sum of the projections at half the image size, ``context``
residual 3x3 convolutions give each pixel its neighbourhood; the maps drawn at full size (the last blocks, the RGB
image, the pixel position) are added at full size after them, so boundaries stay as sharp as the image::

    coarse = relu(b_c + sum_i up_{S/2}(P_i n_i(f_i)))          blocks smaller than S px
    coarse = coarse + relu(conv3x3_k(coarse))                   k = 1 .. context
    g      = avgpool_4(coarse);  g = g + relu(dilconv3x3_j(g))   j = 1 .. wide (dilation 2^(j-1), at S/8)
    coarse = coarse + up_{S/2}(g)                                (only when wide > 0)
    y(p)   = relu(b_f + up_S(coarse)(p) + sum_j P_j n_j(f_j)(p))  blocks of S px, read at pixel p

``n_i`` standardizes channels with the label generator's hypercolumn statistics; ``y`` (``width`` numbers per
pixel) feeds the per-pixel heads (segmentation ensemble, keypoints, depth). Training still samples pixels: the
trunk sees the whole half-size maps of only the step's few images, and full-size maps only at the sampled pixels
(bilinear reads of ``up_S(coarse)`` at pixel centres are :func:`~gan_studio.methods.hypercolumns.hypercolumns`).

The ``wide`` path gives every pixel the whole garment's layout (dilations 1, 2, 4 at an eighth of the image size
reach about 120 px at 128 px): a knee sits on plain leg fabric, and only where the waist and the hem are says
where along the leg it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gan_studio.methods.hypercolumns import hypercolumns


class SpatialTrunk(nn.Module):
    """Block maps (one (B, C_i, H_i, W_i) per block) -> per-pixel features of ``width`` channels."""

    def __init__(self, channels_per_block: Sequence[int], width: int, context: int, wide: int = 0):
        super().__init__()
        self.channels_per_block = [int(c) for c in channels_per_block]
        self.project = nn.ModuleList(nn.Conv2d(c, width, 1, bias=False) for c in self.channels_per_block)
        self.coarse_bias = nn.Parameter(torch.zeros(width))
        self.fine_bias = nn.Parameter(torch.zeros(width))
        self.context = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in range(context))
        self.wide = nn.ModuleList(
            nn.Conv2d(width, width, 3, padding=2**j, dilation=2**j) for j in range(wide)
        )
        self.width = int(width)

    def _projections(self, mean: torch.Tensor, std: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per block, ``P_i n_i`` as one affine 1x1 map: weight (width, C_i) = W / s, bias (width,) = -W m / s."""
        out, start = [], 0
        for proj, c in zip(self.project, self.channels_per_block, strict=True):
            weight = proj.weight[:, :, 0, 0] / std[start : start + c]
            out.append((weight, -(weight @ mean[start : start + c])))
            start += c
        return out

    @staticmethod
    def _affine(f: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return F.conv2d(f, weight[:, :, None, None], bias)

    def coarse(self, maps: Sequence[torch.Tensor], size: int, mean, std, projections=None) -> torch.Tensor:
        """(B, width, S/2, S/2): the projected sum of the blocks smaller than ``size``, with context."""
        half = max(1, size // 2)
        projections = projections or self._projections(mean, std)
        total = None
        for f, (weight, bias) in zip(maps, projections, strict=True):
            if f.shape[-1] >= size:
                continue
            p = self._affine(f, weight, bias)
            if p.shape[-1] != half:
                p = F.interpolate(p, size=(half, half), mode="bilinear", align_corners=False)
            total = p if total is None else total + p
        if total is None:  # every block is full size: no coarse path
            total = maps[0].new_zeros(maps[0].shape[0], self.width, half, half)
        x = F.relu(total + self.coarse_bias[:, None, None])
        for conv in self.context:
            x = x + F.relu(conv(x))
        if len(self.wide):
            g = F.avg_pool2d(x, 4) if half >= 8 else x
            for conv in self.wide:
                g = g + F.relu(conv(g))
            x = x + (
                F.interpolate(g, size=(half, half), mode="bilinear", align_corners=False) if half >= 8 else g
            )
        return x

    def forward(
        self,
        maps: Sequence[torch.Tensor],
        size: int,
        mean: torch.Tensor,
        std: torch.Tensor,
        pixels: torch.Tensor | None = None,
        channels_first: bool = False,
    ) -> torch.Tensor:
        """Features (B, P, width) at ``pixels`` (B, P, 2) integer (x, y), or (B, S * S, width) row-major for
        every pixel when ``pixels`` is None ((B, width, S * S) with ``channels_first``)."""
        projections = self._projections(mean, std)
        coarse = self.coarse(maps, size, mean, std, projections)
        fine = [(f, wb) for f, wb in zip(maps, projections, strict=True) if f.shape[-1] >= size]
        if pixels is None:
            y = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
            if fine:  # one 1x1 convolution over the full-size maps side by side, added in place
                stacked = torch.cat([f for f, _ in fine], dim=1) if len(fine) > 1 else fine[0][0]
                weight = torch.cat([w for _, (w, _) in fine], dim=1)
                y.add_(F.conv2d(stacked, weight[:, :, None, None]))
                bias = sum(b for _, (_, b) in fine) + self.fine_bias
            else:
                bias = self.fine_bias
            y = y.add_(bias[:, None, None]).relu_().flatten(2)
            return y if channels_first else y.transpose(1, 2)
        y = hypercolumns([coarse], size, pixels)
        if fine:
            columns = hypercolumns([f for f, _ in fine], size, pixels)  # (B, P, sum C_j)
            weight = torch.cat([w for _, (w, _) in fine], dim=1)  # (width, sum C_j)
            bias = sum(b for _, (_, b) in fine)
            y = y + columns @ weight.T + bias
        return F.relu(y + self.fine_bias)
