"""Attribute and title filtering of catalog items."""

from __future__ import annotations

import pytest

from gan_studio.data.attributes import Attributes
from gan_studio.data.filters import AttributeFilter, filter_indices

ITEMS = [
    ("Classic Navy Slim Jeans", Attributes("jeans", "men's", "navy", "full", "slim")),
    ("Midnight Wide-Leg Pants", Attributes("pants", "women's", "midnight", "ankle", "wide")),
    ("Red Skinny Leggings", Attributes("leggings", "women's", "red", "full", "skinny")),
    ("My own photo", None),
]
TITLES = [t for t, _ in ITEMS]
ATTRS = [a for _, a in ITEMS]


def test_empty_filter_keeps_everything() -> None:
    flt = AttributeFilter()
    assert flt.is_empty()
    assert filter_indices(TITLES, ATTRS, flt) == [0, 1, 2, 3]
    assert filter_indices(TITLES, ATTRS, flt, start=10) == [10, 11, 12, 13]


def test_attribute_filters_combine() -> None:
    assert filter_indices(TITLES, ATTRS, AttributeFilter(gender="women's")) == [1, 2]
    assert filter_indices(TITLES, ATTRS, AttributeFilter(gender="women's", fit="wide")) == [1]
    navy_group = frozenset({"navy", "midnight", "indigo"})
    assert filter_indices(TITLES, ATTRS, AttributeFilter(colors=navy_group)) == [0, 1]
    assert filter_indices(TITLES, ATTRS, AttributeFilter(colors=frozenset())) == []


def test_text_search_needs_every_word_case_insensitively() -> None:
    assert filter_indices(TITLES, ATTRS, AttributeFilter(text="  jeans  NAVY ")) == [0]
    assert filter_indices(TITLES, ATTRS, AttributeFilter(text="photo")) == [3]  # no attributes needed
    assert filter_indices(TITLES, ATTRS, AttributeFilter(text="photo", type="jeans")) == []


def test_mismatched_lengths_are_an_error() -> None:
    with pytest.raises(ValueError):
        filter_indices(TITLES, ATTRS[:2], AttributeFilter())
