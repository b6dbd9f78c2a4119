"""Garment geometry: the silhouette of a pair of trousers as per-row edges, from its attributes.

Coordinates are normalized: x is the offset from the image's vertical center line (image width = 1), y runs down
from the top of the image (image height = 1). The silhouette is described row by row, which makes rasterization a
handful of numpy broadcasts: above the crotch one torso band ``|x| < torso_half(y)``; below it two legs, each with a
center line ``c(y)`` and a half width ``w(y)`` (the left leg mirrored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gan_studio.data.attributes import Attributes

# Leg half widths (thigh, knee, full-length hem) per fit, in image widths.
_FIT_WIDTHS = {
    "skinny": (0.088, 0.056, 0.042),
    "slim": (0.096, 0.072, 0.062),
    "straight": (0.102, 0.090, 0.088),
    "wide": (0.106, 0.125, 0.148),
    "bootcut": (0.094, 0.066, 0.112),
}
# Distance from the top of the waistband to the hem, in image heights.
_LENGTH_SPAN = {"full": 0.86, "ankle": 0.76, "capri": 0.63, "knee": 0.53, "short": 0.36}
# (waist half width, hip half width, rise) per gender: the cut differs in waist-to-hip ratio and rise.
_GENDER_CUT = {
    "men's": (0.190, 0.196, 0.245),
    "women's": (0.142, 0.204, 0.225),
    "unisex": (0.168, 0.198, 0.236),
}
KNEE_DEPTH = 0.47  # knee line below the waist top, in image heights


@dataclass(frozen=True)
class Garment:
    """The resolved silhouette of one item (normalized units, see module docstring)."""

    top: float  # y of the waistband's upper edge
    waistband: float  # waistband height
    waist: float  # half width at the top
    hip: float  # half width at the hip line
    hip_y: float
    crotch_y: float
    knee_y: float
    hem_y: float
    thigh_w: float
    knee_w: float
    hem_w: float  # half width at a full-length hem (evaluated at hem_y through the profile)
    flare: bool
    splay: float
    gathered: bool = False  # the leg narrows into an elastic cuff at the hem (joggers)  # how far each leg's center moves outwards from crotch to a full-length hem

    def torso_half(self, y: np.ndarray) -> np.ndarray:
        """Half width of the torso band at rows ``y`` (valid for top <= y <= crotch_y)."""
        t = np.clip((y - self.top) / max(self.hip_y - self.top, 1e-6), 0.0, 1.0)
        t = t * t * (3.0 - 2.0 * t)  # smooth waist-to-hip curve
        return self.waist + (self.hip - self.waist) * t

    def leg_edges(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(center, half width) of one leg at rows ``y`` (valid below the crotch).

        Near the crotch the outer seam stays on the hip line and the leg narrows from the inside (the crotch V);
        by the knee the leg follows its own center line, which moves outwards by ``splay`` down to the hem.
        """
        y = np.asarray(y, dtype=np.float64)
        w = self.leg_half(y)
        span = max(self.full_hem_y - self.crotch_y, 1e-6)
        free_center = self.hip * 0.5 + self.splay * np.clip((y - self.crotch_y) / span, 0.0, 1.0)
        t = np.clip((y - self.crotch_y) / max(self.knee_y - self.crotch_y, 1e-6), 0.0, 1.0)
        t = t * t * (3.0 - 2.0 * t)
        center = (1.0 - t) * (self.hip - w) + t * free_center
        gap = 0.03 * np.clip((y - self.crotch_y) / span, 0.0, 1.0) ** 0.7
        return np.maximum(center, w + gap), w

    @property
    def full_hem_y(self) -> float:
        return self.top + _LENGTH_SPAN["full"]

    def leg_half(self, y: np.ndarray) -> np.ndarray:
        """Half width of one leg at rows ``y`` (valid below the crotch)."""
        y = np.asarray(y, dtype=np.float64)
        w0 = self.hip * 0.5
        # crotch -> thigh: the seat narrows into the thigh just below the crotch
        thigh_y = self.crotch_y + 0.06
        t1 = np.clip((y - self.crotch_y) / 0.06, 0.0, 1.0)
        upper = w0 + (self.thigh_w - w0) * t1
        t2 = np.clip((y - thigh_y) / max(self.knee_y - thigh_y, 1e-6), 0.0, 1.0)
        mid = self.thigh_w + (self.knee_w - self.thigh_w) * t2
        t3 = np.clip((y - self.knee_y) / max(self.full_hem_y - self.knee_y, 1e-6), 0.0, 1.0)
        if self.flare:
            t3 = t3**1.6
        lower = self.knee_w + (self.hem_w - self.knee_w) * t3
        w = np.where(y < thigh_y, upper, np.where(y < self.knee_y, mid, lower))
        if self.gathered:
            t4 = np.clip((y - (self.hem_y - 0.075)) / 0.035, 0.0, 1.0)
            w = w * (1.0 - 0.3 * t4 * t4 * (3.0 - 2.0 * t4))
        return w


def build_garment(attrs: Attributes, rng: np.random.Generator) -> Garment:
    """Silhouette for ``attrs`` with small per-item jitter from ``rng`` (jitter never crosses a class)."""
    waist, hip, rise = _GENDER_CUT[attrs.gender]
    j = rng.uniform(-1.0, 1.0, size=8)
    waist += 0.005 * j[0]
    hip += 0.004 * j[1]
    rise += 0.008 * j[2]
    high_rise = "high-rise" in attrs.details
    if high_rise:
        rise += 0.03
    thigh_w, knee_w, hem_w = _FIT_WIDTHS[attrs.fit]
    thigh_w += 0.003 * j[3]
    knee_w += 0.003 * j[4]
    hem_w += 0.004 * j[5]
    if attrs.gender == "men's":
        thigh_w += 0.006
        knee_w += 0.004
        hem_w += 0.004
    if attrs.fit == "wide":
        hip += 0.008
    span = _LENGTH_SPAN[attrs.length] + 0.01 * j[6]
    if "petite" in attrs.details:
        span -= 0.008
    top = 0.5 - span / 2.0  # garments are centered vertically, at a common scale
    waistband = 0.06 if attrs.type == "leggings" else (0.05 if high_rise else 0.042)
    if attrs.type == "joggers":
        waistband = 0.05
    splay = {"wide": 0.03, "bootcut": 0.012}.get(attrs.fit, 0.008)
    return Garment(
        top=top,
        waistband=waistband,
        waist=waist,
        hip=hip,
        hip_y=top + rise * 0.55,
        crotch_y=top + rise,
        knee_y=top + KNEE_DEPTH,
        hem_y=top + span,
        thigh_w=thigh_w,
        knee_w=knee_w,
        hem_w=hem_w,
        flare=attrs.fit == "bootcut",
        splay=splay,
        gathered=attrs.type == "joggers",
    )
