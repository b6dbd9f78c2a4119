"""``gan-studio --self-test``: check, step by step, that this installation works (a source checkout or the packaged
desktop bundle alike).

Steps, in order (one line each on stdout, with its time):

- ``resources``: every shipped ``*.safetensors`` has the sha256 its JSON manifest records, and so do the files
  other manifests point at (the color table the classifier was trained with, the generator, encoder and label
  generator the HandsOff model was fitted with, the icon that ``icons/icons.json`` records); the models the app
  opens by default are all there.
- ``models``: every shipped model loads (ReStGAN, StackGAN, classifier, inversion encoder, HandsOff, color table).
- ``generate``: ReStGAN draws a fixed title and seed, twice identically, not a flat field, and the PNG reads back.
- ``autograd``: forward-mode Jacobians through the generator (what Explore's REDS uses) and a few optimizer
  steps (what fitting and training use; torch.optim pulls in torch._dynamo, which a pruned bundle could miss).
- ``dataset``: the shipped HandsOff model exports a tiny labeled dataset, which reads back (COCO annotations, masks,
  counts, the catalog reader's own validation).
- ``window``: the main window opens (offscreen when there is no display), loads a few built-in catalog items,
  reports no error and draws something other than a flat field.

The first failure prints one line naming the step (on stderr) and the exit code is 1 (stdout shows the step's
name before it runs, so even a hard crash says where it happened); set
``GAN_STUDIO_SELFTEST_TRACEBACK=1`` to get the traceback too. Only the window step imports Qt.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

TITLE = "women's black pants petite capri"
SEED = 7
DATASET_ITEMS = 4
WINDOW_ITEMS = 8
WINDOW_TIMEOUT_S = 120.0


class SelfTestError(Exception):
    """A failed check; the message is one sentence for the user."""


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Path], str]  # scratch folder -> a short detail for the report line


def _short(digest: object) -> str:
    return f"{str(digest)[:12]}…"


def _check_hash(path: Path, expected: object, recorded_in: Path) -> None:
    from gan_studio.models.checkpoint import file_sha256

    if not path.is_file():
        raise SelfTestError(f"{path} is missing ({recorded_in.name} records its sha256)")
    found = file_sha256(path)
    if found != expected:
        raise SelfTestError(
            f"{path} has sha256 {_short(found)}, not the {_short(expected)} that {recorded_in} records; "
            "the file was changed or damaged"
        )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SelfTestError(f"{path} is missing") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SelfTestError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SelfTestError(f"{path} is not a JSON object")
    return data


def default_model_files() -> list[Path]:
    """The files of the models the app opens by default; each must be shipped."""
    from gan_studio.methods.handsoff import builtin_handsoff_path
    from gan_studio.methods.restgan import default_model_path
    from gan_studio.models.classifier import default_classifier_path
    from gan_studio.models.inversion import default_inversion_path
    from gan_studio.resources import resource_path

    handsoff = builtin_handsoff_path() / "handsoff.json"
    return [
        default_model_path("restgan"),
        default_model_path("stackgan"),
        default_classifier_path(),
        default_inversion_path(),
        handsoff,
        resource_path("color_table.json"),
    ]


def check_resources(_scratch: Path | None = None) -> str:
    """Verify every recorded hash of the shipped resources; returns a summary. Raises :class:`SelfTestError`."""
    from gan_studio.methods.handsoff import builtin_generator_path
    from gan_studio.models.inversion import default_inversion_path
    from gan_studio.resources import resource_path, resources_dir

    root = resources_dir()
    if not root.is_dir():
        raise SelfTestError(f"the resources folder {root} does not exist")
    for path in default_model_files():
        if not path.is_file():
            raise SelfTestError(f"{path} is missing from the resources folder {root}")
    weights = sorted(root.rglob("*.safetensors"))
    for path in weights:
        manifest = path.with_suffix(".json")
        _check_hash(path, _read_json(manifest).get("sha256"), manifest)
    classifier = resource_path("classifier", "classifier.json")
    table_sha = _read_json(classifier).get("data", {}).get("color_table_sha256")
    if table_sha:
        _check_hash(resource_path("color_table.json"), table_sha, classifier)
    handsoff_file = resource_path("handsoff", "handsoff.json")
    handsoff = _read_json(handsoff_file)
    generator = handsoff.get("generator", {})
    if generator.get("kind") == "builtin":
        _check_hash(builtin_generator_path(), generator["sha256"], handsoff_file)
    if handsoff.get("inversion_encoder", {}).get("kind") == "builtin":
        _check_hash(default_inversion_path(), handsoff["inversion_encoder"]["sha256"], handsoff_file)
    label_generator = handsoff.get("label_generator", {})
    _check_hash(
        handsoff_file.parent / label_generator.get("file", "label_generator.safetensors"),
        label_generator.get("sha256"),
        handsoff_file,
    )
    icons = resource_path(
        "icons", "icons.json"
    )  # the icon, checked like the weights (the app shows none otherwise)
    for name, digest in _read_json(icons).items():
        _check_hash(icons.parent / name, digest, icons)
    return f"{len(weights)} weight files and their recorded hashes in {root}"


def check_models(_scratch: Path | None = None) -> str:
    """Load every shipped model."""
    from gan_studio.data.colortable import ColorTable
    from gan_studio.methods.handsoff import load_handsoff
    from gan_studio.methods.restgan import TitleGenerator
    from gan_studio.models.classifier import load_classifier
    from gan_studio.models.inversion import load_inversion

    table = ColorTable.load()
    for architecture in ("restgan", "stackgan"):
        TitleGenerator.load(architecture=architecture)
    load_classifier()
    load_inversion()
    handsoff = load_handsoff("builtin")
    return f"restgan, stackgan, classifier, inversion, handsoff ({len(handsoff.class_names)} parts), {len(table)} colors"


def check_generate(scratch: Path) -> str:
    """ReStGAN draws TITLE with SEED, deterministically; the PNG written reads back unchanged."""
    import numpy as np
    from PIL import Image

    from gan_studio.data.image_file import save_image
    from gan_studio.methods.restgan import TitleGenerator

    gen = TitleGenerator.load(architecture="restgan")
    result = gen.generate(TITLE, SEED)
    if result.parsed.unknown_words:
        raise SelfTestError(f"the model does not know the words {result.parsed.unknown_words} of {TITLE!r}")
    image = result.image
    size = gen.image_size
    if image.shape != (size, size, 3) or image.dtype != np.uint8:
        raise SelfTestError(f"the image has shape {image.shape} {image.dtype}, not ({size}, {size}, 3) uint8")
    if float(image.std()) < 10:
        raise SelfTestError(f"the image is nearly flat (pixel std {image.std():.1f})")
    if not np.array_equal(image, gen.generate(TITLE, SEED).image):
        raise SelfTestError("the same title and seed gave two different images")
    path = save_image(scratch / "generate.png", image)
    with Image.open(path) as im:
        back = np.asarray(im.convert("RGB"))
    if not np.array_equal(back, image):
        raise SelfTestError(f"{path} does not read back as the image written")
    return f"{size}x{size} px for {TITLE!r}, seed {SEED}"


def check_autograd(_scratch: Path | None = None) -> str:
    """Forward-mode Jacobians through the generator (Explore's REDS) and optimizer steps (Dataset's fit, Train):
    parts of torch the other steps do not reach (torch.func; torch.optim, which imports torch._dynamo)."""
    import torch
    import torch.nn.functional as F

    from gan_studio.methods.jacobian import image_tangents
    from gan_studio.methods.restgan import TitleGenerator

    gen = TitleGenerator.load(architecture="restgan").protocol(TITLE)
    latent = gen.sample_latent(1, SEED)
    rng = torch.Generator().manual_seed(SEED)
    directions = torch.randn(2, latent.shape[1], generator=rng)
    _, tangents, _ = image_tangents(gen.synthesize, latent, directions, mode="forward")
    if len(tangents) != 2 or not bool(torch.isfinite(tangents).all()) or float(tangents.abs().max()) == 0.0:
        raise SelfTestError("the generator's Jacobian-vector products are not finite and nonzero")
    with torch.random.fork_rng():  # a fixed toy model, without moving the caller's global seed
        torch.manual_seed(SEED)
        model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(64, 8, generator=rng)
    y = x.sum(dim=1, keepdim=True)
    losses = []
    for _ in range(20):
        loss = F.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    if not losses[-1] < losses[0]:
        raise SelfTestError(f"20 Adam steps did not lower a toy loss ({losses[0]:.4f} -> {losses[-1]:.4f})")
    return f"{len(tangents)} Jacobian-vector products; toy loss {losses[0]:.3f} -> {losses[-1]:.3f} in 20 Adam steps"


def check_dataset(scratch: Path) -> str:
    """Export DATASET_ITEMS items with the shipped HandsOff model and read them back."""
    import numpy as np
    from PIL import Image

    from gan_studio.data.catalog_reader import read_catalog
    from gan_studio.data.dataset_export import export_dataset
    from gan_studio.methods.handsoff import load_handsoff

    out = scratch / "dataset"
    model = load_handsoff("builtin")
    result = export_dataset(model, out, DATASET_ITEMS, seed=0, batch=DATASET_ITEMS)
    if result.kept != DATASET_ITEMS:
        raise SelfTestError(f"the export kept {result.kept} items, not {DATASET_ITEMS}")
    if _read_json(out / "manifest.json").get("complete") is not True:
        raise SelfTestError(f"{out / 'manifest.json'} does not say the export is complete")
    coco = _read_json(out / "annotations.json")
    images = coco.get("images", [])
    if len(images) != DATASET_ITEMS:
        raise SelfTestError(f"annotations.json lists {len(images)} images, not {DATASET_ITEMS}")
    if not coco.get("annotations"):
        raise SelfTestError("annotations.json has no annotations")
    masks = sorted((out / "masks").glob("*.png"))
    if len(masks) != DATASET_ITEMS:
        raise SelfTestError(f"the export has {len(masks)} masks, not {DATASET_ITEMS}")
    for info in images:
        stem = Path(info["file_name"]).stem
        with Image.open(out / info["file_name"]) as im:
            size = im.size
        with Image.open(out / "masks" / f"{stem}.png") as m:
            mask = np.asarray(m)
        if mask.shape != (size[1], size[0]):
            raise SelfTestError(f"mask {stem}.png is {mask.shape[::-1]}, its image {size}")
        if not (mask > 0).any():
            raise SelfTestError(f"mask {stem}.png labels no pixel")
    catalog = read_catalog(out)
    problems = catalog.validate()
    if len(catalog) != DATASET_ITEMS or problems:
        raise SelfTestError(
            f"the exported folder reads back with {len(catalog)} items: {'; '.join(problems)}"
        )
    return f"{DATASET_ITEMS} items with {len(coco['annotations'])} annotations"


def check_window(scratch: Path) -> str:
    """Open the main window (offscreen without a display), load a few catalog items, grab it."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from PIL import Image
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from gan_studio.qt.app import make_application
    from gan_studio.qt.bridge import WorkerBridge
    from gan_studio.qt.main_window import MainWindow

    app = make_application(sys.argv[:1])
    settings = scratch / "settings"
    settings.mkdir(exist_ok=True)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(settings))
    bridge = WorkerBridge("cpu")
    window = None
    try:
        window = MainWindow(bridge, builtin_count=WINDOW_ITEMS, show_dialogs=False)
        window.resize(1024, 700)
        loaded: list[int] = []
        loop = QEventLoop()
        window.catalog.loadingFinished.connect(lambda n: (loaded.append(int(n)), loop.quit()))
        window.catalog.errorOccurred.connect(lambda _message: loop.quit())
        window.show()
        window.catalog.open_builtin()
        QTimer.singleShot(int(WINDOW_TIMEOUT_S * 1000), loop.quit)
        loop.exec()
        app.processEvents()
        if window.last_error:
            raise SelfTestError(f"the window reported an error: {window.last_error}")
        if not loaded:
            raise SelfTestError(f"the catalog did not finish loading in {WINDOW_TIMEOUT_S:.0f} s")
        if loaded[0] != WINDOW_ITEMS:
            raise SelfTestError(f"the catalog loaded {loaded[0]} items, not {WINDOW_ITEMS}")
        path = scratch / "window.png"
        if not window.grab().save(str(path), "PNG"):
            raise SelfTestError(f"could not save the window's image to {path}")
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        colors = len(np.unique(pixels.reshape(-1, 3), axis=0))
        if pixels.shape[0] < 100 or pixels.shape[1] < 100 or colors < 16 or float(pixels.std()) < 5:
            raise SelfTestError(
                f"the window drew a nearly uniform {pixels.shape[1]}x{pixels.shape[0]} image ({colors} colors)"
            )
        platform = app.platformName()
    finally:
        if window is not None:
            window.close()
        bridge.shutdown()
        app.processEvents()
    return f"{pixels.shape[1]}x{pixels.shape[0]} px, {colors} colors, {loaded[0]} catalog items, platform {platform}"


