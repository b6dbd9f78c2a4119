"""Writing one image file atomically (through :mod:`.output_files`), optionally upscaled."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from gan_studio.data.output_files import StagedOutputs, write_file

_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


def image_writer(path: str | Path, image: np.ndarray, scale: int = 1, resample: str = "nearest"):
    """A ``write(f)`` that encodes an (H, W, 3) uint8 image in the format of ``path``'s suffix, upscaled ``scale``
    times with ``resample`` ("nearest" keeps the pixels, "lanczos" smooths). ValueError for an unknown suffix."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path} has no image suffix PIL can write")
    im = Image.fromarray(np.ascontiguousarray(image))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), _RESAMPLE[resample])

    def write(f: BinaryIO) -> None:
        im.save(f, fmt)

    return write


def save_image(
    path: str | Path, image: np.ndarray, scale: int = 1, resample: str = "nearest", make_parents: bool = False
) -> Path:
    """Save an (H, W, 3) uint8 image at ``path`` (see :func:`image_writer`); a crash never leaves a partial
    file there. A missing folder is an error unless ``make_parents``; write failures are an ``OutputError``."""
    return write_file(path, image_writer(path, image, scale, resample), make_parents=make_parents)


def stage_image(
    outputs: StagedOutputs, path: str | Path, image: np.ndarray, scale: int = 1, resample: str = "nearest"
) -> Path:
    """Stage an image at ``path`` in ``outputs``: it appears there when the whole set is committed."""
    return outputs.add(path, image_writer(path, image, scale, resample))
