"""Jacobians of a generator's image with respect to latent directions.

``image_tangents`` pushes k latent directions through the generator at once: the latent is repeated k times as a
batch and each row carries one direction as its forward-mode tangent, so one batched forward pass gives all k
Jacobian-vector products (the generator must be in eval mode: no batch statistics mix the rows). Generators that
torch cannot differentiate fall back to central finite differences. ``image_jacobian_reverse`` is the reverse-mode
reference the benchmark times against: one vector-Jacobian product per output pixel, batched in chunks.

``shared_tangents`` is the fast path's Jacobian: the same products, but ``torch.func.vmap`` batches only the
tangents, so the image itself (the primal) is computed once instead of k times, about half the work of
``image_tangents``; it agrees with it to float rounding (measured 3e-7 relative on the shipped generator). ``step_tangent`` is the secant path's cheap derivative along
one direction: a one-sided difference in one batch of two images (about 1.7 synthesize's cost; forward-mode AD
along one direction cost 3.7 on this CPU).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jvp, vmap

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


@torch.no_grad()
def shared_tangents(
    synthesize: Callable[[torch.Tensor], torch.Tensor],
    latent: torch.Tensor,
    directions: torch.Tensor,
    chunk: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Like :func:`image_tangents` in auto mode, with the primal computed once: ``(image (1, 3, S, S), tangents
    (k, 3, S, S), mode)``. ``chunk``: tangents per vmapped batch (None = all k at once). A generator that vmap
    or forward mode cannot handle falls back to :func:`image_tangents` (mode says which was used)."""
    d = directions.to(latent)
    if len(d) == 1:
        image, tangent = jvp(synthesize, (latent,), (d,))
        return image, tangent, "forward"

    def one(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, tangent = jvp(synthesize, (latent,), (t[None],))
        return image, tangent[0]

    try:
        # out_dims None: the image does not depend on the vmapped tangent, so it comes out once, unbatched
        # (vmap's own chunk_size cannot concatenate such an output, hence the loop).
        step = chunk or len(d)
        parts = [vmap(one, out_dims=(None, 0))(d[i : i + step]) for i in range(0, len(d), step)]
        return parts[0][0], torch.cat([t for _, t in parts]), "forward"
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return image_tangents(synthesize, latent, directions, "auto")


@torch.no_grad()
def step_tangent(
    synthesize: Callable[[torch.Tensor], torch.Tensor],
    latent: torch.Tensor,
    direction: torch.Tensor,
    h: float = FINITE_STEP,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The image at ``latent`` (1, D) and its derivative along the unit ``direction`` (1, D), by a one-sided
    difference of step ``h``: ``(image (1, 3, S, S), tangent (1, 3, S, S))``."""
    images = synthesize(torch.cat([latent, latent + h * direction.to(latent)], dim=0))
    return images[:1], (images[1:] - images[:1]) / h
