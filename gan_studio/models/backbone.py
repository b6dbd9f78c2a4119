"""The 128 px two-stage backbone (``GanConfig.backbone == "sle"``), built from what converges fast on a small budget.

- :class:`ResUp` (BigGAN): conditional batch norm, ReLU, 2x nearest upsampling, two 3x3 convolutions, and an
  upsampled 1x1 shortcut; every norm is modulated by the whole latent y = [z, c] (hierarchical conditioning).
  :class:`UpConv`, one convolution, at the finest stage-I resolution where a convolution costs most.
- :class:`SkipExcitation` (FastGAN): a coarse map, pooled to 4x4, gates the channels of a map 8x finer, so global
  shape (garment type, length) reaches the high-resolution blocks in one hop.
- :class:`LayoutGenerator` (stage I): [z, c] -> a ``stage1_size`` image (the layout: silhouette, color, length).
- :class:`DetailGenerator` (stage II): the stage-I image and c -> twice the size; a small U-Net (encoder skip at the
  input resolution) whose output is a residual on the bilinearly upsampled stage-I image.
- :class:`ResDiscriminator` (BigGAN / SNGAN): spectrally normalized residual down blocks, sum pooling, an
  unconditional logit, a projection logit for the text condition and auxiliary attribute heads; it also returns the
  activations of its blocks for feature matching.

Images are (B, 3, S, S) in [-1, 1]. Same interfaces as the 64 px classes in :mod:`gan_studio.models.stackgan`.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_studio.models.stackgan import ConditionalBatchNorm, GanConfig, ProjectionHeads


def _conv3(cin: int, cout: int, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


def _up2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class ResUp(nn.Module):
    def __init__(self, cin: int, cout: int, cond: int):
        super().__init__()
        self.norm1 = ConditionalBatchNorm(cin, cond)
        self.conv1 = _conv3(cin, cout)
        self.norm2 = ConditionalBatchNorm(cout, cond)
        self.conv2 = _conv3(cout, cout)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.conv1(_up2(F.relu(self.norm1(x, y))))
        h = self.conv2(F.relu(self.norm2(h, y)))
        return h + self.skip(_up2(x))


class UpConv(nn.Module):
    """2x nearest upsampling, one 3x3 convolution, conditional batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, cond: int):
        super().__init__()
        self.conv = _conv3(cin, cout)
        self.norm = ConditionalBatchNorm(cout, cond)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(_up2(x)), y))


