"""HandsOff's label generator: per-pixel heads on a generator's hypercolumns, trained from a few labeled latents.

:func:`fit_label_generator` takes the latents of a few labeled images (their inversions) with their labels and
trains, on the generator's own hypercolumns (:mod:`gan_studio.methods.hypercolumns`):

- **segmentation**: an ensemble of per-pixel MLPs (:class:`~gan_studio.methods.label_heads.SegmentationEnsemble`),
  each from its own seed and, with ``bootstrap``, its own bootstrap resample of the images (Poisson(1) weights per
  image, so all members learn from the same streamed pixels). Prediction is the members' majority vote; the
  per-pixel uncertainty is the Jensen-Shannon divergence of their softmaxes, and an image's uncertainty is its
  **mean** per-pixel JS divergence (nats), the score :func:`~gan_studio.methods.label_heads.drop_most_uncertain`
  ranks generated images by;
- **keypoints**: one per-pixel MLP giving K heatmap logits, trained with binary cross-entropy against Gaussian
  heatmaps of ``keypoint_sigma`` pixels at uniformly sampled pixels plus extra pixels near each labeled keypoint;
  keypoints with ``v == 0`` in an image are no target for that keypoint there (``v == 1``, labeled but hidden,
  still teaches where the point is). Decoded by argmax + local soft-argmax; visible (v = 2) when the peak heat
  exceeds ``keypoint_threshold``, else v = 0;
- **depth**: one per-pixel MLP regressing depth (L1, on standardized meters) on labeled pixels (depth > 0), with
  a second output that says whether a pixel has depth at all. Predicted depth is 0 where the segmentation says
  background (class 0) when the segmentation is trained, else where that second output says so.

The heads read either each pixel's standardized hypercolumn alone (``head="pixel"``, the HandsOff reference's
per-pixel MLPs, C -> 256 -> 128 -> out) or the ``width`` features of a small convolutional trunk over the block maps
(``head="conv"``, the default: :class:`~gan_studio.methods.spatial_trunk.SpatialTrunk`, whose 3x3 convolutions give
each pixel its neighbourhood and which never builds whole-image hypercolumns, so labeling a 128 px image costs a few
hundred million multiply-adds instead of tens of billions). Ensemble, bootstrap and Jensen-Shannon uncertainty are
the same for both: in the conv head the members share the trunk and each has its own per-pixel head.

Training never holds the hypercolumns of all pixels of all images: each step samples ``pixels_per_image`` pixels
of ``images_per_step`` images and computes only theirs (the conv trunk also sees the half-size maps of those few
images). The training record says how many bytes that took.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES
from gan_studio.methods.hypercolumns import (
    FeatureNorm,
    HypercolumnSource,
    hypercolumns,
    image_bands,
    tensor_bytes,
)
from gan_studio.methods.label_heads import (
    PixelMLP,
    SegmentationEnsemble,
    ensemble_vote,
    folded_layers,
    gaussian_targets,
    js_uncertainty,
    majority_vote,
    mlp_channels_first,
    pixels_near,
)
from gan_studio.methods.spatial_trunk import SpatialTrunk
from gan_studio.models.checkpoint import CheckpointError, load_model, save_checkpoint
from gan_studio.models.keypoints import decode_heatmaps
from gan_studio.models.text_to_image import to_uint8
from gan_studio.runtime.cancel import CancelToken

TASKS: tuple[str, ...] = ("segmentation", "keypoints", "depth")
HEADS: tuple[str, ...] = ("conv", "pixel")
PREDICT_ROWS = 32 * 1024  # pixels labeled at once by the conv head's per-pixel layers (bounds their memory)
ARCHITECTURE = "handsoff_label_generator"
WEIGHTS_NAME = "label_generator.safetensors"

Progress = Callable[[float, str], None]
LossCallback = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class LabelGeneratorConfig:
    """How to build and train a label generator. Ensemble size is the HandsOff reference's; ``head="pixel"`` with
    ``hidden=(256, 128)`` is its per-pixel MLP (the models shipped before the conv head)."""

    tasks: tuple[str, ...] = TASKS  # tasks to train (a task no image is labeled for is skipped)
    ensemble_size: int = 10  # segmentation members
    head: str = "conv"  # "conv": spatial trunk + small per-pixel heads; "pixel": MLPs on raw hypercolumns
    width: int = 32  # conv head: trunk channels per pixel
    context: int = 2  # conv head: residual 3x3 convolutions at half the image size
    hidden: tuple[int, ...] = (32,)  # hidden widths of every per-pixel head
    # Segmentation loss weight of class k = (its share of labeled pixels) ** -class_balance, normalized so the
    # average labeled pixel weighs 1: small parts (pocket, fly, cuff: ~1 % of the pixels each) are not drowned by
    # the background. 0 = plain cross-entropy (every model fitted before this setting).
    class_balance: float = 0.5
    steps: int = 1000  # optimizer steps
    images_per_step: int = 4
    pixels_per_image: int = 1024  # uniformly sampled pixels per image per step
    keypoint_pixels: int = 16  # extra pixels per keypoint per image per step, sampled near it
    lr: float = 1e-3  # Adam
    seed: int = 0
    keypoint_sigma: float = 4.0  # pixels, of the Gaussian heatmap targets (4 px at 128 px: what ships)
    keypoint_threshold: float = 0.3  # peak heat above which a predicted keypoint is visible
    bootstrap: bool = True  # each segmentation member sees its own bootstrap resample of the images
    render_batch: int = 4  # latents rendered at once
    # Full-resolution maps added to the generator's blocks: the rendered image itself and each pixel's (x, y).
    # A per-pixel MLP cannot otherwise tell a left leg from a right one where the features are symmetric.
    extra_features: tuple[str, ...] = ("image", "position")
    feature_cache_mb: float = 512.0  # keep native-resolution block maps of all images when they fit in this
    class_names: tuple[str, ...] = PART_NAMES  # class 0 is the background
    keypoint_names: tuple[str, ...] = KEYPOINTS

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ValueError(f"tasks must be some of {', '.join(TASKS)}; got {list(self.tasks)}")
        if self.ensemble_size < 1 or self.steps < 0 or self.images_per_step < 1 or self.pixels_per_image < 2:
            # (batch norm needs two rows or more)
            raise ValueError(
                "ensemble_size and images_per_step must be >= 1, pixels_per_image >= 2, steps >= 0"
            )
        if self.head not in HEADS or self.width < 1 or self.context < 0:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, width >= 1 and context >= 0")
        if len(self.class_names) < 2:
            raise ValueError("segmentation needs at least two classes (class 0 is the background)")
        if not self.keypoint_names or self.keypoint_sigma <= 0 or self.lr <= 0:
            raise ValueError("keypoint_names must not be empty and keypoint_sigma and lr must be positive")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping) -> LabelGeneratorConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown label generator settings: {', '.join(unknown)}")
        # Models saved before extra features had none; before the conv head, every model was per-pixel.
        data = {"extra_features": [], "head": "pixel", "class_balance": 0.0, **data}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


class LabelGenerator(nn.Module):
    """Per-pixel heads for the ``tasks`` trained, over hypercolumns of ``channels_per_block`` channels.

    Build it with :func:`fit_label_generator` or :meth:`load`; :meth:`predict` labels new latents.
    """

    def __init__(
        self,
        config: LabelGeneratorConfig,
        channels_per_block: Sequence[int],
        image_size: int,
        tasks: Sequence[str],
    ):
        super().__init__()
        self.config = config
        self.channels_per_block = [int(c) for c in channels_per_block]
        self.image_size = int(image_size)
        self.tasks = tuple(t for t in TASKS if t in tasks)
        channels = sum(self.channels_per_block)
        self.register_buffer("norm_mean", torch.zeros(channels))
        self.register_buffer("norm_std", torch.ones(channels))
        self.register_buffer("depth_scale", torch.tensor([0.0, 1.0]))  # mean, std of labeled depths (m)
        self.trunk = None
        if config.head == "conv":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed + 2000)
                self.trunk = SpatialTrunk(self.channels_per_block, config.width, config.context)
            channels = config.width  # what the per-pixel heads read
        self.segmentation = (
            SegmentationEnsemble(
                channels, config.hidden, len(config.class_names), config.ensemble_size, config.seed
            )
            if "segmentation" in self.tasks
            else None
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed + 1000)
            self.keypoints = (
                PixelMLP(channels, config.hidden, len(config.keypoint_names))
                if "keypoints" in self.tasks
                else None
            )
            self.depth = PixelMLP(channels, config.hidden, 2) if "depth" in self.tasks else None
        self.training_record: dict = {}

    # ---- building from and writing to a manifest -----------------------------------------------------------
    def config_dict(self) -> dict:
        return {
            "label_generator": self.config.to_dict(),
            "channels_per_block": self.channels_per_block,
            "image_size": self.image_size,
            "tasks": list(self.tasks),
        }

    @classmethod
    def from_config_dict(cls, data: Mapping) -> LabelGenerator:
        return cls(
            LabelGeneratorConfig.from_dict(data["label_generator"]),
            data["channels_per_block"],
            data["image_size"],
            data["tasks"],
        )

    def save(self, folder: str | Path, card: str | None = None) -> Path:
        """Write ``folder/label_generator.safetensors`` with its manifest; returns the weights path."""
        record = dict(self.training_record)
        return save_checkpoint(
            self.state_dict(),
            Path(folder) / WEIGHTS_NAME,
            architecture=ARCHITECTURE,
            config=self.config_dict(),
            training=record,
            data={
                "class_names": list(self.config.class_names),
                "keypoint_names": list(self.config.keypoint_names),
                "images_used": record.get("images_used"),
                "labels": record.get("labels"),
            },
            extra={"normalization": {"channels": len(self.norm_mean), "pixels": record.get("norm_pixels")}},
            card=card,
        )

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> LabelGenerator:
        """Load from a folder written by :meth:`save` (or its ``.safetensors``/``.json``), checking the manifest.

        Raises :class:`~gan_studio.models.checkpoint.CheckpointError` (one sentence) for pickle files, missing or
        changed manifests and weights that do not fit.
        """
        path = Path(path)
        if path.is_dir():
            path = path / WEIGHTS_NAME
        model, manifest = load_model(path, ARCHITECTURE, cls.from_config_dict, device=device)
        if not isinstance(model, cls):
            raise CheckpointError(f"{path} did not build a label generator")
        model.training_record = dict(manifest.get("training", {}))
        return model

    # ---- the heads ------------------------------------------------------------------------------------------
    def normalize(self, columns: torch.Tensor) -> torch.Tensor:
        """Hypercolumns (..., C) -> standardized with the training pixels' per-channel statistics."""
        return (columns - self.norm_mean) / self.norm_std

    def check_generator(self, channels_per_block: Sequence[int], image_size: int) -> None:
        if list(channels_per_block) != self.channels_per_block or int(image_size) != self.image_size:
            raise ValueError(
                f"this label generator was trained on a generator with blocks of {self.channels_per_block} "
                f"channels at {self.image_size} px, not {list(channels_per_block)} at {image_size} px"
            )

    def pixel_features(self, maps: Sequence[torch.Tensor], pixels: torch.Tensor) -> torch.Tensor:
        """What the per-pixel heads read at ``pixels`` (B, P, 2) of a batch's block maps: (B * P, F), the
        standardized hypercolumns (pixel head) or the trunk's features (conv head)."""
        b, p = pixels.shape[:2]
        if self.trunk is None:
            columns = hypercolumns(maps, self.image_size, pixels)
            return self.normalize(columns.reshape(b * p, -1))
        return self.trunk(maps, self.image_size, self.norm_mean, self.norm_std, pixels).reshape(b * p, -1)

    @torch.no_grad()
    def label_pixels(self, columns: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw hypercolumns (n, C) -> per-pixel outputs (pixel head only); see :meth:`label_features`."""
        if self.trunk is not None:
            raise ValueError("a conv-head label generator labels block maps, not single hypercolumns")
        return self.label_features(self.normalize(columns))

    @torch.no_grad()
    def label_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the heads read (n, F) -> per-pixel outputs: ``mask`` (n,) long, ``js`` (n,), ``heat`` (n, K) in
        [0, 1], ``depth`` (n,) meters and ``has_depth`` (n,) bool, for the tasks this generator has."""
        out: dict[str, torch.Tensor] = {}
        if self.segmentation is not None:
            probs = self.segmentation(x).softmax(-1)
            out["mask"] = majority_vote(probs)
            out["js"] = js_uncertainty(probs)
        if self.keypoints is not None:
            out["heat"] = self.keypoints(x).sigmoid()
        if self.depth is not None:
            raw = self.depth(x)
            out["depth"] = raw[:, 0] * self.depth_scale[1] + self.depth_scale[0]
            out["has_depth"] = raw[:, 1] > 0
        return out

    # ---- prediction -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, generator, latents: torch.Tensor, batch_size: int = 4) -> list[dict]:
        """Render ``latents`` (n, D) with ``generator`` and label them, ``batch_size`` images at a time.

        Returns one dict per latent: ``image`` (S, S, 3) uint8; ``mask`` (S, S) uint8 class indices,
        ``mask_uncertainty`` (S, S) float32 per-pixel JS divergence (nats) and ``uncertainty`` (float, its mean);
        ``keypoints`` (K, 3) float32 x, y, v (v in {0, 2}); ``depth`` (S, S) float32 meters, 0 on background.
        Entries of tasks this generator was not trained for are None.
        """
        self.eval()
        source = HypercolumnSource(
            generator, latents, batch_size=batch_size, cache_bytes=0, extras=self.config.extra_features
        )
        self.to(source.device)
        size = self.image_size
        results = []
        for start in range(0, len(source), source.batch_size):
            images, maps = source.render(range(start, min(start + source.batch_size, len(source))))
            self.check_generator([f.shape[1] for f in maps], images.shape[-1])
            pictures = to_uint8(images)
            if self.trunk is not None:
                results += self._predict_conv(pictures, maps)
                continue
            for j in range(len(images)):
                parts: dict[str, list[torch.Tensor]] = {}
                for _, columns in image_bands([f[j : j + 1] for f in maps], size):
                    for key, value in self.label_pixels(columns).items():
                        parts.setdefault(key, []).append(value)
                whole = {k: torch.cat(v).reshape(size, size, *v[0].shape[1:]).cpu() for k, v in parts.items()}
                results.append(self._result(pictures[j], whole))
        return results

    def _predict_conv(self, pictures: np.ndarray, maps: Sequence[torch.Tensor]) -> list[dict]:
        """Label a batch with the conv head, classes first (see :func:`mlp_channels_first`)."""
        size, b = self.image_size, len(pictures)
        features = self.trunk(maps, size, self.norm_mean, self.norm_std, channels_first=True)  # (b, F, S * S)
        rows = features.permute(1, 0, 2).reshape(features.shape[1], -1)  # (F, b * S * S)
        members = (
            [folded_layers(m) for m in self.segmentation.members] if self.segmentation is not None else []
        )
        keypoints = folded_layers(self.keypoints) if self.keypoints is not None else None
        depth = folded_layers(self.depth) if self.depth is not None else None
        parts: dict[str, list[torch.Tensor]] = {}
        for start in range(0, rows.shape[1], PREDICT_ROWS):
            x = rows[:, start : start + PREDICT_ROWS]
            if members:
                mask, js = ensemble_vote(members, x)
                parts.setdefault("mask", []).append(mask)
                parts.setdefault("js", []).append(js)
            if keypoints is not None:
                parts.setdefault("heat", []).append(mlp_channels_first(keypoints, x).sigmoid())
            if depth is not None:
                raw = mlp_channels_first(depth, x)
                parts.setdefault("depth", []).append(raw[0] * self.depth_scale[1] + self.depth_scale[0])
                parts.setdefault("has_depth", []).append(raw[1] > 0)
        whole = {k: torch.cat(v, dim=-1).cpu() for k, v in parts.items()}
        results = []
        for j in range(b):
            one = {k: v[..., j * size * size : (j + 1) * size * size] for k, v in whole.items()}
            one = {k: v.reshape(*v.shape[:-1], size, size) for k, v in one.items()}
            if "heat" in one:  # (K, S, S) -> (S, S, K) as the pixel head gives it
                one["heat"] = one["heat"].permute(1, 2, 0)
            results.append(self._result(pictures[j], one))
        return results

    def _result(self, image: np.ndarray, whole: dict[str, torch.Tensor]) -> dict:
        result: dict = {
            "image": image,
            "mask": None,
            "mask_uncertainty": None,
            "uncertainty": None,
            "keypoints": None,
            "depth": None,
        }
        if "mask" in whole:
            result["mask"] = whole["mask"].numpy().astype(np.uint8)
            js = whole["js"].float().numpy()
            result["mask_uncertainty"] = js
            result["uncertainty"] = float(js.mean())
        if "heat" in whole:
            heat = whole["heat"].permute(2, 0, 1)
            radius = max(1, round(2 * self.config.keypoint_sigma))
            result["keypoints"] = decode_heatmaps(heat, self.config.keypoint_threshold, radius)
        if "depth" in whole:
            defined = whole["mask"] > 0 if "mask" in whole else whole["has_depth"]
            result["depth"] = torch.where(defined, whole["depth"], 0.0).float().numpy()
        return result


# ------------------------------------------------------------------------------------------------------ training


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

    def pixels(self, index: Sequence[int]) -> torch.Tensor:
        """(b, P, 2) pixels for a step: uniform ones, plus ones near each labeled keypoint when keypoints train."""
        cfg, size = self.config, self.size
        uniform = torch.randint(0, size, (len(index), cfg.pixels_per_image, 2), generator=self.rng)
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


def image_uncertainties(results: Sequence[Mapping]) -> np.ndarray:
    """(n,) image-level segmentation uncertainties (mean per-pixel JS divergence) of :meth:`LabelGenerator.predict`
    results, NaN where there is none; pass to :func:`~gan_studio.methods.label_heads.drop_most_uncertain`."""
    return np.array([math.nan if r.get("uncertainty") is None else r["uncertainty"] for r in results])
