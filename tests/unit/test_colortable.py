"""The LAB color table: synonyms share a cluster, distinct colors do not, lookups by word and by color."""

import numpy as np
import pytest

from gan_studio.data.attributes import COLOR_GROUPS, COLOR_LAB
from gan_studio.data.color import ciede2000, lab_to_rgb, rgb_to_lab
from gan_studio.data.colortable import ColorTable, UnknownColorWord, build_color_table, measure_catalog


@pytest.fixture(scope="module")
def table():
    return ColorTable.load()


def test_shipped_table_has_about_ten_to_fourteen_clusters(table):
    assert 10 <= len(table) <= 14
    assert set(table.words) == set(COLOR_LAB)


def test_synonyms_share_a_cluster_and_distinct_colors_do_not(table):
    owners = {}
    for group, words in COLOR_GROUPS.items():
        clusters = {table.cluster_of(w) for w in words}
        assert len(clusters) == 1, (group, clusters)
        owners[group] = clusters.pop()
    assert len(set(owners.values())) == len(owners)


def test_lookup_is_case_insensitive_and_unknown_words_are_refused_clearly(table):
    assert table.cluster_of("Navy") == table.cluster_of("navy")
    with pytest.raises(UnknownColorWord, match="unknown color word 'chartreuse'"):
        table.cluster_of("chartreuse")


def test_nearest_snaps_each_swatch_and_each_named_color_to_its_cluster(table):
    for c in table.clusters:
        assert table.nearest(c.rgb) == c.index
    # a pure named color (before shading) still lands in its word's cluster
    for word in ("black", "navy", "red", "khaki", "yellow", "sky", "olive"):
        rgb = (lab_to_rgb(np.array(COLOR_LAB[word])) * 255).round().astype(np.uint8)
        assert table.nearest(rgb) == table.cluster_of(word), word


def test_clusters_are_far_apart_compared_to_their_spread(table):
    labs = np.array([c.lab for c in table.clusters])
    d = ciede2000(labs[:, None, :], labs[None, :, :])
    d[np.eye(len(labs), dtype=bool)] = np.inf
    spreads = np.array([c.spread for c in table.clusters])
    assert d.min() > 2 * spreads.max()


def test_save_load_round_trip(tmp_path, table):
    path = table.save(tmp_path / "t.json")
    again = ColorTable.load(path)
    assert again.word_to_cluster == table.word_to_cluster
    assert [c.rgb for c in again.clusters] == [c.rgb for c in table.clusters]


def test_malformed_table_is_refused(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{not json")
    with pytest.raises(ValueError, match="malformed"):
        ColorTable.load(p)


def test_build_from_measured_catalog_colors_recovers_the_groups():
    labs, words = measure_catalog(seed=7, n=700, size=32)
    t = build_color_table(labs, words, k=14, seed=0)
    for words_ in COLOR_GROUPS.values():
        present = [w for w in words_ if w in t.word_to_cluster]
        assert len({t.cluster_of(w) for w in present}) == 1


def test_rgb_lab_round_trip():
    lab = np.array([[50.0, 20.0, -30.0], [90.0, 0.0, 5.0]])
    back = rgb_to_lab(lab_to_rgb(lab))
    assert np.abs(back - lab).max() < 0.5
