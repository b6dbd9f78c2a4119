"""Hypercolumns: per-pixel features made of every generator block's output, for HandsOff's label generator.

The hypercolumn of pixel (x, y) is the output of every block of the generator, each upsampled bilinearly
(``align_corners=False``) to the image size and read at (x, y), concatenated over blocks: a vector of
``C = sum(C_i)`` numbers. Holding them for every pixel of every image is what makes the reference code need over
100 GB for 50 images, so here they are only ever made

- for the pixels a training step samples (:func:`hypercolumns` with ``pixels``): ``F.grid_sample`` reads each
  block's map at the pixel centres, which is the same bilinear interpolation as upsampling the whole map and
  indexing it (equal to float rounding, see the tests) without ever building the upsampled map; or
- for all pixels of one image, or one band of its rows, at a time (prediction).

:class:`HypercolumnSource` renders latents in small batches and keeps, when they fit in its budget, the blocks'
maps at their *native* resolution (tens of times smaller than the upsampled hypercolumns), so training never
renders an image twice; otherwise it renders each step's images again. It counts the bytes it holds.

Pixel coordinates are integer (x, y) = (column, row); a pixel's centre is at (x + 0.5, y + 0.5) in the continuous
coordinates keypoints use (the image spans [0, S]).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

DEFAULT_CACHE_BYTES = 512 * 1024**2


def tensor_bytes(tensors: torch.Tensor | Sequence[torch.Tensor]) -> int:
    """Bytes held by a tensor or a sequence of tensors (their elements, not Python overhead)."""
    if isinstance(tensors, torch.Tensor):
        tensors = [tensors]
    return sum(t.numel() * t.element_size() for t in tensors)


def pixel_grid(
    size: int, rows: range | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """Integer (x, y) of every pixel of an S x S image (or of ``rows``), row-major: (len(rows) * S, 2) long."""
    rows = range(size) if rows is None else rows
    ys, xs = torch.meshgrid(
        torch.arange(rows.start, rows.stop, device=device), torch.arange(size, device=device), indexing="ij"
    )
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)


def hypercolumns(
    feature_maps: Sequence[torch.Tensor], size: int, pixels: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-pixel features of a batch: every block's map, bilinearly upsampled to ``size``, concatenated.

    ``feature_maps``: one (B, C_i, H_i, W_i) map per block. ``pixels``: (B, P, 2) integer (x, y) per image, or
    None for every pixel. Returns (B, P, C) with ``C = sum(C_i)`` (blocks in order), or (B, S * S, C) in row-major
    pixel order when ``pixels`` is None. Without ``pixels`` the whole upsampled batch is built, so callers pass one
    image (or a few) at a time; with ``pixels`` only the P sampled pixels are ever computed.
    """
    if not feature_maps:
        raise ValueError("hypercolumns need at least one feature map")
    batch = feature_maps[0].shape[0]
    if pixels is None:
        columns = [
            F.interpolate(f, size=(size, size), mode="bilinear", align_corners=False).flatten(2)
            for f in feature_maps
        ]
        return torch.cat(columns, dim=1).transpose(1, 2)
    if pixels.ndim != 3 or pixels.shape[0] != batch or pixels.shape[2] != 2:
        raise ValueError(f"pixels must be (B={batch}, P, 2) integer (x, y); got {tuple(pixels.shape)}")
    dtype = feature_maps[0].dtype
    # Pixel centres in grid_sample's normalized coordinates: with align_corners=False, -1 and 1 are the outer
    # edges of the image, so centre x + 0.5 of S pixels maps to (2x + 1) / S - 1, which grid_sample reads at
    # source coordinate (x + 0.5) * W / S - 0.5: the same point F.interpolate samples. "border" clamps that
    # point to the map like interpolate does at the image's edges.
    grid = ((2.0 * pixels.to(dtype) + 1.0) / size - 1.0).unsqueeze(1)  # (B, 1, P, 2)
    columns = [
        F.grid_sample(f, grid.to(f.dtype), mode="bilinear", padding_mode="border", align_corners=False)[
            :, :, 0
        ]
        for f in feature_maps
    ]
    return torch.cat(columns, dim=1).transpose(1, 2)  # (B, P, C)


