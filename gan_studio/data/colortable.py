"""The LAB color table: color words -> clusters of measured garment colors (ReStGAN's color model).

Built by measuring every training item's garment color in CIE LAB (median over the garment's mask pixels), clustering
those colors with k-means in LAB, and assigning each color word to the cluster most of its items fall in. Synonyms
that look alike (black / jet / onyx) land in one cluster, so a text model learns fewer color categories. Any RGB color
snaps to its nearest cluster by CIEDE2000.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_studio.data.color import ciede2000, lab_to_rgb, rgb_to_lab
from gan_studio.data.item import CatalogItem
from gan_studio.data.output_files import check_file_target, write_text
from gan_studio.resources import resource_path

FORMAT_VERSION = 1


class UnknownColorWord(ValueError):
    """A color word the table does not know."""


@dataclass(frozen=True)
class ColorCluster:
    index: int
    name: str  # the member word with the most items
    lab: tuple[float, float, float]  # centroid of the measured colors
    rgb: tuple[int, int, int]  # the centroid as sRGB, for swatches
    words: tuple[str, ...]  # color words assigned to this cluster
    n_items: int  # measured items in this cluster
    spread: float  # median CIEDE2000 of the members to the centroid


def measure_color(item: CatalogItem) -> np.ndarray:
    """Median LAB (3,) of the garment's pixels (mask > 0), or of the non-background pixels if no mask."""
    if item.mask is not None:
        fg = item.mask > 0
    else:  # user images without masks: everything that is not near-white background
        fg = item.image.astype(np.int16).min(axis=-1) < 235
    pixels = item.image[fg] if fg.any() else item.image.reshape(-1, 3)
    return np.median(rgb_to_lab(pixels), axis=0)


