"""Latent directions: REDS's generalized Rayleigh quotient and the linear baselines it is compared with.

All directions live in the traversal's movable subspace (the first ``m`` latent coordinates; for the
text-conditioned generator that is the noise z, the title's condition stays put) and have unit Euclidean norm.

- :func:`rayleigh_directions` - maximize vᵀAv / vᵀBv with A = Σ J_varyᵀJ_vary, B = Σ J_fixedᵀJ_fixed + λI, in
  closed form: B = LLᵀ (Cholesky), the symmetric eigenproblem of L⁻¹AL⁻ᵀ, v = L⁻ᵀu.
- :func:`random_direction` - a seeded uniformly random unit vector.
- :func:`pca_directions` - GANSpace: principal components of the first block's activations over sampled latents,
  carried back to the latent by least squares.
- :func:`sefa_directions` - SeFa: the top eigenvectors of WᵀW for the first layer's weight W.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

# pca_directions samples a thousand images; a rerun from the same start (the GUI's Run, the benchmark's pairs)
# reuses the result. Keyed by the generator object and the latent's fixed part; each entry keeps a weak
# reference to its generator, because id() is reused once a generator is freed (a new one must not get its PCA).
_PCA_CACHE: OrderedDict[tuple, tuple[weakref.ref, np.ndarray]] = OrderedDict()
_PCA_CACHE_SIZE = 8


def gram(tangents: torch.Tensor) -> np.ndarray:
    """Feature Jacobian-vector products (m, D) along the m basis directions -> JᵀJ (m, m), float64."""
    t = tangents.detach().to(torch.float64).reshape(len(tangents), -1)
    return (t @ t.T).cpu().numpy()


def normalized_sum(grams: Sequence[np.ndarray]) -> np.ndarray:
    """Σ Mᵢ / (tr Mᵢ / m): each feature weighs the same whatever its unit and size (a zero Mᵢ adds nothing)."""
    m = len(grams[0])
    total = np.zeros((m, m))
    for g in grams:
        scale = np.trace(g) / m
        if scale > 0:
            total += g / scale
    return total


def rayleigh_directions(a: np.ndarray, b: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The top-``k`` generalized eigenpairs of A v = μ B v (A symmetric PSD, B symmetric positive definite).

    Returns ``(values (k,), vectors (m, k))`` with values descending and every vector scaled to unit Euclidean norm
    (the quotient does not depend on scale; the traversal steps a fixed latent distance).
    """
    a = 0.5 * (np.asarray(a, dtype=np.float64) + np.asarray(a, dtype=np.float64).T)
    b = 0.5 * (np.asarray(b, dtype=np.float64) + np.asarray(b, dtype=np.float64).T)
    lower = np.linalg.cholesky(b)
    inv = np.linalg.solve(lower, np.eye(len(b)))  # L⁻¹
    c = inv @ a @ inv.T
    values, u = np.linalg.eigh(0.5 * (c + c.T))
    order = np.argsort(values)[::-1][:k]
    vectors = inv.T @ u[:, order]
    vectors /= np.linalg.norm(vectors, axis=0, keepdims=True)
    return values[order], vectors


def quotient(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> float:
    """vᵀAv / vᵀBv for one direction v (m,)."""
    return float(v @ a @ v) / float(v @ b @ v)


def regularized(b: np.ndarray, regularization: float) -> np.ndarray:
    """B + λI with λ = ``regularization`` x the mean eigenvalue of B (and a floor, so B = 0 still works)."""
    m = len(b)
    lam = regularization * max(np.trace(b) / m, 1e-12) + 1e-12
    return b + lam * np.eye(m)


def random_direction(m: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(m)
    return v / np.linalg.norm(v)


@torch.no_grad()
def pca_directions(
    generator, latent: torch.Tensor, m: int, k: int = 10, n: int = 1024, seed: int = 0
) -> np.ndarray:
    """GANSpace-style: PCA of the first block's activations over ``n`` latents whose movable part is sampled
    (the rest kept from ``latent``), then latent directions by least squares from PCA coordinates to latents.

    Returns (m, k) unit columns, the leading component first.
    """
    key = (id(generator), latent[0, m:].detach().cpu().numpy().tobytes(), m, k, n, seed)
    entry = _PCA_CACHE.get(key)
    if entry is not None and entry[0]() is generator:
        _PCA_CACHE.move_to_end(key)
        return entry[1].copy()
    dirs = _pca_directions(generator, latent, m, k, n, seed)
    _PCA_CACHE[key] = (weakref.ref(generator), dirs)
    _PCA_CACHE.move_to_end(key)
    while len(_PCA_CACHE) > _PCA_CACHE_SIZE:
        _PCA_CACHE.popitem(last=False)
    return dirs.copy()


@torch.no_grad()
def _pca_directions(generator, latent: torch.Tensor, m: int, k: int, n: int, seed: int) -> np.ndarray:
    latents = generator.sample_latent(n, seed).to(latent)
    latents[:, m:] = latent[:, m:]
    acts = []
    for start in range(0, n, 256):
        _, feats = generator.synthesize(latents[start : start + 256], features=True)
        acts.append(feats[0].reshape(len(feats[0]), -1).to(torch.float64))
    y = torch.cat(acts)
    y = y - y.mean(0)
    _, _, vt = torch.linalg.svd(y, full_matrices=False)
    coords = y @ vt[:k].T  # (n, k) PCA coordinates
    z = latents[:, :m].to(torch.float64)
    z = z - z.mean(0)
    basis = torch.linalg.lstsq(coords, z).solution  # (k, m): coordinate i -> latent direction
    dirs = basis.T.cpu().numpy()
    return dirs / np.linalg.norm(dirs, axis=0, keepdims=True)


def sefa_directions(generator, latent: torch.Tensor, m: int, k: int = 10) -> np.ndarray:
    """SeFa-style: the top eigenvectors of WᵀW, W the first layer's weight on the movable coordinates.

    Uses ``generator.first_layer_weight()`` (out, latent_dim) when the generator offers it; otherwise the first
    block's Jacobian at ``latent`` stands in for W (the layer's linearization). Returns (m, k) unit columns.
    """
    if hasattr(generator, "first_layer_weight"):
        w = generator.first_layer_weight().detach().to(torch.float64)[:, :m]
    else:
        from torch.func import jacrev

        def first(z):
            full = latent.clone()
            full[:, :m] = z
            return generator.synthesize(full, features=True)[1][0].reshape(-1)

        w = jacrev(first)(latent[:, :m].detach().clone()).reshape(-1, m).to(torch.float64)
    values, vectors = np.linalg.eigh((w.T @ w).cpu().numpy())
    order = np.argsort(values)[::-1][:k]
    return vectors[:, order]
