"""REDS traversal: step along the Rayleigh eigendirection, recompute it at every waypoint, repeat.

At each waypoint the engine pushes the m movable latent coordinates through the generator with forward-mode AD
(one batched pass, see :mod:`.jacobian`), turns the image tangents into Jacobians of every fixed and varied feature,
and takes the direction that changes the varied features most per unit change of the fixed ones (a generalized
eigenvector, :func:`.directions.rayleigh_directions`). Consecutive directions keep their sign (positive dot product
with the previous one) and, when several eigenvectors are offered, the one most aligned with the previous
direction is followed, so a path does not flip or jump between eigenvectors.

Two ways to get the Jacobians: ``exact`` (the path as first measured) pushes all m coordinates through the
generator at every waypoint; the fast path (the default) computes them in full every ``refresh_every`` waypoints with
the primal computed once, and in between carries them along the path by secant updates from the derivative along
each step (:mod:`.secant`), so most waypoints cost about two images instead of 2m.

The baselines take the same number of waypoints and the same latent distance per waypoint along one straight
direction: ``linear`` (the first REDS direction, held), ``random``, ``pca`` (GANSpace) and ``sefa``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gan_studio.methods.directions import (
    gram,
    normalized_sum,
    pca_directions,
    quotient,
    random_direction,
    rayleigh_directions,
    regularized,
    sefa_directions,
)
from gan_studio.methods.features import Feature
from gan_studio.methods.jacobian import JACOBIAN_MODES, image_tangents
from gan_studio.methods.secant import SecantJacobians
from gan_studio.runtime.cancel import CancelToken

METHODS = ("reds", "linear", "random", "pca", "sefa")
MAX_STEPS = 200
MAX_STEP_SIZE = 10.0
BASELINE_CANDIDATES = 10  # pca/sefa: components scored when no direction index is given
CORRECTOR_VARY_WEIGHT = 0.1
MAX_REFRESH_EVERY = 64


class TraversalError(ValueError):
    """Traversal settings that cannot be used, with one sentence saying why."""


@dataclass(frozen=True)
class TraversalSettings:
    """How to walk.

    ``steps``: waypoints after the start (1..MAX_STEPS). ``step_size``: latent distance per waypoint (the movable
    coordinates are standard normal, so their norm is about sqrt(m)). ``sign``: +1 or -1 along the direction.
    ``direction``: which eigenvector (reds/linear) or component (pca/sefa) to follow; None = the top eigenvector,
    or for pca/sefa the component with the best fixed/varied quotient at the start among the first ten.
    ``regularization``: λ relative to the mean eigenvalue of J_fixedᵀJ_fixed. ``jacobian``: auto|forward|finite.
    ``correct`` (reds only): at every waypoint also take the Gauss-Newton step that pulls the fixed features back
    to their starting values (a predictor-corrector path). ``progress_weight`` (reds only): after the first step,
    add β·m·ggᵀ to the numerator, g the unit direction that extends the varied change made so far, so the path
    keeps going instead of circling among directions that each vary a lot locally but undo each other.
    ``correct=False, progress_weight=0`` is the paper's plain eigendirection path.
    ``exact`` (reds only): recompute the full Jacobian at every waypoint (forward mode, ``jacobian``), the path
    the benchmark first measured; otherwise refresh it every ``refresh_every`` waypoints and carry it by secant
    updates in between, refreshing at once when an update corrects it by more than ``refresh_error`` (relative).
    """

    method: str = "reds"
    steps: int = 8
    step_size: float = 1.0
    sign: int = 1
    direction: int | None = None
    seed: int = 0
    regularization: float = 1e-3
    jacobian: str = "auto"
    correct: bool = True
    progress_weight: float = 1.0
    exact: bool = False
    refresh_every: int = 3
    refresh_error: float = 1.0

    def check(self) -> TraversalSettings:
        if self.method not in METHODS:
            raise TraversalError(f"unknown method {self.method!r}; use {', '.join(METHODS)}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise TraversalError("the number of waypoints must be at least 1")
        if self.steps > MAX_STEPS:
            raise TraversalError(f"{self.steps} waypoints is too many; use at most {MAX_STEPS}")
        if not math.isfinite(self.step_size) or self.step_size <= 0:
            raise TraversalError("the step size must be a positive number (use --sign -1 to walk backwards)")
        if self.step_size > MAX_STEP_SIZE:
            raise TraversalError(
                f"a step of {self.step_size:g} leaves the latent distribution; use at most 10"
            )
        if self.sign not in (1, -1):
            raise TraversalError("the sign must be +1 or -1")
        if self.direction is not None and not (0 <= self.direction < BASELINE_CANDIDATES):
            raise TraversalError(f"the direction index must be 0..{BASELINE_CANDIDATES - 1}")
        if not (0 <= self.progress_weight <= 100):
            raise TraversalError("the progress weight must be between 0 and 100")
        if not (0 < self.regularization < 1e6):
            raise TraversalError("the regularization must be a small positive number")
        if not isinstance(self.refresh_every, int) or not (1 <= self.refresh_every <= MAX_REFRESH_EVERY):
            raise TraversalError(f"refresh the Jacobian every 1..{MAX_REFRESH_EVERY} waypoints")
        if not (0 < self.refresh_error <= 1000):
            raise TraversalError("the refresh error must be above 0 and at most 1000 (a relative correction)")
        if self.jacobian not in JACOBIAN_MODES:
            raise TraversalError(f"unknown Jacobian mode {self.jacobian!r}; use {', '.join(JACOBIAN_MODES)}")
        return self


@dataclass
class Waypoint:
    """One point of a path: its latent, image and the change of every feature since the start."""

    index: int
    latent: torch.Tensor  # (1, D)
    image: np.ndarray  # (S, S, 3) uint8
    fixed_change: dict[str, float]
    varied_change: dict[str, float]
    direction: np.ndarray | None = None  # the unit direction taken from this waypoint (m,)
    quotient: float | None = None  # its Rayleigh quotient at this waypoint

    @property
    def fixed_total(self) -> float:
        """Mean change of the fixed features (each in its own unit)."""
        return float(np.mean(list(self.fixed_change.values()))) if self.fixed_change else 0.0

    @property
    def varied_total(self) -> float:
        return float(np.mean(list(self.varied_change.values()))) if self.varied_change else 0.0


def movable_dims(generator) -> int:
    """The latent coordinates a traversal moves: ``generator.traversal_dims`` when offered, else all of them."""
    return int(getattr(generator, "traversal_dims", generator.latent_dim))


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return ((image[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class _Local:
    """Jacobians of the features at one latent, and the quotient's matrices."""

    def __init__(self, image, fixed_jvps, vary_jvps, settings: TraversalSettings, mode: str = "forward"):
        self.image, self.mode = image, mode
        self.fixed_jvps, self.vary_jvps = fixed_jvps, vary_jvps
        with torch.no_grad():
            vary_grams = [gram(t) for t in self.vary_jvps]
        fixed_grams = [gram(t) for t in self.fixed_jvps]
        self.a = normalized_sum(vary_grams)
        self.b = regularized(normalized_sum(fixed_grams), settings.regularization)
        m = len(self.a)
        self.weights = [1.0 / max(np.trace(g) / m, 1e-30) for g in fixed_grams]

    @classmethod
    def at(cls, generator, latent, fixed, vary, m, settings: TraversalSettings) -> _Local:
        """The exact computation: all m tangents through the generator (``settings.jacobian`` mode)."""
        basis = torch.zeros(m, latent.shape[1], dtype=latent.dtype, device=latent.device)
        basis[:, :m] = torch.eye(m, dtype=latent.dtype, device=latent.device)
        image, tangents, mode = image_tangents(generator.synthesize, latent, basis, settings.jacobian)
        with torch.no_grad():
            fixed_jvps = [f.jvp(image, tangents).detach().to(torch.float64) for f in fixed]
            vary_jvps = [f.jvp(image, tangents).detach().to(torch.float64) for f in vary]
        return cls(image, fixed_jvps, vary_jvps, settings, mode)

    @classmethod
    def carried(cls, tracker: SecantJacobians, settings: TraversalSettings) -> _Local:
        """The fast path's Jacobians at the tracker's latent (copies: the tracker updates its own)."""
        return cls(tracker.image, list(tracker.fixed_jvps), list(tracker.vary_jvps), settings)

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return rayleigh_directions(self.a, self.b, k)

    def correction(self, residuals: Sequence[torch.Tensor]) -> np.ndarray:
        """The Gauss-Newton step (m,) that undoes the fixed features' drift ``residuals`` (f(now) - f(start)).

        Solves (Σ wᵢJᵢᵀJᵢ + λI + κA) δ = -Σ wᵢJᵢᵀrᵢ: the quotient's denominator, plus a little of its numerator
        (κ = CORRECTOR_VARY_WEIGHT) so the correction prefers directions that leave the varied features be (with
        κ = 0 it undoes the path's progress along with the drift; with κ = 1 it barely corrects; measured).
        """
        rhs = np.zeros(len(self.b))
        for w, t, r in zip(self.weights, self.fixed_jvps, residuals, strict=True):
            rhs -= w * (t @ r.reshape(-1).to(torch.float64)).cpu().numpy()
        return np.linalg.solve(self.b + CORRECTOR_VARY_WEIGHT * self.a, rhs)

    def progress_direction(self, vary: Sequence[Feature], start: dict) -> np.ndarray:
        """The unit latent direction (m,) that most extends the varied features' change so far.

        For each varied feature, Jᵀr with r = f(now) - f(start) is the gradient of ½‖r‖²; the features' unit
        gradients are summed so each counts the same.
        """
        g = np.zeros(len(self.a))
        with torch.no_grad():
            for f, t in zip(vary, self.vary_jvps, strict=True):
                r = (f(self.image) - start[id(f)]).reshape(-1).to(torch.float64)
                gi = (t @ r).cpu().numpy()
                g += gi / max(float(np.linalg.norm(gi)), 1e-30)
        return g / max(float(np.linalg.norm(g)), 1e-30)


