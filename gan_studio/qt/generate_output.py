"""Saving and copying the Generate workspace's image: the upscale and the PNG encoding run on the worker, the
clipboard is set on the GUI thread, and every outcome is one sentence for the log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication

from gan_studio.data.image_file import save_image
from gan_studio.data.output_files import output_error
from gan_studio.data.title_words import split_words
from gan_studio.qt.job_client import JobClient
from gan_studio.runtime.jobs import Result

SAVE_KIND = "generate.save"
COPY_KIND = "generate.copy"


def write_png(path: str | Path, image: np.ndarray, scale: int = 1) -> Path:
    """Save an (H, W, 3) uint8 image as PNG, upscaled ``scale`` times (Lanczos), atomically."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_name(path.name + ".png")
    return save_image(path, image, scale, resample="lanczos")


def suggested_name(title: str, seed: int) -> str:
    """A file name for the image of ``title`` and ``seed``: its first words, e.g. ``womens-navy-jeans-seed7.png``."""
    words = [w.text for w in split_words(title)][:8]
    slug = "-".join("".join(ch for ch in w if ch.isalnum()) for w in words).strip("-")
    return f"{slug or 'garment'}-seed{seed}.png"


class ImageOutput(QObject):
    """Writes and copies images through ``jobs``.

    Signals (GUI thread): ``saved(path or None)`` after a save; ``copied()`` once the image is on the clipboard;
    ``message(text)`` / ``warning(text)`` for the log.
    """

    saved = Signal(object)
    copied = Signal()
    message = Signal(str)
    warning = Signal(str)

    def __init__(self, jobs: JobClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs

    def save(self, image: np.ndarray, path: str | Path, scale: int) -> int:
        """Save ``image`` upscaled ``scale`` times as the PNG ``path`` on the worker; returns the request id."""

        def job(_ctx):
            try:
                return write_png(path, image, scale)
            except OSError as exc:  # one the writer did not word itself: worded as the CLI words it
                return f"Could not save the image to {path}: {output_error(exc, exc.filename or path)}."
            except ValueError as exc:
                reason = (
                    str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
                )
                return f"Could not save the image to {path}: {reason}."

        def done(result: Result) -> None:
            if isinstance(result.value, Path):
                self.message.emit(f"Saved the image to {result.value}.")
                self.saved.emit(result.value)
                return
            if isinstance(result.value, str):
                self.warning.emit(result.value)
            elif not result.ok and not result.cancelled:
                self.warning.emit(f"Could not save the image to {path}: {result.error}.")
            self.saved.emit(None)

        # One kind per path: saving elsewhere never replaces a save still waiting.
        return self.jobs.submit(f"{SAVE_KIND}:{path}", job, done, "Saving the image")

    def copy(self, image: np.ndarray, scale: int) -> int:
        """Copy ``image``, upscaled ``scale`` times on the worker, to the clipboard; returns the request id."""

        def job(_ctx) -> np.ndarray:
            if scale == 1:
                return image
            size = (image.shape[1] * scale, image.shape[0] * scale)
            return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))

        def done(result: Result) -> None:
            if not result.ok:
                if not result.cancelled:
                    self.warning.emit(f"Could not copy the image: {result.error}.")
                return
            from gan_studio.qt.imageutil import to_qimage

            QGuiApplication.clipboard().setImage(to_qimage(result.value))  # the clipboard is the GUI thread's
            self.message.emit("Copied the image to the clipboard.")
            self.copied.emit()

        return self.jobs.submit(COPY_KIND, job, done, "Copying the image")
