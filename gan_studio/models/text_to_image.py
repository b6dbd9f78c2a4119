"""A whole text-to-image generator: vocabulary, title encoder, conditioning augmentation, stage I and stage II.

One class serves ReStGAN (recurrent encoder with color-table features) and the StackGAN baseline (bag of words);
the architecture name in the checkpoint manifest says which. The discriminators are training-only and not part
of this module or of the shipped weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from gan_studio.models.checkpoint import load_model
from gan_studio.models.stackgan import ConditioningAugmentation, GanConfig, stage_modules
from gan_studio.models.text import TextConfig, Vocabulary, build_text_encoder, color_features

ARCHITECTURES = ("restgan", "stackgan")


class TextToImage(nn.Module):
    def __init__(
        self,
        text: TextConfig,
        gan: GanConfig,
        words: tuple[str, ...],
        color_words: dict[str, int] | None = None,
        cluster_labs: list | None = None,
    ):
        super().__init__()
        self.text_config, self.gan_config = text, gan
        self.vocab = Vocabulary(words)
        if len(self.vocab) != text.vocab_size:
            raise ValueError(
                f"vocabulary has {len(self.vocab)} ids but the text config says {text.vocab_size}"
            )
        self.color_words = dict(color_words or {})
        self.cluster_labs = [tuple(map(float, lab)) for lab in (cluster_labs or [])]
        self.encoder = build_text_encoder(text)
        if text.kind == "recurrent" and text.n_color_features:
            word_cluster = torch.full((text.vocab_size,), -1, dtype=torch.long)
            for w, k in self.color_words.items():
                if (i := self.vocab.id(w)) is not None:
                    word_cluster[i] = k
            self.encoder.set_colors(word_cluster, color_features(self.cluster_labs))
        self.ca = ConditioningAugmentation(gan.text_dim, gan.cond_dim)
        stage_one, stage_two, _ = stage_modules(gan)
        self.stage1 = stage_one(gan)
        self.stage2 = stage_two(gan)

    @property
    def architecture(self) -> str:
        return "restgan" if self.text_config.kind == "recurrent" else "stackgan"

    @property
    def latent_dim(self) -> int:
        return self.gan_config.z_dim + self.gan_config.cond_dim

    @property
    def image_size(self) -> int:
        return self.gan_config.image_size

    def config_dict(self) -> dict:
        return {
            "text": self.text_config.to_dict(),
            "gan": self.gan_config.to_dict(),
            "words": list(self.vocab.words),
            "color_words": self.color_words,
            "cluster_labs": [list(lab) for lab in self.cluster_labs],
        }

    def synthesize(
        self, z: torch.Tensor, c: torch.Tensor, features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, z_dim), (B, cond_dim) -> (B, 3, S, S) in [-1, 1]; with ``features`` also every block's map."""
        image1, f1 = self.stage1(z, c)
        image, f2 = self.stage2(image1, c)
        return (image, f1 + f2) if features else image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) in [-1, 1] -> (B, S, S, 3) uint8."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def build_text_to_image(config: dict) -> TextToImage:
    return TextToImage(
        TextConfig.from_dict(config["text"]),
        GanConfig.from_dict(config["gan"]),
        tuple(config["words"]),
        config.get("color_words"),
        config.get("cluster_labs"),
    )


def load_text_to_image(
    path: str | Path, architecture: str, device: str | torch.device = "cpu"
) -> TextToImage:
    model, _manifest = load_model(path, architecture, build_text_to_image, device=device)
    return model.eval()
