"""Fitting a HandsOff label generator: its heads trained on a generator's hypercolumns from a few labeled latents.

:func:`fit_label_generator` takes the latents of a few labeled images (their inversions) with their labels and
trains, on the generator's own hypercolumns (:mod:`gan_studio.methods.hypercolumns`), the heads of a
:class:`~gan_studio.methods.label_generator_model.LabelGenerator` for each task some image is labeled for:

- **segmentation**: each ensemble member from its own seed and, with ``bootstrap``, its own bootstrap resample of
  the images (Poisson(1) weights per image, so all members learn from the same streamed pixels), by cross-entropy
  with class weights (``class_balance``);
- **keypoints**: binary cross-entropy against Gaussian heatmaps of ``keypoint_sigma`` pixels at uniformly sampled
  pixels plus extra pixels near each labeled keypoint; keypoints with ``v == 0`` in an image are no target for that
  keypoint there (``v == 1``, labeled but hidden, still teaches where the point is);
- **depth**: L1 on standardized meters on labeled pixels (depth > 0), plus binary cross-entropy of whether a pixel
  has depth at all.

Training never holds the hypercolumns of all pixels of all images: each step samples ``pixels_per_image`` pixels
of ``images_per_step`` images and computes only theirs (the conv trunk also sees the half-size maps of those few
images). The training record says how many bytes that took.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gan_studio.methods.hypercolumns import FeatureNorm, HypercolumnSource, tensor_bytes
from gan_studio.methods.label_generator_config import TASKS, LabelGeneratorConfig
from gan_studio.methods.label_generator_model import LabelGenerator
from gan_studio.methods.label_heads import gaussian_targets, pixels_near
from gan_studio.runtime.cancel import CancelToken

Progress = Callable[[float, str], None]
LossCallback = Callable[[int, dict[str, float]], None]


@dataclass
class _Labels:
    """The training labels as tensors, with which images carry each task's label."""

    masks: dict[int, torch.Tensor]  # image -> (S*S,) long
    keypoints: dict[int, torch.Tensor]  # image -> (K, 3) float32
    depths: dict[int, torch.Tensor]  # image -> (S*S,) float32


def _read_labels(labels: Sequence[Mapping], size: int, config: LabelGeneratorConfig) -> _Labels:
    masks, keypoints, depths = {}, {}, {}
    n_classes, n_keypoints = len(config.class_names), len(config.keypoint_names)
    for i, item in enumerate(labels):
        mask, kps, depth = item.get("mask"), item.get("keypoints"), item.get("depth")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (size, size):
                raise ValueError(f"image {i}: the mask is {mask.shape}, not ({size}, {size})")
            if mask.size and (int(mask.max()) >= n_classes or int(mask.min()) < 0):
                raise ValueError(
                    f"image {i}: the mask has classes {int(mask.min())}..{int(mask.max())}, "
                    f"outside the {n_classes} classes 0..{n_classes - 1}"
                )
            masks[i] = torch.from_numpy(mask.astype(np.int64).reshape(-1))
        if kps is not None:
            kps = np.asarray(kps, dtype=np.float32)
            if kps.shape != (n_keypoints, 3):
                raise ValueError(f"image {i}: keypoints are {kps.shape}, not ({n_keypoints}, 3)")
            if (kps[:, 2] > 0).any():
                keypoints[i] = torch.from_numpy(kps.copy())
        if depth is not None:
            depth = np.asarray(depth, dtype=np.float32)
            if depth.shape != (size, size):
                raise ValueError(f"image {i}: the depth map is {depth.shape}, not ({size}, {size})")
            depths[i] = torch.from_numpy(depth.reshape(-1).copy())
    return _Labels(masks, keypoints, depths)