def _follow(local: _Local, previous: np.ndarray | None, index: int) -> tuple[np.ndarray, float]:
    """The eigenvector to take: ``index`` at the start, then the one most aligned with the previous direction."""
    values, vectors = local.top(min(len(local.a), index + 2 if previous is not None else index + 1))
    if previous is None:
        return vectors[:, index], float(values[index])
    j = int(np.argmax(np.abs(vectors.T @ previous)))
    v = vectors[:, j]
    return (v if v @ previous >= 0 else -v), float(values[j])


def _baseline_direction(generator, latent, fixed, vary, m, settings: TraversalSettings) -> np.ndarray:
    if settings.method == "random":
        return random_direction(m, settings.seed)
    local = _Local.at(generator, latent, fixed, vary, m, settings)
    if settings.method == "linear":
        return _follow(local, None, settings.direction or 0)[0]
    if settings.method == "pca":
        candidates = pca_directions(generator, latent, m, BASELINE_CANDIDATES, seed=settings.seed)
    else:
        candidates = sefa_directions(generator, latent, m, BASELINE_CANDIDATES)
    if settings.direction is not None:
        return candidates[:, settings.direction]
    scores = [quotient(local.a, local.b, candidates[:, i]) for i in range(candidates.shape[1])]
    return candidates[:, int(np.argmax(scores))]


