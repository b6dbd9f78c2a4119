"""The two-stage generator and its discriminators (StackGAN, shared by ReStGAN and the baseline): the 64 px
"plain" backbone, kept to load the models fitted on it; new models use :mod:`gan_studio.models.backbone`.

- :class:`ConditioningAugmentation`: text condition h -> c = mu + sigma * eps, with the KL term to N(0, I).
- :class:`StageOneGenerator`: [z, c] -> a low-resolution image (``stage1_size``), conditional batch norm from [z, c]
  in every block.
- :class:`StageTwoGenerator`: the stage-I image and c -> the final image at twice the size, adding texture.
- :class:`Discriminator`: spectrally normalized; an unconditional logit, a conditional logit (projection onto the
  text condition) and optional auxiliary heads (type, color cluster, gender) on the same features.

Images are (B, 3, S, S) in [-1, 1].
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class GanConfig:
    z_dim: int = 32
    cond_dim: int = 64  # c after conditioning augmentation
    text_dim: int = 128  # h from the text encoder
    g_channels: int = 32  # stage-I widths are 8g, 8g, 4g, 2g, g from 4x4 up ("plain": 8g, 4g, 2g, g)
    g2_channels: int = 32
    d_channels: int = 32
    stage1_size: int = 64
    image_size: int = 128
    # "sle": the 128 px backbone of gan_studio.models.backbone (residual blocks, skip-layer excitation, residual
    # discriminator); "plain": this module's 64 px StackGAN blocks (checkpoints saved before the field existed).
    backbone: str = "sle"

    @classmethod
    def from_dict(cls, d: dict) -> GanConfig:
        return cls(**{"backbone": "plain", **{k: d[k] for k in cls.__dataclass_fields__ if k in d}})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def tiny(cls) -> GanConfig:
        return cls(z_dim=8, cond_dim=8, text_dim=16, g_channels=4, g2_channels=4, d_channels=4, stage1_size=32,
                   image_size=64)  # fmt: skip


class ConditioningAugmentation(nn.Module):
    def __init__(self, text_dim: int, cond_dim: int):
        super().__init__()
        self.fc = nn.Linear(text_dim, cond_dim * 2)

    def forward(self, h: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns c, mu, logvar; ``eps`` (B, cond_dim) is the noise (zeros give the mean condition)."""
        mu, logvar = self.fc(h).chunk(2, dim=1)
        logvar = logvar.clamp(-8.0, 4.0)
        return mu + eps * torch.exp(0.5 * logvar), mu, logvar

    @staticmethod
    def kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.mean(torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar, dim=1))


