"""Feature Jacobians carried along a path by secant (Broyden) updates: REDS's fast waypoint.

The exact traversal recomputes every feature's Jacobian J (D x m) at every waypoint by pushing m tangents through
the generator, nine tenths of a waypoint at 128 px. Between full refreshes the fast path measures only the
derivative along the step it took, y = J_new ŝ (ŝ the unit step; one batch of two images,
:func:`.jacobian.step_tangent`), and applies Broyden's rank-one update J <- J + (y - J ŝ) ŝᵀ: the smallest change of J
that makes it exact along the step. A full refresh (the primal computed once, :func:`.jacobian.shared_tangents`)
comes every ``refresh_every`` waypoints, and at once when the update had to change J ŝ by more than
``refresh_error`` times the larger of |y| and the feature's typical derivative (the RMS of J's columns; mean over
the features): the Jacobian had grown stale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gan_studio.methods.features import Feature
from gan_studio.methods.jacobian import shared_tangents, step_tangent


def feature_jacobians(
    features: Sequence[Feature], image: torch.Tensor, tangents: torch.Tensor
) -> list[torch.Tensor]:
    """Every feature's Jacobian-vector products (m, D) float64 along image ``tangents`` (m, 3, S, S)."""
    with torch.no_grad():
        return [f.jvp_shared(image, tangents).detach().to(torch.float64) for f in features]


class SecantJacobians:
    """The image and the fixed and varied features' Jacobians (each (m, D) float64) at the path's current latent.

    ``refresh(latent)`` recomputes them; ``advance(latent, move)`` moves to ``latent`` (reached by ``move`` (m,) in
    the movable coordinates) by a secant update or, when one is due, a refresh. ``refreshes`` and ``updates``
    count what was done; ``last_error`` is the last update's relative correction.
    """

    def __init__(
        self,
        generator,
        fixed: Sequence[Feature],
        vary: Sequence[Feature],
        m: int,
        refresh_every: int,
        refresh_error: float,
    ):
        self.generator, self.fixed, self.vary, self.m = generator, list(fixed), list(vary), m
        self.refresh_every, self.refresh_error = refresh_every, refresh_error
        self.image: torch.Tensor | None = None
        self.fixed_jvps: list[torch.Tensor] = []
        self.vary_jvps: list[torch.Tensor] = []
        self.since_refresh = 0
        self.refreshes = self.updates = 0
        self.last_error: float | None = None

    def refresh(self, latent: torch.Tensor) -> torch.Tensor:
        """Full Jacobians at ``latent`` (1, D); returns the image there (1, 3, S, S)."""
        basis = torch.zeros(self.m, latent.shape[1], dtype=latent.dtype, device=latent.device)
        basis[:, : self.m] = torch.eye(self.m, dtype=latent.dtype, device=latent.device)
        image, tangents, _ = shared_tangents(self.generator.synthesize, latent, basis)
        self.image = image
        self.fixed_jvps = feature_jacobians(self.fixed, image, tangents)
        self.vary_jvps = feature_jacobians(self.vary, image, tangents)
        self.since_refresh = 0
        self.refreshes += 1
        return image

    def advance(self, latent: torch.Tensor, move: np.ndarray) -> torch.Tensor:
        """Carry the Jacobians to ``latent`` (1, D), reached by ``move`` (m,); returns the image there."""
        norm = float(np.linalg.norm(move))
        if self.image is None or self.since_refresh + 1 >= self.refresh_every or norm == 0.0:
            return self.refresh(latent)
        unit = torch.zeros(1, latent.shape[1], dtype=latent.dtype, device=latent.device)
        unit[0, : self.m] = torch.from_numpy(move / norm).to(latent)
        image, tangent = step_tangent(self.generator.synthesize, latent, unit)
        s = torch.from_numpy(move / norm)  # float64 (m,)
        errors = []
        with torch.no_grad():
            for f, jvps in ((self.fixed, self.fixed_jvps), (self.vary, self.vary_jvps)):
                for i, feature in enumerate(f):
                    y = feature.jvp(image, tangent)[0].reshape(-1).to(torch.float64)
                    residual = y - s @ jvps[i]
                    # Not relative to y alone: REDS steps where the fixed features barely move, so their y is
                    # small by design; their typical derivative (RMS over the m coordinates) is the scale.
                    rms = (jvps[i].square().sum() / len(jvps[i])).sqrt()
                    scale = torch.maximum(rms, y.norm()).clamp_min(1e-30)
                    jvps[i] = jvps[i] + torch.outer(s, residual)
                    errors.append(float(residual.norm() / scale))
        self.image = image
        self.last_error = float(np.mean(errors))
        self.since_refresh += 1
        self.updates += 1
        if self.last_error > self.refresh_error:
            return self.refresh(latent)
        return image
