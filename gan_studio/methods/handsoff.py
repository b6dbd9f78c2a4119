"""HandsOff: a label generator for any generator, fitted from a few labeled images (Qt-free).

:func:`fit_handsoff` runs the whole pipeline: import the labeled images (any format
:func:`~gan_studio.data.label_import.import_labels` reads) at the generator's size -> invert them into its latent
space (:func:`~gan_studio.methods.inversion.invert`) -> fit the label generator on the hypercolumns of the inverted
latents (:func:`~gan_studio.methods.label_generator.fit_label_generator`) -> save a HandsOff model folder::

    MODEL_DIR/
      handsoff.json                    which generator and inversion encoder were used (built-in, or checkpoint path
                                       and sha256), class and keypoint names, the labeled items with their
                                       inversion errors, import warnings, the settings
      label_generator.safetensors      the label generator, with its manifest (.json) and card (.md)

The folder is written atomically (a hidden sibling, renamed into place at the end). :func:`load_handsoff` reads it
back, or the shipped one with ``"builtin"`` (``resources/handsoff/``). The generator's sha256 is checked whenever
the model reopens it: labels learned on one generator's features mean nothing on another's, even one of the same
architecture retrained, and its block sizes alone would not tell.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gan_studio.methods.label_generator import (
    WEIGHTS_NAME,
    LabelGenerator,
    LabelGeneratorConfig,
    LossCallback,
    fit_label_generator,
)
from gan_studio.models.checkpoint import file_sha256, read_manifest
from gan_studio.resources import resource_path
from gan_studio.runtime.cancel import CancelToken

FORMAT_NAME = "gan_studio.handsoff"
FORMAT_VERSION = 1
MODEL_FILE = "handsoff.json"
BUILTIN = "builtin"
DEFAULT_REFINE_STEPS = (
    50  # Adam steps refining each inverted latent (the encoder alone is a rough first guess)
)

Progress = Callable[[float, str], None]


class HandsOffError(ValueError):
    """A HandsOff model that cannot be fitted, found or used; the message is one sentence for the user."""


def builtin_generator_path() -> Path:
    """The generator the built-in HandsOff models (label generator, inversion encoder) were fitted on: the shipped
    128 px ReStGAN (``resources/restgan/``; their manifests pin its sha256)."""
    from gan_studio.methods.restgan import default_model_path

    return default_model_path("restgan")


def builtin_handsoff_path() -> Path:
    """Where the shipped HandsOff model lives (``resources/handsoff/``)."""
    return resource_path("handsoff")


# ---------------------------------------------------------------------------------------------------------------
# Generators and encoders: open one, and describe it so that it can be found (and checked) again


def _checkpoint_sha256(path: Path) -> str:
    return str(read_manifest(path)["sha256"])


def open_generator(source=None, device: str | torch.device | None = None) -> tuple[object, dict]:
    """The generator protocol for ``source`` and a JSON description of it.

    ``source``: None or ``"builtin"`` (the shipped ReStGAN), a ``.safetensors`` text-to-image checkpoint, or a
    generator protocol object (described by its class only: it cannot be reopened from the description). A
    checkpoint becomes :meth:`~gan_studio.methods.restgan.TitleGenerator.catalog_protocol`: each latent is drawn
    with a random title of the built-in training catalog.
    """
    from gan_studio.methods.restgan import DEFAULT_TITLE_SOURCE, TitleGenerator

    if source is not None and not isinstance(source, (str, os.PathLike)):
        spec = {
            "kind": "object",
            "class": type(source).__name__,
            "latent_dim": int(source.latent_dim),
            "image_size": int(source.image_size),
        }
        return source, spec
    builtin = source is None or source == BUILTIN
    path = builtin_generator_path() if builtin else Path(source)
    if not path.is_file():
        where = "the built-in generator" if builtin else "the generator"
        raise HandsOffError(f"{where} checkpoint {path} does not exist")
    manifest = read_manifest(path)
    title_generator = TitleGenerator.load(path, architecture=manifest["architecture"], device=device)
    seed, start, count = DEFAULT_TITLE_SOURCE
    spec = {
        "kind": BUILTIN if builtin else "checkpoint",
        "architecture": manifest["architecture"],
        "path": None if builtin else str(path.resolve()),
        "sha256": manifest["sha256"],
        "titles": f"a random title of built-in catalog seed {seed} items [{start}, {start + count}) per latent",
        "condition_noise": title_generator.condition_noise,
    }
    generator = title_generator.catalog_protocol()
    spec["latent_dim"], spec["image_size"] = int(generator.latent_dim), int(generator.image_size)
    return generator, spec


def reopen_generator(spec: dict, override=None, device: str | torch.device | None = None):
    """The generator a HandsOff model was fitted on, from its description (see :func:`open_generator`).

    ``override`` (a checkpoint path, e.g. the same file on another machine, or a protocol object) replaces the
    recorded location; a checkpoint must still have the recorded sha256.
    """
    if override is not None and not isinstance(override, (str, os.PathLike)):
        generator = override
    elif override is None and spec.get("kind") == "object":
        raise HandsOffError(
            f"this HandsOff model was fitted on a {spec.get('class', 'generator')} given in code; pass that "
            "generator to use it"
        )
    else:
        if override is not None:
            path = Path(override)
        elif spec.get("kind") == BUILTIN:
            path = builtin_generator_path()
        else:
            path = Path(str(spec.get("path")))
        if not path.is_file():
            raise HandsOffError(f"the generator this HandsOff model was fitted on, {path}, does not exist")
        found = _checkpoint_sha256(path)
        if found != spec.get("sha256"):
            raise HandsOffError(
                f"the generator {path} (sha256 {found[:12]}…) is not the one this HandsOff model was fitted on "
                f"(sha256 {str(spec.get('sha256'))[:12]}…); refit it with `gan-studio dataset fit`"
            )
        generator, _ = open_generator(path, device)
    latent_dim, image_size = spec.get("latent_dim"), spec.get("image_size")
    if (latent_dim, image_size) != (None, None) and (
        int(generator.latent_dim) != latent_dim or int(generator.image_size) != image_size
    ):
        raise HandsOffError(
            f"this HandsOff model needs a generator of {latent_dim}-d latents and {image_size} px images, not "
            f"{generator.latent_dim}-d and {generator.image_size} px"
        )
    return generator


def open_encoder(source=None, device: str | torch.device | None = None) -> tuple[object, dict]:
    """The inversion encoder for ``source`` (None/``"builtin"``, a checkpoint path, or an encoder object) and a
    JSON description of it."""
    from gan_studio.models.inversion import default_inversion_path, load_inversion

    if source is not None and not isinstance(source, (str, os.PathLike)):
        manifest = getattr(source, "manifest", None) or {}
        return source, {"kind": "object", "class": type(source).__name__, "sha256": manifest.get("sha256")}
    builtin = source is None or source == BUILTIN
    path = default_inversion_path() if builtin else Path(source)
    if not path.is_file():
        if builtin:
            raise HandsOffError(
                f"no built-in inversion encoder is shipped yet ({path} is missing); train one with "
                "`gan-studio train inversion --out DIR` and pass --encoder DIR/inversion.safetensors"
            )
        raise HandsOffError(f"the inversion encoder checkpoint {path} does not exist")
    encoder = load_inversion(path, device=device)
    spec = {
        "kind": BUILTIN if builtin else "checkpoint",
        "path": None if builtin else str(path.resolve()),
        "sha256": (encoder.manifest or {}).get("sha256"),
    }
    return encoder, spec


# ---------------------------------------------------------------------------------------------------------------
# The model


@dataclass
class HandsOffModel:
    """A fitted label generator with the description of what it was fitted on (``info``: handsoff.json)."""

    label_generator: LabelGenerator
    info: dict
    folder: Path | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.label_generator.config.class_names)

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return tuple(self.label_generator.config.keypoint_names)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.label_generator.tasks)

    @property
    def generator_spec(self) -> dict:
        return dict(self.info.get("generator", {}))

    @property
    def fingerprint(self) -> str:
        """sha256 of the label generator's weights file (of its tensors while it is not saved): what an export
        records to tell models apart."""
        saved = self.info.get("label_generator", {}).get("sha256")
        if saved:
            return str(saved)
        digest = hashlib.sha256()
        for key, value in sorted(self.label_generator.state_dict().items()):
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        return "tensors:" + digest.hexdigest()

    @property
    def item_ids(self) -> list[str]:
        return [item["id"] for item in self.info.get("items", [])]

    def open_generator(self, override=None, device: str | torch.device | None = None):
        """The generator this model labels (checked against the recorded sha256); see :func:`reopen_generator`."""
        return reopen_generator(self.generator_spec, override, device)

    def predict(self, generator, latents: torch.Tensor, batch_size: int = 4) -> list[dict]:
        """Render and label ``latents`` (n, D): :meth:`LabelGenerator.predict`."""
        return self.label_generator.predict(generator, latents, batch_size=batch_size)

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write the model folder atomically and return its path; see :func:`fit_handsoff` for ``overwrite``."""
        out = _check_model_target(Path(folder), overwrite)
        tmp = out.parent / f".{out.name}.partial"
        if tmp.exists():  # left by an interrupted save: it never was a model
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        try:
            self.label_generator.save(tmp, card=_card(self.info))
            info = dict(self.info)
            info["label_generator"] = {"file": WEIGHTS_NAME, "sha256": file_sha256(tmp / WEIGHTS_NAME)}
            (tmp / MODEL_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            from gan_studio.data.catalog_writer import move_into_place

            _check_model_target(out, overwrite)
            move_into_place(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.info, self.folder = info, out
        return out


def _check_model_target(out: Path, overwrite: bool) -> Path:
    if not out.name or out.name in (".", ".."):
        out = out.resolve()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MODEL_FILE).is_file():
            raise FileExistsError(f"{out} is not empty and holds no HandsOff model; choose a new folder")
        if not overwrite:
            raise FileExistsError(
                f"{out} already holds a HandsOff model; choose a new folder or overwrite it"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _card(info: dict) -> str:
    items = info.get("items", [])
    perceptual = [i["perceptual"] for i in items if i.get("perceptual") is not None]
    gen = info.get("generator", {})
    where = gen.get("path") or gen.get("kind")
    return (
        "# HandsOff label generator\n\n"
        f"Per-pixel heads ({', '.join(info.get('tasks', []))}) on the hypercolumns of the generator {where} "
        f"({gen.get('architecture', gen.get('class', '?'))}, sha256 {str(gen.get('sha256'))[:12]}…), fitted on "
        f"{len(items)} labeled image(s) inverted into its latent space"
        + (f" (mean perceptual error {np.mean(perceptual):.4f})" if perceptual else "")
        + ".\n\nIt labels only images of that generator: another generator, or the same one retrained, needs a "
        "new fit.\n"
    )


def load_handsoff(folder: str | Path = BUILTIN, device: str | torch.device | None = None) -> HandsOffModel:
    """Load a HandsOff model folder written by :func:`fit_handsoff`, or the shipped one (``"builtin"``).

    Raises :class:`HandsOffError` (one sentence) when the folder is not such a model, and
    :class:`~gan_studio.models.checkpoint.CheckpointError` when its weights cannot be trusted.
    """
    builtin = str(folder) == BUILTIN
    path = builtin_handsoff_path() if builtin else Path(folder)
    file = path / MODEL_FILE
    if not file.is_file():
        if builtin:
            raise HandsOffError(
                f"no built-in HandsOff model is shipped yet ({path} is missing); fit one with "
                "`gan-studio dataset fit --labels DIR --out MODEL_DIR` and use --model MODEL_DIR"
            )
        if not path.exists():
            raise HandsOffError(f"the HandsOff model folder {path} does not exist")
        raise HandsOffError(f"{path} is not a HandsOff model folder (it has no {MODEL_FILE})")
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise HandsOffError(f"{file} is not valid JSON ({exc})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise HandsOffError(f"{file} is not a HandsOff model description")
    version = info.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise HandsOffError(
            f"{file} has format version {version!r}; this gan-studio reads up to {FORMAT_VERSION}"
        )
    weights = path / str(info.get("label_generator", {}).get("file", WEIGHTS_NAME))
    label_generator = LabelGenerator.load(weights, device=device)
    expected = info.get("label_generator", {}).get("sha256")
    if expected and file_sha256(weights) != expected:
        raise HandsOffError(f"{weights} is not the label generator {file} describes; the folder was changed")
    return HandsOffModel(label_generator, info, path)


# ---------------------------------------------------------------------------------------------------------------
# Fitting


def _span(progress: Progress | None, lo: float, hi: float) -> Progress:
    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(lo + (hi - lo) * min(max(fraction, 0.0), 1.0), message)

    return report


def _finite(value) -> float | None:
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def fit_handsoff(
    labels,
    out_dir: str | Path | None,
    generator=None,
    encoder=None,
    config: LabelGeneratorConfig | None = None,
    refine_steps: int = DEFAULT_REFINE_STEPS,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    on_loss: LossCallback | None = None,
    *,
    perceptual=None,
    overwrite: bool = False,
    device: str | torch.device | None = None,
) -> HandsOffModel:
    """Fit a HandsOff model on a few labeled images and save it to ``out_dir`` (None: keep it in memory).

    ``labels``: a folder or JSON file of labeled images (imported at the generator's size with the config's class
    and keypoint names) or an :class:`~gan_studio.data.label_import.ImportReport`. ``generator``: None/"builtin",
    a checkpoint path or a protocol object (see :func:`open_generator`); ``encoder`` likewise (an
    :class:`~gan_studio.models.inversion.InversionEncoder` for that generator). Each image's latent is the
    encoder's, refined by ``refine_steps`` Adam steps on the ``perceptual`` distance (default: over the shipped
    attribute classifier). ``progress(fraction, message)``, ``cancel`` (raises
    :class:`~gan_studio.runtime.cancel.Cancelled`) and ``on_loss(step, losses)`` as in
    :func:`~gan_studio.methods.label_generator.fit_label_generator`. ``out_dir`` must be new or empty;
    ``overwrite=True`` replaces an existing HandsOff model folder (never another non-empty folder).
    """
    from gan_studio.data.label_import import ImportReport, import_labels
    from gan_studio.methods.inversion import generator_device, invert

    config = config or LabelGeneratorConfig()
    if refine_steps < 0:
        raise ValueError(f"refine_steps must be 0 or more, not {refine_steps}")
    if out_dir is not None:
        _check_model_target(Path(out_dir), overwrite)  # fail before the long work, not after it
    started = time.perf_counter()
    generator, generator_spec = open_generator(generator, device)
    size = int(generator.image_size)

    if isinstance(labels, ImportReport):
        report = labels
    else:
        report = import_labels(
            labels, size, config.class_names, config.keypoint_names, _span(progress, 0.0, 0.05), cancel
        )
    items = report.items
    if not items:
        raise HandsOffError("there are no labeled images to fit on")
    wrong = [item.id for item in items if item.image.shape != (size, size, 3)]
    if wrong:
        raise HandsOffError(f"labeled image {wrong[0]!r} is not {size}x{size} RGB, the generator's size")

    encoder, encoder_spec = open_encoder(encoder, device)
    if cancel is not None:
        cancel.raise_if_cancelled()
    images = np.stack([item.image for item in items])
    if perceptual is None:
        from gan_studio.models.perceptual import load_perceptual

        perceptual = load_perceptual(device=generator_device(generator))
    try:
        inverted = invert(
            encoder,
            generator,
            images,
            refine_steps=refine_steps,
            perceptual=perceptual,
            cancel=cancel,
            progress=_span(progress, 0.05, 0.25),
        )
    except ValueError as exc:  # the encoder belongs to another generator
        raise HandsOffError(f"the inversion encoder does not fit the generator: {exc}") from None

    latents = torch.from_numpy(inverted.latents).to(generator_device(generator))
    targets = [{"mask": it.mask, "keypoints": it.keypoints, "depth": it.depth} for it in items]
    label_generator = fit_label_generator(
        generator, latents, targets, config, _span(progress, 0.25, 0.98), cancel, on_loss
    )
    record = label_generator.training_record
    info = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generator": generator_spec,
        "inversion_encoder": encoder_spec,
        "label_generator": {"file": WEIGHTS_NAME},
        "class_names": list(config.class_names),
        "keypoint_names": list(config.keypoint_names),
        "tasks": list(label_generator.tasks),
        "image_size": size,
        "latent_dim": int(generator.latent_dim),
        "items": [
            {
                "id": item.id,
                "source": item.source,
                "labels": [k for k in ("mask", "keypoints", "depth") if getattr(item, k) is not None],
                "perceptual": _finite(inverted.perceptual[i]),
                "psnr": _finite(inverted.psnr[i]),
            }
            for i, item in enumerate(items)
        ],
        "inversion": {
            "refine_steps": int(refine_steps),
            "perceptual_mean": _finite(np.mean(inverted.perceptual)),
            "psnr_mean": _finite(np.mean(inverted.psnr)),
        },
        "import": {
            "format": report.format,
            "warnings": list(report.warnings),
            "skipped": [{"file": f, "reason": r} for f, r in report.skipped],
            "unknown_classes": dict(report.unknown_classes),
            "unknown_keypoints": dict(report.unknown_keypoints),
        },
        "settings": config.to_dict(),
        "training": {
            "seconds": round(time.perf_counter() - started, 3),
            "label_generator_seconds": record.get("seconds"),
            "final_losses": record.get("final_losses"),
        },
    }
    model = HandsOffModel(label_generator, info)
    if out_dir is not None:
        _span(progress, 0.98, 1.0)(0.0, "Saving the HandsOff model")
        model.save(out_dir, overwrite=overwrite)
    if progress is not None:
        progress(1.0, "HandsOff model fitted")
    return model