class ConditionalBatchNorm(nn.Module):
    def __init__(self, channels: int, cond: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.affine = nn.Linear(cond, channels * 2)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(y).chunk(2, dim=1)
        return self.bn(x) * (1.0 + gamma[..., None, None]) + beta[..., None, None]


class UpBlock(nn.Module):
    """Nearest 2x upsampling, 3x3 conv, conditional batch norm, ReLU."""

    def __init__(self, cin: int, cout: int, cond: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.norm = ConditionalBatchNorm(cout, cond)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest")), y))


class StageOneGenerator(nn.Module):
    def __init__(self, cfg: GanConfig):
        super().__init__()
        g, cond = cfg.g_channels, cfg.z_dim + cfg.cond_dim
        n_up = (cfg.stage1_size // 4).bit_length() - 1
        widths = [g * 8 // (2**i) for i in range(n_up + 1)]
        self.widths = widths
        self.fc = nn.Linear(cond, widths[0] * 16, bias=False)
        self.fc_norm = nn.BatchNorm1d(widths[0] * 16)
        self.blocks = nn.ModuleList(UpBlock(a, b, cond) for a, b in itertools.pairwise(widths))
        self.to_rgb = nn.Conv2d(widths[-1], 3, 3, padding=1)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns the stage-I image and the feature map of every block (coarse to fine)."""
        y = torch.cat([z, c], dim=1)
        x = F.relu(self.fc_norm(self.fc(y))).view(len(y), self.widths[0], 4, 4)
        feats = [x]
        for block in self.blocks:
            x = block(x, y)
            feats.append(x)
        return torch.tanh(self.to_rgb(x)), feats


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(),
            nn.Conv2d(ch, ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


class StageTwoGenerator(nn.Module):
    """StackGAN's stage II: encode the stage-I image down to a quarter of the final size, join the condition at
    every position, refine with residual blocks, upsample twice; the output is a residual on the upsampled
    stage-I image (texture and sharper edges on the stage-I layout)."""

    def __init__(self, cfg: GanConfig):
        super().__init__()
        g = cfg.g2_channels
        self.encode = nn.Sequential(nn.Conv2d(3, g, 4, stride=2, padding=1), nn.LeakyReLU(0.2))
        self.join = nn.Sequential(
            nn.Conv2d(g + cfg.cond_dim, g * 2, 3, padding=1, bias=False), nn.BatchNorm2d(g * 2)
        )
        self.res = nn.Sequential(ResBlock(g * 2), ResBlock(g * 2))
        self.up1 = _up(g * 2, g)
        self.up2 = _up(g, g // 2)
        self.to_rgb = nn.Conv2d(g // 2, 3, 3, padding=1)

    def forward(self, image1: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.encode(image1)
        cmap = c[..., None, None].expand(-1, -1, x.shape[2], x.shape[3])
        x = F.relu(self.join(torch.cat([x, cmap], dim=1)))
        x = self.res(x)
        f1 = self.up1(x)
        f2 = self.up2(f1)
        base = F.interpolate(image1, scale_factor=2.0, mode="bilinear", align_corners=False)
        return torch.tanh(torch.atanh(base.clamp(-0.999, 0.999)) + self.to_rgb(f2)), [x, f1, f2]


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2.0, mode="nearest"),
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class ProjectionHeads(nn.Module):
    """What every discriminator puts on its pooled features (B, feat_dim): an unconditional logit, a conditional
    logit (projection onto the text condition) and the auxiliary attribute heads. Subclasses give ``features``."""

    def add_heads(self, cfg: GanConfig, feat_dim: int, aux_heads: dict[str, int] | None) -> None:
        self.feat_dim = feat_dim
        self.uncond = spectral_norm(nn.Linear(feat_dim, 1))
        self.cond = spectral_norm(nn.Linear(feat_dim, 1))
        self.project = spectral_norm(nn.Linear(cfg.text_dim, feat_dim, bias=False))
        # ModuleDict keys may not shadow Module attributes ("type"), hence the prefix.
        self.aux = nn.ModuleDict(
            {f"head_{k}": spectral_norm(nn.Linear(feat_dim, n)) for k, n in (aux_heads or {}).items()}
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, x: torch.Tensor, h: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor], torch.Tensor]:
        """Returns the unconditional logit (B,), the conditional logit for condition h (B,) or None, the aux
        logits, and the pooled features (so a mismatched condition can reuse them via :meth:`cond_logit`)."""
        phi = self.features(x)
        return (*self.heads(phi, h), phi)

    def heads(
        self, phi: torch.Tensor, h: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """The logits of :meth:`forward` from pooled features already computed."""
        aux = {k.removeprefix("head_"): head(phi) for k, head in self.aux.items()}
        return self.uncond(phi)[:, 0], None if h is None else self.cond_logit(phi, h), aux

    def cond_logit(self, phi: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.cond(phi)[:, 0] + (self.project(h) * phi).sum(dim=1)


class Discriminator(ProjectionHeads):
    def __init__(self, cfg: GanConfig, size: int, aux_heads: dict[str, int] | None = None):
        super().__init__()
        d = cfg.d_channels
        layers: list[nn.Module] = []
        cin, s, cout = 3, size, d
        while s > 4:
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            if s <= 32:  # a second conv per scale, except at the costly 64 px and above
                layers += [spectral_norm(nn.Conv2d(cout, cout, 3, padding=1)), nn.LeakyReLU(0.2)]
            cin, s, cout = cout, s // 2, min(cout * 2, d * 4)
        self.body = nn.Sequential(*layers)
        self.add_heads(cfg, cin, aux_heads)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.body(x), 0.2).sum(dim=(2, 3))


def stage_modules(cfg: GanConfig) -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    """(stage-I generator, stage-II generator, discriminator) classes of ``cfg.backbone``."""
    if cfg.backbone == "plain":
        return StageOneGenerator, StageTwoGenerator, Discriminator
    if cfg.backbone == "sle":
        from gan_studio.models.backbone import DetailGenerator, LayoutGenerator, ResDiscriminator

        return LayoutGenerator, DetailGenerator, ResDiscriminator
    raise ValueError(f"unknown generator backbone {cfg.backbone!r}")
