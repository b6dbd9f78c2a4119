"""The built-in apparel catalog: procedural, standardized product photos of trousers with labels.

``render_item(seed, index, size)`` is deterministic per (seed, index): attributes, title, image, part mask,
keypoints and depth all come from one random stream seeded by both numbers. Rendering is a few dozen numpy
broadcasts over the image grid (no per-pixel Python), fast enough to render on the fly.

The look, in brief: a front view centered on a near-white background; each leg shaded as a cylinder lit from the
upper left (the same cylinder gives the depth map); denim twill, contrast stitching, rivets and a thigh fade on
jeans; a pressed crease and welt pockets on trousers; ribbed waistband, drawstring and ribbed cuffs on joggers;
flap pockets on cargo pants; a wide waistband and sheen on leggings.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from gan_studio.data.attributes import (
    COLOR_LAB,
    FLARE_LENGTHS,
    GENDERS,
    KEYPOINTS,
    PART_NAMES,
    TYPE_DETAILS,
    TYPE_FITS,
    TYPE_LENGTHS,
    TYPES,
    Attributes,
)
from gan_studio.data.color import lab_to_rgb
from gan_studio.data.garment import Garment, build_garment
from gan_studio.data.item import CatalogItem
from gan_studio.data.titles import write_title

BACKGROUND = np.array([0.965, 0.962, 0.955])
CAMERA_DISTANCE_M = 2.0  # depth of the garment's silhouette plane
GARMENT_SCALE_M = 1.1  # meters per image width
_PART = {name: i for i, name in enumerate(PART_NAMES)}
_COLOR_WORDS = tuple(COLOR_LAB)
_HAS_FLY = {"pants", "jeans", "shorts", "cargo"}
_HAS_POCKETS = {"pants", "jeans", "shorts", "cargo"}
_HAS_LOOPS = {"pants", "jeans", "shorts", "cargo"}


def item_id(seed: int, index: int) -> str:
    """File-safe id of item ``index`` of catalog ``seed``."""
    return f"s{seed}_{index:06d}"


def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index) & 0xFFFFFFFF, 0x6A57])


def sample_attributes(rng: np.random.Generator) -> Attributes:
    """Draw a garment's attributes; only combinations a person can tell apart in a photo."""
    gtype = TYPES[int(rng.integers(len(TYPES)))]
    gender = GENDERS[int(rng.integers(len(GENDERS)))]
    if gtype == "leggings" and gender == "men's" and rng.random() < 0.7:
        gender = "women's"
    lengths = TYPE_LENGTHS[gtype]
    length = lengths[int(rng.integers(len(lengths)))]
    fits = TYPE_FITS[gtype]
    if length not in FLARE_LENGTHS:
        fits = tuple(f for f in fits if f != "bootcut")
    fit = fits[int(rng.integers(len(fits)))]
    color = _COLOR_WORDS[int(rng.integers(len(_COLOR_WORDS)))]
    options = TYPE_DETAILS[gtype]
    details = tuple(d for d in options if rng.random() < 0.18)
    if gtype == "joggers" and "drawstring" not in details and rng.random() < 0.5:
        details = details + ("drawstring",)
    if "petite" in details and gender == "men's":
        details = tuple(d for d in details if d != "petite")
    return Attributes(gtype, gender, color, length, fit, details)


def attributes_of(seed: int, index: int) -> Attributes:
    """The attributes of an item without rendering it (cheap: used for filtering and label lists)."""
    return sample_attributes(_rng(seed, index))


def title_of(seed: int, index: int) -> str:
    """The title of an item without rendering it (the same rng draws as :func:`render_item`)."""
    rng = _rng(seed, index)
    attrs = sample_attributes(rng)
    return write_title(attrs, np.random.default_rng(rng.integers(1 << 62)))


def iter_items(seed: int, start: int, n: int, size: int = 128) -> Iterator[CatalogItem]:
    for index in range(start, start + n):
        yield render_item(seed, index, size)


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    return coords - 0.5, coords  # x offsets (row vector), y (column values)


@lru_cache(maxsize=8)
def _textures(size: int) -> dict[str, np.ndarray]:
    """Fabric textures for a size, tiled twice so that a random offset crops a full image."""
    rng = np.random.default_rng(1234 + size)
    n = 2 * size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    px = max(size / 128.0, 0.5)
    twill = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + yy) / (3.2 * px))
    fine = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
    heather = (rng.normal(0.0, 1.0, (n, n)) * 0.5 + rng.normal(0.0, 1.0, (n, 1)) * 0.2).astype(np.float32)
    return {
        "denim": (0.9 + 0.1 * twill + 0.035 * fine).astype(np.float32),
        "cotton": (1.0 + 0.018 * fine).astype(np.float32),
        "heather": (1.0 + 0.06 * heather).astype(np.float32),
        "knit": (1.0 + 0.012 * fine).astype(np.float32),
    }


