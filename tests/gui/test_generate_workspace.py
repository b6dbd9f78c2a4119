"""The Generate workspace on a tiny untrained model: typing, the filmstrip, colors, history, saving, discovery."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QTextCharFormat

from gan_studio.methods.restgan import TitleGenerator
from gan_studio.methods.title_jobs import MODEL_ENV
from gan_studio.qt.filmstrip import EMPTY_PREFIX
from gan_studio.qt.generate_workspace import GenerateWorkspace, boundary_state, put_color_word
from gan_studio.qt.main_window import MainWindow
from tests.gui.conftest import TIMEOUT_MS
from tests.tiny_models import save_tiny_text_to_image


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return save_tiny_text_to_image(tmp_path_factory.mktemp("tiny_restgan"))


@pytest.fixture
def make_ws(qtbot, bridge, tiny_path):
    def make(**kwargs) -> GenerateWorkspace:
        kwargs.setdefault("model_path", tiny_path)
        kwargs.setdefault("discovery", False)
        kwargs.setdefault("title", "")
        ws = GenerateWorkspace(bridge, **kwargs)
        qtbot.addWidget(ws)
        ws.resize(900, 650)
        return ws

    return make


def show_and_wait(qtbot, ws: GenerateWorkspace) -> None:
    with qtbot.waitSignal(ws.generated, timeout=TIMEOUT_MS):
        ws.show()
    qtbot.waitExposed(ws)


def wait_for_title(qtbot, ws: GenerateWorkspace, title: str, seed: int | None = None) -> None:
    def shown() -> bool:
        out = ws.last_outcome
        return out is not None and out.title == title and (seed is None or out.seed == seed)

    qtbot.waitUntil(shown, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: ws.image_view.painted_frame == ws.image_view.frame, timeout=TIMEOUT_MS)


def test_boundaries_and_color_word_placement() -> None:
    assert boundary_state("black sl") == (2, ("black",))
    assert boundary_state("black slim ") == (2, ("black", "slim"))
    assert boundary_state("black, slim") == (2, ("black",))

    from gan_studio.methods.title_jobs import TitleReader

    reader = TitleReader(frozenset({"black", "navy", "slim", "jeans", "women's"}), {"black": 7, "navy": 6})
    assert put_color_word("Women's Black slim jeans", reader.parse("Women's Black slim jeans"), "navy") == (
        "Women's Navy slim jeans"
    )
    assert put_color_word("women's slim jeans", reader.parse("women's slim jeans"), "black") == (
        "women's black slim jeans"
    )
    assert put_color_word("women's", reader.parse("women's"), "black") == "women's black "
    assert put_color_word("", reader.parse(""), "black") == "black "


def test_typing_word_by_word_fills_the_filmstrip_and_reuses_the_cache(qtbot, make_ws) -> None:
    ws = make_ws()
    show_and_wait(qtbot, ws)
    assert ws.filmstrip.count() == 1 and ws.filmstrip.item(0).text() == EMPTY_PREFIX
    ws.title_edit.setFocus()
    typed = ""
    for n, word in enumerate(["black", "slim", "jeans"], start=1):
        qtbot.keyClicks(ws.title_edit, word + " ")
        typed += word + " "
        wait_for_title(qtbot, ws, typed)
        out = ws.last_outcome
        assert ws.filmstrip.count() == n + 1 == len(out.images)
        assert list(ws.filmstrip.prefixes()) == ["", *[" ".join(typed.split()[:k]) for k in range(1, n + 1)]]
        assert ws.filmstrip.item(n).toolTip() == " ".join(typed.split())
        assert ws.filmstrip.item(n).text().endswith(word)  # long prefixes lose their start, never their end
        assert out.image.shape == (64, 64, 3) and out.image.dtype == np.uint8
        np.testing.assert_array_equal(ws.image_view.image(), out.image)
    assert ws.last_outcome.computed == 1  # one word appended: one image drawn, the rest from the session
    assert "1 new image" in ws.stats_label.text()

    # Enter commits a word without waiting for a separator; an unknown word draws nothing new
    qtbot.keyClicks(ws.title_edit, "xyzzy")
    qtbot.keyClick(ws.title_edit, Qt.Key.Key_Return)
    wait_for_title(qtbot, ws, typed + "xyzzy")
    assert ws.last_outcome.computed == 0 and ws.filmstrip.count() == 4
    assert ws.title_edit.toPlainText() == typed + "xyzzy"  # Enter did not add a line


def test_unknown_words_are_marked_and_explained(qtbot, make_ws) -> None:
    ws = make_ws()
    show_and_wait(qtbot, ws)
    title = "black 😀 qwzx jeans"
    ws.set_title(title)
    wait_for_title(qtbot, ws, title)
    # "qwzx" starts at index 8 in Python, 9 in Qt's UTF-16 (the emoji takes two units)
    assert ws.unknown_spans() == ((9, 4),)
    formats = ws.title_edit.document().firstBlock().layout().formats()
    waves = [f for f in formats if f.format.underlineStyle() == QTextCharFormat.UnderlineStyle.WaveUnderline]
    assert [(f.start, f.length) for f in waves] == [(9, 4)]
    assert "qwzx" in ws.message_label.text()
    assert ws.filmstrip.count() == 3


@pytest.mark.parametrize(
    "title",
    [
        "",
        "   \t ",
        "qwzx vbnm",
        "!!! ??? ...",
        " ".join(["black", "slim", "jeans"] * 170),  # 510 words
        "👖👖👖 black 🔥 jeans",
        "черные джинсы 黒いジーンズ ジーンズ",
        "women's\u200bnavy\u00a0jeans",
    ],
)
def test_odd_titles_give_an_image_or_a_message(qtbot, make_ws, title) -> None:
    ws = make_ws()
    show_and_wait(qtbot, ws)
    ws.set_title(title)
    wait_for_title(qtbot, ws, ws.title())  # the box folds tabs/newlines; it shows what it drew
    out = ws.last_outcome
    assert out.image.shape == (64, 64, 3)
    known = len(out.parsed.known_words)
    assert ws.filmstrip.count() == known + 1
    if known == 0 or out.parsed.unknown_words or out.parsed.truncated:
        assert ws.message_label.text()  # one sentence says what was ignored
    if len(title.split()) > 100:
        assert "only the first" in ws.message_label.text()


def test_seed_and_new_variation(qtbot, make_ws) -> None:
    ws = make_ws(title="black jeans")
    show_and_wait(qtbot, ws)
    first = ws.last_outcome.image
    ws.window().activateWindow()
    qtbot.waitUntil(ws.window().isActiveWindow, timeout=TIMEOUT_MS)
    qtbot.keyClick(ws.title_edit, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    seed = ws.seed()
    assert seed != 0
    wait_for_title(qtbot, ws, "black jeans", seed)
    assert not np.array_equal(first, ws.last_outcome.image)
    ws.set_seed(0)
    wait_for_title(qtbot, ws, "black jeans", 0)
    np.testing.assert_array_equal(first, ws.last_outcome.image)  # same title and seed, same garment


def test_undo_redo_restore_title_seed_and_image(qtbot, make_ws) -> None:
    ws = make_ws(title="black")
    show_and_wait(qtbot, ws)
    ws.set_title("black slim")
    wait_for_title(qtbot, ws, "black slim")
    image_b = ws.last_outcome.image
    ws.new_variation()
    seed_c = ws.seed()
    wait_for_title(qtbot, ws, "black slim", seed_c)
    assert len(ws.history) == 3 and ws.undo_action.isEnabled() and not ws.redo_action.isEnabled()

    ws.window().activateWindow()
    qtbot.waitUntil(ws.window().isActiveWindow, timeout=TIMEOUT_MS)
    ws.title_edit.setFocus()
    qtbot.keyClick(
        ws.title_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
    )  # the title box yields Ctrl+Z
    assert (ws.title(), ws.seed()) == ("black slim", 0)
    np.testing.assert_array_equal(ws.image_view.image(), image_b)
    assert ws.filmstrip.count() == 3
    assert ws.undo()
    assert (ws.title(), ws.seed()) == ("black", 0) and ws.filmstrip.count() == 2
    assert not ws.undo() and not ws.undo_action.isEnabled()
    qtbot.keyClick(
        ws.title_edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert (ws.title(), ws.seed()) == ("black slim", 0)
    assert ws.redo() and (ws.title(), ws.seed()) == ("black slim", seed_c)
    assert not ws.redo_action.isEnabled()
    # nothing was recomputed to restore, and the next edit drops the redo tail
    ws.undo()
    ws.set_title("black slim jeans")
    wait_for_title(qtbot, ws, "black slim jeans")
    assert not ws.history.can_redo() and len(ws.history) == 3


def test_save_and_copy(qtbot, make_ws, tmp_path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    ws = make_ws(title="navy shorts")
    assert ws.save_image(tmp_path / "none.png") is None  # nothing drawn yet
    show_and_wait(qtbot, ws)

    def save(path, scale):  # encoded and written on the worker
        with qtbot.waitSignal(ws.saved, timeout=TIMEOUT_MS) as blocker:
            assert ws.save_image(path, scale=scale) is not None
        return blocker.args[0]

    out = save(tmp_path / "garment", 4)
    assert out == tmp_path / "garment.png" and out.is_file()
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == (256, 256)
    plain = save(tmp_path / "plain.png", 1)
    with Image.open(plain) as im:
        np.testing.assert_array_equal(np.asarray(im.convert("RGB")), ws.last_outcome.image)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "garment.png",
        "plain.png",
    ]  # no temporary files left
    warnings = []
    ws.warning.connect(warnings.append)
    assert save(tmp_path / "missing" / "x.png", 1) is None  # a bad folder is a message, not a crash
    assert warnings[-1].startswith("Could not save the image to") and "\n" not in warnings[-1]

    ws.window().activateWindow()
    qtbot.waitUntil(ws.window().isActiveWindow, timeout=TIMEOUT_MS)
    ws.image_view.setFocus()
    QGuiApplication.clipboard().clear()
    with qtbot.waitSignal(ws.copied, timeout=TIMEOUT_MS):
        qtbot.keyClick(ws.image_view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    copied = QGuiApplication.clipboard().image()
    assert not copied.isNull() and copied.width() == 64 * ws.save_scale()


def test_missing_or_broken_model_shows_one_sentence(qtbot, make_ws, tmp_path) -> None:
    ws = make_ws(model_path=tmp_path / "restgan.safetensors", title="black jeans")
    warnings = []
    ws.warning.connect(warnings.append)
    with qtbot.waitSignal(ws.modelUnavailable, timeout=TIMEOUT_MS) as blocker:
        ws.show()
    sentence = blocker.args[0]
    assert sentence.startswith("No text-to-image model at") and sentence.count(". ") == 0
    assert ws.image_view.placeholder == sentence and ws.image_view.image() is None
    assert ws.message_label.text() == sentence
    with qtbot.waitSignal(ws.jobs.bridge.finished, timeout=TIMEOUT_MS):
        ws.set_title("black slim jeans")  # typing on gives the same sentence, logged once
    assert ws.problem == sentence and warnings == [sentence]

    broken = tmp_path / "broken" / "restgan.safetensors"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00" * 64)
    ws2 = make_ws(model_path=broken)
    with qtbot.waitSignal(ws2.modelUnavailable, timeout=TIMEOUT_MS) as blocker:
        ws2.show()
    assert blocker.args[0].startswith("The text-to-image model could not be loaded")


def test_discovery_lists_the_nearest_catalog_items(qtbot, make_ws, tmp_path) -> None:
    ws = make_ws(discovery=True, index_count=20, cache_dir=tmp_path, matches=5, title="black jeans")
    with qtbot.waitSignal(ws.matchesShown, timeout=60000) as blocker:
        ws.show()
    assert blocker.args == [5]
    assert ws.discovery_panel.list.count() == 5 and all(ws.discovery_panel.titles())
    assert "20 items" in ws.discovery_panel.status.text() and ws.index_state == "ready"
    assert list(tmp_path.glob("builtin-index-*.npz"))
    with qtbot.waitSignal(ws.matchesShown, timeout=TIMEOUT_MS):  # refining the title updates the list
        ws.set_title("black jeans shorts")


def test_discovery_follows_the_catalog_folder(qtbot, make_ws, tmp_path) -> None:
    from gan_studio.data.catalog import iter_items
    from gan_studio.data.catalog_writer import write_catalog
    from gan_studio.qt.catalog_source import FolderSource

    folder = write_catalog(iter_items(9, 0, 5, 96), tmp_path / "my_catalog")
    ws = make_ws(discovery=True, cache_dir=tmp_path / "cache", matches=3, title="black jeans")
    ws.set_catalog_source(FolderSource.open(folder))
    assert ws.index_spec.source == "folder"
    with qtbot.waitSignal(ws.matchesShown, timeout=60000):
        ws.show()
    ids = {it.id for it in iter_items(9, 0, 5, 96)}
    assert {m.id for m in ws.discovery_panel.matches()} <= ids and ws.discovery_panel.list.count() == 3
    assert "my_catalog" in ws.discovery_panel.status.text()


def test_main_window_generate_tab_and_palette(qtbot, bridge, tiny_path, monkeypatch) -> None:
    monkeypatch.setenv(MODEL_ENV, str(tiny_path))  # the env var the workspace respects
    window = MainWindow(bridge, builtin_count=8, show_dialogs=False, generate_options={"discovery": False})
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    ws = window.generate
    assert window.pages["generate"] is ws
    with qtbot.waitSignal(ws.generated, timeout=TIMEOUT_MS):
        window.set_workspace("generate")
    wait_for_title(qtbot, ws, ws.title())
    assert ws.title() == "women's navy slim jeans"
    navy = ws.color_cluster()
    assert navy >= 0 and window.palette_widget.selected_index() == navy
    assert "navy" in ws.color_label.text()

    palette = window.palette_widget
    target = next(c for c in palette.clusters if c.index != navy and c.name in ws.reader.vocab)
    with qtbot.waitSignal(ws.generated, timeout=TIMEOUT_MS):
        palette.swatches()[[c.index for c in palette.clusters].index(target.index)].click()
    assert ws.title() == f"women's {target.name} slim jeans"
    assert ws.color_cluster() == target.index and target.name in ws.color_label.text()
    assert window.palette_widget.selected_index() == target.index
    assert window.catalog.combos["color"].currentData() is None  # the catalog filter was left alone

    window.set_workspace("catalog")
    assert window.palette_widget.selected_index() is None


def test_measure_word_to_pixels(qapp, tiny_path) -> None:
    from gan_studio.qt.latency import measure_word_to_pixels

    generator = TitleGenerator.load(tiny_path)
    result = measure_word_to_pixels(["black slim jeans", "women's navy shorts"], generator, seed=3)
    assert result["n"] == 6 and len(result["incremental_ms"]) == len(result["scratch_ms"]) == 6
    assert result["words"] == [3, 3]
    assert all(ms > 0 for ms in result["incremental_ms"] + result["scratch_ms"])
    assert result["incremental_median_ms"] > 0 and result["scratch_median_ms"] > 0
    assert result["debounce_ms"] == 150 and result["image_size"] == 64
