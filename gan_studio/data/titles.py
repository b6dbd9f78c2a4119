"""Product titles written from attributes, in the varied word order and with the noise that real titles carry.

Every title states the gender, the color word and the garment type; fit and length are usually stated; brand-like
tokens, sizes and marketing words are noise a title model has to learn to ignore.
"""

from __future__ import annotations

import numpy as np

from gan_studio.data.attributes import Attributes

BRANDS = (
    "Northfield",
    "Kova",
    "Arden",
    "Bluestem",
    "Harlow",
    "Tidewell",
    "Marlo",
    "Quarry",
    "Fenwick",
    "Ostra",
)
NOISE = (
    "Classic",
    "Everyday",
    "Premium",
    "Essential",
    "Comfort",
    "Signature",
    "Soft",
    "Cotton",
    "Casual",
    "Modern",
)
TYPE_WORDS = {
    "pants": ("Pants", "Trousers"),
    "jeans": ("Jeans",),
    "shorts": ("Shorts",),
    "joggers": ("Joggers",),
    "cargo": ("Cargo Pants", "Cargos"),
    "leggings": ("Leggings",),
}
FIT_WORDS = {
    "skinny": ("Skinny", "Skinny Fit"),
    "slim": ("Slim", "Slim Fit"),
    "straight": ("Straight", "Straight Leg", "Straight Fit"),
    "wide": ("Wide Leg", "Wide", "Wide-Leg"),
    "bootcut": ("Bootcut", "Flare"),
}
LENGTH_WORDS = {
    "full": ("Full Length",),
    "ankle": ("Ankle", "Ankle Length"),
    "capri": ("Capri", "Cropped Capri"),
    "knee": ("Knee Length", "Bermuda"),
    "short": ("Short",),
}
GENDER_WORDS = {"men's": ("Men's", "Mens"), "women's": ("Women's", "Womens"), "unisex": ("Unisex",)}
DETAIL_WORDS = {
    "ripped": "Ripped",
    "cuffed": "Cuffed",
    "pleated": "Pleated",
    "high-rise": "High-Rise",
    "petite": "Petite",
    "stretch": "Stretch",
    "drawstring": "Drawstring",
}


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _size_token(rng: np.random.Generator, gender: str) -> str:
    if gender == "women's" and rng.random() < 0.5:
        return f"Size {int(rng.choice([0, 2, 4, 6, 8, 10, 12, 14]))}"
    if rng.random() < 0.5:
        return f"{int(rng.integers(28, 41))}W x {int(rng.choice([28, 30, 32, 34]))}L"
    return _pick(rng, ("XS", "S", "M", "L", "XL"))


def write_title(attrs: Attributes, rng: np.random.Generator) -> str:
    """A product title for ``attrs``; ``rng`` decides the wording and order."""
    gender = _pick(rng, GENDER_WORDS[attrs.gender])
    color = attrs.color.capitalize()
    noun = _pick(rng, TYPE_WORDS[attrs.type])
    fit = _pick(rng, FIT_WORDS[attrs.fit]) if rng.random() < 0.85 else ""
    if attrs.length == "full":
        length = _pick(rng, LENGTH_WORDS["full"]) if rng.random() < 0.25 else ""
    elif attrs.length == "short" and attrs.type == "shorts":
        length = "Short" if rng.random() < 0.3 else ""
    else:
        length = _pick(rng, LENGTH_WORDS[attrs.length])
    details = [DETAIL_WORDS[d] for d in attrs.details]
    brand = _pick(rng, BRANDS) if rng.random() < 0.7 else ""
    noise = _pick(rng, NOISE) if rng.random() < 0.5 else ""
    size = _size_token(rng, attrs.gender) if rng.random() < 0.4 else ""
    d = " ".join(details)

    template = int(rng.integers(5))
    if template == 0:
        parts = [brand, gender, fit, d, length, color, noun]
        title = " ".join(p for p in parts if p)
        if size:
            title += f" - {size}"
    elif template == 1:
        parts = [gender, color, noise, fit, length, noun, d]
        title = " ".join(p for p in parts if p)
        if brand:
            title = f"{brand} {title}"
    elif template == 2:
        head = " ".join(p for p in [brand, noise, d, fit, length, noun] if p)
        if attrs.gender == "unisex" or rng.random() < 0.5:
            title = f"{gender} {head}, {color}"
        else:
            plain = {"men's": "Men", "women's": "Women"}[attrs.gender]
            title = f"{head} for {plain}, {color}"
        if size:
            title += f", {size}"
    elif template == 3:
        head = " ".join(p for p in [gender, d, length, fit, noun] if p)
        title = f"{head}, {color}"
        if size:
            title += f" ({size})"
        if brand:
            title = f"{brand} {title}"
    else:
        parts = [brand, color, gender, noise, fit, noun, d, length]
        title = " ".join(p for p in parts if p)
    return " ".join(title.split())
