"""The palette widget: one swatch per color-table cluster; picking emits the cluster."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gan_studio.qt.palette import PaletteWidget, fallback_clusters, load_clusters


@pytest.fixture
def palette(qtbot):
    clusters, nearest, _problem = load_clusters()
    widget = PaletteWidget(clusters, nearest)
    qtbot.addWidget(widget)
    widget.resize(420, 500)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_one_swatch_per_cluster_with_its_words(palette) -> None:
    clusters = palette.clusters
    assert len(clusters) >= 10
    assert len(palette.swatches()) == len(clusters)
    for swatch, cluster in zip(palette.swatches(), clusters):
        assert cluster.name in swatch.text()
        for word in cluster.words:
            assert word in swatch.toolTip()
    assert palette.width() >= 2 * PaletteWidget.SWATCH_WIDTH  # two columns at this width
    assert palette.swatches()[1].y() == palette.swatches()[0].y()


def test_clicking_a_swatch_emits_color_picked(qtbot, palette) -> None:
    cluster = palette.clusters[3]
    with qtbot.waitSignal(palette.colorPicked, timeout=1000) as blocker:
        qtbot.mouseClick(palette.swatches()[3], Qt.MouseButton.LeftButton)
    assert blocker.args == [cluster.index, cluster.words[0]]
    assert palette.selected_index() == cluster.index
    other = palette.clusters[5]
    with qtbot.waitSignal(palette.colorPicked, timeout=1000):
        qtbot.mouseClick(palette.swatches()[5], Qt.MouseButton.LeftButton)
    assert palette.selected_index() == other.index  # exclusive
    assert not palette.swatches()[3].isChecked()
    with qtbot.waitSignal(palette.cleared, timeout=1000):
        qtbot.mouseClick(palette.swatches()[5], Qt.MouseButton.LeftButton)  # second click clears
    assert palette.selected_index() is None


def test_any_color_snaps_to_the_nearest_cluster(qtbot, palette) -> None:
    by_name = {c.name: c for c in palette.clusters}
    navyish = next(c for c in palette.clusters if "navy" in c.words)
    with qtbot.waitSignal(palette.colorPicked, timeout=1000) as blocker:
        index = palette.pick_rgb((22, 36, 80))
    assert index == navyish.index == blocker.args[0]
    assert by_name[navyish.name].index == palette.selected_index()
    with qtbot.waitSignal(palette.colorPicked, timeout=1000) as blocker:
        palette.pick_word("scarlet")
    assert "scarlet" == blocker.args[1]
    with pytest.raises(ValueError):
        palette.pick_word("plaid")


def test_fallback_clusters_cover_every_color_word() -> None:
    from gan_studio.data.attributes import COLOR_WORDS

    clusters = fallback_clusters()
    words = [w for c in clusters for w in c.words]
    assert sorted(words) == sorted(COLOR_WORDS)
    assert all(0 <= v <= 255 for c in clusters for v in c.rgb)
