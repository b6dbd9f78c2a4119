"""REDS: the generalized eigenproblem, the Jacobians, and a traversal on a generator built to be separable.

The key test builds a tiny generator in which one latent subspace (coordinates 0-3) moves only the bottom half of
the image while the other (4-7) moves all of it; holding the top half fixed, REDS must find the first subspace
and leave the top untouched, where a random direction of the same length does not.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_studio.methods import directions
from gan_studio.methods.features import FeatureContext, build_features
from gan_studio.methods.jacobian import image_jacobian_reverse, image_tangents
from gan_studio.methods.reds import (
    MAX_STEPS,
    TraversalError,
    TraversalSettings,
    movable_dims,
    traverse,
    traverse_path,
)
from gan_studio.runtime.cancel import Cancelled, CancelToken

# torch loads its forward-mode decompositions (with torch.jit.script) on the first jvp.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

# ------------------------------------------------------------------------------------------ tiny generators


class SplitGenerator:
    """Generator protocol, latent 8-d, image 16x16.

    ``z[0:4]`` drives the bottom half only (linearly, then tanh); ``z[4:8]`` drives the top half (linearly) and
    the bottom half (through a sine), then tanh. ``features=True`` also returns the pre-tanh map, subsampled 4x4
    (PCA's SVD stays tiny).
    """

    latent_dim = 8
    image_size = 16

    def __init__(self, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        half = 3 * 8 * 16
        self.top = torch.randn(half, 4, generator=g) * 0.3
        self.bottom_own = torch.randn(half, 4, generator=g) * 0.3
        self.bottom_shared = torch.randn(half, 4, generator=g) * 0.3
        self.bias = torch.randn(2 * half, generator=g) * 0.1

    def sample_latent(self, n: int, seed: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(seed))

    def synthesize(self, latent: torch.Tensor, features: bool = False):
        n = len(latent)
        own, shared = latent[:, :4], latent[:, 4:]
        top = shared @ self.top.T
        bottom = own @ self.bottom_own.T + torch.sin(shared) @ self.bottom_shared.T
        h = torch.cat([top.reshape(n, 3, 8, 16), bottom.reshape(n, 3, 8, 16)], dim=2)
        h = h + self.bias.reshape(1, 3, 16, 16)
        images = torch.tanh(h)
        return (images, [h[:, :, ::4, ::4]]) if features else images


class NumpyGenerator(SplitGenerator):
    """The same pixels computed through numpy: torch cannot differentiate it."""

    def synthesize(self, latent: torch.Tensor, features: bool = False):
        images = super().synthesize(latent)
        return torch.from_numpy(np.ascontiguousarray(images.numpy()))


@pytest.fixture(scope="module")
def gen() -> SplitGenerator:
    return SplitGenerator()


@pytest.fixture(scope="module")
def features():
    return build_features(["box:0,0,1,0.5"], ["rest"], FeatureContext(16))


def _latent(gen) -> torch.Tensor:
    return gen.sample_latent(1, 3)


# --------------------------------------------------------------------------------------- the eigenproblem


def _spd(rng: np.random.Generator, m: int, rank: int | None = None, floor: float = 0.0) -> np.ndarray:
    x = rng.standard_normal((m, rank or m))
    return x @ x.T + floor * np.eye(m)


@pytest.mark.parametrize(("m", "seed"), [(2, 0), (5, 1), (8, 2), (16, 3), (40, 4)])
def test_rayleigh_directions_match_scipy_generalized_eigh(m, seed):
    rng = np.random.default_rng(seed)
    rank = max(1, m // 2)
    a = _spd(rng, m, rank=rank)  # PSD, rank-deficient like a sum of few Jacobians
    b = _spd(rng, m, floor=0.1)
    k = min(3, rank)  # distinct nonzero eigenvalues: their eigenvectors are unique up to scale
    values, vectors = directions.rayleigh_directions(a, b, k)
    ref_values, ref_vectors = scipy.linalg.eigh(a, b)
    ref_values, ref_vectors = ref_values[::-1][:k], ref_vectors[:, ::-1][:, :k]
    np.testing.assert_allclose(values, ref_values, rtol=1e-8, atol=1e-10)
    assert vectors.shape == (m, k)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=0), 1.0, rtol=1e-12)
    for i in range(k):
        ref = ref_vectors[:, i] / np.linalg.norm(ref_vectors[:, i])
        assert abs(float(vectors[:, i] @ ref)) == pytest.approx(1.0, abs=1e-8)  # same up to sign and scale
        assert directions.quotient(a, b, vectors[:, i]) == pytest.approx(values[i], rel=1e-8)
    # The top vector's quotient is the maximum: no random direction beats it.
    probes = rng.standard_normal((m, 200))
    assert max(directions.quotient(a, b, probes[:, j]) for j in range(200)) <= values[0] * (1 + 1e-9)


def test_rayleigh_directions_symmetrizes_its_inputs():
    rng = np.random.default_rng(5)
    a, b = _spd(rng, 6), _spd(rng, 6, floor=1.0)
    skew = rng.standard_normal((6, 6)) * 1e-9
    v1, _ = directions.rayleigh_directions(a, b, 2)
    v2, _ = directions.rayleigh_directions(a + skew - skew.T, b, 2)
    np.testing.assert_allclose(v1, v2, atol=1e-6)


def test_normalized_sum_weighs_features_of_any_scale_the_same():
    rng = np.random.default_rng(0)
    g1, g2 = _spd(rng, 4, rank=2), _spd(rng, 4, rank=2)
    base = directions.normalized_sum([g1, g2])
    np.testing.assert_allclose(directions.normalized_sum([1e6 * g1, 1e-4 * g2]), base, rtol=1e-10)
    assert np.trace(directions.normalized_sum([g1])) == pytest.approx(4.0)  # each feature contributes trace m
    np.testing.assert_allclose(
        directions.normalized_sum([g1, np.zeros((4, 4))]), directions.normalized_sum([g1])
    )  # zero adds nothing


def test_regularized_keeps_b_positive_definite_even_when_zero():
    zero = directions.regularized(np.zeros((5, 5)), 1e-3)
    assert np.all(np.linalg.eigvalsh(zero) > 0)
    np.linalg.cholesky(zero)  # does not raise
    rng = np.random.default_rng(1)
    singular = _spd(rng, 5, rank=1)
    reg = directions.regularized(singular, 1e-3)
    assert np.linalg.eigvalsh(reg).min() == pytest.approx(1e-3 * np.trace(singular) / 5, rel=1e-6)
    values, vectors = directions.rayleigh_directions(np.eye(5), zero, 1)  # B = 0 still gives a direction
    assert np.isfinite(values).all() and np.linalg.norm(vectors) == pytest.approx(1.0)


def test_gram_is_jt_j_and_random_direction_is_seeded_unit():
    t = torch.randn(3, 2, 5)
    flat = t.reshape(3, -1).double().numpy()
    np.testing.assert_allclose(directions.gram(t), flat @ flat.T, rtol=1e-6)
    v = directions.random_direction(7, 11)
    assert np.linalg.norm(v) == pytest.approx(1.0)
    np.testing.assert_array_equal(v, directions.random_direction(7, 11))
    assert not np.allclose(v, directions.random_direction(7, 12))


# ------------------------------------------------------------------------------------------- the Jacobians


def test_forward_tangents_match_finite_differences_and_reverse_mode(gen):
    latent = _latent(gen)
    dirs = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    image, tangents, mode = image_tangents(gen.synthesize, latent, dirs, "auto")
    assert mode == "forward"
    assert image.shape == (1, 3, 16, 16) and tangents.shape == (5, 3, 16, 16)
    torch.testing.assert_close(image, gen.synthesize(latent))
    _, finite, fmode = image_tangents(gen.synthesize, latent, dirs, "finite")
    assert fmode == "finite"
    torch.testing.assert_close(finite, tangents, atol=2e-3, rtol=1e-2)
    jac = image_jacobian_reverse(gen.synthesize, latent, chunk=400)  # (3*S*S, D)
    assert jac.shape == (3 * 16 * 16, 8)
    torch.testing.assert_close(tangents.reshape(5, -1), (jac @ dirs.T).T, atol=1e-5, rtol=1e-4)
    # The structure the key test relies on: z[0:4] does not touch the top half.
    assert torch.count_nonzero(jac.reshape(3, 16, 16, 8)[:, :8, :, :4]) == 0


def test_tangents_fall_back_to_finite_differences_for_a_numpy_generator(gen):
    numpy_gen = NumpyGenerator()
    latent = _latent(gen)
    dirs = torch.eye(8)[:3]
    image, tangents, mode = image_tangents(numpy_gen.synthesize, latent, dirs, "auto")
    assert mode == "finite"
    _, reference, _ = image_tangents(gen.synthesize, latent, dirs, "forward")
    torch.testing.assert_close(tangents, reference, atol=2e-3, rtol=1e-2)
    torch.testing.assert_close(image, gen.synthesize(latent))
    with pytest.raises(RuntimeError):
        image_tangents(numpy_gen.synthesize, latent, dirs, "forward")
    with pytest.raises(ValueError, match="unknown Jacobian mode"):
        image_tangents(gen.synthesize, latent, dirs, "backward")


# -------------------------------------------------------------------------------------------- the traversal


def test_reds_holds_the_fixed_region_where_a_random_direction_does_not(gen, features):
    fixed, vary = features
    latent = _latent(gen)
    steps, size = 4, 0.5
    reds = list(traverse(gen, latent, fixed, vary, TraversalSettings(steps=steps, step_size=size)))
    rand = list(traverse(gen, latent, fixed, vary, TraversalSettings("random", steps=steps, step_size=size)))
    assert [p.index for p in reds] == list(range(steps + 1)) == [p.index for p in rand]
    reds_fixed, reds_varied = reds[-1].fixed_total, reds[-1].varied_total
    rand_fixed = rand[-1].fixed_total
    assert reds_varied > 0.02  # it does move the image
    assert reds_fixed < 1e-3 and reds_fixed < 0.05 * reds_varied
    assert rand_fixed > 10 * reds_fixed and rand_fixed > 0.01
    # REDS found the subspace that moves only the bottom half.
    for p in reds[1:]:
        assert np.linalg.norm(p.direction[4:]) < 1e-3
        assert p.quotient is not None and p.quotient > 100
    # The plain eigendirection path (no corrector, no progress term) holds the region too.
    plain = TraversalSettings(steps=steps, step_size=size, correct=False, progress_weight=0.0)
    last = list(traverse(gen, latent, fixed, vary, plain))[-1]
    assert last.fixed_total < 1e-3 and last.varied_total > 0.02


@pytest.mark.parametrize("method", ["linear", "sefa", "pca"])
def test_baselines_walk_straight_lines_of_the_step_length(gen, features, method):
    fixed, vary = features
    latent = _latent(gen)
    points = list(traverse(gen, latent, fixed, vary, TraversalSettings(method, steps=3, step_size=0.5)))
    assert [p.index for p in points] == [0, 1, 2, 3]
    assert points[0].fixed_change == {"box:0,0,1,0.5": 0.0} and points[0].varied_change == {"rest": 0.0}
    steps = [(b.latent - a.latent)[0].numpy() for a, b in itertools.pairwise(points)]
    for s in steps:
        assert np.linalg.norm(s) == pytest.approx(0.5, rel=1e-5)
        np.testing.assert_allclose(s, steps[0], atol=1e-6)  # one constant direction
    for p in points:
        assert p.image.shape == (16, 16, 3) and p.image.dtype == np.uint8
        assert all(math.isfinite(v) for v in (*p.fixed_change.values(), *p.varied_change.values()))
    if method == "linear":  # the first REDS direction, held: also leaves the top nearly alone
        assert points[-1].fixed_total < 0.05 * points[-1].varied_total


def test_pca_cache_never_serves_a_freed_generators_directions():
    latent = SplitGenerator().sample_latent(1, 3)
    for seed in range(4):
        # Each generator is freed after its turn, and CPython usually gives the next one the same id().
        gen = SplitGenerator(seed)
        expected = directions._pca_directions(gen, latent, 8, 4, 64, 0)  # uncached
        np.testing.assert_allclose(directions.pca_directions(gen, latent, 8, 4, n=64), expected, atol=1e-12)
        cached = directions.pca_directions(gen, latent, 8, 4, n=64)
        np.testing.assert_allclose(cached, expected, atol=1e-12)
        cached[:] = 0  # callers get a copy
        np.testing.assert_allclose(directions.pca_directions(gen, latent, 8, 4, n=64), expected, atol=1e-12)
        del gen


def test_movable_dims_honours_traversal_dims(gen, features):
    class Partial(SplitGenerator):
        traversal_dims = 4

    assert movable_dims(gen) == 8 and movable_dims(Partial()) == 4
    fixed, vary = features
    latent = _latent(gen)
    points = list(traverse(Partial(), latent, fixed, vary, TraversalSettings("random", steps=2)))
    np.testing.assert_array_equal(points[-1].latent[0, 4:], latent[0, 4:])  # the rest never moves
    assert points[-1].direction.shape == (4,)


def test_consecutive_reds_directions_keep_their_sign(gen, features):
    fixed, vary = features
    latent = _latent(gen)
    points = list(traverse(gen, latent, fixed, vary, TraversalSettings(steps=5, step_size=0.5)))
    dirs = [p.direction for p in points[1:]]
    assert all(float(a @ b) > 0 for a, b in itertools.pairwise(dirs))
    for d in dirs:
        assert np.linalg.norm(d) == pytest.approx(1.0)


def test_sign_minus_one_mirrors_the_first_step(gen, features):
    fixed, vary = features
    latent = _latent(gen)
    plus = list(traverse(gen, latent, fixed, vary, TraversalSettings(steps=1, step_size=0.5)))
    minus = list(traverse(gen, latent, fixed, vary, TraversalSettings(steps=1, step_size=0.5, sign=-1)))
    np.testing.assert_allclose(minus[1].direction, -plus[1].direction, atol=1e-12)
    torch.testing.assert_close(minus[1].latent - latent, -(plus[1].latent - latent))


def test_traverse_path_both_ways_has_the_start_once(gen, features):
    fixed, vary = features
    latent = _latent(gen)
    n = 2
    seen = []
    points = traverse_path(
        gen,
        latent,
        fixed,
        vary,
        TraversalSettings(steps=n, step_size=0.5),
        both=True,
        progress=lambda f, _m: seen.append(f),
    )
    assert [p.index for p in points] == list(range(-n, n + 1))
    torch.testing.assert_close(points[n].latent, latent)
    assert points[n].fixed_change == {"box:0,0,1,0.5": 0.0}
    np.testing.assert_allclose(points[n - 1].direction, -points[n + 1].direction, atol=1e-12)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert [p.index for p in traverse_path(gen, latent, fixed, vary, TraversalSettings(steps=n))] == [0, 1, 2]


def test_cancel_from_progress_stops_within_one_waypoint(gen, features):
    fixed, vary = features
    token = CancelToken()
    got = []

    def progress(fraction: float, message: str) -> None:
        if message.startswith("waypoint 2/"):
            token.cancel()

    with pytest.raises(Cancelled):
        for p in traverse(
            gen, _latent(gen), fixed, vary, TraversalSettings(steps=6), cancel=token, progress=progress
        ):
            got.append(p.index)
    assert got == [0, 1, 2]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"step_size": 0.0}, "step size must be a positive"),
        ({"step_size": -1.0}, "step size must be a positive"),
        ({"step_size": float("nan")}, "step size must be a positive"),
        ({"step_size": float("inf")}, "step size must be a positive"),
        ({"step_size": 50.0}, "at most 10"),
        ({"steps": 1000}, f"at most {MAX_STEPS}"),
        ({"steps": 0}, "at least 1"),
        ({"method": "diagonal"}, "unknown method 'diagonal'"),
        ({"sign": 0}, "sign must be"),
        ({"direction": 10}, "direction index"),
        ({"regularization": 0.0}, "regularization"),
        ({"jacobian": "backward"}, "unknown Jacobian mode"),
    ],
)
def test_bad_settings_are_one_sentence(gen, features, settings, message):
    with pytest.raises(TraversalError, match=message):
        TraversalSettings(**settings).check()
    fixed, vary = features
    with pytest.raises(TraversalError, match=message):
        next(traverse(gen, _latent(gen), fixed, vary, TraversalSettings(**settings)))


def test_traverse_needs_both_sides(gen, features):
    fixed, vary = features
    with pytest.raises(TraversalError, match="at least one fixed and one varied"):
        next(traverse(gen, _latent(gen), [], vary))
    with pytest.raises(TraversalError, match="at least one fixed and one varied"):
        next(traverse(gen, _latent(gen), fixed, []))
