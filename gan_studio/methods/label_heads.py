"""The small per-pixel networks of HandsOff's label generator, and the math that reads their outputs.

- :class:`PixelMLP`: hypercolumn (N, C) -> (N, out), a ladder of Linear -> ReLU -> BatchNorm1d as in the
  DatasetGAN / HandsOff reference pixel classifier (C -> 256 -> 128 -> out by default).
- :class:`SegmentationEnsemble`: several PixelMLPs, each from its own seed; :func:`majority_vote` reads their
  softmaxes as one mask and :func:`js_uncertainty` says, per pixel, how much they disagree.
- :func:`drop_most_uncertain`: which generated images to keep when the most uncertain fraction is dropped.
- Keypoints: :func:`gaussian_targets` (training targets at sampled pixels), :func:`pixels_near` (extra pixels
  sampled around labeled keypoints) (the decoding of heatmaps
  is :func:`gan_studio.models.keypoints.decode_heatmaps`).

Keypoint coordinates are continuous pixels: the image spans [0, S] and pixel (x, y)'s centre is (x + 0.5, y + 0.5),
as the catalog renderer labels them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class PixelMLP(nn.Module):
    """Per-pixel MLP: (N, C) -> (N, out). Each hidden layer is Linear -> ReLU -> BatchNorm1d."""

    def __init__(self, channels: int, hidden: Sequence[int], out: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = channels
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.BatchNorm1d(h)]
            width = h
        layers.append(nn.Linear(width, out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SegmentationEnsemble(nn.Module):
    """``members`` PixelMLPs over the same hypercolumns; member m is initialized from ``seed + m``.

    ``forward`` (N, C) -> logits (M, N, n_classes). The global random state is left as it was.
    """

    def __init__(self, channels: int, hidden: Sequence[int], n_classes: int, members: int, seed: int = 0):
        super().__init__()
        nets = []
        for m in range(members):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + m)
                nets.append(PixelMLP(channels, hidden, n_classes))
        self.members = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members])


def majority_vote(probs: torch.Tensor) -> torch.Tensor:
    """Members' class probabilities (M, N, K) -> the class most members pick, (N,) long.

    A tie between classes goes to the one with the highest probability averaged over members.
    """
    n_classes = probs.shape[-1]
    votes = torch.nn.functional.one_hot(probs.argmax(-1), n_classes).sum(0)  # (N, K)
    tied = votes == votes.max(-1, keepdim=True).values
    return probs.mean(0).masked_fill(~tied, -1.0).argmax(-1)


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in nats over the last axis, (..., K) -> (...); 0 log 0 counts as 0."""
    return -(probs * probs.clamp_min(1e-30).log()).sum(-1)


def js_uncertainty(probs: torch.Tensor) -> torch.Tensor:
    """Jensen-Shannon divergence of the members' distributions per pixel, (M, N, K) -> (N,) in nats.

    Entropy of the mean minus the mean of the entropies: 0 when all members give the same distribution, at most
    log(M) (and log(K)) when they are sure of different classes.
    """
    return (entropy(probs.mean(0)) - entropy(probs).mean(0)).clamp_min(0.0)


def drop_most_uncertain(uncertainties: Sequence[float] | np.ndarray, fraction: float) -> np.ndarray:
    """Keep mask (N,) bool: False for the ``floor(fraction * N)`` most uncertain images (ties: later ones go).

    ``uncertainties`` are image-level scores (HandsOff: mean per-pixel JS divergence); ``fraction`` in [0, 1].
    """
    if not 0.0 <= fraction <= 1.0 or math.isnan(fraction):
        raise ValueError(f"the fraction of images to drop must be between 0 and 1, not {fraction}")
    scores = np.asarray(uncertainties, dtype=np.float64).reshape(-1)
    keep = np.ones(len(scores), dtype=bool)
    n_drop = math.floor(fraction * len(scores) + 1e-9)
    if n_drop:
        # Stable sort of -score: among equal scores the earlier image ranks as less uncertain and is kept.
        order = np.argsort(-scores, kind="stable")
        keep[order[:n_drop]] = False
    return keep


# ---------------------------------------------------------------------------------------------------- keypoints


def gaussian_targets(keypoints: torch.Tensor, pixels: torch.Tensor, sigma: float) -> torch.Tensor:
    """Heatmap targets of K keypoints (K, 3) ``x, y, v`` at pixels (P, 2) integer (x, y) -> (P, K) in [0, 1].

    ``exp(-d^2 / (2 sigma^2))`` with d the distance in pixels from the pixel's centre to the keypoint.
    """
    centres = pixels.to(keypoints.dtype) + 0.5
    d2 = (centres[:, None, :] - keypoints[None, :, :2]).square().sum(-1)
    return torch.exp(-d2 / (2.0 * sigma * sigma))


def pixels_near(
    keypoints: torch.Tensor, per_keypoint: int, sigma: float, size: int, generator: torch.Generator
) -> torch.Tensor:
    """(K * per_keypoint, 2) integer (x, y) pixels drawn around each labeled keypoint (K, 3), CPU.

    Offsets are normal with 1.5 sigma, so most samples fall where the target heatmap is not ~0; keypoints with
    ``v == 0`` get uniformly drawn pixels instead, so every image gives the same number of rows.
    """
    kp = keypoints.detach().to("cpu", torch.float32)
    k = len(kp)
    offsets = torch.randn(k, per_keypoint, 2, generator=generator) * (1.5 * sigma)
    near = (kp[:, None, :2] + offsets).floor().clamp(0, size - 1).long()
    uniform = torch.randint(0, size, (k, per_keypoint, 2), generator=generator)
    labeled = (kp[:, 2] > 0)[:, None, None]
    return torch.where(labeled, near, uniform).reshape(-1, 2)