STEPS = (
    Step("resources", check_resources),
    Step("models", check_models),
    Step("generate", check_generate),
    Step("autograd", check_autograd),
    Step("dataset", check_dataset),
    Step("window", check_window),
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SelfTestError):
        return str(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else '(no message)'}"


def run_self_test(
    steps: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the named steps (default: all, in order); returns 0 when all pass, 1 at the first failure."""
    out = out or sys.stdout
    err = err or sys.stderr
    chosen = [s for s in STEPS if steps is None or s.name in steps]
    unknown = set(steps or ()) - {s.name for s in STEPS}
    if unknown:
        raise ValueError(f"unknown self-test steps: {', '.join(sorted(unknown))}")
    from gan_studio.resources import resources_dir

    frozen = "frozen bundle" if getattr(sys, "frozen", False) else "source install"
    print(f"self-test: {frozen}, resources {resources_dir()}", file=out, flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gan-studio-selftest-") as tmp:
        scratch = Path(tmp)
        saved_cache = os.environ.get("GAN_STUDIO_CACHE")
        os.environ["GAN_STUDIO_CACHE"] = str(scratch / "cache")  # leave the user's caches alone
        try:
            for step in chosen:
                # the step's name goes out first: a hard crash (a Qt platform that cannot start aborts the
                # process) still shows which step it was
                print(f"self-test: {step.name:<9} ", end="", file=out, flush=True)
                t0 = time.perf_counter()
                try:
                    detail = step.run(scratch)
                except Exception as exc:  # noqa: BLE001  every failure becomes one line naming the step
                    print("FAILED", file=out, flush=True)
                    if os.environ.get("GAN_STUDIO_SELFTEST_TRACEBACK"):
                        traceback.print_exc(file=err)
                    print(
                        f"self-test: FAILED at step '{step.name}' after {time.perf_counter() - t0:.2f} s: "
                        f"{_describe(exc)}",
                        file=err,
                        flush=True,
                    )
                    return 1
                print(f"ok {time.perf_counter() - t0:7.2f} s  {detail}", file=out, flush=True)
        finally:
            if saved_cache is None:
                os.environ.pop("GAN_STUDIO_CACHE", None)
            else:
                os.environ["GAN_STUDIO_CACHE"] = saved_cache
    print(
        f"self-test: passed, {len(chosen)} steps in {time.perf_counter() - start:.2f} s", file=out, flush=True
    )
    return 0
