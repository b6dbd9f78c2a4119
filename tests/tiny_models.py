"""Tiny, untrained text-to-image models for tests (random weights, the real vocabulary and color table)."""

from __future__ import annotations

from pathlib import Path

import torch

from gan_studio.data.catalog import iter_items
from gan_studio.data.colortable import ColorTable
from gan_studio.models.checkpoint import save_checkpoint
from gan_studio.models.stackgan import GanConfig
from gan_studio.models.text import Vocabulary
from gan_studio.models.text_to_image import TextToImage
from gan_studio.train.restgan import new_model
from gan_studio.train.restgan_config import GanTrainConfig


def tiny_text_to_image(variant: str = "restgan", n_titles: int = 200, seed: int = 0) -> TextToImage:
    torch.manual_seed(seed)
    table = ColorTable.load()
    titles = [it.title for it in iter_items(0, 0, n_titles, 32)]
    vocab = Vocabulary.from_titles(titles, extra=table.words)
    return new_model(GanTrainConfig(variant=variant), GanConfig.tiny(), vocab, table).eval()


def save_tiny_text_to_image(folder: Path, variant: str = "restgan") -> Path:
    model = tiny_text_to_image(variant)
    return save_checkpoint(
        model.state_dict(),
        Path(folder) / f"{variant}.safetensors",
        architecture=variant,
        config=model.config_dict(),
        training={"command": "tests/tiny_models.py (untrained)"},
    )
