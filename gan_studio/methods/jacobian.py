"""Jacobians of a generator's image with respect to latent directions.

``image_tangents`` pushes k latent directions through the generator at once: the latent is repeated k times as a
batch and each row carries one direction as its forward-mode tangent, so one batched forward pass gives all k
Jacobian-vector products (the generator must be in eval mode: no batch statistics mix the rows). Generators that
torch cannot differentiate fall back to central finite differences. ``image_jacobian_reverse`` is the reverse-mode
reference the benchmark times against: one vector-Jacobian product per output pixel, batched in chunks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jvp

JACOBIAN_MODES = ("auto", "forward", "finite")
FINITE_STEP = 1e-2


def _forward(synthesize: Callable, latent: torch.Tensor, directions: torch.Tensor):
    k = len(directions)
    primal = latent.expand(k, -1).contiguous()
    image, tangents = jvp(synthesize, (primal,), (directions.to(latent),))
    return image[:1], tangents


def _finite(synthesize: Callable, latent: torch.Tensor, directions: torch.Tensor, h: float = FINITE_STEP):
    k = len(directions)
    d = directions.to(latent)
    both = torch.cat([latent + h * d, latent - h * d, latent], dim=0)
    images = synthesize(both)
    return images[2 * k :], (images[:k] - images[k : 2 * k]) / (2 * h)


@torch.no_grad()
def image_tangents(
    synthesize: Callable[[torch.Tensor], torch.Tensor],
    latent: torch.Tensor,
    directions: torch.Tensor,
    mode: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The image at ``latent`` (1, D) and its derivatives along ``directions`` (k, D).

    Returns ``(image (1, 3, S, S), tangents (k, 3, S, S), mode used)``; ``mode`` is forward, finite or auto
    (forward-mode AD, finite differences when the generator cannot be differentiated).
    """
    if mode not in JACOBIAN_MODES:
        raise ValueError(f"unknown Jacobian mode {mode!r}; use {', '.join(JACOBIAN_MODES)}")
    if mode in ("auto", "forward"):
        try:
            image, tangents = _forward(synthesize, latent, directions)
            return image, tangents, "forward"
        except (RuntimeError, NotImplementedError, TypeError):
            if mode == "forward":
                raise
    image, tangents = _finite(synthesize, latent, directions)
    return image, tangents, "finite"


def image_jacobian_reverse(
    synthesize: Callable[[torch.Tensor], torch.Tensor], latent: torch.Tensor, chunk: int = 512
) -> torch.Tensor:
    """The full Jacobian d image / d latent by reverse-mode autograd -> (3*S*S, D); one VJP per output."""
    x = latent.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = synthesize(x).reshape(-1)
        rows = []
        eye_rows = torch.arange(len(out))
        for start in range(0, len(out), chunk):
            idx = eye_rows[start : start + chunk]
            grads = torch.zeros(len(idx), len(out), dtype=out.dtype, device=out.device)
            grads[torch.arange(len(idx)), idx] = 1
            (g,) = torch.autograd.grad(out, x, grads, retain_graph=True, is_grads_batched=True)
            rows.append(g.reshape(len(idx), -1))
    return torch.cat(rows)
