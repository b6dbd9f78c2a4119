"""Writing one image file atomically (a temporary file renamed into place), optionally upscaled."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}


def save_image(
    path: str | Path, image: np.ndarray, scale: int = 1, resample: str = "nearest", make_parents: bool = False
) -> Path:
    """Save an (H, W, 3) uint8 image at ``path`` (format from the suffix), upscaled ``scale`` times with
    ``resample`` ("nearest" keeps the pixels, "lanczos" smooths); a crash never leaves a partial file there.
    A missing folder is an error unless ``make_parents``."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path} has no image suffix PIL can write")
    im = Image.fromarray(np.ascontiguousarray(image))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), _RESAMPLE[resample])
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            im.save(f, fmt)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
