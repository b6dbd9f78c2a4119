"""Filtering catalog items by attribute and title words.

Qt-free: the catalog browser keeps one :class:`AttributeFilter` and asks it which rows to show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gan_studio.data.attributes import Attributes


@dataclass(frozen=True)
class AttributeFilter:
    """What the user asked to see. ``None`` (or an empty text) means "any".

    ``colors`` is the set of color words accepted, e.g. the member words of one color-table cluster, so that
    "navy", "midnight" and "indigo" pass together. ``text`` is matched word by word, case-insensitively, against
    the title: every word must occur.
    """

    type: str | None = None
    gender: str | None = None
    colors: frozenset[str] | None = None
    length: str | None = None
    fit: str | None = None
    text: str = ""

    @property
    def needs_attributes(self) -> bool:
        return any(v is not None for v in (self.type, self.gender, self.colors, self.length, self.fit))

    def is_empty(self) -> bool:
        return not self.needs_attributes and not self.text.strip()

    def matches(self, title: str, attributes: Attributes | None) -> bool:
        """True when an item with this title and these attributes should be shown.

        Items without attributes (user photos) pass only filters that ask nothing of attributes.
        """
        if self.needs_attributes:
            if attributes is None:
                return False
            for key in ("type", "gender", "length", "fit"):
                wanted = getattr(self, key)
                if wanted is not None and getattr(attributes, key) != wanted:
                    return False
            if self.colors is not None and attributes.color not in self.colors:
                return False
        words = self.text.lower().split()
        if words:
            lowered = title.lower()
            return all(w in lowered for w in words)
        return True


def filter_indices(
    titles: Sequence[str],
    attributes: Sequence[Attributes | None],
    flt: AttributeFilter,
    start: int = 0,
) -> list[int]:
    """Indices (offset by ``start``) of the items that pass ``flt``, in order."""
    if len(titles) != len(attributes):
        raise ValueError(f"{len(titles)} titles but {len(attributes)} attribute records")
    if flt.is_empty():
        return list(range(start, start + len(titles)))
    return [start + i for i, (t, a) in enumerate(zip(titles, attributes)) if flt.matches(t, a)]