def _peak_rss_mb() -> float | None:
    """The process's peak resident memory in MB (the whole process, since it started), where the OS tells it."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


class _Trainer:
    """One fit: the streamed source, the model, its optimizer and the per-step losses."""

    def __init__(self, source: HypercolumnSource, labels: _Labels, model: LabelGenerator, n_images: int):
        self.source = source
        self.labels = labels
        self.model = model
        self.config = model.config
        self.size = source.size
        self.rng = torch.Generator().manual_seed(model.config.seed)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=model.config.lr)
        self.member_weights = self._bootstrap(n_images)
        self.class_weights = self._class_weights()
        # image -> the flat pixels of each part class (None: the image has no mask), found on first use
        self.part_regions: dict[int, list[torch.Tensor | None]] = {}

    def _class_weights(self) -> torch.Tensor | None:
        if not self.labels.masks or self.config.class_balance == 0:
            return None
        n_classes = len(self.config.class_names)
        counts = sum(torch.bincount(m, minlength=n_classes) for m in self.labels.masks.values()).double()
        share = counts / counts.sum()
        weights = torch.where(counts > 0, share.clamp_min(1e-6) ** -self.config.class_balance, 0.0)
        return (weights / (weights * share).sum()).float()  # the average labeled pixel weighs 1

    def _bootstrap(self, n_images: int) -> torch.Tensor:
        """(M, N) weight of each image in each segmentation member's loss: Poisson(1) counts, or ones."""
        members = self.config.ensemble_size
        if not self.config.bootstrap:
            return torch.ones(members, n_images)
        counts = torch.poisson(torch.ones(members, n_images), generator=self.rng)
        labeled = torch.zeros(n_images, dtype=torch.bool)
        labeled[list(self.labels.masks)] = True
        for m in range(members):  # a member whose resample has no labeled image would learn nothing
            if counts[m][labeled].sum() == 0:
                counts[m] = 1.0
        return counts

    def _part_pixels(self, i: int) -> torch.Tensor:
        """(C * part_pixels, 2) pixels drawn inside each part class's region of image ``i`` (C = the classes but
        the background); uniform ones for a class the image lacks or an image without a mask."""
        cfg, size = self.config, self.size
        n = cfg.part_pixels
        regions = self.part_regions.get(i)
        if regions is None:
            mask = self.labels.masks.get(i)
            regions = [
                None if mask is None else (mask == k).nonzero()[:, 0] for k in range(1, len(cfg.class_names))
            ]
            self.part_regions[i] = regions
        out = []
        for region in regions:
            if region is None or len(region) == 0:
                out.append(torch.randint(0, size, (n, 2), generator=self.rng))
                continue
            flat = region[torch.randint(0, len(region), (n,), generator=self.rng)]
            out.append(torch.stack([flat % size, flat // size], dim=1))
        return torch.cat(out)

    def pixels(self, index: Sequence[int]) -> torch.Tensor:
        """(b, P, 2) pixels for a step: uniform ones, ones inside each labeled part (``part_pixels``) and ones near
        each labeled keypoint when keypoints train."""
        cfg, size = self.config, self.size
        uniform = torch.randint(0, size, (len(index), cfg.pixels_per_image, 2), generator=self.rng)
        if cfg.part_pixels and self.model.segmentation is not None:
            uniform = torch.cat([uniform, torch.stack([self._part_pixels(i) for i in index])], dim=1)
        if self.model.keypoints is None:
            return uniform
        k = len(cfg.keypoint_names)
        near = []
        for i in index:
            kps = self.labels.keypoints.get(i, torch.zeros(k, 3))
            near.append(pixels_near(kps, cfg.keypoint_pixels, cfg.keypoint_sigma, size, self.rng))
        return torch.cat([uniform, torch.stack(near)], dim=1)

    def step(self, index: Sequence[int]) -> dict[str, float]:
        """One optimizer step on the sampled pixels of ``latents[index]``; returns the losses by task."""
        model = self.model
        pixels = self.pixels(index).to(self.source.device)
        _, maps = self.source.render(index)
        p = pixels.shape[1]
        x = model.pixel_features(maps, pixels)
        self.source.note_batch(maps, x)  # conv head: the trunk's features at the sampled pixels
        losses: dict[str, torch.Tensor] = {}
        for task, head, labeled, loss in (
            ("segmentation", model.segmentation, self.labels.masks, self._segmentation_loss),
            ("keypoints", model.keypoints, self.labels.keypoints, self._keypoint_loss),
            ("depth", model.depth, self.labels.depths, self._depth_loss),
        ):
            rows = [j for j, i in enumerate(index) if i in labeled]  # images of the batch with this label
            if head is not None and rows:
                sel = torch.cat([torch.arange(j * p, (j + 1) * p) for j in rows]).to(x.device)
                losses[task] = loss([index[j] for j in rows], pixels[rows], x[sel])

        if losses:
            self.optimizer.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            self.optimizer.step()
        report = {k: float(v.detach()) for k, v in losses.items()}
        if "segmentation" in report:  # report the mean member's loss, comparable across ensemble sizes
            report["segmentation"] /= self.config.ensemble_size
        return report

    def _segmentation_loss(self, images: list[int], pixels: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Sum over members of each one's cross-entropy, weighted by its bootstrap counts of the images."""
        flat = pixels[..., 1] * self.size + pixels[..., 0]  # (b, P) row-major pixel index
        target = torch.cat([self.labels.masks[i].to(x.device)[f] for i, f in zip(images, flat, strict=True)])
        logits = self.model.segmentation(x)  # (M, n, K)
        members = len(logits)
        ce = F.cross_entropy(logits.permute(1, 2, 0), target[:, None].expand(-1, members), reduction="none")
        if self.class_weights is not None:
            ce = ce * self.class_weights.to(x.device)[target][:, None]
        image_of_row = torch.tensor(images).repeat_interleave(pixels.shape[1])
        weights = self.member_weights[:, image_of_row].T.to(x.device)  # (n, M)
        return ((ce * weights).sum(0) / weights.sum(0).clamp_min(1.0)).sum()

    def _keypoint_loss(self, images: list[int], pixels: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy against Gaussian heatmaps, only for the keypoints labeled in each image."""
        sigma = self.config.keypoint_sigma
        kps = [self.labels.keypoints[i].to(x.device) for i in images]
        target = torch.cat([gaussian_targets(kp, px, sigma) for kp, px in zip(kps, pixels, strict=True)])
        valid = torch.cat([(kp[:, 2] > 0).expand(pixels.shape[1], -1) for kp in kps]).float()  # (n, K)
        bce = F.binary_cross_entropy_with_logits(self.model.keypoints(x), target, reduction="none")
        return (bce * valid).sum() / valid.sum().clamp_min(1.0)

    def _depth_loss(self, images: list[int], pixels: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """L1 on standardized depth where it is labeled, plus cross-entropy of 'this pixel has depth'."""
        flat = pixels[..., 1] * self.size + pixels[..., 0]
        depth = torch.cat([self.labels.depths[i].to(x.device)[f] for i, f in zip(images, flat, strict=True)])
        out = self.model.depth(x)
        labeled = depth > 0
        mean, std = self.model.depth_scale
        l1 = ((out[:, 0] - (depth - mean) / std).abs() * labeled).sum() / labeled.sum().clamp_min(1)
        return l1 + F.binary_cross_entropy_with_logits(out[:, 1], labeled.float())


def fit_label_generator(
    generator,
    latents: torch.Tensor,
    labels: Sequence[Mapping],
    config: LabelGeneratorConfig | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    on_loss: LossCallback | None = None,
) -> LabelGenerator:
    """Train a label generator on the hypercolumns of ``generator`` at ``latents`` (N, D) (inverted images).

    ``labels[i]`` is a dict with any of ``mask`` (S, S) uint8 class indices into ``config.class_names``,
    ``keypoints`` (K, 3) float32 x, y, v in pixels and ``depth`` (S, S) float32 meters (0 = undefined); missing
    or None entries are simply not trained on. ``progress(fraction, message)`` reports progress, ``cancel`` is
    checked between steps (raises :class:`~gan_studio.runtime.cancel.Cancelled`), ``on_loss(step, losses)`` gets
    each step's losses by task. Everything runs on ``latents``' device. The returned model's
    ``training_record`` says what it learned from, how long it took and how much memory the hypercolumns held.
    """
    config = config or LabelGeneratorConfig()
    progress = progress or (lambda fraction, message: None)
    if latents.ndim != 2 or len(latents) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"need one label dict per latent; got {len(labels)} for latents {tuple(latents.shape)}"
        )
    started = time.perf_counter()
    rss_before = _peak_rss_mb()
    size = int(generator.image_size)
    data = _read_labels(labels, size, config)
    have = {"segmentation": data.masks, "keypoints": data.keypoints, "depth": data.depths}
    tasks = [t for t in config.tasks if have[t]]
    if not tasks:
        raise ValueError(f"no image is labeled for any of the tasks asked for ({', '.join(config.tasks)})")

    source = HypercolumnSource(
        generator,
        latents,
        config.render_batch,
        cache_bytes=int(config.feature_cache_mb * 1024**2),
        extras=config.extra_features,
    )
    rng = torch.Generator().manual_seed(config.seed)
    norm: FeatureNorm | None = None
    for index, _, columns in source.stream(
        lambda index, _: torch.randint(0, size, (len(index), config.pixels_per_image, 2), generator=rng)
    ):
        if cancel is not None:
            cancel.raise_if_cancelled()
        norm = norm or FeatureNorm(columns.shape[-1])
        norm.update(columns)
        progress(0.05 * (index[-1] + 1) / len(source), "Reading the generator's features")
    assert norm is not None

    model = LabelGenerator(config, source.channels_per_block, size, tasks).to(latents.device)
    model.norm_mean.copy_(norm.mean)
    model.norm_std.copy_(norm.std)
    if data.depths:
        labeled = torch.cat([d[d > 0] for d in data.depths.values()])
        if len(labeled):
            model.depth_scale.copy_(
                torch.stack([labeled.mean(), labeled.std().nan_to_num(1.0).clamp_min(1e-3)])
            )
    model.train()

    trainer = _Trainer(source, data, model, len(latents))
    order: list[int] = []
    last: dict[str, float] = {}
    for step in range(config.steps):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if len(order) < config.images_per_step:  # walk the images in shuffled passes
            order += torch.randperm(len(latents), generator=trainer.rng).tolist()
        index, order = order[: config.images_per_step], order[config.images_per_step :]
        last = trainer.step(sorted(set(index)))
        if on_loss is not None:
            on_loss(step, last)
        if step % 10 == 0 or step == config.steps - 1:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in last.items())
            progress(0.05 + 0.95 * (step + 1) / config.steps, f"Step {step + 1}/{config.steps}: {shown}")
    model.eval()

    rss_after = _peak_rss_mb()
    model.training_record = {
        "command": "fit_label_generator",
        "images_used": len(latents),
        "labels": {t: len(have[t]) for t in TASKS},
        "tasks": list(model.tasks),
        "steps": config.steps,
        "seed": config.seed,
        "seconds": round(time.perf_counter() - started, 3),
        "norm_pixels": norm.count,
        "final_losses": last,
        "memory": {
            **source.memory.as_dict(),
            "model_bytes": tensor_bytes(list(model.state_dict().values())),
            "process_peak_rss_mb": rss_after,
            "process_peak_rss_growth_mb": None if rss_before is None else rss_after - rss_before,
        },
        "memory_notes": list(source.memory.notes),
    }
    progress(1.0, "Label generator trained")
    return model