def _crop(tex: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    oy, ox = rng.integers(0, size, size=2)
    return tex[oy : oy + size, ox : ox + size]


def _clip(a, lo, hi):
    """np.clip without its Python-level overhead (it is called thousands of times per second here)."""
    return np.minimum(np.maximum(a, lo), hi)


def _rows(y0: float, y1: float, size: int) -> slice:
    """Pixel rows that can touch the normalized band [y0, y1] (with a two-pixel margin)."""
    return slice(max(int(y0 * size) - 2, 0), min(int(y1 * size) + 3, size))


@lru_cache(maxsize=8)
def _background(size: int) -> np.ndarray:
    y = (np.arange(size, dtype=np.float32) + 0.5) / size
    return (BACKGROUND.astype(np.float32) * (1.0 - 0.025 * y)[:, None, None]) * np.ones(
        (1, size, 1), np.float32
    )


def _inside(d: np.ndarray, size: int) -> np.ndarray:
    """Soft indicator of ``d > 0``."""
    return _clip(d * size + 0.5, 0.0, 1.0)


def _line(d: np.ndarray, size: int, width_px: float = 1.0) -> np.ndarray:
    """Soft thin line where ``d == 0``; at least one pixel wide at any size."""
    return _clip(1.0 - np.abs(d) * size / max(width_px, 0.75), 0.0, 1.0)


def render_item(seed: int, index: int, size: int = 128) -> CatalogItem:
    """Render item ``index`` of catalog ``seed`` at ``size`` x ``size`` pixels."""
    if size < 16:
        raise ValueError(f"image size must be at least 16 pixels, got {size}")
    rng = _rng(seed, index)
    attrs = sample_attributes(rng)
    title = write_title(attrs, np.random.default_rng(rng.integers(1 << 62)))
    lab = np.asarray(COLOR_LAB[attrs.color]) + rng.normal(0.0, 1.0, 3) * np.array([2.5, 2.0, 2.0])
    base = lab_to_rgb(lab)
    g = build_garment(attrs, rng)
    image, mask, depth, kps = _draw(attrs, g, base, rng, size)
    return CatalogItem(item_id(seed, index), title, image, attrs, mask, kps, depth)


def _draw(attrs: Attributes, g: Garment, base: np.ndarray, rng: np.random.Generator, size: int):
    X, ycol = _grid(size)
    x = X[None, :]  # (1, S)
    y = ycol[:, None]  # (S, 1)
    ax = np.abs(x)
    rows = ycol.astype(np.float64)

    # --- silhouette, row by row -------------------------------------------------------------------------
    torso_half = g.torso_half(rows).astype(np.float32)[:, None]
    leg_c, leg_w = g.leg_edges(rows)
    leg_w = leg_w.astype(np.float32)[:, None]
    leg_c = leg_c.astype(np.float32)[:, None]

    in_torso_rows = _inside(y - g.top, size) * _inside(g.crotch_y + 0.5 / size - y, size)
    in_leg_rows = _inside(y - g.crotch_y + 0.5 / size, size) * _inside(g.hem_y - y, size)
    torso_a = _inside(torso_half - ax, size) * in_torso_rows
    s_leg = (ax - leg_c) / leg_w  # -1 inner edge .. +1 outer edge, per leg
    leg_a = _inside(1.0 - np.abs(s_leg), size * leg_w) * in_leg_rows
    alpha = np.maximum(torso_a, leg_a)

    # --- shading: cylinders lit from the upper left; the same normal gives the depth --------------------
    side = np.where(x < 0, -1.0, 1.0).astype(np.float32)
    s_t = _clip(x / torso_half, -1.0, 1.0)
    s_l = _clip(s_leg * side, -1.0, 1.0)  # signed in image x
    blend = _clip((y - g.crotch_y) / 0.05, 0.0, 1.0)
    s = s_t * (1.0 - blend) + s_l * blend
    nz = np.sqrt(_clip(1.0 - s * s, 0.0, 1.0))
    radius = torso_half * (1.0 - blend) + leg_w * blend
    light = _clip(0.78 * nz - 0.30 * s + 0.05, 0.0, 1.0)
    shade = 0.50 + 0.43 * light

    # horizontal wrinkles where fabric gathers: behind the knee and, on long hems, above the hem
    rng_phase = rng.uniform(0, 2 * np.pi, 2)
    wr = np.exp(-(((rows - g.knee_y) / 0.035) ** 2)) * np.sin(rows * size * 0.9 + rng_phase[0]) ** 2
    if attrs.length in ("full", "ankle") and attrs.type not in ("leggings", "joggers"):
        wr += (
            0.8
            * np.exp(-(((rows - g.hem_y + 0.04) / 0.03) ** 2))
            * np.sin(rows * size * 0.7 + rng_phase[1]) ** 2
        )
    shade = shade * (1.0 - 0.07 * wr.astype(np.float32)[:, None] * (0.3 + 0.7 * np.abs(s)))

    # --- fabric ---------------------------------------------------------------------------------------
    tex_kind = {"jeans": "denim", "joggers": "heather", "leggings": "knit"}.get(attrs.type, "cotton")
    shade = shade * _crop(_textures(size)[tex_kind], size, rng)
    lift = np.zeros((size, size), np.float32)  # blend toward off-white: denim fade, frayed holes
    if attrs.type == "jeans":  # worn fronts of the thighs and knees are lighter
        sl = _rows(g.crotch_y, g.knee_y + 0.2, size)
        fade = np.exp(-(s_l[sl] ** 2) / 0.25 - ((y[sl] - (g.crotch_y + g.knee_y) / 2) / 0.12) ** 2)
        lift[sl] = 0.17 * fade * (y[sl] > g.crotch_y)
    if attrs.type == "leggings":
        shade = shade + 0.10 * nz**8 * (s < -0.1)

    # --- parts (mask) and surface details, each computed only on the rows it touches --------------------
    part = np.where(x < 0, _PART["left_leg"], _PART["right_leg"]).astype(np.uint8)
    part = np.broadcast_to(part, (size, size)).copy()
    ink = np.zeros((size, size), np.float32)  # dark seam lines, multiplicative
    stitch = np.zeros((size, size), np.float32)  # contrast stitching (jeans)
    shine = np.zeros((size, size), np.float32)  # metal: buttons, rivets

    wb_bottom = g.top + g.waistband
    sl = _rows(g.top, wb_bottom, size)
    ys, inside_t = y[sl], torso_a[sl] > 0.5
    in_wb = (ys >= g.top) & (ys < wb_bottom)  # (rows, 1)
    part[sl][np.broadcast_to(in_wb, inside_t.shape)] = _PART["waistband"]
    ink[sl] += _line(ys - wb_bottom, size) * inside_t * 0.6
    if attrs.type == "joggers":
        rib = 0.5 + 0.5 * np.sin(x * size * 2.4)
        shade[sl] *= np.where(in_wb, 0.82 + 0.18 * rib, 1.0)

    if attrs.type in _HAS_FLY:
        fly_bottom = g.crotch_y - 0.03
        sl = _rows(wb_bottom, g.crotch_y, size)
        ys = y[sl]
        part[sl][(ax < 0.022) & (ys >= wb_bottom) & (ys < fly_bottom)] = _PART["fly"]
        j_x = x - 0.016
        j_rows = (ys > wb_bottom) & (ys < fly_bottom - 0.012)
        curve = np.hypot(x, ys - (fly_bottom - 0.016)) - 0.016
        c_rows = (ys >= fly_bottom - 0.016) & (x > -0.004) & (ys < fly_bottom + 0.004)
        ink[sl] += (_line(j_x, size) * j_rows + _line(curve, size) * c_rows) * 0.5
        ink[sl] += _line(x, size) * ((ys > wb_bottom) & (ys < g.crotch_y)) * 0.35
        if attrs.type == "jeans":
            stitch[sl] += _line(j_x - 0.005, size, 0.8) * j_rows + _line(curve - 0.005, size, 0.8) * c_rows
        sl = _rows(g.top, wb_bottom, size)
        button = np.hypot(x, y[sl] - (g.top + g.waistband * 0.5)) < 0.012
        shine[sl] += button * (1.0 if attrs.type == "jeans" else 0.45)

    if attrs.type in _HAS_POCKETS:
        depth_p = 0.085
        sl = _rows(wb_bottom, wb_bottom + depth_p, size)
        py = (y[sl] - wb_bottom) / depth_p
        in_rows = (py >= 0) & (py < 1)
        th = torso_half[sl]
        if attrs.type == "jeans":
            opening = th - 0.075 * np.sqrt(_clip(1.0 - py, 0.0, 1.0))  # scooped opening
        else:
            opening = th - 0.06 * (1.0 - py)  # slanted opening
        part[sl][in_rows & (ax > opening) & (ax < th)] = _PART["pocket"]
        ink[sl] += _line(ax - opening, size) * in_rows * 0.7
        if attrs.type == "jeans":
            stitch[sl] += _line(ax - opening + 0.008, size, 0.8) * in_rows * (ax < th)
            shine[sl] += (np.hypot(ax - opening, y[sl] - (wb_bottom + 0.004)) < 0.007) * 0.9

    if attrs.type in _HAS_LOOPS:
        sl = _rows(g.top - 0.004, wb_bottom + 0.012, size)
        loop_h = (y[sl] >= g.top - 0.004) & (y[sl] < wb_bottom + 0.012)
        for fx in (0.55, 0.93):
            ink[sl] += _line(np.abs(ax - g.waist * fx) - 0.009, size) * loop_h * 0.45

    if attrs.type == "pants":  # pressed crease down each leg
        sl = _rows(g.crotch_y + 0.02, g.hem_y - 0.01, size)
        crease = ((y[sl] > g.crotch_y + 0.02) & (y[sl] < g.hem_y - 0.01)).astype(np.float32)
        shade[sl] *= 1.0 + 0.10 * _line(s_l[sl] + 0.08, size * 0.3) * crease
        ink[sl] += _line(s_l[sl] + 0.03, size * 0.35) * crease * 0.22

    if attrs.type == "cargo":  # flap pockets on the outer thighs
        top_p = g.crotch_y + 0.05
        bot_p = top_p + 0.13
        sl = _rows(top_p, bot_p, size)
        ys, so, lw = y[sl], s_leg[sl], leg_w[sl]  # so: +1 at the outer edge
        across = (so > -0.05) & (so < 0.9)
        rows_in = (ys > top_p) & (ys < bot_p)
        part[sl][rows_in & across] = _PART["pocket"]
        edge = (
            _line(ys - top_p, size) + _line(ys - bot_p, size) + _line(ys - (top_p + 0.035), size)
        ) * across
        edge += (_line(so + 0.05, size * lw) + _line(so - 0.9, size * lw)) * rows_in
        ink[sl] += _clip(edge, 0, 1) * 0.65
        shade[sl] *= np.where(rows_in & across & (ys < top_p + 0.035), 1.06, 1.0)
        shine[sl] += (np.hypot(np.abs(so - 0.42) * lw, ys - (top_p + 0.022)) < 0.007) * 0.35

    if attrs.type == "jeans":  # outer seams with contrast stitching
        sl = _rows(g.crotch_y, g.hem_y, size)
        stitch[sl] += (
            _line(s_leg[sl] - 0.78, size * leg_w[sl], 0.8) * (y[sl] > g.crotch_y) * (y[sl] < g.hem_y)
        )
        sl = _rows(wb_bottom, wb_bottom + 0.01, size)
        stitch[sl] += _line(y[sl] - wb_bottom - 0.006, size, 0.8) * (torso_a[sl] > 0.5) * 0.8

    if "pleated" in attrs.details and attrs.type in ("pants", "shorts"):
        sl = _rows(wb_bottom, wb_bottom + 0.07, size)
        pleat = (y[sl] > wb_bottom) & (y[sl] < wb_bottom + 0.07)
        ink[sl] += (_line(ax - g.waist * 0.45, size) * 0.4 + _line(ax - g.waist * 0.62, size) * 0.3) * pleat

    if "drawstring" in attrs.details:
        sl = _rows(g.top, wb_bottom + 0.08, size)
        ys = y[sl]
        on_cord = (ys > g.top + 0.01) & (ys < wb_bottom + 0.07)
        for sx in (-1.0, 1.0):
            cord = x - sx * (0.014 + 0.01 * (ys - g.top) / 0.1)
            ink[sl] += _line(cord, size, 1.2) * on_cord * 0.2
            shine[sl] += (np.hypot(cord, ys - (wb_bottom + 0.07)) < 0.008) * 0.5

    # cuffs: ribbed on joggers, a turned-up band when "cuffed"
    cuff_h = 0.045 if attrs.type == "joggers" else (0.03 if "cuffed" in attrs.details else 0.0)
    if cuff_h > 0:
        sl = _rows(g.hem_y - cuff_h, g.hem_y, size)
        on_leg = leg_a[sl] > 0.5
        in_cuff = (y[sl] > g.hem_y - cuff_h) & on_leg
        part[sl][in_cuff] = _PART["cuff"]
        ink[sl] += _line(y[sl] - (g.hem_y - cuff_h), size) * on_leg * 0.7
        if attrs.type == "joggers":
            shade[sl] *= np.where(in_cuff, 0.8 + 0.2 * (0.5 + 0.5 * np.sin(x * size * 2.4)), 1.0)
        else:
            shade[sl] *= np.where(in_cuff, 1.05, 1.0)

    if "ripped" in attrs.details:
        for _ in range(int(rng.integers(2, 5))):
            lo = g.crotch_y + 0.03
            ry = rng.uniform(lo, max(lo + 0.005, min(g.hem_y - 0.04, g.knee_y + 0.05)))
            rs = rng.uniform(-0.4, 0.4)
            rside = -1.0 if rng.random() < 0.5 else 1.0
            rw, rh = rng.uniform(0.025, 0.045), rng.uniform(0.012, 0.025)
            cx = rside * (
                float(np.interp(ry, rows, leg_c[:, 0])) + rs * float(np.interp(ry, rows, leg_w[:, 0]))
            )
            sl = _rows(ry - rh, ry + rh, size)
            hole = ((x - cx) / rw) ** 2 + ((y[sl] - ry) / rh) ** 2 < 1.0
            threads = 0.5 + 0.5 * np.sin(y[sl] * size * 3.1)
            lift[sl] = np.where(hole, 0.9, lift[sl])
            shade[sl] = np.where(hole, 0.8 + 0.2 * threads, shade[sl])

    # --- compose -----------------------------------------------------------------------------------------
    # seams darken light fabrics and catch the light on dark ones, so they read on black and navy too
    ink = _clip(ink, 0.0, 1.0)
    dark = float(_clip((0.3 - float(base @ np.array([0.2126, 0.7152, 0.0722]))) / 0.2, 0.0, 1.0))
    lift = lift + ink * (0.32 * dark)
    shade = shade * (1.0 - 0.45 * (1.0 - dark) * ink)
    white = np.array([0.93, 0.91, 0.87], np.float32)
    garment = base.astype(np.float32) * (shade * (1.0 - lift))[..., None] + white * (shade * lift)[..., None]
    if stitch.any():
        gold = np.array([0.86, 0.62, 0.26], np.float32)
        st = _clip(stitch, 0, 1)[..., None] * 0.85
        garment = garment * (1.0 - st) + gold * st * shade[..., None]
    if shine.any():
        metal = np.array([0.80, 0.74, 0.58], np.float32) if attrs.type == "jeans" else _clip(base * 1.2, 0, 1)
        sh = _clip(shine, 0, 1)[..., None]
        garment = garment * (1.0 - sh) + metal.astype(np.float32) * (0.7 + 0.3 * nz[..., None]) * sh
    a = alpha[..., None]
    image = _background(size) * (1.0 - a) + garment * a
    image_u8 = (_clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    fg = alpha > 0.5
    mask = np.where(fg, part, 0).astype(np.uint8)
    depth = np.where(fg, CAMERA_DISTANCE_M - GARMENT_SCALE_M * radius * nz, 0.0).astype(np.float32)
    kps = _keypoints(g, leg_c[:, 0], leg_w[:, 0], rows, mask, size)
    return image_u8, mask, depth, kps


def _keypoints(g: Garment, leg_c, leg_w, rows, mask, size: int) -> np.ndarray:
    """(K, 3) x, y, v in pixels for :data:`KEYPOINTS`, nudged half a pixel inside the garment."""
    inset = 1.0 / size

    hem = g.hem_y - inset
    wt = g.top + inset
    wx = float(g.torso_half(np.array([wt]))[0]) - inset
    (c_knee, c_hem), (_, w_hem) = (
        np.interp([g.knee_y, hem], rows, leg_c),
        np.interp([g.knee_y, hem], rows, leg_w),
    )
    pts = {
        "waist_left": (-wx, wt),
        "waist_right": (wx, wt),
        "crotch": (0.0, g.crotch_y - inset),
        "knee_left": (-c_knee, g.knee_y),
        "knee_right": (c_knee, g.knee_y),
        "hem_left_outer": (-(c_hem + w_hem) + inset, hem),
        "hem_left_inner": (-(c_hem - w_hem) - inset, hem),
        "hem_right_inner": (c_hem - w_hem + inset, hem),
        "hem_right_outer": (c_hem + w_hem - inset, hem),
    }
    out = np.zeros((len(KEYPOINTS), 3), np.float32)
    for k, name in enumerate(KEYPOINTS):
        nx, ny = pts[name]
        px, py = (nx + 0.5) * size, ny * size
        if name.startswith("knee") and g.knee_y > g.hem_y - 0.01:
            continue  # the knee is below the hem: not on the garment, not labeled
        ix, iy = int(_clip(px, 0, size - 1)), int(_clip(py, 0, size - 1))
        out[k] = (px, py, 2.0 if mask[iy, ix] > 0 else 1.0)
    return out
