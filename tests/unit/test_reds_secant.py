"""REDS's fast waypoint: the batched tangents, the step derivative, and the secant-carried Jacobians.

Uses the separable tiny generator of test_reds_math (z[0:4] moves only the bottom half). The fast path must keep
the secant condition exactly, stay close to the exact Jacobian over small steps, refresh when it is told to, and
walk a path that holds the fixed region as the exact path does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from gan_studio.methods.features import FeatureContext, build_features
from gan_studio.methods.jacobian import image_tangents, shared_tangents, step_tangent
from gan_studio.methods.reds import TraversalSettings, traverse
from gan_studio.methods.secant import SecantJacobians, feature_jacobians
from tests.unit.test_reds_math import NumpyGenerator, SplitGenerator

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def gen() -> SplitGenerator:
    return SplitGenerator()


@pytest.fixture(scope="module")
def features():
    return build_features(["box:0,0,1,0.5"], ["rest"], FeatureContext(16))


def _exact(gen, latent, features):
    """The exact (m, D) Jacobians of the fixed and varied features at ``latent``."""
    fixed, vary = features
    image, tangents, _ = image_tangents(gen.synthesize, latent, torch.eye(8), "forward")
    return feature_jacobians(fixed, image, tangents), feature_jacobians(vary, image, tangents)


@pytest.mark.parametrize("chunk", [None, 3])
def test_shared_tangents_equal_the_per_tangent_forward_mode(gen, chunk):
    latent = gen.sample_latent(1, 4)
    dirs = torch.randn(7, 8, generator=torch.Generator().manual_seed(2))
    image, tangents, mode = shared_tangents(gen.synthesize, latent, dirs, chunk=chunk)
    ref_image, ref, _ = image_tangents(gen.synthesize, latent, dirs, "forward")
    assert mode == "forward" and tangents.shape == (7, 3, 16, 16) and image.shape == (1, 3, 16, 16)
    torch.testing.assert_close(image, ref_image)
    torch.testing.assert_close(tangents, ref, atol=1e-6, rtol=1e-5)
    _, one, _ = shared_tangents(gen.synthesize, latent, dirs[:1])
    torch.testing.assert_close(one, ref[:1], atol=1e-6, rtol=1e-5)


def test_shared_tangents_fall_back_for_a_generator_torch_cannot_differentiate(gen):
    latent = gen.sample_latent(1, 4)
    _, tangents, mode = shared_tangents(NumpyGenerator().synthesize, latent, torch.eye(8)[:3])
    assert mode == "finite"
    _, ref, _ = image_tangents(gen.synthesize, latent, torch.eye(8)[:3], "forward")
    torch.testing.assert_close(tangents, ref, atol=2e-3, rtol=1e-2)


def test_step_tangent_is_the_directional_derivative(gen):
    latent = gen.sample_latent(1, 5)
    unit = torch.randn(1, 8, generator=torch.Generator().manual_seed(3))
    unit = unit / unit.norm()
    image, tangent = step_tangent(gen.synthesize, latent, unit)
    _, ref, _ = image_tangents(gen.synthesize, latent, unit, "forward")
    torch.testing.assert_close(image, gen.synthesize(latent))
    torch.testing.assert_close(tangent, ref, atol=2e-3, rtol=1e-2)


def test_a_secant_update_is_exact_along_the_step_and_close_to_the_new_jacobian(gen, features):
    fixed, vary = features
    latent = gen.sample_latent(1, 6)
    tracker = SecantJacobians(gen, fixed, vary, 8, refresh_every=100, refresh_error=1e9)
    tracker.refresh(latent)
    before_fixed, before_vary = (
        [j.clone() for j in tracker.fixed_jvps],
        [j.clone() for j in tracker.vary_jvps],
    )
    move = 0.05 * np.random.default_rng(0).standard_normal(8)
    new = latent.clone()
    new[0] += torch.from_numpy(move).to(new)
    image = tracker.advance(new, move)
    assert tracker.updates == 1 and tracker.refreshes == 1 and tracker.last_error is not None
    torch.testing.assert_close(image, gen.synthesize(new))
    # The secant condition: the carried Jacobian reproduces the measured derivative along the step.
    s = torch.from_numpy(move / np.linalg.norm(move))
    unit = torch.zeros(1, 8)
    unit[0] = s.to(torch.float32)
    _, tangent = step_tangent(gen.synthesize, new, unit)
    for f, jvps in ((fixed, tracker.fixed_jvps), (vary, tracker.vary_jvps)):
        for feature, j in zip(f, jvps, strict=True):
            y = feature.jvp(image, tangent)[0].reshape(-1).to(torch.float64)
            torch.testing.assert_close(s @ j, y, atol=1e-9, rtol=1e-9)
    # Closer to the exact Jacobian at the new latent than the old one was, in the step's direction.
    exact_fixed, exact_vary = _exact(gen, new, features)
    for carried, old, exact in zip(
        (*tracker.fixed_jvps, *tracker.vary_jvps),
        (*before_fixed, *before_vary),
        (*exact_fixed, *exact_vary),
        strict=True,
    ):
        assert float((s @ (carried - exact)).norm()) <= float((s @ (old - exact)).norm()) + 1e-6
        assert float((carried - exact).norm()) < 0.05 * float(exact.norm()) + 1e-6


def test_the_tracker_refreshes_every_n_waypoints_and_when_an_update_corrects_too_much(gen, features):
    fixed, vary = features
    latent = gen.sample_latent(1, 7)
    move = np.full(8, 0.02)
    tracker = SecantJacobians(gen, fixed, vary, 8, refresh_every=3, refresh_error=1e9)
    tracker.refresh(latent)
    for _ in range(6):
        latent = latent.clone()
        latent[0] += torch.from_numpy(move).to(latent)
        tracker.advance(latent, move)
    assert (tracker.refreshes, tracker.updates) == (3, 4)  # the start, then every third waypoint
    strict = SecantJacobians(gen, fixed, vary, 8, refresh_every=100, refresh_error=0.0)
    strict.refresh(latent)
    latent = latent.clone()
    latent[0] += torch.from_numpy(move).to(latent)
    strict.advance(latent, move)
    assert strict.updates == 1 and strict.refreshes == 2  # any correction at all is "too much"
    zero = SecantJacobians(gen, fixed, vary, 8, refresh_every=100, refresh_error=1e9)
    zero.refresh(latent)
    zero.advance(latent, np.zeros(8))
    assert zero.refreshes == 2 and zero.updates == 0  # no step, no secant: recomputed


def test_the_fast_path_holds_the_fixed_region_like_the_exact_path(gen, features):
    fixed, vary = features
    latent = gen.sample_latent(1, 3)
    settings = TraversalSettings(steps=6, step_size=0.5)
    fast = list(traverse(gen, latent, fixed, vary, settings))
    exact = list(traverse(gen, latent, fixed, vary, replace(settings, exact=True)))
    assert not settings.exact and [p.index for p in fast] == list(range(7))
    for path in (fast, exact):
        assert path[-1].varied_total > 0.02
        assert path[-1].fixed_total < 0.05 * path[-1].varied_total
    # Same varied change to within a few percent, and the fast drift within a small multiple of the exact one.
    assert fast[-1].varied_total == pytest.approx(exact[-1].varied_total, rel=0.1)
    assert fast[-1].fixed_total <= 3 * exact[-1].fixed_total + 1e-4
    for p in fast[1:]:
        assert np.linalg.norm(p.direction[4:]) < 1e-2
