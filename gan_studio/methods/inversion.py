"""Inverting images into a generator's latent space: the encoder's prediction, optionally refined per image.

:func:`invert` runs the :class:`~gan_studio.models.inversion.InversionEncoder` on a batch of images and, with
``refine_steps > 0``, refines each latent by Adam on the reconstruction loss (perceptual distance plus a pixel
term), starting from the encoder's prediction. The optimization runs in the encoder's standardized coordinates
(the condition dimensions of the text-conditioned generator move on much smaller scales than z). Adam is
elementwise and every image's loss depends only on its own latent (the generator runs in eval mode), so refining
a batch is exactly refining each image alone. The objective is nonconvex and Adam can overshoot, so each image
keeps the best latent seen, never one worse than its start.

Works with any generator of the protocol (``image_size``, ``latent_dim``, differentiable ``synthesize``); its
weights are never changed (gradients are taken for the latents only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from gan_studio.models.inversion import InversionEncoder
from gan_studio.models.perceptual import PerceptualDistance
from gan_studio.models.resize import pad_square_resize
from gan_studio.runtime.cancel import CancelToken

# Chosen on validation items (built-in catalog seed 7, 200 real items, shipped ReStGAN, 50 steps). Perceptual
# distance / PSNR on real items with pixel weight 1: lr 0.01 .254 / 24.6 dB, 0.03 .182 / 25.1, 0.1 .132 / 25.5,
# 0.3 .125 / 25.6 (but generated images got worse at 0.3: .007 against .003 at 0.1); with pixel weight 10: lr 0.1
# .150 / 26.7 dB. Pixel weight 10 trades a little perceptual distance for silhouettes that line up with the image,
# which is what labels transferred from a real image need; it is also the encoder's stage-2 weight.
DEFAULT_REFINE_LR = 0.1  # Adam step in standardized latent units (see the module docstring)
DEFAULT_PIXEL_WEIGHT = (
    10.0  # weight of the per-pixel mean squared error (images in [-1, 1]) next to perceptual
)


@dataclass(frozen=True)
class InversionResult:
    latents: np.ndarray  # (N, D) float32
    reconstructions: np.ndarray  # (N, S, S, 3) uint8, drawn by the generator from ``latents``
    perceptual: np.ndarray  # (N,) perceptual distance of each reconstruction to its (resized) image
    psnr: np.ndarray  # (N,) dB, on [0, 1] intensities of the reconstruction against the (resized) image


def generator_module(generator) -> torch.nn.Module | None:
    """The ``nn.Module`` behind a generator of the protocol: the generator itself or a wrapper's ``model``."""
    module = generator if isinstance(generator, torch.nn.Module) else getattr(generator, "model", None)
    return module if isinstance(module, torch.nn.Module) else None


def generator_device(generator) -> torch.device:
    """Where the generator's weights are (the CPU for a generator with none)."""
    module = generator_module(generator)
    for p in module.parameters() if module is not None else ():
        return p.device
    return torch.device("cpu")


