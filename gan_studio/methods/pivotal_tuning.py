"""Pivotal tuning (PTI, Roich et al. 2022): after the latent of a real image is found, tune a copy of the generator
so that it draws that image at that latent, so that labels read from the generator sit on the image's garment.

The latent found by :func:`~gan_studio.methods.inversion.invert` (the *pivot*) draws the nearest garment the
generator can draw, not the image itself: silhouettes are off by a few pixels, and labels read from the
generator's features are off with them. :func:`pivotal_tune` copies the generator (the original is never changed)
and runs ``steps`` Adam steps on its weights, the pivot held fixed, on

    perceptual(G'(w), x) + pixel_weight * MSE(G'(w), x)
      + locality_weight * MSE(G'(r), G(r))            r: latents drawn around the pivot, fresh every step

The last term is PTI's locality regularization: away from the image the tuned generator must keep drawing what the
original drew, so its features (what the label generator reads) keep their meaning. ``r = w + alpha (s - w) /
|s - w|`` with ``s`` a sampled latent and ``alpha`` the mean distance between samples scaled by ``locality_radius``,
as in the paper. The best step (lowest image loss) is kept, never one worse than the pivot.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from gan_studio.methods.inversion import generator_module, psnr
from gan_studio.models.perceptual import PerceptualDistance


@dataclass(frozen=True)
class PivotalTuningConfig:
    steps: int = 30
    lr: float = 3e-4  # Adam on the generator's weights (PTI's)
    pixel_weight: float = 10.0  # as the latent refinement's
    locality_weight: float = 1.0
    locality_samples: int = 2  # latents around the pivot per step
    locality_radius: float = 0.3  # alpha in units of the mean distance between sampled latents
    seed: int = 0


@dataclass(frozen=True)
class TuningResult:
    generator: object  # the tuned copy (generator protocol)
    perceptual_before: float
    perceptual_after: float
    psnr_before: float  # dB
    psnr_after: float
    locality_mse: float  # mean squared difference of tuned vs original images around the pivot, last step
    steps_kept: int  # the step whose weights were kept (0: the original's)


def pivotal_tune(
    generator,
    latent: torch.Tensor,
    target: torch.Tensor,
    perceptual: PerceptualDistance,
    config: PivotalTuningConfig | None = None,
) -> TuningResult:
    """Tune a copy of ``generator`` so that it draws ``target`` (1, 3, S, S) in [-1, 1] at ``latent`` (1, D).

    ``generator`` follows the protocol and must be backed by an ``nn.Module`` (``generator_module``); the copy is
    returned in :attr:`TuningResult.generator` and the original is left as it was.
    """
    config = config or PivotalTuningConfig()
    tuned = copy.deepcopy(generator)
    module = generator_module(tuned)
    if module is None:
        raise ValueError("pivotal tuning needs a generator backed by an nn.Module")
    module.eval()  # batch norm keeps its running statistics: one image must not become its batch statistics
    params = [p for p in module.parameters() if p.is_floating_point()]
    for p in params:
        p.requires_grad_(True)
    latent = latent.detach()
    with torch.no_grad():
        target_feats = perceptual.features(target)
        spread = generator.sample_latent(64, config.seed + 7919)
        alpha = config.locality_radius * torch.cdist(spread, spread).mean()

    def image_loss(recon: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        perc = perceptual.compare(perceptual.features(recon), target_feats)
        return (perc + config.pixel_weight * (recon - target).pow(2).mean()).sum(), perc.sum()

    with torch.no_grad():
        recon0 = tuned.synthesize(latent)
        loss0, perc0 = image_loss(recon0)
    best = (float(loss0), 0, {k: v.detach().clone() for k, v in module.state_dict().items()})
    psnr0 = float(psnr(recon0, target)[0])
    opt = torch.optim.Adam(params, lr=config.lr)
    locality = 0.0
    for step in range(1, config.steps + 1):
        samples = generator.sample_latent(config.locality_samples, config.seed * 1000003 + step)
        direction = samples - latent
        around = latent + alpha * direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-8)
        with torch.no_grad():
            original = generator.synthesize(around)
        loss, _ = image_loss(tuned.synthesize(latent))
        local = (tuned.synthesize(around) - original).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        (loss + config.locality_weight * local).backward()
        opt.step()
        locality = float(local.detach())
        with torch.no_grad():
            score, _ = image_loss(tuned.synthesize(latent))
        if float(score) < best[0]:
            best = (float(score), step, {k: v.detach().clone() for k, v in module.state_dict().items()})
    module.load_state_dict(best[2])
    for p in params:
        p.requires_grad_(False)
    with torch.no_grad():
        recon = tuned.synthesize(latent)
        _, perc = image_loss(recon)
    return TuningResult(
        generator=tuned,
        perceptual_before=float(perc0),
        perceptual_after=float(perc),
        psnr_before=psnr0,
        psnr_after=float(psnr(recon, target)[0]),
        locality_mse=locality,
        steps_kept=best[1],
    )
