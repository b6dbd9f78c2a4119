"""How well an inversion encoder reconstructs held-out real catalog items (and, for reference, generated images).

Real items come from a built-in catalog seed that neither the generator (seed 0) nor the encoder (which sees only
generated images) was trained on, rendered at twice the generator's size and area-downsampled, exactly as the
generator's training items were. Generated images come from latents of a seed no training batch uses. Each is
inverted by the encoder alone and with per-image refinement, and scored by the perceptual distance (lower is
better) and PSNR in dB (higher is better) of the reconstruction, as mean and standard deviation over the images.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from gan_studio.methods.inversion import DEFAULT_REFINE_LR, invert
from gan_studio.models.inversion import InversionEncoder
from gan_studio.models.perceptual import PerceptualDistance
from gan_studio.runtime.cancel import CancelToken

HELD_OUT_SEED = 1003  # built-in catalog seed of the held-out real items (the generator trained on seed 0)
GENERATED_SEED_OFFSET = 2**43  # + seed: latents of the generated reference images (no training batch uses it)


def held_out_items(n: int, seed: int, size: int) -> np.ndarray:
    """Items ``[0, n)`` of built-in catalog ``seed`` as (n, size, size, 3) uint8, rendered at 2x and downsampled."""
    from gan_studio.data.catalog import render_item
    from gan_studio.methods.inversion import prepare_images

    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        t = prepare_images(render_item(seed, i, 2 * size).image, size)
        out[i] = ((t[0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    return out


def summarize(perceptual: np.ndarray, psnr: np.ndarray) -> dict[str, float]:
    return {
        "perceptual_mean": float(np.mean(perceptual)),
        "perceptual_std": float(np.std(perceptual)),
        "psnr_mean": float(np.mean(psnr)),
        "psnr_std": float(np.std(psnr)),
    }


def reconstruction_quality(
    encoder: InversionEncoder,
    generator,
    n: int = 200,
    seed: int = HELD_OUT_SEED,
    refine_steps: Sequence[int] = (0, 50),
    perceptual: PerceptualDistance | None = None,
    *,
    lr: float = DEFAULT_REFINE_LR,
    batch: int = 50,
    generated: bool = True,
    cancel: CancelToken | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Reconstruction quality of ``encoder`` on ``n`` held-out real items of catalog ``seed`` and ``n`` generated
    images, for each refinement budget in ``refine_steps`` (0 = the encoder alone).

    Returns ``{"real": {"refine_K": summary}, "generated": {...}, "held_out": {...}, "settings": {...}}`` where a
    summary holds ``perceptual_mean/std``, ``psnr_mean/std`` (dB) and ``seconds``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if perceptual is None:
        from gan_studio.models.perceptual import load_perceptual

        perceptual = load_perceptual()
    size = generator.image_size
    sets = {"real": held_out_items(n, seed, size)}
    if generated:
        with torch.no_grad():
            latents = generator.sample_latent(n, GENERATED_SEED_OFFSET + seed)
            sets["generated"] = _uint8(generator.synthesize(latents))
    budgets = [int(k) for k in refine_steps]
    total = len(sets) * sum(1 + k for k in budgets)
    done = 0
    results: dict = {}
    for name, images in sets.items():
        results[name] = {}
        for k in budgets:
            cost = 1 + k

            def report(fraction: float, message: str, _done=done, _cost=cost, _name=name) -> None:
                if progress is not None:
                    progress((_done + fraction * _cost) / total, f"{_name} images: {message}")

            t0 = time.monotonic()
            got = invert(
                encoder, generator, images, refine_steps=k, lr=lr, perceptual=perceptual, cancel=cancel,
                progress=report, batch=batch,
            )  # fmt: skip
            results[name][f"refine_{k}"] = {
                **summarize(got.perceptual, got.psnr),
                "seconds": round(time.monotonic() - t0, 2),
            }
            done += cost
    results["held_out"] = {
        "source": "builtin",
        "catalog_seed": seed,
        "start": 0,
        "n": n,
        "size": size,
        "description": f"built-in catalog seed {seed}, items [0, {n}), rendered at {2 * size} px and "
        f"area-downsampled to {size} px",
    }
    if generated:
        results["generated_latents"] = {"sample_latent_seed": GENERATED_SEED_OFFSET + seed, "n": n}
    results["settings"] = {"refine_steps": budgets, "lr": lr, "batch": batch}
    return results


def _uint8(images: torch.Tensor) -> np.ndarray:
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