def prepare_images(images: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    """Images -> (N, 3, size, size) float32 in [-1, 1].

    Accepts (N, H, W, 3) or (H, W, 3) uint8 (numpy or torch), or a float tensor (N, 3, H, W) already in [-1, 1].
    Non-square images are padded to a square with their edge pixels; then area-averaged down or bilinearly
    upsampled to ``size``.
    """
    t = torch.as_tensor(images)
    if t.dtype == torch.uint8:
        if t.ndim == 3:
            t = t[None]
        if t.ndim != 4 or t.shape[-1] not in (3, 4):
            raise ValueError(f"expected (N, H, W, 3) uint8 images, got {tuple(t.shape)}")
        t = t[..., :3].permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    elif t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"expected (N, 3, H, W) float images in [-1, 1], got {tuple(t.shape)}")
    return pad_square_resize(t.float(), size).contiguous()


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR (N,) in dB of images (N, 3, S, S) in [-1, 1], measured on [0, 1] intensities (capped at 100 dB)."""
    mse = ((a.clamp(-1, 1) - b.clamp(-1, 1)) / 2).pow(2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(1.0 / mse.clamp(min=1e-10))


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def invert(
    encoder: InversionEncoder,
    generator,
    images: np.ndarray | torch.Tensor,
    refine_steps: int = 0,
    lr: float = DEFAULT_REFINE_LR,
    perceptual: PerceptualDistance | None = None,
    cancel: CancelToken | None = None,
    progress: Callable[[float, str], None] | None = None,
    *,
    pixel_weight: float = DEFAULT_PIXEL_WEIGHT,
    batch: int = 64,
) -> InversionResult:
    """Invert ``images`` into ``generator``'s latent space.

    ``images``: see :func:`prepare_images`; they are resized to the generator's size first. ``refine_steps`` Adam
    steps of size ``lr`` (standardized units) on ``perceptual + pixel_weight * MSE`` per image, in batches of
    ``batch`` images. ``perceptual`` defaults to the distance over the shipped attribute classifier. ``cancel``
    is checked between steps (raises ``Cancelled``); ``progress(fraction, message)`` is called after each batch
    step.
    """
    if refine_steps < 0:
        raise ValueError(f"refine_steps must be >= 0, got {refine_steps}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if encoder.config.latent_dim != generator.latent_dim or encoder.config.image_size != generator.image_size:
        raise ValueError(
            f"the encoder inverts {encoder.config.image_size} px images into {encoder.config.latent_dim}-d latents "
            f"but the generator draws {generator.image_size} px images from {generator.latent_dim}-d latents"
        )
    s, d = generator.image_size, generator.latent_dim
    target_all = prepare_images(images, s)
    n = target_all.shape[0]
    if n == 0:
        empty = np.zeros(0, np.float32)
        return InversionResult(np.zeros((0, d), np.float32), np.zeros((0, s, s, 3), np.uint8), empty, empty)
    if perceptual is None:
        from gan_studio.models.perceptual import load_perceptual

        perceptual = load_perceptual()
    device = encoder.latent_mean.device
    batches = -(-n // batch)
    out_latents, out_images, out_perc, out_psnr = [], [], [], []
    for index in range(batches):
        if cancel is not None:
            cancel.raise_if_cancelled()
        target = target_all[index * batch : (index + 1) * batch].to(device)

        def on_step(k: int, index: int = index) -> None:
            if cancel is not None:
                cancel.raise_if_cancelled()
            if progress is not None:
                message = f"refining: step {k}/{refine_steps} of batch {index + 1}/{batches}"
                progress((index + k / refine_steps) / batches, message)

        latent, recon, perc = _refine(
            encoder, generator, perceptual, target, refine_steps, lr, pixel_weight, on_step
        )
        out_latents.append(latent.cpu())
        out_images.append(_to_uint8(recon))
        out_perc.append(perc.cpu())
        out_psnr.append(psnr(recon, target).cpu())
        if progress is not None and refine_steps == 0:
            progress((index + 1) / batches, f"inverted {min((index + 1) * batch, n)}/{n} images")
    return InversionResult(
        torch.cat(out_latents).float().numpy(),
        np.concatenate(out_images),
        torch.cat(out_perc).float().numpy(),
        torch.cat(out_psnr).float().numpy(),
    )


def _refine(
    encoder: InversionEncoder,
    generator,
    perceptual: PerceptualDistance,
    target: torch.Tensor,
    steps: int,
    lr: float,
    pixel_weight: float,
    on_step: Callable[[int], None],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The best latent seen per image over ``steps`` Adam steps from the encoder's prediction, with its
    reconstruction and perceptual distance; ``on_step(k)`` after step k (it may raise to stop)."""
    with torch.no_grad():
        latent = encoder(target)
        target_feats = perceptual.features(target)

    def evaluate(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        recon = generator.synthesize(w)
        perc = perceptual.compare(perceptual.features(recon), target_feats)
        loss = perc + pixel_weight * (recon - target).pow(2).mean(dim=(1, 2, 3))
        return loss, recon, perc

    if steps == 0:
        with torch.no_grad():
            _, recon, perc = evaluate(latent)
        return latent, recon, perc
    u = encoder.standardize(latent).detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([u], lr=lr)
    best_loss = torch.full((len(u),), float("inf"), device=u.device)
    best_w, best_recon, best_perc = (
        latent.clone(),
        torch.zeros_like(target),
        torch.zeros(len(u), device=u.device),
    )
    for k in range(steps + 1):
        last = k == steps  # the final iterate is scored too, but not stepped from
        with torch.set_grad_enabled(not last):
            w = encoder.unstandardize(u)
            loss, recon, perc = evaluate(w)
        with torch.no_grad():
            better = loss < best_loss
            best_loss = torch.where(better, loss, best_loss)
            best_w = torch.where(better[:, None], w, best_w)
            best_recon = torch.where(better[:, None, None, None], recon, best_recon)
            best_perc = torch.where(better, perc, best_perc)
        if last:
            break
        # Gradients for the latents only: the generator's and the backbone's weights get none.
        (grad,) = torch.autograd.grad(loss.sum(), [u])
        u.grad = grad
        opt.step()
        on_step(k + 1)
    return best_w.detach(), best_recon.detach(), best_perc.detach()
