"""Reading an image file a user gives: fully decoded at once, so that a bad file fails where it is opened.

:func:`open_image` refuses truncated and corrupt files and decompression bombs with a :class:`CatalogError` that
names the file; :func:`to_rgb` turns any PIL mode into (H, W, 3) uint8 RGB, transparent pixels on white (the
catalog's background).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from gan_studio.data.layout import CatalogError


def open_image(path: Path | bytes, name: str | None = None) -> Image.Image:
    """Open and fully decode an image, so that truncated and corrupt files fail here.

    ``path`` may also be the bytes of an image file (labelme's embedded imageData), named ``name`` in errors.
    Images declaring more pixels than PIL's decompression-bomb limit are refused before any pixel is decoded.
    """
    source = (lambda: io.BytesIO(path)) if isinstance(path, bytes) else (lambda: path)
    name = name or str(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source()) as probe:
                probe.verify()  # checks chunk CRCs (PNG) without decoding
            with Image.open(source()) as im:
                im.load()
        return im
    except FileNotFoundError:
        raise CatalogError(f"{name} is missing") from None
    except UnidentifiedImageError:
        raise CatalogError(f"{name} is not an image in a format PIL reads") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CatalogError(
            f"{name} declares more than {Image.MAX_IMAGE_PIXELS} pixels, too many to open safely"
        ) from None
    except Exception as exc:  # noqa: BLE001 - see below
        # PIL's plugins let whatever they hit on malformed data escape (OSError and SyntaxError mostly, but the
        # fuzz suite also met IndexError from a PNG whose IEND comes before any IDAT): all mean a bad file.
        reason = str(exc).splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CatalogError(f"{name} is not a readable image ({reason})") from None


def to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode == "RGB":
        return np.asarray(im, dtype=np.uint8).copy()
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # transparent product cut-outs go on the catalog's white background
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8).copy()
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.float64)
        arr = arr / 257.0 if arr.max(initial=0) > 255 else arr
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
