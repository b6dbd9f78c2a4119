"""The Dataset workspace (HandsOff) on tiny models: import, inversion, fit with live losses, samples with overlays,
the uncertainty threshold, export (with cancel and continue), bad input, drag and drop, the main window."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PySide6.QtCore import QMimeData, QUrl

from gan_studio.data.catalog import iter_items
from gan_studio.data.catalog_reader import read_catalog
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.methods.dataset_jobs import NO_BUILTIN_MODEL, NO_ENCODER, drop_fraction, drop_threshold
from gan_studio.methods.label_generator import LabelGeneratorConfig
from gan_studio.methods.restgan import TitleGenerator
from gan_studio.methods.traversal_jobs import SentFrame
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.models.inversion import InversionConfig, InversionEncoder
from gan_studio.models.perceptual import PerceptualDistance
from gan_studio.models.text_to_image import to_uint8
from gan_studio.qt.dataset_workspace import DatasetWorkspace
from gan_studio.qt.main_window import MainWindow
from tests.tiny_models import tiny_text_to_image

TITLES = ["men's blue jeans", "women's black pants", "unisex khaki cargo shorts"]
TINY = LabelGeneratorConfig(ensemble_size=3, hidden=(16, 8), steps=6, images_per_step=2, pixels_per_image=128)
RUN_TIMEOUT_MS = 120_000  # two shared cores
SAMPLES = 8


@pytest.fixture(scope="module")
def models():
    """A tiny generator, an untrained tiny encoder that still inverts images to different latents, and a tiny
    perceptual distance."""
    generator = TitleGenerator(tiny_text_to_image()).catalog_protocol(TITLES)
    torch.manual_seed(0)
    encoder = InversionEncoder(InversionConfig.tiny(generator.image_size, generator.latent_dim))
    torch.nn.init.normal_(encoder.fc2.weight, std=0.3)
    perceptual = PerceptualDistance(AttributeClassifier(ClassifierConfig(in_size=32, width=4)))
    return {"generator": generator, "encoder": encoder, "perceptual": perceptual}


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    """Four labeled built-in items (masks, keypoints, depth) in the catalog folder layout."""
    return write_catalog(iter_items(0, 0, 4, 64), tmp_path_factory.mktemp("labels") / "catalog")


def make_workspace(qtbot, bridge, **models) -> DatasetWorkspace:
    ws = DatasetWorkspace(bridge, config=TINY, **models)
    qtbot.addWidget(ws)
    ws.resize(1200, 760)
    ws.refine_spin.setValue(1)
    ws.samples_spin.setValue(SAMPLES)
    ws.show()
    qtbot.waitExposed(ws)
    return ws


@pytest.fixture
def ws(qtbot, bridge, models) -> DatasetWorkspace:
    return make_workspace(qtbot, bridge, **models)


def import_and_invert(qtbot, ws, labels) -> None:
    with (
        qtbot.waitSignal(ws.inversionFinished, timeout=RUN_TIMEOUT_MS) as inverted,
        qtbot.waitSignal(ws.importFinished, timeout=RUN_TIMEOUT_MS) as imported,
    ):
        assert ws.import_paths([labels]) is not None
    assert imported.args == ["done"] and inverted.args == ["done"], ws.message_label.text()


def fit(qtbot, ws) -> list[int]:
    steps = []
    ws.lossArrived.connect(steps.append)
    with qtbot.waitSignal(ws.fitFinished, timeout=RUN_TIMEOUT_MS) as done:
        assert ws.fit() is not None
        assert ws.cancel_fit_button.isEnabled() and not ws.fit_button.isEnabled()
    assert done.args == ["done"], ws.message_label.text()
    with qtbot.waitSignal(ws.samplesShown, timeout=RUN_TIMEOUT_MS):
        pass  # samples of the new model follow on their own
    return steps


def test_import_fit_browse_threshold_and_export(qtbot, ws, labels, tmp_path) -> None:
    assert not ws.fit_button.isEnabled() and not ws.export_button.isEnabled()
    import_and_invert(qtbot, ws, labels)
    listed = ws.items_list
    assert listed.count() == 4 and [it.id for it in listed.items()] == [f"s0_00000{i}" for i in range(4)]
    for row in range(4):
        assert listed.reconstruction(row).shape == (64, 64, 3)
        perceptual, psnr = listed.errors(row)
        assert perceptual >= 0 and np.isfinite(psnr)
        assert (
            f"PSNR {psnr:.1f} dB" in listed.item(row).text()
            and "mask, keypoints, depth" in listed.item(row).text()
        )
    assert listed.item(0).icon().actualSize(listed.iconSize()).width() == listed.iconSize().width()
    assert "4 labeled image(s)" in ws.message_label.text() and not ws.warnings_label.isVisible()
    assert ws.fit_button.isEnabled()

    steps = fit(qtbot, ws)
    assert steps == list(range(TINY.steps))  # every step streamed, in order, before the result
    ws.loss_plot.redraw()
    assert set(ws.loss_plot.tasks()) == {"segmentation", "keypoints", "depth"}
    x, y = ws.loss_plot.data("segmentation")
    assert x.tolist() == list(range(TINY.steps)) and (y > 0).all()
    assert ws.model is not None and ws.model.origin == "fitted" and ws.model.images == 4
    assert "Fitted" in ws.fit_label.text() and ws.export_button.isEnabled()

    # Browse the samples with each overlay.
    grid = ws.grid
    assert grid.count() == SAMPLES and [s.index for s in grid.samples()] == list(range(SAMPLES))
    grid.setCurrentRow(2)
    sample = grid.samples()[2]
    assert ws.detail.detail.id == sample.name and set(sample.views) == {"none", "parts", "keypoints", "depth"}
    shown = {}
    for kind in ("none", "parts", "keypoints", "depth"):
        ws.detail.overlay_buttons[kind].click()
        assert grid.overlay == kind and ws.detail.overlay == kind
        shown[kind] = ws.detail.shown_pixmap().toImage()
    assert shown["parts"] != shown["none"] and shown["depth"] != shown["parts"]
    assert "uncertainty" in ws.detail.attributes.text()

    # Move the threshold line: the spin box follows, and so do the grayed-out samples.
    scores = np.array([s.uncertainty for s in grid.samples()])
    assert np.isfinite(scores).all() and np.allclose(ws.histogram.scores(), scores)
    assert ws.drop_spin.value() == 10 and grid.dropped().sum() == 1  # the default: 10 % of 8, rounded
    assert grid.dropped()[int(np.argmax(scores))]
    ws.histogram.line.setValue(drop_threshold(scores, 0.5))  # as a drag does
    assert ws.drop_spin.value() == 50 and grid.dropped().sum() == SAMPLES // 2
    assert (grid.dropped() == (scores > np.median(scores))).all()
    assert "\n✕ u" in grid.item(int(np.argmax(scores))).text()
    ws.drop_spin.setValue(25)  # and the line follows the spin box
    assert drop_fraction(scores, ws.histogram.threshold()) == 0.25 and grid.dropped().sum() == 2

    # Export 6 items, dropping the 25 % most uncertain of 8 candidates.
    ws.export_spin.setValue(6)
    assert "2 of 8 · an export of 6 draws 8" in ws.browser.drop_label.text()
    out = tmp_path / "dataset"
    with qtbot.waitSignal(ws.exportFinished, timeout=RUN_TIMEOUT_MS) as done:
        assert ws.export(out) is not None
    assert done.args == ["done"], ws.message_label.text()
    catalog = read_catalog(out)
    assert len(catalog) == 6 and catalog.has_masks and catalog.has_keypoints and catalog.has_depth
    for name in ("titles.csv", "labelmap.txt", "annotations.json", "depth.json", "uncertainty.csv"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["uncertainty"]["dropped"] == 2 and manifest["candidates"] == 8
    kept = {int(i.removeprefix("gen_")) for i in catalog.ids}
    assert kept == {s.index for s, d in zip(grid.samples(), grid.dropped(), strict=True) if not d}
    np.testing.assert_array_equal(catalog[0].image, grid.samples()[min(kept)].image)  # samples are the items
    assert (
        not list(tmp_path.glob(".dataset.partial")) and "Exported 6 labeled items" in ws.message_label.text()
    )


def test_cancel_a_fit_and_an_export_that_then_continues(qtbot, ws, labels, tmp_path, bridge) -> None:
    import_and_invert(qtbot, ws, labels)
    fit(qtbot, ws)
    fitted = ws.model

    ws.steps_spin.setValue(100_000)
    with qtbot.waitSignal(ws.lossArrived, timeout=RUN_TIMEOUT_MS):
        ws.fit()
    with qtbot.waitSignal(ws.fitFinished, timeout=RUN_TIMEOUT_MS) as done:
        assert ws.cancel_fit()
    assert done.args == ["cancelled"] and "cancelled" in ws.message_label.text()
    assert len(ws.loss_plot) < 1000 and ws.model is fitted  # the model from before stays usable
    assert ws.fit_button.isEnabled() and not ws.cancel_fit_button.isEnabled()

    ws.drop_spin.setValue(0)
    ws.export_spin.setValue(40)  # three chunks of 16
    out = tmp_path / "big"
    with qtbot.waitSignal(bridge.progress, timeout=RUN_TIMEOUT_MS):
        ws.export(out)
    with qtbot.waitSignal(ws.exportFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.cancel_export()
    assert done.args == ["cancelled"] and "export again into the same folder" in ws.message_label.text()
    assert not out.exists() and (tmp_path / ".big.partial").is_dir()
    with qtbot.waitSignal(ws.exportFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.export(out)
    assert done.args == ["done"] and "continued after" in ws.message_label.text()
    assert len(read_catalog(out)) == 40


def test_bad_input_is_one_sentence(qtbot, ws, labels, tmp_path) -> None:
    problems = []
    ws.problem.connect(problems.append)
    empty = tmp_path / "empty"
    empty.mkdir()
    with qtbot.waitSignal(ws.importFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.import_paths([empty])
    assert done.args == ["failed"] and "is empty" in problems[-1] and ws.message_label.text() == problems[-1]
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "a.json").write_text('{"shapes": [oops')
    with qtbot.waitSignal(ws.importFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.import_paths([corrupt])
    assert done.args == ["failed"] and "a.json" in problems[-1]
    assert all("\n" not in p and "Traceback" not in p for p in problems)
    assert ws.items_list.count() == 0 and ws.fit() is None and "Import a few labeled images" in problems[-1]
    assert ws.export(tmp_path / "x") is None and "before exporting" in problems[-1]

    # One unknown class among good labels: imported, with the warning as a sentence.
    with_unknown = tmp_path / "labelme"
    with_unknown.mkdir()
    from PIL import Image

    Image.new("RGB", (32, 32), "white").save(with_unknown / "a.png")
    shapes = [
        {"label": "left_leg", "points": [[4, 4], [14, 4], [14, 30]], "shape_type": "polygon"},
        {"label": "sparkles", "points": [[18, 4], [28, 4], [28, 30]], "shape_type": "polygon"},
    ]
    doc = {"shapes": shapes, "imagePath": "a.png", "imageHeight": 32, "imageWidth": 32}
    (with_unknown / "a.json").write_text(json.dumps(doc))
    with qtbot.waitSignal(ws.inversionFinished, timeout=RUN_TIMEOUT_MS):
        ws.import_paths([with_unknown / "a.json"])
    assert ws.items_list.count() == 1 and ws.warnings_label.isVisible()
    assert "'sparkles' is not one the model knows" in ws.warnings_label.text()

    for box in ws.task_boxes.values():
        box.setChecked(False)
    assert ws.fit() is None and "Check at least one task" in problems[-1]


def test_missing_encoder_and_builtin_model_are_sentences(
    qtbot, bridge, models, labels, tmp_path, monkeypatch
):
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(tmp_path / "no_resources"))
    ws = make_workspace(qtbot, bridge, generator=models["generator"])
    with qtbot.waitSignal(ws.inversionFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.import_paths([labels])
    assert done.args == ["failed"] and ws.message_label.text() == NO_ENCODER
    assert ws.items_list.count() == 4 and ws.items_list.reconstruction(0) is None
    with qtbot.waitSignal(ws.fitFinished, timeout=RUN_TIMEOUT_MS) as done:
        ws.fit()
    assert done.args == ["failed"] and ws.message_label.text() == NO_ENCODER
    with qtbot.waitSignal(ws.problem, timeout=RUN_TIMEOUT_MS) as problem:
        ws.builtin_button.click()
    assert problem.args == [NO_BUILTIN_MODEL] and ws.model is None


def test_drop_a_folder_then_send_a_waypoint_and_save(qtbot, ws, labels, models, tmp_path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(labels))])
    with qtbot.waitSignal(ws.inversionFinished, timeout=RUN_TIMEOUT_MS):
        assert ws.handle_drop(mime)
    assert ws.items_list.count() == 4
    assert not ws.handle_drop(QMimeData())  # nothing to import: not taken

    generator = models["generator"]
    latent = generator.sample_latent(1, 11)
    image = to_uint8(generator.synthesize(latent))[0]
    sent = SentFrame("women's black pants", 11, 3, image, latent[0].numpy())
    ws.add_frame(sent)  # no model yet: shown as it is
    assert ws.grid.count() == 1 and set(ws.grid.samples()[0].views) == {"none"}
    fit(qtbot, ws)
    if ws.grid.count() == SAMPLES:  # the waypoint is labeled again after the samples
        with qtbot.waitSignal(ws.samplesShown, timeout=RUN_TIMEOUT_MS):
            pass
    assert ws.grid.count() == SAMPLES + 1
    waypoint = ws.grid.samples()[-1]
    assert waypoint.name == "waypoint 3" and "parts" in waypoint.views and waypoint.uncertainty is not None
    np.testing.assert_array_equal(waypoint.image, image)

    with qtbot.waitSignal(ws.message, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda m: "Saved" in m):
        ws.save_model(tmp_path / "model")
    info = json.loads((tmp_path / "model" / "handsoff.json").read_text())
    assert info["generator"]["kind"] == "object" and len(info["items"]) == 4


def test_main_window_dataset_page_drops_and_settings(qtbot, bridge, models, labels, tmp_path) -> None:
    window = MainWindow(
        bridge, builtin_count=8, show_dialogs=False, generate_options={"discovery": False},
        dataset_options={**models, "config": TINY},
    )  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    ws = window.dataset
    assert window.pages["dataset"] is ws
    window.set_workspace("dataset")
    ws.refine_spin.setValue(0)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(labels))])
    with qtbot.waitSignal(ws.inversionFinished, timeout=RUN_TIMEOUT_MS):
        assert window.handle_drop(mime)  # the Dataset workspace in front takes the drop, not the catalog
    assert ws.items_list.count() == 4 and "Imported 4 labeled image(s)" in window.log_view.toPlainText()
    assert window.current_workspace() == "dataset" and window.catalog.last_folder != str(labels)

    generator = models["generator"]
    latent = generator.sample_latent(1, 2)
    sent = SentFrame("men's blue jeans", 2, 5, to_uint8(generator.synthesize(latent))[0], latent[0].numpy())
    window.set_workspace("explore")
    window.explore.sendToDataset.emit(sent)  # Explore's "Send to Dataset"
    assert window.current_workspace() == "dataset" and ws.grid.samples()[-1].name == "waypoint 5"
    assert "Waypoint 5 of “men's blue jeans” is in the Dataset samples" in window.log_view.toPlainText()

    ws.ensemble_spin.setValue(4)
    ws.drop_spin.setValue(20)
    window.close()
    second = MainWindow(bridge, builtin_count=8, show_dialogs=False, generate_options={"discovery": False})
    qtbot.addWidget(second)
    assert second.current_workspace() == "dataset"
    assert second.dataset.ensemble_spin.value() == 4 and second.dataset.drop_spin.value() == 20