def kmeans_lab(points: np.ndarray, k: int, seed: int = 0, restarts: int = 16, iters: int = 100) -> np.ndarray:
    """k-means with k-means++ seeding in LAB; returns the best (k, 3) centers over ``restarts`` runs."""
    rng = np.random.default_rng(seed)
    best, best_inertia = None, np.inf
    for _ in range(restarts):
        centers = [points[rng.integers(len(points))]]
        for _ in range(1, k):
            d2 = np.min(((points[:, None, :] - np.asarray(centers)[None]) ** 2).sum(-1), axis=1)
            centers.append(points[rng.choice(len(points), p=d2 / d2.sum())])
        c = np.asarray(centers, dtype=np.float64)
        for _ in range(iters):
            labels = np.argmin(((points[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
            new = np.array([points[labels == j].mean(0) if (labels == j).any() else c[j] for j in range(k)])
            if np.allclose(new, c, atol=1e-6):
                break
            c = new
        inertia = float(np.min(((points[:, None, :] - c[None]) ** 2).sum(-1), axis=1).sum())
        if inertia < best_inertia:
            best, best_inertia = c, inertia
    return best


class ColorTable:
    """Color word -> cluster index, and cluster -> representative color and member words."""

    def __init__(
        self, clusters: list[ColorCluster], word_to_cluster: dict[str, int], provenance: dict | None = None
    ):
        self.clusters = clusters
        self.word_to_cluster = dict(word_to_cluster)
        self.provenance = provenance or {}
        self._labs = np.array([c.lab for c in clusters], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.clusters)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.word_to_cluster)

    def is_color_word(self, word: str) -> bool:
        return word.lower() in self.word_to_cluster

    def cluster_of(self, word: str) -> int:
        """Cluster index of a color word (case-insensitive); :class:`UnknownColorWord` if the table lacks it."""
        try:
            return self.word_to_cluster[word.lower()]
        except KeyError:
            raise UnknownColorWord(
                f"unknown color word {word!r}; known color words are: {', '.join(sorted(self.word_to_cluster))}"
            ) from None

    def nearest_lab(self, lab) -> int:
        """Index of the cluster nearest to a LAB color by CIEDE2000."""
        return int(np.argmin(ciede2000(np.asarray(lab, np.float64)[None], self._labs)))

    def nearest(self, rgb) -> int:
        """Index of the cluster nearest to an sRGB color (uint8 triple or floats in [0, 1]) by CIEDE2000."""
        rgb = np.asarray(rgb)
        if rgb.dtype.kind in "iu":
            rgb = rgb.astype(np.float64) / 255.0
        return self.nearest_lab(rgb_to_lab(rgb.reshape(1, 3))[0])

    # --- persistence ---------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "provenance": self.provenance,
            "clusters": [
                {
                    "index": c.index,
                    "name": c.name,
                    "lab": [round(v, 3) for v in c.lab],
                    "rgb": list(c.rgb),
                    "words": list(c.words),
                    "n_items": c.n_items,
                    "spread": round(c.spread, 3),
                }
                for c in self.clusters
            ],
            "words": self.word_to_cluster,
        }

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON at ``path``, atomically; an ``OutputError`` names what is wrong."""
        return write_text(path, json.dumps(self.to_json(), indent=1) + "\n", make_parents=True)

    @classmethod
    def load(cls, path: str | Path | None = None, *, verify: bool = True) -> ColorTable:
        """Load a table (default: the shipped ``resources/color_table.json``); ValueError on a bad file.

        The shipped table is checked like the shipped weights: its sha256 must be the one the shipped classifier's
        manifest records (the classifier's color head is tied to it), so a changed or damaged table is refused
        instead of silently used. ``verify=False`` skips that check (training a classifier on a rebuilt table).
        """
        shipped = path is None
        path = Path(path) if path is not None else resource_path("color_table.json")
        try:
            raw = Path(path).read_bytes()
            if shipped and verify:
                _check_shipped_table(path, raw)
            data = json.loads(raw.decode("utf-8"))
            clusters = [
                ColorCluster(
                    index=int(c["index"]),
                    name=str(c["name"]),
                    lab=tuple(float(v) for v in c["lab"]),
                    rgb=tuple(int(v) for v in c["rgb"]),
                    words=tuple(c["words"]),
                    n_items=int(c.get("n_items", 0)),
                    spread=float(c.get("spread", 0.0)),
                )
                for c in data["clusters"]
            ]
            words = {str(w): int(i) for w, i in data["words"].items()}
        except FileNotFoundError:
            raise FileNotFoundError(f"color table {path} does not exist") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, DamagedColorTable):
                raise
            raise ValueError(f"color table {path} is malformed ({exc})") from None
        if any(i < 0 or i >= len(clusters) for i in words.values()):
            raise ValueError(f"color table {path} maps a word to a cluster that does not exist")
        return cls(clusters, words, data.get("provenance"))


class DamagedColorTable(ValueError):
    """The shipped color table is not the one the shipped models were made with."""


def _check_shipped_table(path: Path, raw: bytes) -> None:
    """Refuse the shipped table unless its sha256 is the one ``classifier/classifier.json`` records."""
    manifest = resource_path("classifier", "classifier.json")
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["data"]["color_table_sha256"]
    except FileNotFoundError:
        return  # a resources folder without the classifier: nothing records the table's hash
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise DamagedColorTable(
            f"the shipped color table cannot be checked: {manifest} is damaged or records no color_table_sha256"
        ) from None
    if recorded and hashlib.sha256(raw).hexdigest() != recorded:
        raise DamagedColorTable(
            f"the shipped color table {path} does not match the sha256 that {manifest} records; the file was "
            "changed or damaged (a rebuilt table needs a retrained classifier)"
        )


def build_color_table(
    colors_lab: np.ndarray, words: list[str], k: int = 14, seed: int = 0, provenance: dict | None = None
) -> ColorTable:
    """Cluster measured colors ``(N, 3)`` LAB whose items were named ``words`` (N,) into a table.

    Every word goes to the cluster most of its items fall in; clusters that no word owns are dropped and the rest
    re-centered on the items of their words, so every swatch the user sees has a name.
    """
    from gan_studio.data.attributes import COLOR_LAB

    order = {
        w: i for i, w in enumerate(COLOR_LAB)
    }  # the built-in vocabulary lists each group's plain word first
    colors_lab = np.asarray(colors_lab, np.float64)
    words = [w.lower() for w in words]
    centers = kmeans_lab(colors_lab, k, seed=seed)
    labels = np.argmin(((colors_lab[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    vocab = sorted(set(words))
    owner = {}
    for w in vocab:
        idx = np.array([i for i, x in enumerate(words) if x == w])
        owner[w] = int(np.bincount(labels[idx], minlength=k).argmax())
    kept = sorted(set(owner.values()), key=lambda j: -np.sum(labels == j))
    renumber = {old: new for new, old in enumerate(kept)}
    clusters = []
    for old in kept:
        members = [w for w in vocab if owner[w] == old]
        member_idx = np.array([i for i, x in enumerate(words) if x in members])
        lab = colors_lab[member_idx].mean(0)
        counts = {w: words.count(w) for w in members}
        spread = float(np.median(ciede2000(colors_lab[member_idx], lab[None])))
        rgb = tuple(round(v * 255) for v in lab_to_rgb(lab))
        clusters.append(
            ColorCluster(
                index=renumber[old],
                name=min(members, key=lambda w: (order.get(w, len(order)), -counts[w], w)),
                lab=tuple(float(v) for v in lab),
                rgb=rgb,
                words=tuple(members),
                n_items=len(member_idx),
                spread=spread,
            )
        )
    return ColorTable(clusters, {w: renumber[owner[w]] for w in vocab}, provenance)


def measure_catalog(seed: int, n: int, size: int = 64, progress=None) -> tuple[np.ndarray, list[str]]:
    """Render ``n`` built-in items and measure their garment colors: ((n, 3) LAB, color words)."""
    from gan_studio.data.catalog import render_item

    labs, words = np.zeros((n, 3)), []
    for i in range(n):
        item = render_item(seed, i, size)
        labs[i] = measure_color(item)
        words.append(item.attributes.color)
        if progress is not None and (i % 100 == 0 or i == n - 1):
            progress((i + 1) / n)
    return labs, words


def colortable_command(args) -> int:
    """`gan-studio colortable`: measure the built-in catalog and (re)build the color table JSON."""
    if args.k < 1:
        raise ValueError(f"--k must be a positive number of clusters, not {args.k}")
    if args.n < args.k * 10:
        raise ValueError(
            f"--n {args.n} is too few items to cluster into {args.k} colors; use at least {args.k * 10}"
        )
    out = check_file_target(args.out or resource_path("color_table.json"))  # before measuring anything
    t0 = time.perf_counter()

    shown = sys.stderr.isatty()  # a progress line only for a person watching; logs get the result alone

    def progress(f: float) -> None:
        if shown:
            print(f"\rmeasuring colors {f * 100:5.1f}%", end="", file=sys.stderr, flush=True)

    labs, words = measure_catalog(args.seed, args.n, progress=progress)
    if shown:
        print(file=sys.stderr)
    provenance = {
        "command": f"gan-studio colortable --n {args.n} --seed {args.seed} --k {args.k}",
        "data": f"built-in catalog seed {args.seed}, items 0..{args.n - 1}, measured at 64 px",
        "k": args.k,
        "measure": "median CIE LAB (D65) of the garment's mask pixels",
    }
    table = build_color_table(labs, words, k=args.k, seed=args.seed, provenance=provenance)
    table.save(out)
    print(
        f"{len(table)} clusters from {len(set(words))} color words, {args.n} items, {time.perf_counter() - t0:.1f}s"
    )
    for c in table.clusters:
        print(
            f"  {c.index:2d} {c.name:10s} LAB({c.lab[0]:5.1f},{c.lab[1]:6.1f},{c.lab[2]:6.1f}) {', '.join(c.words)}"
        )
    print(f"wrote {out}")
    return 0
