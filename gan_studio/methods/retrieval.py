"""Product discovery: the catalog items nearest to an image in the attribute classifier's feature space. Qt-free.

A :class:`CatalogIndex` holds one L2-normalized 256-d feature vector (the classifier's penultimate features, the
space FID is measured in) and a thumbnail per catalog item; :meth:`CatalogIndex.query` embeds an image the same way
and returns the nearest items by cosine distance.

Indexes are built in batches by an :class:`IndexBuild`, which can be stepped one batch at a time (the GUI runs one
short worker job per batch, so generation requests are never stuck behind a long build) or run to the end
(:func:`build_builtin_index`, :func:`build_folder_index`). The built-in index is cached as ``.npz`` under
:func:`default_cache_dir`, keyed on the renderer's output and the classifier's sha256; a cache that does not match
or cannot be read is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gan_studio.data.output_files import temp_file
from gan_studio.runtime.cancel import check_cancel

CACHE_VERSION = 1
THUMB_SIZE = 96  # pixels of the thumbnails kept in an index
BATCH = 64

ProgressFn = Callable[[float, str], None]
# images (N, H, W, 3) uint8 or a list of (H, W, 3) uint8 of any size, ids, titles
Fetch = Callable[[int, int], tuple[Sequence[np.ndarray], list[str], list[str]]]


@dataclass(frozen=True)
class Match:
    """One catalog item near the query: ``distance`` is the cosine distance (0 = same direction, at most 2)."""

    id: str
    title: str
    distance: float
    image: np.ndarray = field(repr=False)  # (t, t, 3) uint8 thumbnail
    index: int = -1  # position in the index


def default_cache_dir() -> Path:
    """``$GAN_STUDIO_CACHE``, else ``$XDG_CACHE_HOME/gan_studio``, else ``~/.cache/gan_studio``."""
    env = os.environ.get("GAN_STUDIO_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gan_studio"


def _square_uint8(image: np.ndarray, size: int) -> np.ndarray:
    """Any (H, W[, C]) image -> (size, size, 3) uint8 (bilinear)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = image[:, :, :3]
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def thumbnail(image: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8, area-averaged when shrinking."""
    image = _square_uint8(image, max(image.shape[:2]))  # square the rare non-square photo by stretching
    if image.shape[0] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BOX))


@torch.no_grad()
def embed_images(classifier, images: np.ndarray | Sequence[np.ndarray], batch: int = BATCH) -> np.ndarray:
    """(N, D) float32 L2-normalized classifier features of uint8 RGB images of any size.

    Images are resized (bilinear) to the classifier's input size first; generated 64 px images are upsampled the
    same way catalog thumbnails are, so both land in one feature space.
    """
    size = int(classifier.config.in_size)
    device = next(classifier.parameters()).device
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = images[None]
    out = []
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        if (
            isinstance(chunk, np.ndarray)
            and chunk.ndim == 4
            and chunk.dtype == np.uint8
            and chunk.shape[-1] == 3
        ):
            x = torch.from_numpy(np.ascontiguousarray(chunk))
        else:
            x = torch.from_numpy(np.stack([_square_uint8(im, size) for im in chunk]))
        x = x.to(device).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        if x.shape[-2:] != (size, size):
            down = x.shape[-1] > size
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=down)
        f = classifier.eval().features(x).float()
        out.append(F.normalize(f, dim=1).cpu().numpy())
    if not out:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(out).astype(np.float32)


class CatalogIndex:
    """Catalog items by classifier features: ``features`` (N, D) L2-normalized, ``thumbnails`` (N, t, t, 3).

    ``classifier`` embeds query images; when None the shipped classifier is loaded on the first query.
    """

    def __init__(
        self,
        features: np.ndarray,
        ids: Sequence[str],
        titles: Sequence[str],
        thumbnails: np.ndarray,
        classifier=None,
        description: str = "",
    ) -> None:
        features = np.asarray(features, dtype=np.float32)
        n = len(ids)
        if features.ndim != 2 or len(features) != n or len(titles) != n or len(thumbnails) != n:
            raise ValueError(
                f"an index needs as many features, titles and thumbnails as ids ({n}), got "
                f"{features.shape}, {len(titles)} and {len(thumbnails)}"
            )
        self.features = features
        self.ids = [str(i) for i in ids]
        self.titles = [str(t) for t in titles]
        self.thumbnails = np.asarray(thumbnails, dtype=np.uint8)
        self.classifier = classifier
        self.description = description

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"CatalogIndex({len(self)} items, {self.description!r})"

    def _classifier(self):
        if self.classifier is None:
            from gan_studio.models.classifier import load_classifier

            self.classifier = load_classifier()
        return self.classifier

    def embed(self, image: np.ndarray) -> np.ndarray:
        """(D,) normalized features of one (H, W, 3) uint8 image."""
        return embed_images(self._classifier(), np.asarray(image)[None])[0]

    def query(self, image: np.ndarray, k: int = 6) -> list[Match]:
        """The ``k`` items nearest to an (H, W, 3) uint8 image, nearest first."""
        return self.query_features(self.embed(image), k)

    def query_features(self, feature: np.ndarray, k: int = 6) -> list[Match]:
        if len(self) == 0 or k <= 0:
            return []
        feature = np.asarray(feature, dtype=np.float32).reshape(-1)
        distance = 1.0 - self.features @ feature
        k = min(int(k), len(self))
        nearest = np.argpartition(distance, k - 1)[:k]
        nearest = nearest[np.lexsort((nearest, distance[nearest]))]  # ties: lower index first
        return [
            Match(self.ids[i], self.titles[i], float(distance[i]), self.thumbnails[i], int(i))
            for i in nearest
        ]

    # --- persistence -------------------------------------------------------------------------------------
    def save(self, path: str | Path, key: str = "") -> Path:
        """Write an ``.npz`` atomically (a temporary file in the same folder, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(path.parent, path.name)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(
                    f,
                    key=np.array(key),
                    description=np.array(self.description),
                    features=self.features,
                    ids=np.array(self.ids, dtype=str),
                    titles=np.array(self.titles, dtype=str),
                    thumbnails=self.thumbnails,
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path, key: str | None = None, classifier=None) -> CatalogIndex | None:
        """The index saved at ``path``, or None when it is missing, unreadable, or was saved under another key."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                if key is not None and str(data["key"]) != key:
                    return None
                features = data["features"].astype(np.float32)
                ids, titles = data["ids"].tolist(), data["titles"].tolist()
                thumbs = data["thumbnails"]
                description = str(data["description"])
        except (OSError, ValueError, KeyError, EOFError):
            return None
        ok = (
            features.ndim == 2
            and np.isfinite(features).all()
            and thumbs.dtype == np.uint8
            and thumbs.ndim == 4
            and thumbs.shape[-1] == 3
            and len(features) == len(ids) == len(titles) == len(thumbs)
        )
        if not ok:
            return None
        return cls(features, ids, titles, thumbs, classifier, description)


class IndexBuild:
    """A resumable index build: each :meth:`step` fetches and embeds one batch of items.

    ``fetch(start, stop)`` returns (images, ids, titles) of items ``start..stop-1``; ``on_done(index)`` runs once
    when the last batch is in (the built-in build saves its cache there). Not thread-safe: step it from one thread.
    """

    def __init__(
        self,
        total: int,
        fetch: Fetch | None,
        classifier,
        description: str = "",
        batch: int = BATCH,
        on_done: Callable[[CatalogIndex], None] | None = None,
        index: CatalogIndex | None = None,
    ) -> None:
        self.total = int(total)
        self.fetch = fetch
        self.classifier = classifier
        self.description = description
        self.batch = max(1, int(batch))
        self.on_done = on_done
        self.count = 0  # items processed so far
        self.from_cache = index is not None
        self.index: CatalogIndex | None = index
        self._features: list[np.ndarray] = []
        self._ids: list[str] = []
        self._titles: list[str] = []
        self._thumbs: list[np.ndarray] = []
        if index is not None:
            self.count = self.total = len(index)

    @property
    def done(self) -> bool:
        return self.index is not None

    @property
    def fraction(self) -> float:
        return 1.0 if self.done else self.count / max(self.total, 1)

    def step(self) -> bool:
        """Process one batch; returns whether the index is complete."""
        if self.done:
            return True
        stop = min(self.count + self.batch, self.total)
        if stop > self.count:
            images, ids, titles = self.fetch(self.count, stop)
            if len(ids):
                self._features.append(embed_images(self.classifier, images))
                self._ids.extend(ids)
                self._titles.extend(titles)
                self._thumbs.extend(thumbnail(im) for im in images)
            self.count = stop
        if self.count >= self.total:
            dim = self._features[0].shape[1] if self._features else 0
            features = np.concatenate(self._features) if self._features else np.zeros((0, dim), np.float32)
            thumbs = (
                np.stack(self._thumbs) if self._thumbs else np.zeros((0, THUMB_SIZE, THUMB_SIZE, 3), np.uint8)
            )
            self.index = CatalogIndex(
                features, self._ids, self._titles, thumbs, self.classifier, self.description
            )
            self._features, self._thumbs = [], []
            if self.on_done is not None:
                self.on_done(self.index)
        return self.done

    def run(self, progress: ProgressFn | None = None, cancel=None) -> CatalogIndex:
        """Step to the end; ``progress(fraction, message)`` after each batch, ``cancel`` checked before each."""
        while not self.done:
            check_cancel(cancel)
            self.step()
            if progress is not None:
                progress(self.fraction, f"Indexing catalog items {self.count}/{self.total}")
        assert self.index is not None
        return self.index


def _classifier_sha(classifier) -> str:
    manifest = getattr(classifier, "manifest", None) or {}
    sha = manifest.get("sha256")
    if sha:
        return str(sha)
    h = hashlib.sha256()  # an unsaved classifier (tests): hash its weights
    for name, tensor in sorted(classifier.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def builtin_cache_key(n: int, seed: int, size: int, classifier) -> str:
    """What the cached built-in index depends on: the renderer's output (probed), the classifier, the sizes."""
    from gan_studio.data.catalog import render_item

    h = hashlib.sha256()
    for index in sorted({0, max(n - 1, 0)}):
        probe = render_item(seed, index, size)
        h.update(probe.image.tobytes())
        h.update(probe.title.encode())
    return json.dumps(
        {
            "version": CACHE_VERSION,
            "n": int(n),
            "seed": int(seed),
            "size": int(size),
            "thumb": THUMB_SIZE,
            "renderer": h.hexdigest(),
            "classifier": _classifier_sha(classifier),
        },
        sort_keys=True,
    )


def builtin_cache_path(key: str, cache_dir: str | Path | None = None) -> Path:
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"builtin-index-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"


def builtin_index_build(
    n: int = 1500,
    seed: int = 0,
    size: int = 128,
    classifier=None,
    cache_dir: str | Path | None = None,
    batch: int = BATCH,
) -> IndexBuild:
    """A build of the first ``n`` items of built-in catalog ``seed`` rendered at ``size`` px.

    Already done when a matching cache exists; otherwise the finished index is saved to the cache (a cache that
    cannot be written is not an error: the index is still returned).
    """
    from gan_studio.data.catalog import render_item

    if classifier is None:
        from gan_studio.models.classifier import load_classifier

        classifier = load_classifier()
    n, seed, size = int(n), int(seed), int(size)
    description = f"built-in catalog, seed {seed}, {n} items"
    key = builtin_cache_key(n, seed, size, classifier)
    path = builtin_cache_path(key, cache_dir)
    cached = CatalogIndex.load(path, key, classifier) if path.is_file() else None
    if cached is not None and len(cached) == n:
        cached.description = description
        return IndexBuild(n, None, classifier, description, batch, index=cached)

    def fetch(start: int, stop: int):
        items = [render_item(seed, i, size) for i in range(start, stop)]
        return np.stack([it.image for it in items]), [it.id for it in items], [it.title for it in items]

    def save(index: CatalogIndex) -> None:
        try:
            index.save(path, key)
        except OSError:
            pass  # a read-only cache folder only costs a rebuild next time

    return IndexBuild(n, fetch, classifier, description, batch, on_done=save)


def build_builtin_index(
    n: int = 1500,
    seed: int = 0,
    size: int = 128,
    progress: ProgressFn | None = None,
    cancel=None,
    *,
    classifier=None,
    cache_dir: str | Path | None = None,
) -> CatalogIndex:
    """The index of the first ``n`` built-in items (from the cache when it matches; see :func:`builtin_index_build`).

    ``progress(fraction, message)`` is called after each batch; ``cancel`` (a token or a callable returning True)
    is checked before each and raises :class:`~gan_studio.runtime.cancel.Cancelled`.
    """
    build = builtin_index_build(n, seed, size, classifier, cache_dir)
    return build.run(progress, cancel)


def folder_index_build(folder, classifier=None, max_items: int | None = None, batch: int = 32) -> IndexBuild:
    """A build over a user catalog folder (a path or a read ``CatalogFolder``); unreadable items are skipped."""
    if isinstance(folder, (str, os.PathLike)):
        from gan_studio.data.catalog_reader import read_catalog

        folder = read_catalog(folder)
    if classifier is None:
        from gan_studio.models.classifier import load_classifier

        classifier = load_classifier()
    total = len(folder) if max_items is None else min(len(folder), int(max_items))
    path = getattr(folder, "path", None)
    description = f"catalog folder {Path(path).name if path else ''}, {total} items".replace("  ", " ")

    def fetch(start: int, stop: int):
        images, ids, titles = [], [], []
        for i in range(start, stop):
            try:
                item = folder[i]
            except (ValueError, OSError):
                continue
            images.append(item.image)
            ids.append(item.id)
            titles.append(item.title)
        return images, ids, titles

    return IndexBuild(total, fetch, classifier, description, batch)


def build_folder_index(
    folder,
    progress: ProgressFn | None = None,
    cancel=None,
    *,
    classifier=None,
    max_items: int | None = None,
) -> CatalogIndex:
    """The index of a user catalog folder (``images/`` + ``titles.csv``), read and embedded in batches."""
    return folder_index_build(folder, classifier, max_items).run(progress, cancel)


# --- worker jobs (the Generate workspace's discovery panel) ---------------------------------------------------


@dataclass(frozen=True)
class IndexSpec:
    """Which catalog to index: the first ``n`` built-in items of ``seed``, or the catalog folder ``folder``."""

    source: str = "builtin"  # "builtin" or "folder"
    seed: int = 0
    n: int = 1500
    size: int = 128
    folder: str = ""
    cache_dir: str | None = None
    batch: int = 32  # items per worker job: other requests never wait behind more than one batch

    @property
    def key(self) -> str:
        """The model-cache name the (partial) build lives under on the worker."""
        where = self.folder if self.source == "folder" else f"{self.seed}:{self.n}:{self.size}"
        return f"retrieval.index:{self.source}:{where}:{self.cache_dir}"

    @property
    def description(self) -> str:
        if self.source == "folder":
            return f"catalog folder {Path(self.folder).name}"
        return "built-in catalog" + (f" (seed {self.seed})" if self.seed else "")


@dataclass(frozen=True)
class IndexStatus:
    """How far the build of ``spec`` got; ``problem`` is one sentence when it cannot be built."""

    spec: IndexSpec
    done: bool
    count: int
    total: int
    from_cache: bool = False
    problem: str | None = None


def _worker_classifier(ctx):
    from gan_studio.models.classifier import load_classifier

    return ctx.models.get_or_load("retrieval.classifier", lambda: load_classifier(device=ctx.device))


def index_job(ctx, spec: IndexSpec, budget_s: float = 0.0) -> IndexStatus:
    """Worker job body: advance the build of ``spec`` by one batch (more while under ``budget_s`` seconds).

    The partial build is kept in the worker's model cache, so the next job (or a later one after a cancel)
    resumes where this one stopped; a finished build is the index :func:`query_job` searches.
    """
    import time

    try:

        def start() -> IndexBuild:
            classifier = _worker_classifier(ctx)
            if spec.source == "folder":
                return folder_index_build(spec.folder, classifier, batch=spec.batch)
            return builtin_index_build(spec.n, spec.seed, spec.size, classifier, spec.cache_dir, spec.batch)

        build: IndexBuild = ctx.models.get_or_load(spec.key, start)
    except (ImportError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        return IndexStatus(spec, False, 0, 0, problem=f"the {spec.description} cannot be indexed ({reason})")
    deadline = time.perf_counter() + budget_s
    while not build.done:
        ctx.progress(
            build.fraction, f"Indexing the {spec.description} for discovery {build.count}/{build.total}"
        )
        build.step()
        if time.perf_counter() >= deadline:
            break
    return IndexStatus(spec, build.done, build.count, build.total, build.from_cache)


def query_job(ctx, spec: IndexSpec, image: np.ndarray, k: int = 6) -> list[Match] | None:
    """Worker job body: the ``k`` items of the finished index of ``spec`` nearest to ``image`` (None if not built)."""
    build = ctx.models.get(spec.key)
    if build is None or not build.done:
        return None
    return build.index.query(image, k)
