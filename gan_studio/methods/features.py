"""Feature functions a traversal holds fixed or varies, and the ``--fix`` / ``--vary`` spec language.

A feature maps images (B, 3, S, S) in [-1, 1] to vectors (B, D), scaled so that the Euclidean distance between two
vectors is the feature's change in its own unit:

- ``box:x0,y0,x1,y1`` / ``mask:PATH`` / ``lasso`` / ``rest`` - the pixels of a region; change = RMS over the
  region's pixels and channels, in [0, 1] intensity units. ``rest`` is the complement of the other side's regions.
- ``low:SIGMA`` / ``high:SIGMA`` - the image blurred by a Gaussian of SIGMA pixels, and the image minus that; RMS.
- ``attr:NAME`` - the attribute classifier's class probabilities for one head (type, gender, color, length, fit);
  change = L2 distance of the probability vectors.
- ``color:REGION`` - the mean CIE LAB color inside REGION (any region spec above, ``garment`` - the non-background
  pixels of the starting image - or ``all``); change = CIE76 delta E.

Pixel and band features are linear in the image, so their Jacobian-vector products are the feature applied to the
image tangents; the others push the tangents through themselves with forward-mode AD.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import jvp, vmap

from gan_studio.methods.regions import RegionError, box_mask, check_region, garment_mask, load_mask, parse_box

KINDS = ("box", "mask", "lasso", "rest", "low", "high", "attr", "color")
SPEC_HELP = (
    "box:x0,y0,x1,y1 (fractions), mask:PATH, lasso, rest, low:SIGMA, high:SIGMA, attr:NAME, "
    "color:REGION (REGION = box:..., mask:PATH, lasso, rest, garment or all)"
)
MAX_SIGMA = 64.0


class FeatureError(ValueError):
    """A ``--fix`` / ``--vary`` spec that cannot be used, with one sentence saying why."""


@dataclass
class Feature:
    """One feature function; ``fn`` maps (B, 3, S, S) in [-1, 1] -> (B, D); ``linear`` if fn is linear."""

    name: str
    kind: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    linear: bool
    unit: str
    region: np.ndarray | None = field(default=None, repr=False)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.fn(images)

    def jvp(self, image: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
        """Jacobian-vector products at ``image`` (1, 3, S, S) along image ``tangents`` (k, 3, S, S) -> (k, D)."""
        if self.linear:
            return self.fn(tangents)
        primal = image.expand(len(tangents), -1, -1, -1).contiguous()
        return jvp(self.fn, (primal,), (tangents,))[1]

    def jvp_shared(self, image: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
        """:meth:`jvp` with the feature of ``image`` computed once (vmap over the tangents only); the same numbers
        to float rounding, about half the work of a non-linear feature (the fast traversal's path)."""
        if self.linear or len(tangents) == 1:
            return self.jvp(image, tangents)

        def one(t: torch.Tensor) -> torch.Tensor:
            return jvp(self.fn, (image,), (t[None],))[1][0]

        try:
            return vmap(one)(tangents)
        except (RuntimeError, NotImplementedError, TypeError, ValueError):
            return self.jvp(image, tangents)

    @staticmethod
    def change(start: torch.Tensor, now: torch.Tensor) -> torch.Tensor:
        """Distance between feature vectors (…, D) -> (…)."""
        return (now - start).norm(dim=-1)


# ----------------------------------------------------------------------------------------------- the functions


def _region_pixels(mask: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
    index = torch.from_numpy(np.flatnonzero(mask.reshape(-1)))
    scale = 0.5 / math.sqrt(3 * len(index))  # [-1, 1] -> [0, 1] units, and RMS over the region

    def fn(images: torch.Tensor) -> torch.Tensor:
        flat = images.reshape(len(images), 3, -1)
        return (flat.index_select(2, index.to(images.device)) * scale).reshape(len(images), -1)

    return fn


def gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflect padding; the kernel is cut to fit the image."""
    k = gaussian_kernel(sigma).to(images)
    size = min(images.shape[-2:])
    radius = min((len(k) - 1) // 2, size - 1)
    centre = (len(k) - 1) // 2
    k = k[centre - radius : centre + radius + 1]
    k = k / k.sum()
    c = images.shape[1]
    x = F.pad(images, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _band(sigma: float, high: bool, size: int) -> Callable[[torch.Tensor], torch.Tensor]:
    scale = 0.5 / math.sqrt(3 * size * size)

    def fn(images: torch.Tensor) -> torch.Tensor:
        low = gaussian_blur(images, sigma)
        band = images - low if high else low
        return band.reshape(len(images), -1) * scale

    return fn


_SRGB_TO_XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])


def rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, ...) sRGB in [-1, 1] -> (B, 3, ...) CIE LAB (D65), differentiable."""
    rgb = ((images + 1) * 0.5).clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).clamp_min(1e-8) ** 2.4)
    xyz = torch.einsum("ij,bj...->bi...", _SRGB_TO_XYZ.to(images), linear)
    t = xyz / _WHITE.to(images).view(1, 3, *([1] * (images.ndim - 2)))
    delta = 6 / 29
    f = torch.where(t > delta**3, t.clamp_min(1e-8) ** (1 / 3), t / (3 * delta**2) + 4 / 29)
    fx, fy, fz = f[:, 0], f[:, 1], f[:, 2]
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def _mean_color(mask: np.ndarray) -> Callable[[torch.Tensor], torch.Tensor]:
    index = torch.from_numpy(np.flatnonzero(mask.reshape(-1)))

    def fn(images: torch.Tensor) -> torch.Tensor:
        flat = images.reshape(len(images), 3, -1).index_select(2, index.to(images.device))
        return rgb_to_lab(flat).mean(dim=2)

    return fn