class FeatureNorm:
    """Per-channel mean and standard deviation of hypercolumns, accumulated over sampled pixels.

    ``update`` takes (..., C) rows (float64 sums, so the order of batches hardly matters); ``mean``/``std`` are
    (C,) float32. Stored with the label generator so prediction normalizes exactly as training did.
    """

    def __init__(self, channels: int):
        self.channels = channels
        self.count = 0
        self._sum = torch.zeros(channels, dtype=torch.float64)
        self._sumsq = torch.zeros(channels, dtype=torch.float64)

    def update(self, rows: torch.Tensor) -> None:
        rows = rows.detach().reshape(-1, self.channels).to("cpu", torch.float64)
        self.count += len(rows)
        self._sum += rows.sum(0)
        self._sumsq += rows.square().sum(0)

    @property
    def mean(self) -> torch.Tensor:
        return (self._sum / max(self.count, 1)).float()

    @property
    def std(self) -> torch.Tensor:
        mean = self._sum / max(self.count, 1)
        var = (self._sumsq / max(self.count, 1) - mean.square()).clamp_min(0.0)
        # A channel that never varies (a dead ReLU) would divide by zero: give it unit scale.
        return torch.where(var > 1e-12, var.sqrt(), torch.ones_like(var)).float()


@dataclass
class SourceMemory:
    """What a :class:`HypercolumnSource` held: cached native maps, and the most held at once for one batch."""

    cache_bytes: int = (
        0  # native-resolution block maps (and images) kept for every latent, 0 when not caching
    )
    peak_batch_bytes: int = 0  # the most rendered maps + hypercolumns of one batch held at once
    peak_hypercolumn_bytes: int = 0  # the largest hypercolumn tensor handed out
    renders: int = 0  # images rendered (a cached source renders each once)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "cache_bytes": self.cache_bytes,
            "peak_batch_bytes": self.peak_batch_bytes,
            "peak_hypercolumn_bytes": self.peak_hypercolumn_bytes,
            "peak_bytes": self.cache_bytes + self.peak_batch_bytes,
            "renders": self.renders,
        }


EXTRAS = ("image", "position")


def extra_maps(images: torch.Tensor, extras: Sequence[str]) -> list[torch.Tensor]:
    """Full-resolution maps appended after the generator's blocks: ``image`` (the rendered RGB, the last
    block's output) and ``position`` (each pixel centre's x and y in [-1, 1]), in the order asked for."""
    b, _, h, w = images.shape
    out = []
    for name in extras:
        if name == "image":
            out.append(images.detach())
        elif name == "position":
            ys = (torch.arange(h, device=images.device, dtype=images.dtype) + 0.5) * 2.0 / h - 1.0
            xs = (torch.arange(w, device=images.device, dtype=images.dtype) + 0.5) * 2.0 / w - 1.0
            grid = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w)])
            out.append(grid[None].expand(b, 2, h, w))
    return out


