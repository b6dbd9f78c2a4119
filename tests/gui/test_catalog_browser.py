"""The Catalog browser driven through the real main window: thumbnails, filters, detail overlays, folders."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from gan_studio.qt.catalog_browser import INDEX_ROLE
from gan_studio.qt.imageutil import to_numpy
from tests.gui.conftest import TIMEOUT_MS


@pytest.fixture
def loaded(qtbot, window):
    """The window with its 40 built-in items loaded."""
    with qtbot.waitSignal(window.catalog.loadingFinished, timeout=TIMEOUT_MS) as blocker:
        window.catalog.open_builtin(0)
    assert blocker.args == [40]
    return window


def _write_folder(path, n=6):
    from gan_studio.data.catalog import render_item
    from gan_studio.data.catalog_writer import write_catalog

    return write_catalog([render_item(3, i, 64) for i in range(n)], path)


def test_builtin_catalog_fills_thumbnails(loaded) -> None:
    model = loaded.catalog.model
    assert model.rowCount() == 40
    for row in (0, 17, 39):
        index = model.index(row)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        assert not pixmap.isNull() and pixmap.width() == loaded.catalog.thumb_size
        assert index.data(Qt.ItemDataRole.DisplayRole)  # a title
        assert index.data(INDEX_ROLE) == row
    assert "40 items" in loaded.catalog.count_label.text()


def test_filter_by_type_shows_only_that_type(qtbot, loaded) -> None:
    catalog = loaded.catalog
    counts = Counter(t.attributes.type for t in catalog.model.visible_thumbs())
    wanted, n = counts.most_common(1)[0]
    assert n < 40
    with qtbot.waitSignal(catalog.filtersApplied, timeout=TIMEOUT_MS) as blocker:
        catalog.combos["type"].setCurrentIndex(catalog.combos["type"].findData(wanted))
    assert blocker.args == [n]
    shown = catalog.model.visible_thumbs()
    assert len(shown) == n and all(t.attributes.type == wanted for t in shown)
    with qtbot.waitSignal(catalog.filtersApplied, timeout=TIMEOUT_MS):
        catalog.clear_filters()
    assert catalog.model.rowCount() == 40


def test_search_and_palette_filters(qtbot, loaded) -> None:
    catalog = loaded.catalog
    word = catalog.model.visible_thumbs()[0].title.split()[0]
    with qtbot.waitSignal(catalog.filtersApplied, timeout=TIMEOUT_MS):
        qtbot.keyClicks(catalog.search, word)  # debounced: applied once typing pauses
    shown = catalog.model.visible_thumbs()
    assert shown and all(word.lower() in t.title.lower() for t in shown)
    catalog.clear_filters()

    palette = loaded.palette_widget
    color = catalog.model.visible_thumbs()[0].attributes.color
    pos = next(i for i, c in enumerate(palette.clusters) if color in c.words)
    with qtbot.waitSignal(catalog.filtersApplied, timeout=TIMEOUT_MS):
        qtbot.mouseClick(palette.swatches()[pos], Qt.MouseButton.LeftButton)
    words = set(palette.clusters[pos].words)
    shown = catalog.model.visible_thumbs()
    assert shown and all(t.attributes.color in words for t in shown)
    assert catalog.combos["color"].currentData() == palette.clusters[pos].index
    # choosing "any color" in the combo clears the palette selection too
    catalog.combos["color"].setCurrentIndex(0)
    assert palette.selected_index() is None
    assert catalog.model.rowCount() == 40


def test_selecting_an_item_shows_details_and_overlays(qtbot, loaded) -> None:
    catalog = loaded.catalog
    with qtbot.waitSignal(catalog.detailShown, timeout=TIMEOUT_MS) as blocker:
        catalog.select_row(2)
    assert blocker.args == [2]
    detail = catalog.detail
    thumb = catalog.model.thumb(2)
    assert detail.title.text() == thumb.title
    assert thumb.attributes.type in detail.attributes.text()
    photo = to_numpy(detail.shown_pixmap().toImage())
    assert photo.shape == (256, 256, 3)
    seen = [photo]
    for kind in ("parts", "keypoints", "depth"):
        button = detail.overlay_buttons[kind]
        assert button.isEnabled()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert detail.overlay == kind
        view = to_numpy(detail.shown_pixmap().toImage())
        assert all(np.abs(view.astype(int) - other).sum() > 0 for other in seen), kind
        seen.append(view)
        if kind == "parts":
            assert "waistband" in detail.legend.text()
    qtbot.mouseClick(detail.overlay_buttons["none"], Qt.MouseButton.LeftButton)
    assert np.array_equal(to_numpy(detail.shown_pixmap().toImage()), photo)


def test_detail_shows_what_the_shipped_classifier_sees(qtbot, loaded) -> None:
    catalog = loaded.catalog
    with qtbot.waitSignal(catalog.detailShown, timeout=TIMEOUT_MS):
        catalog.select_row(5)
    shown = catalog.detail.detail
    assert shown.prediction_problem is None
    truth = catalog.model.thumb(5).attributes
    # the classifier (loaded once on the worker) reads the garment as what its label says
    assert shown.predicted["type"][0] == truth.type
    assert shown.predicted["gender"][0] == truth.gender
    assert "classifier" in catalog.detail.attributes.text()
    assert f"{truth.type} (" in catalog.detail.attributes.text()


def test_bad_folder_gives_one_clear_sentence(qtbot, window, tmp_path) -> None:
    empty = tmp_path / "not_a_catalog"
    empty.mkdir()
    with qtbot.waitSignal(window.errorReported, timeout=TIMEOUT_MS) as blocker:
        window.open_folder(empty)
    message = blocker.args[0]
    assert "titles.csv" in message and "\n" not in message and "Traceback" not in message
    assert message in window.log_view.toPlainText()
    assert message in window.statusBar().currentMessage()
    with qtbot.waitSignal(window.errorReported, timeout=TIMEOUT_MS) as blocker:
        window.open_folder(tmp_path / "missing")
    assert "does not exist" in blocker.args[0]
    assert window.isVisible()


def test_good_folder_opens_with_labels(qtbot, window, tmp_path) -> None:
    folder = _write_folder(tmp_path / "shop")
    with qtbot.waitSignal(window.catalog.loadingFinished, timeout=TIMEOUT_MS) as blocker:
        window.open_folder(folder)
    assert blocker.args == [6]
    catalog = window.catalog
    assert "shop" in catalog.source_label.text()
    assert catalog.model.rowCount() == 6
    with qtbot.waitSignal(catalog.detailShown, timeout=TIMEOUT_MS):
        catalog.select_row(1)
    assert catalog.detail.detail.size == (64, 64)
    assert all(catalog.detail.overlay_buttons[k].isEnabled() for k in ("parts", "keypoints", "depth"))
    assert catalog.last_folder == str(folder)


def _urls_mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_dropping_a_folder_opens_it(qtbot, window, tmp_path) -> None:
    folder = _write_folder(tmp_path / "dropped", n=3)
    mime = _urls_mime(folder)
    enter = QDragEnterEvent(
        QPoint(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.catalog.loadingFinished, timeout=TIMEOUT_MS) as blocker:
        window.dropEvent(drop)
    assert blocker.args == [3]
    assert "dropped" in window.catalog.source_label.text()


def test_dropping_a_file_is_refused_with_a_message(qtbot, window, tmp_path) -> None:
    file = tmp_path / "photo.png"
    file.write_bytes(b"not really")
    mime = _urls_mime(file)
    enter = QDragEnterEvent(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()
    with qtbot.waitSignal(window.errorReported, timeout=TIMEOUT_MS) as blocker:
        assert window.handle_drop(mime) is False
    assert "folder" in blocker.args[0]


def test_unreadable_item_is_a_warning_not_a_failure(qtbot, window, tmp_path) -> None:
    folder = _write_folder(tmp_path / "damaged", n=4)
    victim = sorted((folder / "images").iterdir())[1]
    victim.write_bytes(b"this is not a png")
    with qtbot.waitSignal(window.catalog.loadingFinished, timeout=TIMEOUT_MS):
        window.open_folder(folder)
    assert window.catalog.model.rowCount() == 4
    assert f"Could not read item {victim.stem}" in window.log_view.toPlainText()


def test_seed_spin_box_reloads_the_builtin_catalog(qtbot, loaded) -> None:
    catalog = loaded.catalog
    first_title = catalog.model.thumb(0).title
    with qtbot.waitSignal(catalog.loadingFinished, timeout=TIMEOUT_MS):
        catalog.seed_spin.setValue(5)  # debounced, then reloads
    assert "seed 5" in catalog.source_label.text()
    assert catalog.model.rowCount() == 40
    assert catalog.model.thumb(0).id == "s5_000000" and catalog.model.thumb(0).title != first_title
