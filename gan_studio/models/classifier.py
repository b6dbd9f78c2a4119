"""The attribute classifier: the "inception network" of the apparel domain.

A small CNN over catalog images with one linear head per attribute (type, gender, color cluster, length, fit). Its
penultimate features are the space FID is measured in, its block feature maps feed a perceptual distance, and its
predictions score generated images. It is an evaluation network only: never a training signal for a generator.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_studio.data.attributes import CLASSIFIER_HEADS, FITS, GENDERS, LENGTHS, TYPES, Attributes
from gan_studio.models.checkpoint import config_from_dict, load_trained_model
from gan_studio.resources import resource_path

ARCHITECTURE = "attribute-classifier"


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild the network (stored in the checkpoint manifest).

    ``in_size``: images are resized to ``in_size`` x ``in_size`` before the first block.
    ``width``: channels of the first block; the blocks have w, 2w, 4w, 8w channels, and each block halves the
    resolution with a strided convolution, so the network sees full-resolution detail (denim twill, stitching)
    at a fraction of the compute of full-resolution blocks.
    ``n_colors``: number of color-table clusters the color head predicts.
    """

    in_size: int = 128
    width: int = 16
    n_colors: int = 14
    n_types: int = len(TYPES)
    n_genders: int = len(GENDERS)
    n_lengths: int = len(LENGTHS)
    n_fits: int = len(FITS)

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        return config_from_dict(cls, d, "unknown classifier config keys")

    def to_dict(self) -> dict:
        return asdict(self)

    def head_sizes(self) -> dict[str, int]:
        """Number of classes per head, in :data:`CLASSIFIER_HEADS` order."""
        return {
            "type": self.n_types,
            "gender": self.n_genders,
            "color": self.n_colors,
            "length": self.n_lengths,
            "fit": self.n_fits,
        }


class ConvBlock(nn.Module):
    """A strided conv3x3-BN-ReLU that halves the resolution, then conv3x3-BN-ReLU; its output is the block's map."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


class AttributeClassifier(nn.Module):
    """(N, 3, H, W) images in [-1, 1], any H, W -> dict head -> (N, classes) logits."""

    def __init__(self, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = config or ClassifierConfig()
        w = self.config.width
        channels = (w, 2 * w, 4 * w, 8 * w)
        self.blocks = nn.ModuleList()
        cin = 3
        for cout in channels:
            self.blocks.append(ConvBlock(cin, cout))
            cin = cout
        self.feature_dim = 2 * cin
        # A list, not a ModuleDict: "type" would clash with nn.Module.type.
        sizes = self.config.head_sizes()
        self.head_names: tuple[str, ...] = tuple(sizes)
        self.heads = nn.ModuleList(nn.Linear(self.feature_dim, n) for n in sizes.values())
        # Filled by load_classifier with the checkpoint manifest (training data, held-out accuracy).
        self.manifest: dict | None = None

    def resize(self, x: torch.Tensor) -> torch.Tensor:
        """Resize (N, 3, H, W) to the network's input size: area averaging down, bilinear up."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (N, 3, H, W), got {tuple(x.shape)}")
        s = self.config.in_size
        h, w = x.shape[-2:]
        if (h, w) == (s, s):
            return x
        if h >= s and w >= s:
            return F.interpolate(x, size=(s, s), mode="area")
        return F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)

    def block_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps of every block: (N, w, s/2, s/2), (N, 2w, s/4, s/4), (N, 4w, s/8, s/8), (N, 8w, s/16, s/16)."""
        x = self.resize(x)
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, 16 * width): global average and global max of the last block (the FID space).

        The max half answers "is there a cargo pocket / contrast stitch anywhere", which an average dilutes.
        """
        last = self.block_features(x)[-1]
        return torch.cat([last.mean(dim=(2, 3)), last.amax(dim=(2, 3))], dim=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.features(x)
        return {name: head(f) for name, head in zip(self.head_names, self.heads)}

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 256) -> dict[str, torch.Tensor]:
        """Class indices per head, (N,) int64, computed in eval mode (the module's mode is restored after)."""
        was_training = self.training
        self.eval()
        try:
            out: dict[str, list[torch.Tensor]] = {name: [] for name in self.head_names}
            for start in range(0, x.shape[0], batch):
                logits = self(x[start : start + batch])
                for name, value in logits.items():
                    out[name].append(value.argmax(dim=1))
        finally:
            self.train(was_training)
        return {
            name: torch.cat(v) if v else torch.zeros(0, dtype=torch.long, device=x.device)
            for name, v in out.items()
        }


def build_classifier(config: dict) -> AttributeClassifier:
    """Builder for :func:`gan_studio.models.checkpoint.load_model`."""
    return AttributeClassifier(ClassifierConfig.from_dict(config))


def images_to_tensor(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) or (H, W, 3) uint8 RGB -> (N, 3, H, W) float32 in [-1, 1]. Float tensors pass through."""
    t = torch.as_tensor(images)
    if t.dtype != torch.uint8:
        return t.float()
    if t.ndim == 3:
        t = t[None]
    return t.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def encode_attributes(attributes: Attributes, color_cluster: int) -> list[int]:
    """Label indices in :data:`CLASSIFIER_HEADS` order; color is the color table's cluster of the color word."""
    values = {
        "type": TYPES.index(attributes.type),
        "gender": GENDERS.index(attributes.gender),
        "color": int(color_cluster),
        "length": LENGTHS.index(attributes.length),
        "fit": FITS.index(attributes.fit),
    }
    return [values[h] for h in CLASSIFIER_HEADS]


# The words each non-color head predicts (color heads predict color-table clusters).
_HEAD_VALUES = {"type": TYPES, "gender": GENDERS, "length": LENGTHS, "fit": FITS}


def decode_predictions(pred: dict[str, torch.Tensor], index: int) -> dict[str, object]:
    """Human-readable prediction of item ``index`` (color stays a cluster index)."""
    out: dict[str, object] = {}
    for head, values in pred.items():
        k = int(values[index])
        out[head] = _HEAD_VALUES[head][k] if head in _HEAD_VALUES else k
    return out


@torch.no_grad()
def describe_image(
    model: AttributeClassifier, image: np.ndarray, cluster_names: list[str] | None = None
) -> dict[str, tuple[str, float]]:
    """What the classifier sees in one (H, W, 3) uint8 image: head -> (label in words, probability).

    ``cluster_names`` names the color clusters (the color table's); without it a color is "cluster N".
    """
    device = next(model.parameters()).device
    logits = model.eval()(images_to_tensor(image).to(device))
    out = {}
    for head, value in logits.items():
        prob = torch.softmax(value[0].float(), dim=0)
        k = int(prob.argmax())
        if head in _HEAD_VALUES:
            label = _HEAD_VALUES[head][k]
        else:
            label = cluster_names[k] if cluster_names and k < len(cluster_names) else f"cluster {k}"
        out[head] = (label, float(prob[k]))
    return out


def default_classifier_path() -> Path:
    return resource_path("classifier", "classifier.safetensors")


def load_classifier(
    path: str | os.PathLike | None = None, device: str | torch.device | None = None
) -> AttributeClassifier:
    """Load a trained classifier (the shipped one by default) in eval mode; ``model.manifest`` holds its manifest."""
    return load_trained_model(
        path,
        default=default_classifier_path(),
        architecture=ARCHITECTURE,
        build=build_classifier,
        what="attribute classifier",
        train_command="gan-studio train classifier",
        device=device,
    )
