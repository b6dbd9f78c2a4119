"""What the Generate workspace reads from and writes into the title text as the user types: the word boundaries at
which the image is redrawn, and the color word a palette pick puts in or replaces (plain strings, no Qt)."""

from __future__ import annotations

from gan_studio.data.title_words import split_words
from gan_studio.methods.restgan import ParsedTitle


def boundary_state(text: str) -> tuple[int, tuple[str, ...]]:
    """(word count, the words already followed by a separator): a change of either is a word boundary."""
    words = split_words(text)
    return len(words), tuple(w.text for w in words if w.end < len(text))


def _match_case(like: str, word: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def put_color_word(text: str, parsed: ParsedTitle, word: str) -> str:
    """``text`` with its color word replaced by ``word``, or ``word`` inserted before the fit or type word.

    With several color words the last one (the one the model ends on) is replaced; with none the word goes before
    the first word stating the fit or the type ("women's slim jeans" -> "women's black slim jeans"), else at the end.
    """
    colors = [w for w in parsed.words if w.color_cluster is not None]
    if colors:
        w = colors[-1]
        return text[: w.start] + _match_case(text[w.start : w.end], word) + text[w.end :]
    anchor = next((w for w in parsed.words if w.states and w.states[0] in ("fit", "type")), None)
    if anchor is not None:
        return (
            text[: anchor.start]
            + _match_case(text[anchor.start : anchor.end], word)
            + " "
            + text[anchor.start :]
        )
    stripped = text.rstrip()
    return (stripped + " " if stripped else "") + word + " "