def _attribute(classifier: torch.nn.Module, head: str) -> Callable[[torch.Tensor], torch.Tensor]:
    names = tuple(classifier.head_names)
    if head not in names:
        raise FeatureError(
            f"attr:{head} is not an attribute the classifier knows; use one of {', '.join(names)}"
        )
    size = classifier.config.in_size

    def fn(images: torch.Tensor) -> torch.Tensor:
        if images.shape[-1] != size:
            # Plain bilinear (antialiasing does nothing when upsampling, and has no forward-mode derivative).
            mode = "bilinear" if images.shape[-1] < size else "area"
            kwargs = {"align_corners": False} if mode == "bilinear" else {}
            images = F.interpolate(images, size=(size, size), mode=mode, **kwargs)
        return torch.softmax(classifier(images)[head], dim=-1)

    return fn


# -------------------------------------------------------------------------------------------------- the specs


@dataclass
class FeatureContext:
    """What specs refer to: the image size, the GUI's lasso mask, the starting image, the classifier."""

    size: int
    lasso: np.ndarray | None = None
    start_image: np.ndarray | None = None  # (S, S, 3) uint8, for color:garment
    classifier_loader: Callable[[], torch.nn.Module] | None = None
    _classifier: torch.nn.Module | None = None

    def classifier(self) -> torch.nn.Module:
        if self._classifier is None:
            if self.classifier_loader is None:
                from gan_studio.models.classifier import load_classifier

                self._classifier = load_classifier()
            else:
                self._classifier = self.classifier_loader()
            self._classifier.eval()
            for p in self._classifier.parameters():
                p.requires_grad_(False)
        return self._classifier


def _split(spec: str) -> tuple[str, str]:
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise FeatureError(f"unknown feature {spec!r}; use {SPEC_HELP}")
    return kind, arg.strip()


