"""The HandsOff label generator as a torch module: per-pixel heads on a generator's hypercolumns, its manifest, and
the labels it predicts for new latents.

For each task it was trained for (:mod:`~gan_studio.methods.label_generator_fitting` trains them):

- **segmentation**: an ensemble of per-pixel MLPs (:class:`~gan_studio.methods.label_heads.SegmentationEnsemble`).
  Prediction is the members' majority vote; the per-pixel uncertainty is the Jensen-Shannon divergence of their
  softmaxes, and an image's uncertainty is its **mean** per-pixel JS divergence (nats), the score
  :func:`~gan_studio.methods.label_heads.drop_most_uncertain` ranks generated images by;
- **keypoints**: one per-pixel MLP giving K heatmap logits, decoded by argmax + local soft-argmax; visible (v = 2)
  when the peak heat exceeds ``keypoint_threshold``, else v = 0;
- **depth**: one per-pixel MLP regressing depth (standardized meters), with a second output that says whether a
  pixel has depth at all. Predicted depth is 0 where the segmentation says background (class 0) when the
  segmentation is trained, else where that second output says so.

The heads read either each pixel's standardized hypercolumn alone (``head="pixel"``, the HandsOff reference's
per-pixel MLPs, C -> 256 -> 128 -> out) or the ``width`` features of a small convolutional trunk over the block maps
(``head="conv"``, the default: :class:`~gan_studio.methods.spatial_trunk.SpatialTrunk`, whose 3x3 convolutions give
each pixel its neighbourhood and which never builds whole-image hypercolumns, so labeling a 128 px image costs a few
hundred million multiply-adds instead of tens of billions). Ensemble and Jensen-Shannon uncertainty are the same for
both: in the conv head the members share the trunk and each has its own per-pixel head.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gan_studio.methods.hypercolumns import HypercolumnSource, hypercolumns, image_bands
from gan_studio.methods.label_generator_config import TASKS, LabelGeneratorConfig
from gan_studio.methods.label_heads import (
    FusedMembers,
    PixelMLP,
    SegmentationEnsemble,
    ensemble_vote,
    folded_layers,
    js_uncertainty,
    majority_vote,
    mlp_channels_first,
)
from gan_studio.methods.spatial_trunk import SpatialTrunk
from gan_studio.models.checkpoint import CheckpointError, load_model, save_checkpoint
from gan_studio.models.keypoints import decode_heatmaps
from gan_studio.models.text_to_image import to_uint8

# Pixels labeled at once by the conv head's per-pixel layers: bounds their memory, and 4k rows keep the members'
# activations in cache (export about 8 % faster than with 32k).
PREDICT_ROWS = 4 * 1024
ARCHITECTURE = "handsoff_label_generator"
WEIGHTS_NAME = "label_generator.safetensors"


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
                self.trunk = SpatialTrunk(self.channels_per_block, config.width, config.context, config.wide)
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
            FusedMembers([folded_layers(m) for m in self.segmentation.members])
            if self.segmentation is not None
            else None
        )
        keypoints = folded_layers(self.keypoints) if self.keypoints is not None else None
        depth = folded_layers(self.depth) if self.depth is not None else None
        parts: dict[str, list[torch.Tensor]] = {}
        for start in range(0, rows.shape[1], PREDICT_ROWS):
            x = rows[:, start : start + PREDICT_ROWS]
            if members is not None:
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


def image_uncertainties(results: Sequence[Mapping]) -> np.ndarray:
    """(n,) image-level segmentation uncertainties (mean per-pixel JS divergence) of :meth:`LabelGenerator.predict`
    results, NaN where there is none; pass to :func:`~gan_studio.methods.label_heads.drop_most_uncertain`."""
    return np.array([math.nan if r.get("uncertainty") is None else r["uncertainty"] for r in results])
