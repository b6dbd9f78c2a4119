"""The attribute vocabulary of the built-in apparel catalog.

Everything that names a garment property lives here so that the renderer, the title writer, the color table,
the classifier and the GUI filters agree on one list. Values are plain strings in the user's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TYPES: tuple[str, ...] = ("pants", "jeans", "shorts", "joggers", "cargo", "leggings")
GENDERS: tuple[str, ...] = ("men's", "women's", "unisex")
LENGTHS: tuple[str, ...] = ("full", "ankle", "capri", "knee", "short")
FITS: tuple[str, ...] = ("skinny", "slim", "straight", "wide", "bootcut")
DETAILS: tuple[str, ...] = ("ripped", "cuffed", "pleated", "high-rise", "petite", "stretch", "drawstring")

# Color words grouped by what they look like, each with its center in CIE LAB. The renderer samples a shade around
# the word's own center; the color table is *measured* from rendered items and clustered, and the groups are only
# the expectation (what a person would call "the same color") that the tests and docs check the clustering against.
_COLORS: dict[str, dict[str, tuple[float, float, float]]] = {
    "black": {"black": (14.0, 0.0, 0.0), "jet": (13.0, 0.5, -1.0), "onyx": (15.0, -0.5, 0.5)},
    "white": {"white": (95.0, 0.0, 1.0), "ivory": (94.0, 0.0, 5.0), "snow": (96.0, 0.0, -1.0)},
    "gray": {
        "gray": (58.0, 0.0, -1.0),
        "grey": (58.0, 0.0, -1.0),
        "heather": (62.0, 1.0, 0.0),
        "slate": (54.0, -1.0, -4.0),
    },
    "navy": {"navy": (22.0, 6.0, -30.0), "midnight": (19.0, 5.0, -26.0), "indigo": (25.0, 8.0, -32.0)},
    "blue": {"blue": (45.0, 12.0, -55.0), "cobalt": (42.0, 14.0, -58.0), "royal": (44.0, 16.0, -57.0)},
    "light blue": {"sky": (76.0, -6.0, -24.0), "powder": (79.0, -5.0, -19.0)},
    "red": {"red": (48.0, 66.0, 46.0), "scarlet": (50.0, 64.0, 50.0), "crimson": (45.0, 65.0, 36.0)},
    "burgundy": {"burgundy": (26.0, 34.0, 9.0), "maroon": (24.0, 33.0, 12.0), "wine": (27.0, 36.0, 6.0)},
    "pink": {"pink": (77.0, 27.0, 0.0), "blush": (80.0, 22.0, 4.0), "rose": (73.0, 31.0, 3.0)},
    "green": {"green": (50.0, -48.0, 28.0), "emerald": (48.0, -50.0, 20.0), "kelly": (53.0, -50.0, 32.0)},
    "olive": {"olive": (42.0, -9.0, 32.0), "army": (40.0, -7.0, 28.0), "moss": (45.0, -12.0, 34.0)},
    "khaki": {
        "khaki": (70.0, 2.0, 24.0),
        "beige": (74.0, 3.0, 19.0),
        "tan": (67.0, 7.0, 26.0),
        "sand": (72.0, 3.0, 21.0),
    },
    "brown": {"brown": (33.0, 16.0, 26.0), "chocolate": (30.0, 17.0, 22.0), "mocha": (36.0, 13.0, 22.0)},
    "yellow": {"yellow": (86.0, -4.0, 74.0), "lemon": (88.0, -8.0, 70.0), "canary": (85.0, -2.0, 78.0)},
}
COLOR_LAB: dict[str, tuple[float, float, float]] = {w: lab for g in _COLORS.values() for w, lab in g.items()}
COLOR_GROUPS: dict[str, tuple[str, ...]] = {name: tuple(g) for name, g in _COLORS.items()}
COLOR_WORDS: tuple[str, ...] = tuple(COLOR_LAB)

# Which lengths and fits each garment type comes in. Combinations are restricted to those a person can tell
# apart in a front-view photo: a bootcut flare needs a hem below the knee, shorts are short or knee length.
TYPE_LENGTHS: dict[str, tuple[str, ...]] = {
    "pants": ("full", "ankle", "capri"),
    "jeans": ("full", "ankle", "capri", "knee"),
    "shorts": ("short", "knee"),
    "joggers": ("full", "ankle", "capri"),
    "cargo": ("full", "ankle", "capri", "knee"),
    "leggings": ("full", "ankle", "capri", "knee"),
}
TYPE_FITS: dict[str, tuple[str, ...]] = {
    "pants": ("slim", "straight", "wide", "bootcut"),
    "jeans": ("skinny", "slim", "straight", "wide", "bootcut"),
    "shorts": ("slim", "straight", "wide"),
    "joggers": ("skinny", "slim", "straight"),
    "cargo": ("slim", "straight", "wide"),
    "leggings": ("skinny", "bootcut"),
}
FLARE_LENGTHS: tuple[str, ...] = ("full", "ankle")
TYPE_DETAILS: dict[str, tuple[str, ...]] = {
    "pants": ("cuffed", "pleated", "high-rise", "petite", "stretch"),
    "jeans": ("ripped", "cuffed", "high-rise", "petite", "stretch"),
    "shorts": ("ripped", "cuffed", "pleated", "high-rise", "drawstring"),
    "joggers": ("drawstring", "petite", "stretch"),
    "cargo": ("cuffed", "drawstring", "stretch"),
    "leggings": ("high-rise", "petite", "stretch"),
}

# Attribute heads the classifier predicts (color is predicted as a color-table cluster index).
CLASSIFIER_HEADS: tuple[str, ...] = ("type", "gender", "color", "length", "fit")

# Part segmentation classes: index -> (name, RGB for the mask palette / labelmap).
PARTS: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("background", (0, 0, 0)),
    ("waistband", (230, 25, 75)),
    ("left_leg", (60, 180, 75)),
    ("right_leg", (0, 130, 200)),
    ("pocket", (255, 225, 25)),
    ("fly", (245, 130, 48)),
    ("cuff", (145, 30, 180)),
)
PART_NAMES: tuple[str, ...] = tuple(name for name, _ in PARTS)

# Named keypoints (image left/right) and the skeleton as 1-based index pairs, COCO style.
KEYPOINTS: tuple[str, ...] = (
    "waist_left",
    "waist_right",
    "crotch",
    "knee_left",
    "knee_right",
    "hem_left_outer",
    "hem_left_inner",
    "hem_right_inner",
    "hem_right_outer",
)
SKELETON: tuple[tuple[int, int], ...] = (
    (1, 2),
    (1, 4),
    (4, 6),
    (2, 5),
    (5, 9),
    (3, 4),
    (3, 5),
    (6, 7),
    (8, 9),
)


@dataclass(frozen=True)
class Attributes:
    """What a catalog item is. ``color`` is a color word from :data:`COLOR_LAB`."""

    type: str
    gender: str
    color: str
    length: str
    fit: str
    details: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "type": self.type,
            "gender": self.gender,
            "color": self.color,
            "length": self.length,
            "fit": self.fit,
            "details": list(self.details),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Attributes:
        """Build from a dict, raising ``ValueError`` with one clear sentence on unknown values."""
        checks = (("type", TYPES), ("gender", GENDERS), ("length", LENGTHS), ("fit", FITS))
        for key, allowed in checks:
            if d.get(key) not in allowed:
                raise ValueError(f"unknown {key} {d.get(key)!r}; expected one of {', '.join(allowed)}")
        color = d.get("color")
        if not isinstance(color, str) or not color:
            raise ValueError("the attributes carry no color word")
        details = tuple(d.get("details") or ())
        return cls(d["type"], d["gender"], color, d["length"], d["fit"], details)
