"""How a HandsOff label generator is built and trained: :class:`LabelGeneratorConfig`, stored in its manifest.

The settings of the heads (conv trunk or per-pixel MLPs, ensemble size, widths), of the streamed training (steps,
pixels sampled per image, learning rate, seed) and of decoding (keypoint sigma and threshold). A model saved before
a setting existed is read back with the value it was trained with (:meth:`LabelGeneratorConfig.from_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from gan_studio.data.attributes import KEYPOINTS, PART_NAMES
from gan_studio.models.checkpoint import config_from_dict

TASKS: tuple[str, ...] = ("segmentation", "keypoints", "depth")
HEADS: tuple[str, ...] = ("conv", "pixel")


@dataclass(frozen=True)
class LabelGeneratorConfig:
    """How to build and train a label generator. Ensemble size is the HandsOff reference's; ``head="pixel"`` with
    ``hidden=(256, 128)`` is its per-pixel MLP (the models shipped before the conv head)."""

    tasks: tuple[str, ...] = TASKS  # tasks to train (a task no image is labeled for is skipped)
    ensemble_size: int = 10  # segmentation members
    head: str = "conv"  # "conv": spatial trunk + small per-pixel heads; "pixel": MLPs on raw hypercolumns
    width: int = 64  # conv head: trunk channels per pixel (32 before the wide path)
    context: int = 2  # conv head: residual 3x3 convolutions at half the image size
    # conv head: residual dilated 3x3 convolutions at an eighth of the size (whole-garment context)
    wide: int = 3
    hidden: tuple[int, ...] = (32,)  # hidden widths of every per-pixel head
    # Segmentation loss weight of class k = (its share of labeled pixels) ** -class_balance, normalized so the
    # average labeled pixel weighs 1: small parts (pocket, fly, cuff: ~1 % of the pixels each) are not drowned by
    # the background. 0 = plain cross-entropy (every model fitted before this setting).
    class_balance: float = 0.5
    steps: int = 1000  # optimizer steps
    images_per_step: int = 4
    pixels_per_image: int = 1024  # uniformly sampled pixels per image per step
    keypoint_pixels: int = (
        32  # extra pixels per keypoint per image per step, sampled near it (16 before wide)
    )
    # Extra pixels per part class per image per step, drawn inside that part's labeled region (uniform ones where
    # the image has none of it): a pocket covers ~1 % of an image, so uniform sampling alone shows the heads ~10
    # of its pixels a step. 0 = uniform sampling only (every model fitted before this setting).
    part_pixels: int = 0
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
        if self.part_pixels < 0 or self.keypoint_pixels < 0:
            raise ValueError("part_pixels and keypoint_pixels must be 0 or more")
        if self.ensemble_size < 1 or self.steps < 0 or self.images_per_step < 1 or self.pixels_per_image < 2:
            # (batch norm needs two rows or more)
            raise ValueError(
                "ensemble_size and images_per_step must be >= 1, pixels_per_image >= 2, steps >= 0"
            )
        if self.head not in HEADS or self.width < 1 or self.context < 0 or self.wide < 0:
            raise ValueError(f"head must be one of {', '.join(HEADS)}, width >= 1 and context and wide >= 0")
        if len(self.class_names) < 2:
            raise ValueError("segmentation needs at least two classes (class 0 is the background)")
        if not self.keypoint_names or self.keypoint_sigma <= 0 or self.lr <= 0:
            raise ValueError("keypoint_names must not be empty and keypoint_sigma and lr must be positive")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping) -> LabelGeneratorConfig:
        # Models saved before extra features had none; before the conv head, every model was per-pixel.
        data = {
            "extra_features": [],
            "head": "pixel",
            "class_balance": 0.0,
            "part_pixels": 0,
            "wide": 0,
            **data,
        }
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return config_from_dict(cls, data, "unknown label generator settings:")