class HypercolumnSource:
    """Renders ``latents`` (N, D) with a protocol generator in small batches and hands out their hypercolumns.

    With ``cache_bytes`` > 0 the blocks' maps at native resolution are kept for every latent when all of them fit
    in that many bytes (decided after the first batch), so each image is rendered once; otherwise every request
    renders its images again. Hypercolumns themselves are never cached: each request makes only those of the
    pixels it asks for. :attr:`memory` counts the bytes held.
    """

    def __init__(
        self,
        generator,
        latents: torch.Tensor,
        batch_size: int = 4,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        extras: Sequence[str] = (),
    ):
        if latents.ndim != 2:
            raise ValueError(f"latents must be (N, D); got {tuple(latents.shape)}")
        unknown = [e for e in extras if e not in EXTRAS]
        if unknown:
            raise ValueError(f"extra features must be some of {', '.join(EXTRAS)}; got {list(extras)}")
        self.extras = tuple(extras)
        self.generator = generator
        self.latents = latents.detach()
        self.batch_size = max(1, int(batch_size))
        self.cache_limit = int(cache_bytes)
        self.size = int(generator.image_size)
        self.memory = SourceMemory()
        self._cache: dict[int, tuple[torch.Tensor, list[torch.Tensor]]] | None = None
        self._decided = False
        self.channels_per_block: list[int] = []

    def __len__(self) -> int:
        return len(self.latents)

    @property
    def channels(self) -> int:
        """C, the length of a hypercolumn (known after the first render)."""
        if not self.channels_per_block:
            self.render([0])
        return sum(self.channels_per_block)

    @property
    def device(self) -> torch.device:
        return self.latents.device

    @torch.no_grad()
    def _render(self, index: Sequence[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        images, maps = self.generator.synthesize(self.latents[list(index)], features=True)
        maps = list(maps) + extra_maps(images, self.extras)
        self.memory.renders += len(index)
        if not self.channels_per_block:
            self.channels_per_block = [int(f.shape[1]) for f in maps]
        return images.detach(), [f.detach() for f in maps]

    def _decide_cache(self, images: torch.Tensor, maps: list[torch.Tensor]) -> None:
        per_image = (tensor_bytes(images) + tensor_bytes(maps)) // len(images)
        if self.cache_limit > 0 and per_image * len(self) <= self.cache_limit:
            self._cache = {}
        else:
            self.memory.notes.append(
                f"native maps of {len(self)} images ({per_image * len(self)} bytes) exceed the cache budget "
                f"({self.cache_limit} bytes): images are rendered again each time they are used"
            )
        self._decided = True

    def render(self, index: Sequence[int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images (b, 3, S, S) in [-1, 1] and every block's map (b, C_i, H_i, W_i) of ``latents[index]``."""
        index = [int(i) for i in index]
        if self._cache is not None and all(i in self._cache for i in index):
            got = [self._cache[i] for i in index]
            return torch.stack([g[0] for g in got]), [torch.stack(m) for m in zip(*(g[1] for g in got))]
        images, maps = [], []
        for start in range(0, len(index), self.batch_size):
            part = index[start : start + self.batch_size]
            im, fm = self._render(part)
            if not self._decided:
                self._decide_cache(im, fm)
            if self._cache is not None:
                for j, i in enumerate(part):
                    if i not in self._cache:
                        # clone: a slice would keep the whole batch's storage alive.
                        self._cache[i] = (im[j].clone(), [f[j].clone() for f in fm])
                        self.memory.cache_bytes += tensor_bytes(self._cache[i][0]) + tensor_bytes(
                            self._cache[i][1]
                        )
            images.append(im)
            maps.append(fm)
        return torch.cat(images), [torch.cat(m) for m in zip(*maps)]

    def sample(self, index: Sequence[int], pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (b, 3, S, S) and hypercolumns (b, P, C) of ``latents[index]`` at ``pixels`` (b, P, 2) (x, y)."""
        images, maps = self.render(index)
        columns = hypercolumns(maps, self.size, pixels.to(self.device))
        self.note_batch(maps, columns)
        return images, columns

    def note_batch(self, maps: Sequence[torch.Tensor], columns: torch.Tensor) -> None:
        """Count one batch's maps and hypercolumns as held at once (cached maps are counted in the cache)."""
        held = tensor_bytes(columns) + (0 if self._cache is not None else tensor_bytes(maps))
        self.memory.peak_batch_bytes = max(self.memory.peak_batch_bytes, held)
        self.memory.peak_hypercolumn_bytes = max(self.memory.peak_hypercolumn_bytes, tensor_bytes(columns))

    def stream(
        self, pixels: Callable[[list[int], torch.Tensor], torch.Tensor]
    ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """Every latent once, in batches: yields (index, images (b, 3, S, S), hypercolumns (b, P, C)).

        ``pixels(index, images)`` chooses the (b, P, 2) pixels of each batch; only those are computed.
        """
        for start in range(0, len(self), self.batch_size):
            index = list(range(start, min(start + self.batch_size, len(self))))
            images, maps = self.render(index)
            columns = hypercolumns(maps, self.size, pixels(index, images).to(self.device))
            self.note_batch(maps, columns)
            yield index, images, columns


def image_bands(
    maps: Sequence[torch.Tensor], size: int, max_rows_bytes: int = 64 * 1024**2
) -> Iterator[tuple[range, torch.Tensor]]:
    """Hypercolumns of every pixel of ONE image's maps (1, C_i, H_i, W_i), a band of rows at a time.

    Yields (rows, hypercolumns (len(rows) * S, C)) in row-major order; each band holds at most about
    ``max_rows_bytes`` of hypercolumns.
    """
    channels = sum(int(f.shape[1]) for f in maps)
    row_bytes = size * channels * maps[0].element_size()
    step = max(1, min(size, max_rows_bytes // max(row_bytes, 1)))
    for top in range(0, size, step):
        rows = range(top, min(size, top + step))
        pixels = pixel_grid(size, rows, device=maps[0].device)[None]
        yield rows, hypercolumns(maps, size, pixels)[0]