class SkipExcitation(nn.Module):
    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(c_low, c_high, 4, bias=False),
            nn.LeakyReLU(0.1),
            nn.Conv2d(c_high, c_high, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


class LayoutGenerator(nn.Module):
    """Stage I. Widths 8g at 4x4, then 8g, 4g, 2g, g, ... per doubling (g = ``g_channels``)."""

    def __init__(self, cfg: GanConfig):
        super().__init__()
        g, cond = cfg.g_channels, cfg.z_dim + cfg.cond_dim
        n_up = (cfg.stage1_size // 4).bit_length() - 1
        widths = [g * 8] + [max(g * 8 // (2 ** max(i - 1, 0)), g // 2) for i in range(1, n_up + 1)]
        self.widths = widths
        self.fc = nn.Linear(cond, widths[0] * 16, bias=False)
        self.fc_norm = nn.BatchNorm1d(widths[0] * 16)
        # Residual blocks, except a single convolution at the finest resolution (most of the cost at batch 1).
        pairs = list(itertools.pairwise(widths))
        self.blocks = nn.ModuleList([*(ResUp(a, b, cond) for a, b in pairs[:-1]), UpConv(*pairs[-1], cond)])
        # feats[j - 2] (resolution 2**j) gates block j's output (resolution 8 * 2**j, 8x finer), from block 2 on.
        self.excite = nn.ModuleDict(
            {str(j): SkipExcitation(widths[j - 2], widths[j + 1]) for j in range(2, n_up)}
        )
        self.out_norm = nn.BatchNorm2d(widths[-1])
        self.to_rgb = _conv3(widths[-1], 3, bias=True)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns the stage-I image and the feature map of every block (coarse to fine)."""
        y = torch.cat([z, c], dim=1)
        x = F.relu(self.fc_norm(self.fc(y))).view(len(y), self.widths[0], 4, 4)
        feats = [x]
        for i, block in enumerate(self.blocks):
            x = block(x, y)
            if str(i) in self.excite:
                x = self.excite[str(i)](feats[i - 2], x)
            feats.append(x)
        return torch.tanh(self.to_rgb(F.relu(self.out_norm(x)))), feats


class _Res(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(ch), nn.ReLU(), _conv3(ch, ch), nn.BatchNorm2d(ch), nn.ReLU(), _conv3(ch, ch)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DetailGenerator(nn.Module):
    """Stage II: encode the stage-I image (full and half resolution), join the condition, a residual block,
    up to the stage-I size with the full-resolution encoding added back (U-Net skip), up once more, and add the
    result to the upsampled stage-I image in tanh's pre-activation space."""

    def __init__(self, cfg: GanConfig):
        super().__init__()
        g = cfg.g2_channels
        self.enc_full = nn.Sequential(_conv3(3, g, bias=True), nn.LeakyReLU(0.2))
        self.enc_half = nn.Sequential(nn.Conv2d(g, g * 2, 4, stride=2, padding=1), nn.LeakyReLU(0.2))
        self.join = nn.Conv2d(g * 2 + cfg.cond_dim, g * 2, 1, bias=False)
        self.res = _Res(g * 2)
        self.up_half = nn.Sequential(
            nn.BatchNorm2d(g * 2), nn.ReLU(), nn.Upsample(scale_factor=2.0), _conv3(g * 2, g)
        )
        self.up_full = nn.Sequential(
            nn.BatchNorm2d(g), nn.ReLU(), nn.Upsample(scale_factor=2.0), _conv3(g, g // 2)
        )
        self.to_rgb = nn.Sequential(nn.BatchNorm2d(g // 2), nn.ReLU(), _conv3(g // 2, 3, bias=True))
        nn.init.zeros_(self.to_rgb[-1].weight)  # starts as the upsampled stage-I image
        nn.init.zeros_(self.to_rgb[-1].bias)

    def forward(self, image1: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        full = self.enc_full(image1)
        x = self.enc_half(full)
        cmap = c[..., None, None].expand(-1, -1, x.shape[2], x.shape[3])
        x = self.res(self.join(torch.cat([x, cmap], dim=1)))
        f1 = self.up_half(x) + full
        f2 = self.up_full(f1)
        base = F.interpolate(image1, scale_factor=2.0, mode="bilinear", align_corners=False)
        return torch.tanh(torch.atanh(base.clamp(-0.999, 0.999)) + self.to_rgb(f2)), [x, f1, f2]


class _ResDown(nn.Module):
    def __init__(self, cin: int, cout: int, first: bool = False):
        super().__init__()
        self.first = first
        self.conv1 = spectral_norm(_conv3(cin, cout, bias=True))
        self.conv2 = spectral_norm(_conv3(cout, cout, bias=True))
        self.skip = spectral_norm(nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(h))), 2)
        return h + (self.skip(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.skip(x), 2))


class ResDiscriminator(ProjectionHeads):
    """Down to 4x4 ending with widths ..., d, 2d, 4d, 8d (at 128 px the first block is d/2 wide)."""

    def __init__(self, cfg: GanConfig, size: int, aux_heads: dict[str, int] | None = None):
        super().__init__()
        d = cfg.d_channels
        n_down = (size // 4).bit_length() - 1
        widths = [max(min(int(d * 2.0 ** (i + 4 - n_down)), d * 8), 4) for i in range(n_down)]
        chans = [3, *widths]
        self.blocks = nn.ModuleList(
            _ResDown(a, b, first=(i == 0)) for i, (a, b) in enumerate(itertools.pairwise(chans))
        )
        self.add_heads(cfg, chans[-1], aux_heads)

    def block_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The pooled features (B, feat_dim) and every block's activation (for feature matching)."""
        acts = []
        for block in self.blocks:
            x = block(x)
            acts.append(x)
        return F.relu(x).sum(dim=(2, 3)), acts

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_features(x)[0]