# ------------------------------------------------------------------------------ channel-first prediction (fast)


@torch.no_grad()
def folded_layers(mlp: PixelMLP) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """An eval-mode :class:`PixelMLP` as affine layers ``(weight, bias, relu_after)``: each batch norm (at its
    running statistics) is folded into the linear layer after it, so prediction does one matmul per layer."""
    layers: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
    scale = shift = None  # the pending batch norm, applied to the next linear layer's input
    for layer in mlp.net:
        if isinstance(layer, nn.Linear):
            weight, bias = layer.weight, layer.bias
            if scale is not None:
                bias = bias + weight @ shift
                weight = weight * scale[None, :]
                scale = shift = None
            layers.append((weight, bias, False))
        elif isinstance(layer, nn.ReLU):
            w, b, _ = layers[-1]
            layers[-1] = (w, b, True)
        elif isinstance(layer, nn.BatchNorm1d):
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
            shift = layer.bias - layer.running_mean * scale
        else:
            raise TypeError(f"cannot fold a {type(layer).__name__}")
    if scale is not None:
        raise TypeError("a batch norm after the last linear layer cannot be folded")
    return layers


@torch.no_grad()
def mlp_channels_first(mlp: PixelMLP | list, x: torch.Tensor) -> torch.Tensor:
    """An eval-mode :class:`PixelMLP` (or its :func:`folded_layers`) on (F, N) channel-first rows -> (out, N): the
    same numbers as ``mlp(x.T).T`` (batch norm at its running statistics) without the transposes. Reductions over a
    short last axis (softmax over 7 classes) run many times slower than over the first, so prediction keeps classes
    first."""
    layers = folded_layers(mlp) if isinstance(mlp, nn.Module) else mlp
    for weight, bias, relu in layers:
        x = torch.addmm(bias[:, None], weight, x)
        if relu:
            x = x.clamp_min_(0.0)
    return x


class FusedMembers:
    """Ensemble members' :func:`folded_layers` stacked once (per batch, not per chunk of pixels) for
    :func:`members_channels_first`: the first layers concatenated (members read the same rows: one matmul), each
    later layer stacked for one batched matmul. Members of different shapes are kept as they are."""

    @torch.no_grad()
    def __init__(self, members: list):
        self.count = len(members)
        shapes = {tuple(tuple(w.shape) + (relu,) for w, _, relu in m) for m in members}
        self.separate = list(members) if len(shapes) != 1 else None
        self.layers: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
        if self.separate is None:
            first = [m[0] for m in members]
            self.layers.append(
                (torch.cat([w for w, _, _ in first]), torch.cat([b for _, b, _ in first]), first[0][2])
            )
            for layer in range(1, len(members[0])):
                weight = torch.stack([m[layer][0] for m in members])
                bias = torch.stack([m[layer][1] for m in members])[:, :, None]
                self.layers.append((weight, bias, members[0][layer][2]))


@torch.no_grad()
def members_channels_first(members: list | FusedMembers, x: torch.Tensor) -> torch.Tensor:
    """Members' :func:`folded_layers` (or their :class:`FusedMembers`) on the same (F, N) rows -> (M, out, N), the
    same numbers as stacked :func:`mlp_channels_first` calls."""
    fused = members if isinstance(members, FusedMembers) else FusedMembers(members)
    if fused.separate is not None:
        return torch.stack([mlp_channels_first(m, x) for m in fused.separate])
    weight, bias, relu = fused.layers[0]
    h = torch.addmm(bias[:, None], weight, x)
    if relu:
        h = h.clamp_min_(0.0)
    h = h.view(fused.count, -1, x.shape[1])
    for weight, bias, relu in fused.layers[1:]:
        h = torch.baddbmm(bias, weight, h)
        if relu:
            h = h.clamp_min_(0.0)
    return h


@torch.no_grad()
def ensemble_vote(
    ensemble: SegmentationEnsemble | list, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel-first ensemble prediction: rows (F, N) -> (majority-vote class (N,) long, JS divergence (N,)),
    the same as :func:`majority_vote` and :func:`js_uncertainty` of the members' softmaxes. ``ensemble`` may be
    given as its members' :func:`folded_layers` or as their :class:`FusedMembers`."""
    if not isinstance(ensemble, FusedMembers):
        members = ensemble.members if isinstance(ensemble, nn.Module) else ensemble
        ensemble = FusedMembers([folded_layers(m) if isinstance(m, nn.Module) else m for m in members])
    logits = members_channels_first(ensemble, x)
    logp = torch.log_softmax(logits, dim=1)
    probs = logp.exp()
    mean = probs.mean(0)  # (K, N)
    mean_entropy = -(probs * logp).sum(1).mean(0)
    js = (-(mean * mean.clamp_min(1e-30).log()).sum(0) - mean_entropy).clamp_min(0.0)
    picks = _argmax_first(logits)  # (M, N)
    votes = torch.zeros_like(mean).scatter_add_(0, picks, torch.ones_like(picks, dtype=mean.dtype))
    tied = votes == votes.max(0, keepdim=True).values
    return mean.masked_fill(~tied, -1.0).argmax(0), js


def _argmax_first(x: torch.Tensor) -> torch.Tensor:
    """argmax over axis 1 of (M, K, N), first index on ties, with K whole-row comparisons: ``argmax(1)`` over a
    non-last axis runs several times slower on the CPU."""
    best, picks = x[:, 0], torch.zeros(x.shape[0], x.shape[2], dtype=torch.long, device=x.device)
    for k in range(1, x.shape[1]):
        better = x[:, k] > best
        best = torch.where(better, x[:, k], best)
        picks.masked_fill_(better, k)
    return picks
