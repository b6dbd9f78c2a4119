"""The main window shell: workspaces, shortcuts, status bar and cancel, About, settings."""

from __future__ import annotations

import json
import threading

from PySide6.QtCore import Qt

from gan_studio.qt.dataset_workspace import DatasetWorkspace
from gan_studio.qt.explore_workspace import ExploreWorkspace
from gan_studio.qt.generate_workspace import GenerateWorkspace
from gan_studio.qt.main_window import WORKSPACES, MainWindow
from gan_studio.qt.train_workspace import TrainWorkspace
from tests.gui.conftest import TIMEOUT_MS


def test_window_has_the_workspaces(window) -> None:
    assert [key for key, _ in WORKSPACES] == ["catalog", "generate", "explore", "dataset", "train"]
    assert window.current_workspace() == "catalog"
    assert window.stack.count() == 5
    assert isinstance(window.pages["generate"], GenerateWorkspace)
    assert isinstance(window.pages["explore"], ExploreWorkspace)
    assert isinstance(window.pages["dataset"], DatasetWorkspace)
    assert isinstance(window.pages["train"], TrainWorkspace)
    assert [a.text() for a in window.toolbar.actions()] == [title for _, title in WORKSPACES]
    assert window.log_dock.isVisible() and window.palette_dock.isVisible()
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "View", "Help"]


def test_keyboard_shortcuts_switch_workspaces(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT_MS)
    for n, (key, _title) in reversed(list(enumerate(WORKSPACES, start=1))):
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_0 + n), Qt.KeyboardModifier.ControlModifier)
        assert window.current_workspace() == key
        assert window.workspace_actions[key].isChecked()
    shortcuts = {
        a.shortcut().toString()
        for a in (window.open_action, window.quit_action, window.cancel_action, window.about_action)
    }
    assert shortcuts == {"Ctrl+O", "Ctrl+Q", "Esc", "F1"}


def test_escape_cancels_worker_jobs_and_status_bar_follows(qtbot, window, bridge) -> None:
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=TIMEOUT_MS)
    entered = threading.Event()

    def long_job(ctx):
        entered.set()
        ctx.progress(0.25, "waiting for cancel")
        ctx.token.wait(30)
        ctx.raise_if_cancelled()
        return "not cancelled"

    with qtbot.waitSignal(bridge.progress, timeout=TIMEOUT_MS):
        request_id = bridge.submit("test.long", long_job, "A long job")
    assert window.progress_bar.isVisible() and window.cancel_button.isVisible()
    assert window.progress_bar.value() == 250
    assert request_id in window.active_jobs
    with qtbot.waitSignal(bridge.finished, timeout=TIMEOUT_MS) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert blocker.args[0].cancelled
    qtbot.waitUntil(lambda: not window.progress_bar.isVisible(), timeout=TIMEOUT_MS)
    assert "Cancelled 1 running job" in window.log_view.toPlainText()


def test_cancel_stops_catalog_loading(qtbot, window) -> None:
    catalog = window.catalog
    catalog.builtin_count = 5000  # far more than can load before the cancel
    with qtbot.waitSignal(catalog.batchLoaded, timeout=TIMEOUT_MS):
        catalog.open_builtin(1)
    with qtbot.waitSignal(catalog.loadingStopped, timeout=TIMEOUT_MS) as blocker:
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    loaded = blocker.args[0]
    assert 0 < loaded < 5000 and catalog.model.loaded == loaded
    assert not catalog.is_loading
    assert "not loaded" in catalog.count_label.text()
    with qtbot.waitSignal(catalog.batchLoaded, timeout=TIMEOUT_MS):
        catalog.resume_loading()
    assert catalog.model.loaded > loaded
    window.cancel_jobs()


def test_about_lists_model_manifests(qtbot, window, tmp_path, monkeypatch) -> None:
    resources = tmp_path / "resources"
    (resources / "models").mkdir(parents=True)
    (resources / "color_table.json").write_text(json.dumps({"clusters": []}))
    manifest = {
        "format_version": 1,
        "architecture": "attribute_classifier",
        "config": {},
        "sha256": "0" * 64,
        "training": {"command": "gan-studio train classifier --out runs/cls"},
        "metrics": {"type_accuracy": 0.9731},
    }
    (resources / "models" / "classifier.json").write_text(json.dumps(manifest))
    (resources / "models" / "broken.json").write_text("{not json")
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(resources))
    dialog = window.show_about()
    qtbot.waitExposed(dialog)
    text = dialog.browser.toPlainText()
    assert "attribute_classifier" in text
    assert "type_accuracy: 0.9731" in text
    assert "gan-studio train classifier --out runs/cls" in text
    assert "broken.json could not be read" in text
    assert "color_table" not in text
    dialog.close()


def test_about_without_manifests(qtbot, window, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GAN_STUDIO_RESOURCES", str(tmp_path / "none"))
    dialog = window.show_about()
    assert "No model manifests" in dialog.browser.toPlainText()
    dialog.close()


def test_settings_are_saved_on_close_and_restored(qtbot, bridge, isolated_qsettings) -> None:
    first = MainWindow(bridge, builtin_count=8, show_dialogs=False)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(760, 560)  # within the offscreen screen (800 x 800)
    first.set_workspace("train")
    first.log_dock.hide()
    first.catalog.seed_spin.setValue(7)
    first.catalog.detail.set_overlay("depth")
    first.close()
    assert list(isolated_qsettings.rglob("*.ini")), "settings were not written to the test folder"

    second = MainWindow(bridge, builtin_count=8, show_dialogs=False)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (760, 560)
    assert second.current_workspace() == "train"
    assert not second.log_dock.isVisible() and second.palette_dock.isVisible()
    assert second.catalog.seed_spin.value() == 7
    assert second.catalog.detail.overlay == "depth"


def test_errors_without_dialogs_go_to_log_and_status_bar(qtbot, window) -> None:
    with qtbot.waitSignal(window.errorReported, timeout=TIMEOUT_MS):
        window.report_error("The folder is not a catalog.")
    assert window.last_error == "The folder is not a catalog."
    assert "The folder is not a catalog." in window.log_view.toPlainText()
    assert window.statusBar().currentMessage() == "The folder is not a catalog."


def test_the_application_has_its_icon(qapp) -> None:
    from gan_studio.qt.app import make_application

    app = make_application()
    assert app is qapp and not app.windowIcon().isNull()
    assert app.windowIcon().availableSizes()[0].width() == 256
