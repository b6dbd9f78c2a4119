"""An LPIPS-style perceptual distance over any backbone's block features.

LPIPS compares two images by the feature maps of a pretrained network: every spatial feature vector is scaled to
unit length along the channels, the squared difference of the two unit vectors is weighted per channel and summed,
averaged over positions, and the layers' scores are summed. No ImageNet backbone can be downloaded here and no
learned LPIPS weights exist for the apparel domain, so the default backbone is the shipped attribute classifier
(:func:`gan_studio.models.classifier.load_classifier`) with uniform channel weights and the blocks averaged:

    d(x, y) = mean over blocks b of  mean over positions p of  || f_b(x)_p / |f_b(x)_p| - f_b(y)_p / |f_b(y)_p| ||^2

Each block's term lies in [0, 4] (the squared distance of two unit vectors), so d does too; d is 0 for identical
images and symmetric. Any module with ``block_features(x) -> list of (N, C, H, W) maps`` can be the backbone, so a
user with a better network (a real LPIPS/VGG port) can pass it instead.
"""

from __future__ import annotations

import os

import torch
from torch import nn

_EPS = 1e-10  # LPIPS's: a zero feature vector (all channels ReLU'd off) normalizes to zero


def unit_normalize(feature: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> each position's channel vector scaled to unit length (zero vectors stay zero)."""
    norm = torch.sqrt(torch.sum(feature * feature, dim=1, keepdim=True))
    return feature / (norm + _EPS)


class PerceptualDistance(nn.Module):
    """``d(a, b) -> (N,)`` for images (N, 3, H, W) in [-1, 1]; differentiable in both arguments.

    The backbone is frozen (``requires_grad`` off) and always runs in eval mode, whatever mode this module is put
    in: batch norm must use its running statistics, or the distance of one image would depend on its batch.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        if not callable(getattr(backbone, "block_features", None)):
            raise TypeError(f"a {type(backbone).__name__} has no block_features(x); it cannot be a backbone")
        self.backbone = backbone.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> PerceptualDistance:
        super().train(mode)
        self.backbone.eval()
        return self

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The unit-normalized block maps of ``images`` (N, 3, H, W) in [-1, 1]."""
        return [unit_normalize(f) for f in self.backbone.block_features(images)]

    @staticmethod
    def compare(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
        """Distance (N,) between two lists of unit-normalized maps from :meth:`features`.

        Lets a caller that compares many images with one fixed target compute the target's features once.
        """
        if len(a) != len(b) or not a:
            raise ValueError(f"expected two equal, non-empty lists of maps, got {len(a)} and {len(b)}")
        per_block = [(fa - fb).pow(2).sum(dim=1).mean(dim=(1, 2)) for fa, fb in zip(a, b, strict=True)]
        return torch.stack(per_block, dim=1).mean(dim=1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape:
            raise ValueError(f"images to compare differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
        return self.compare(self.features(a), self.features(b))


def load_perceptual(
    path: str | os.PathLike | None = None, device: str | torch.device | None = None
) -> PerceptualDistance:
    """The perceptual distance over an attribute-classifier checkpoint (the shipped classifier by default)."""
    from gan_studio.models.classifier import load_classifier

    return PerceptualDistance(load_classifier(path, device=device))
