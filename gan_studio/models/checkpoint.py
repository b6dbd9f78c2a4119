"""Checkpoint I/O: safetensors weights, a JSON manifest next to them, and a short model card.

A checkpoint ``NAME.safetensors`` always travels with ``NAME.json`` (format version, architecture, config needed to
rebuild the model, sha256 of the weights file, how it was trained, on what data, with what results) and optionally
``NAME.md`` (a model card for people). Loading checks all of it and refuses, with one clear sentence, anything that
is not such a checkpoint. Pickle-based files (``.pt``, ``torch.save`` zips, raw pickles) are recognized and refused
without ever being unpickled: this module never calls ``torch.load`` or ``pickle.load``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import safetensors
import torch
from safetensors.torch import load_file
from safetensors.torch import save as save_bytes
from torch import nn

from gan_studio.data.output_files import temp_file

FORMAT_VERSION = 1
WEIGHTS_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar")

# What pickle-based files start with: a pickle protocol >= 2 opcode, or the zip container of torch.save.
_PICKLE_PROTO = b"\x80"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header

M = TypeVar("M", bound=nn.Module)
C = TypeVar("C")


class CheckpointError(ValueError):
    """A checkpoint that cannot be trusted or used; the message is one sentence for the user."""


def manifest_path(path: str | os.PathLike) -> Path:
    """``NAME.json`` next to ``NAME.safetensors``."""
    return _weights_path(path).with_suffix(".json")


def card_path(path: str | os.PathLike) -> Path:
    """``NAME.md`` next to ``NAME.safetensors``."""
    return _weights_path(path).with_suffix(".md")


def _weights_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    # Accept the manifest's path too: it names the same checkpoint.
    return p.with_suffix(WEIGHTS_SUFFIX) if p.suffix == ".json" else p


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = temp_file(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(
    state_dict: Mapping[str, torch.Tensor],
    path: str | os.PathLike,
    *,
    architecture: str,
    config: Mapping[str, Any],
    training: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    card: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``path`` (``NAME.safetensors``), its manifest ``NAME.json`` and, if given, the card ``NAME.md``.

    ``config`` must be what the architecture's builder needs to rebuild the module; ``training`` says how it was
    trained (command, seed, steps, wall_time_s, ...), ``data`` on what, ``metrics`` with what results; ``extra`` is
    free JSON for resumable training state. Each file is written to a temporary file and moved into place, so a
    crash never leaves a half-written file under the final name (a crash between the files leaves a manifest whose
    hash does not match, which loading refuses). Returns the weights path.
    """
    path = Path(path)
    if path.suffix != WEIGHTS_SUFFIX:
        raise CheckpointError(f"checkpoint path {path} must end in {WEIGHTS_SUFFIX}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"state entry {key!r} is a {type(value).__name__}, not a tensor")
        # clone: safetensors refuses tensors that share memory (tied weights, views).
        tensors[key] = value.detach().to("cpu").contiguous().clone()

    # Serialized in memory and written through our own temporary file: safetensors' save_file would create the
    # file itself with mode 0600 whatever the umask.
    blob = save_bytes(tensors, metadata={"format": "gan_studio", "architecture": architecture})
    fd, tmp = temp_file(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        digest = hashlib.sha256(blob).hexdigest()
        del blob
        manifest = {
            "format_version": FORMAT_VERSION,
            "architecture": architecture,
            "config": dict(config),
            "weights": path.name,
            "sha256": digest,
            "training": dict(training or {}),
            "data": dict(data or {}),
            "metrics": dict(metrics or {}),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "torch_version": torch.__version__,
        }
        if extra is not None:
            manifest["extra"] = dict(extra)
        text = json.dumps(manifest, indent=2, default=_json_default) + "\n"
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _atomic_write_bytes(manifest_path(path), text.encode("utf-8"))
    if card is not None:
        _atomic_write_bytes(card_path(path), card.encode("utf-8"))
    return path


def _refuse_pickle(path: Path) -> None:
    raise CheckpointError(
        f"{path} is a pickle/PyTorch file; gan_studio only loads .safetensors checkpoints with a JSON manifest "
        "and never unpickles files"
    )


def _check_weights_file(path: Path) -> None:
    """Refuse pickles and anything that is not a complete safetensors file, reading only the header."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        _refuse_pickle(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        header_len = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        plausible = 0 <= header_len <= _MAX_HEADER and 8 + header_len <= size
        # A safetensors header length can begin with a pickle's byte (0x80 for 640 bytes): magic bytes decide
        # only when the first 8 bytes are not a plausible safetensors header length.
        if not plausible and head.startswith((_PICKLE_PROTO, _ZIP_MAGIC)):
            _refuse_pickle(path)
        if len(head) < 8:
            raise CheckpointError(f"{path} is truncated or not a safetensors file (only {size} bytes)")
        if not plausible:
            raise CheckpointError(
                f"{path} is truncated or not a safetensors file (its header runs past the end)"
            )
        raw = f.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OverflowError, RecursionError):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not valid)") from None
    if 8 + header_len + max(ends, default=0) > size:
        raise CheckpointError(f"{path} is truncated: its tensors run past the end of the file")


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of the checkpoint at ``path`` (the ``.safetensors`` or the ``.json``), checked for shape only.

    Does not read or hash the weights; use :func:`load_checkpoint` for that.
    """
    weights = _weights_path(path)
    if weights.suffix.lower() in PICKLE_SUFFIXES:
        _refuse_pickle(weights)
    mpath = manifest_path(weights)
    if not mpath.is_file():
        raise CheckpointError(
            f"{weights} has no manifest {mpath.name} next to it; gan_studio only loads checkpoints it can verify"
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise CheckpointError(f"the manifest {mpath} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"the manifest {mpath} is not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    except (ValueError, RecursionError):  # a number over 4300 digits; nesting past the recursion limit
        raise CheckpointError(f"the manifest {mpath} is not JSON this app can read") from None
    if not isinstance(manifest, dict):
        raise CheckpointError(f"the manifest {mpath} is not a JSON object")
    missing = [k for k in ("format_version", "architecture", "config", "sha256") if k not in manifest]
    if missing:
        raise CheckpointError(f"the manifest {mpath} lacks {', '.join(missing)}")
    version = manifest["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"the manifest {mpath} has format version {version!r}; this gan_studio reads up to {FORMAT_VERSION}"
        )
    if not isinstance(manifest["config"], dict):
        raise CheckpointError(f"the manifest {mpath} has a config that is not a JSON object")
    return manifest


def load_checkpoint(
    path: str | os.PathLike, *, architecture: str | None = None
) -> tuple[dict[str, torch.Tensor], dict]:
    """Load ``NAME.safetensors`` after verifying its manifest, hash and (if given) architecture.

    Returns ``(state_dict, manifest)`` with CPU tensors. Raises :class:`CheckpointError` with one sentence for
    pickle/PyTorch files (never unpickled), missing or malformed manifests, hash or architecture mismatches, and
    truncated or corrupt weights.
    """
    weights = _weights_path(path)
    _check_weights_file(weights)
    manifest = read_manifest(weights)
    if architecture is not None and manifest["architecture"] != architecture:
        raise CheckpointError(
            f"{weights} holds a {manifest['architecture']!r} model, not the {architecture!r} expected here"
        )
    if file_sha256(weights) != manifest["sha256"]:
        raise CheckpointError(
            f"{weights} does not match the sha256 in its manifest; the file was changed or damaged"
        )
    try:
        state = load_file(weights)
    except (safetensors.SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{weights} is corrupt and cannot be read ({exc})") from None
    return state, manifest


def load_model(
    path: str | os.PathLike,
    architecture: str,
    build: Callable[[dict], nn.Module],
    *,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, dict]:
    """Build a module from the manifest's config with ``build(config)`` and load the weights strictly.

    Returns ``(model, manifest)`` with the model in eval mode. Missing, unexpected or misshapen weights raise
    :class:`CheckpointError`.
    """
    state, manifest = load_checkpoint(path, architecture=architecture)
    try:
        model = build(dict(manifest["config"]))
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"the manifest of {path} has a config this {architecture!r} cannot use ({exc})"
        ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {_few(unexpected)}")
        raise CheckpointError(
            f"the weights in {path} do not fit the {architecture!r} model: {'; '.join(parts)}"
        )
    bad = [k for k, v in state.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if bad:
        raise CheckpointError(f"the weights in {path} have the wrong shape for {_few(bad)}")
    model.load_state_dict(state, strict=True)
    if device is not None:
        model.to(device)
    model.eval()
    return model, manifest


def load_trained_model(
    path: str | os.PathLike | None,
    *,
    default: Path,
    architecture: str,
    build: Callable[[dict], M],
    what: str,
    train_command: str,
    device: str | torch.device | None = None,
) -> M:
    """:func:`load_model` of ``path``, or of the shipped ``default`` when it is None; ``model.manifest`` holds the
    manifest. A missing file is refused with one sentence naming ``what`` it should hold and the ``train_command``
    that writes one."""
    p = Path(path) if path is not None else default
    if not p.exists() and p.suffix.lower() not in PICKLE_SUFFIXES:
        raise CheckpointError(f"no {what} at {p}; train one with `{train_command} --out DIR`")
    model, manifest = load_model(p, architecture, build, device=device)
    model.manifest = manifest
    return model  # type: ignore[return-value]  # what ``build`` built


def config_from_dict(cls: type[C], data: Mapping[str, Any], unknown_message: str) -> C:
    """``cls(**data)`` for a config dataclass read back from a manifest. Keys that ``cls`` has no field for raise
    ``ValueError`` with ``unknown_message`` followed by those keys, sorted (one sentence, not a TypeError)."""
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"{unknown_message} {', '.join(unknown)}")
    return cls(**data)


def _few(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def optimizer_to_tensors(
    state: Mapping[str, Any], prefix: str = "optimizer."
) -> tuple[dict[str, torch.Tensor], dict]:
    """Flatten ``optimizer.state_dict()`` into safetensors-ready tensors plus JSON-able metadata.

    Tensors are named ``{prefix}{param_index}.{key}``; non-tensor per-parameter values and the param groups go into
    the metadata. :func:`optimizer_from_tensors` inverts it.
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    meta = {
        "param_groups": json.loads(json.dumps(state["param_groups"], default=_json_default)),
        "scalars": scalars,
    }
    return tensors, meta


def optimizer_from_tensors(
    tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any], prefix: str = "optimizer."
) -> dict:
    """Rebuild an ``optimizer.state_dict()`` from :func:`optimizer_to_tensors`' output."""
    per: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if not name.startswith(prefix):
            continue
        index, key = name[len(prefix) :].split(".", 1)
        per.setdefault(int(index), {})[key] = value
    for index, values in meta.get("scalars", {}).items():
        per.setdefault(int(index), {}).update(values)
    return {"state": per, "param_groups": [dict(g) for g in meta["param_groups"]]}


# ---------------------------------------------------------------------------------------- resumable training state

Optimizers = torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer]


def _named_optimizers(optimizers: Optimizers) -> tuple[dict[str, torch.optim.Optimizer], str | None]:
    """``{tensor prefix without its dot: optimizer}`` and where their metadata goes in ``extra``.

    A single optimizer keeps the layout of the classifier's and inversion encoder's states: tensors
    ``optimizer.N.KEY``, metadata ``extra["optimizer"]``. Named ones (ReStGAN's four): tensors ``NAME.N.KEY``,
    metadata ``extra["optimizers"][NAME]``.
    """
    if isinstance(optimizers, torch.optim.Optimizer):
        return {"optimizer": optimizers}, None
    return dict(optimizers), "optimizers"


def save_training_state(
    path: str | os.PathLike,
    *,
    architecture: str,
    model_config: Mapping[str, Any],
    train_config: Mapping[str, Any],
    modules: Mapping[str, nn.Module],
    optimizers: Optimizers,
    counters: Mapping[str, int | float],
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write a resumable training state: every module's weights, every optimizer's moments, the step counters.

    Tensors: ``NAME.KEY`` for each module's state dict, then the optimizers' tensors (see
    :func:`optimizer_to_tensors`: ``optimizer.N.KEY`` for a single optimizer, ``NAME.N.KEY`` for named ones).
    Manifest: ``config`` is ``{"model": model_config, "train": train_config}``; ``extra`` holds ``counters``
    (stage, step, wall_time_s, ...) followed by the optimizers' param groups and scalars, under ``"optimizer"`` for a
    single optimizer or ``"optimizers"`` by name; ``training`` is what people read. Written as
    :func:`save_checkpoint` writes (each file atomically); :func:`load_training_state` restores it.
    """
    named, plural = _named_optimizers(optimizers)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    meta: dict[str, dict] = {}
    for name, opt in named.items():
        t, meta[name] = optimizer_to_tensors(opt.state_dict(), prefix=f"{name}.")
        tensors.update(t)
    extra = {**counters, **({plural: meta} if plural else meta)}
    return save_checkpoint(
        tensors,
        path,
        architecture=architecture,
        config={"model": dict(model_config), "train": dict(train_config)},
        training=training,
        extra=extra,
    )


def load_training_state(
    path: str | os.PathLike,
    *,
    architecture: str,
    model_config: Mapping[str, Any],
    modules: Mapping[str, nn.Module],
    optimizers: Optimizers,
    counters: tuple[str, ...] = ("step", "wall_time_s"),
    same_train: Mapping[str, Any] | None = None,
    what: str = "network",
) -> dict[str, Any]:
    """Restore ``modules`` and ``optimizers`` (built as the run builds them) from a :func:`save_training_state` file.

    Returns ``{name: value}`` of the ``counters`` the state recorded. Raises :class:`CheckpointError` with one
    sentence for a file that is not a verified ``architecture`` checkpoint, whose model config is not
    ``model_config`` (``what`` names the model in that sentence), whose train config differs from ``same_train`` in
    any of its keys (settings a resumed run may not change, such as its seed), or whose tensors, optimizer
    metadata or counters do not fit. An optimizer takes the saved param groups, learning rate included.
    """
    state, manifest = load_checkpoint(path, architecture=architecture)
    saved = manifest["config"].get("model")
    if saved != dict(model_config):
        saved_keys = saved if isinstance(saved, dict) else {}
        differ = sorted(k for k in {*saved_keys, *model_config} if saved_keys.get(k) != model_config.get(k))
        raise CheckpointError(
            f"{path} was trained with a different {what} than this run builds (it differs in "
            f"{', '.join(differ) or 'everything'}); use a new --out folder or the same settings"
        )
    train = manifest["config"].get("train") or {}
    for key, value in (same_train or {}).items():
        if train.get(key) != value:
            raise CheckpointError(
                f"{path} was trained with {key} {train.get(key)}, not {value}; use a new --out folder or the same "
                "settings"
            )
    extra = manifest.get("extra") or {}
    named, plural = _named_optimizers(optimizers)
    try:
        for name, module in modules.items():
            prefix = f"{name}."
            module.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
        meta = extra[plural] if plural else extra
        for name, opt in named.items():
            opt.load_state_dict(optimizer_from_tensors(state, meta[name], prefix=f"{name}."))
        return {name: extra[name] for name in counters}
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a usable training checkpoint ({exc})") from None
