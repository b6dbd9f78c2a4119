"""Splitting a product title into words, and what each word of a built-in title states about the garment.

The tokenizer keeps each word's character span so that a text box can underline unknown words where the user typed
them. :func:`stated_attributes` reads the catalog's own title vocabulary (see :mod:`gan_studio.data.titles`): it is
how training knows which attributes a title *prefix* already states, and how the benchmark checks that a word's
attribute took effect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gan_studio.data.attributes import COLOR_WORDS, FITS, GENDERS, LENGTHS, TYPES

# Letters (any script), digits, apostrophes and inner hyphens: "women's", "wide-leg", "31w". Everything else
# (punctuation, emoji, symbols) separates words and is never a word itself.
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*", re.UNICODE)

# Titles longer than this are cut: an LSTM state after 500 words says no more than after 48, and the per-word
# filmstrip stays readable.
MAX_WORDS = 48


@dataclass(frozen=True)
class Word:
    text: str  # normalized: lower case, typographic apostrophe folded to '
    start: int  # character span in the original title
    end: int


def split_words(title: str) -> list[Word]:
    """Words of ``title`` with their spans; never raises (non-strings count as empty titles)."""
    if not isinstance(title, str):
        return []
    return [Word(m.group(0).lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(title)]


# Word -> (attribute, value) for the words of built-in titles that state an attribute. The color words are added
# below from the attribute vocabulary; the color *cluster* is looked up in the color table by the caller.
_TYPE = {"pants": "pants", "trousers": "pants", "jeans": "jeans", "shorts": "shorts", "joggers": "joggers"}
_TYPE |= {"cargo": "cargo", "cargos": "cargo", "leggings": "leggings"}
_GENDER = {"men's": "men's", "mens": "men's", "men": "men's", "women's": "women's", "womens": "women's"}
_GENDER |= {"women": "women's", "unisex": "unisex"}
_FIT = {"skinny": "skinny", "slim": "slim", "straight": "straight", "wide": "wide", "wide-leg": "wide"}
_FIT |= {"bootcut": "bootcut", "flare": "bootcut"}
_LENGTH = {"ankle": "ankle", "capri": "capri", "cropped": "capri", "knee": "knee", "bermuda": "knee"}
_LENGTH |= {"short": "short", "full": "full"}

ATTRIBUTE_WORDS: dict[str, tuple[str, str]] = {}
for _name, _table in (("type", _TYPE), ("gender", _GENDER), ("fit", _FIT), ("length", _LENGTH)):
    ATTRIBUTE_WORDS.update({w: (_name, v) for w, v in _table.items()})
ATTRIBUTE_WORDS.update({w: ("color", w) for w in COLOR_WORDS})

_VALUES = {"type": TYPES, "gender": GENDERS, "fit": FITS, "length": LENGTHS, "color": COLOR_WORDS}
assert all(v in _VALUES[a] for a, v in ATTRIBUTE_WORDS.values())


def word_statement(words: list[str], i: int) -> tuple[str, str] | None:
    """What word ``i`` of ``words`` states, as (attribute, value), or None.

    "Pants" right after "Cargo" restates the cargo type rather than switching to plain pants.
    """
    w = words[i]
    got = ATTRIBUTE_WORDS.get(w)
    if got == ("type", "pants") and i > 0 and words[i - 1] == "cargo":
        return ("type", "cargo")
    return got


def stated_attributes(words: list[str]) -> dict[str, str]:
    """Attributes stated by the words so far (a later word overrides an earlier one of the same attribute)."""
    out: dict[str, str] = {}
    for i in range(len(words)):
        got = word_statement(words, i)
        if got is not None:
            out[got[0]] = got[1]
    return out