def region_of(spec: str, ctx: FeatureContext, other_regions: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The boolean region a region spec names (box, mask, lasso, rest, garment, all)."""
    spec = spec.strip()
    if spec.lower() == "garment":
        if ctx.start_image is None:
            raise FeatureError("color:garment needs the starting image")
        return check_region(garment_mask(ctx.start_image), "the garment region")
    if spec.lower() == "all":
        return np.ones((ctx.size, ctx.size), dtype=bool)
    kind, arg = _split(spec)
    try:
        if kind == "box":
            return check_region(box_mask(parse_box(arg), ctx.size), f"the box {arg}")
        if kind == "mask":
            if not arg:
                raise FeatureError("mask: needs a file, as in mask:waistband.png")
            return check_region(load_mask(arg, ctx.size), f"the mask {arg}")
        if kind == "lasso":
            if ctx.lasso is None:
                raise FeatureError("no lasso is drawn; draw a region around the part to hold fixed")
            return check_region(np.asarray(ctx.lasso, dtype=bool), "the lasso")
        if kind == "rest":
            if not other_regions:
                raise FeatureError(
                    "'rest' means the image outside the other side's regions, but there are none"
                )
            union = np.logical_or.reduce([np.asarray(r, dtype=bool) for r in other_regions])
            return check_region(~union, "the rest of the image")
    except RegionError as exc:
        raise FeatureError(str(exc)) from None
    raise FeatureError(f"{spec!r} is not a region; use box:..., mask:PATH, lasso, rest, garment or all")


def _sigma(arg: str, spec: str) -> float:
    try:
        sigma = float(arg)
    except ValueError:
        raise FeatureError(f"{spec!r} needs a width in pixels, as in low:4") from None
    if not (0 < sigma <= MAX_SIGMA):
        raise FeatureError(f"{spec!r}: the width must be above 0 and at most {MAX_SIGMA:g} pixels")
    return sigma


def parse_feature(spec: str, ctx: FeatureContext, other_regions: Sequence[np.ndarray] = ()) -> Feature:
    """One spec -> a :class:`Feature`; ``other_regions`` are the other side's regions (for ``rest``)."""
    kind, arg = _split(spec)
    name = spec.strip()
    if kind in ("box", "mask", "lasso", "rest"):
        region = region_of(name, ctx, other_regions)
        return Feature(name, "pixels", _region_pixels(region), True, "RMS", region)
    if kind in ("low", "high"):
        return Feature(name, kind, _band(_sigma(arg, name), kind == "high", ctx.size), True, "RMS")
    if kind == "attr":
        if not arg:
            raise FeatureError("attr: needs an attribute, as in attr:length")
        return Feature(name, "attribute", _attribute(ctx.classifier(), arg.lower()), False, "probability")
    if not arg:
        raise FeatureError("color: needs a region, as in color:garment or color:box:0.3,0.4,0.7,0.9")
    region = region_of(arg, ctx, other_regions)
    return Feature(name, "color", _mean_color(region), False, "delta E", region)


def _regions(specs: Sequence[str], ctx: FeatureContext) -> list[np.ndarray]:
    """The pixel regions a list of specs names directly (rest excluded), for the other side's ``rest``."""
    out = []
    for spec in specs:
        kind, _ = _split(spec)
        if kind in ("box", "mask", "lasso"):
            out.append(region_of(spec, ctx))
    return out


def build_features(
    fixed: Sequence[str], vary: Sequence[str], ctx: FeatureContext
) -> tuple[list[Feature], list[Feature]]:
    """Parse both sides; ``rest`` on one side is the complement of the union of the other side's regions."""
    fixed = [s for s in fixed if s.strip()]
    vary = [s for s in vary if s.strip()]
    if not fixed:
        raise FeatureError("nothing to hold fixed: give at least one --fix feature")
    if not vary:
        raise FeatureError("nothing to vary: give at least one --vary feature")
    for a in fixed:
        if a.strip() == "rest" and any(b.strip() == "rest" for b in vary):
            raise FeatureError("'rest' cannot be on both sides")
    fixed_regions = _regions(fixed, ctx)
    vary_regions = _regions(vary, ctx)
    fixed_features = [parse_feature(s, ctx, vary_regions) for s in fixed]
    vary_features = [parse_feature(s, ctx, fixed_regions) for s in vary]
    return fixed_features, vary_features