def traverse(
    generator,
    latent: torch.Tensor,
    fixed: Sequence[Feature],
    vary: Sequence[Feature],
    settings: TraversalSettings = TraversalSettings(),
    *,
    cancel: CancelToken | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Iterator[Waypoint]:
    """Walk from ``latent`` (1, D): yields the start (index 0), then one :class:`Waypoint` per step.

    ``cancel`` is checked before every waypoint (raises ``Cancelled``), so cancelling stops within one waypoint.
    ``progress(fraction, message)`` is called after every waypoint.
    """
    settings.check()
    if not fixed or not vary:
        raise TraversalError("a traversal needs at least one fixed and one varied feature")
    latent = latent.detach().reshape(1, -1).clone()
    m = movable_dims(generator)
    with torch.no_grad():
        start_image = generator.synthesize(latent)
        f0 = {id(f): f(start_image) for f in (*fixed, *vary)}

    def waypoint(index: int, lat: torch.Tensor, image: torch.Tensor) -> Waypoint:
        with torch.no_grad():
            fixed_change = {f.name: float(f.change(f0[id(f)], f(image))) for f in fixed}
            varied_change = {f.name: float(f.change(f0[id(f)], f(image))) for f in vary}
        return Waypoint(index, lat.clone(), _to_uint8(image), fixed_change, varied_change)

    def check() -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()

    yield waypoint(0, latent, start_image)
    check()
    constant = None
    if settings.method != "reds":
        constant = _baseline_direction(generator, latent, fixed, vary, m, settings) * settings.sign
    previous: np.ndarray | None = None
    tracker = None
    if constant is None and not settings.exact:
        tracker = SecantJacobians(generator, fixed, vary, m, settings.refresh_every, settings.refresh_error)
        tracker.refresh(latent)
    for step in range(1, settings.steps + 1):
        check()
        q = None
        if constant is not None:
            v = constant
        else:
            if tracker is not None:
                local = _Local.carried(tracker, settings)
            else:
                local = _Local.at(generator, latent, fixed, vary, m, settings)
            if settings.progress_weight > 0 and step > 1:
                g = local.progress_direction(vary, f0)
                local.a = local.a + settings.progress_weight * m * np.outer(g, g)
            v, q = _follow(local, previous, settings.direction or 0)
            if previous is None:
                v = v * settings.sign
            previous = v
        move = settings.step_size * v
        if constant is None and settings.correct and step > 1:
            with torch.no_grad():
                residuals = [f(local.image) - f0[id(f)] for f in fixed]
            delta = local.correction(residuals)
            # The corrector never outruns the predictor: at most one step length.
            norm = float(np.linalg.norm(delta))
            if norm > settings.step_size:
                delta *= settings.step_size / norm
            move = move + delta
        latent = latent.clone()
        latent[0, :m] += torch.from_numpy(move).to(latent)
        if tracker is not None and step < settings.steps:
            image = tracker.advance(latent, move)  # the last waypoint needs no Jacobian
        else:
            with torch.no_grad():
                image = generator.synthesize(latent)
        point = waypoint(step, latent, image)
        point.direction, point.quotient = v, q
        yield point
        if progress is not None:
            progress(step / settings.steps, f"waypoint {step}/{settings.steps}")


def traverse_path(
    generator,
    latent: torch.Tensor,
    fixed: Sequence[Feature],
    vary: Sequence[Feature],
    settings: TraversalSettings = TraversalSettings(),
    *,
    both: bool = False,
    cancel: CancelToken | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> list[Waypoint]:
    """The whole path as a list; with ``both``, backwards (negative indices, farthest first) then forwards."""
    if not both:
        return list(traverse(generator, latent, fixed, vary, settings, cancel=cancel, progress=progress))

    def half(sign: int, offset: float) -> list[Waypoint]:
        from dataclasses import replace

        def report(f: float, message: str) -> None:
            if progress is not None:
                progress(offset + 0.5 * f, message)

        return list(
            traverse(
                generator, latent, fixed, vary, replace(settings, sign=sign), cancel=cancel, progress=report
            )
        )

    back = half(-settings.sign, 0.0)
    forward = half(settings.sign, 0.5)
    for p in back:
        p.index = -p.index
    return back[:0:-1] + forward
