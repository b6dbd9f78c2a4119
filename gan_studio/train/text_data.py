"""Training data for the text-to-image GANs: images, word ids, labels, and what every title prefix states.

Built-in items are rendered at 2x the training size and area-downsampled (the renderer's antialiased edges and
twill survive better than rendering small), then cached as one ``.npz`` that both GANs share.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_studio.data.attributes import FITS, GENDERS, LENGTHS, TYPES
from gan_studio.data.output_files import write_file
from gan_studio.data.title_words import MAX_WORDS, split_words, word_statement
from gan_studio.models.text import Vocabulary
from gan_studio.runtime.progress import ProgressBar

# Label columns; the color column holds a color-table cluster index.
LABEL_HEADS = ("type", "gender", "color", "length", "fit")
# The attributes ReStGAN's auxiliary classifier predicts (the paper's type, color and gender).
AUX_HEADS = ("type", "color", "gender")
_VALUES = {"type": TYPES, "gender": GENDERS, "length": LENGTHS, "fit": FITS}
TRAIN_WORDS = 24  # longest title prefix used in training (built-in titles have at most 16 words)


@dataclass
class TextImageData:
    images: np.ndarray  # (N, S, S, 3) uint8
    titles: list[str]
    ids: np.ndarray  # (N, T) int64 word ids, 0-padded
    lengths: np.ndarray  # (N,) known words per title
    labels: np.ndarray  # (N, 5) int64 in LABEL_HEADS order, -1 where unknown
    stated: np.ndarray  # (N, T + 1, 5) int64: what the prefix of k words states, -1 where nothing
    description: dict

    def __len__(self) -> int:
        return len(self.images)


def label_row(attrs, cluster_of) -> list[int]:
    """Labels of one item's attributes (None -> all unknown); color via ``cluster_of`` (-1 if not a table word)."""
    if attrs is None:
        return [-1] * len(LABEL_HEADS)
    row = []
    for head in LABEL_HEADS:
        value = getattr(attrs, head)
        if head == "color":
            row.append(_cluster_or_unknown(cluster_of, value))
        else:
            row.append(_VALUES[head].index(value) if value in _VALUES[head] else -1)
    return row


def _cluster_or_unknown(cluster_of, word: str) -> int:
    try:
        return int(cluster_of(word))
    except ValueError:
        return -1


def prefix_statements(words: list[str], cluster_of) -> np.ndarray:
    """(len + 1, 5): for each prefix length k, the label index each attribute is stated as (-1 if not)."""
    out = np.full((len(words) + 1, len(LABEL_HEADS)), -1, np.int64)
    for i in range(len(words)):
        out[i + 1] = out[i]
        got = word_statement(words, i)
        if got is None:
            continue
        head, value = got
        j = LABEL_HEADS.index(head)
        out[i + 1, j] = (
            _cluster_or_unknown(cluster_of, value) if head == "color" else _VALUES[head].index(value)
        )
    return out


def encode_titles(
    titles: list[str], vocab: Vocabulary, cluster_of, max_words: int = TRAIN_WORDS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Word ids (N, T), lengths (N,) and per-prefix statements (N, T + 1, 5) of the known words of each title."""
    n = len(titles)
    ids = np.zeros((n, max_words), np.int64)
    lengths = np.zeros(n, np.int64)
    stated = np.full((n, max_words + 1, len(LABEL_HEADS)), -1, np.int64)
    for i, title in enumerate(titles):
        words = [w.text for w in split_words(title) if w.text in vocab][: min(max_words, MAX_WORDS)]
        ids[i, : len(words)] = vocab.encode(words)
        lengths[i] = len(words)
        st = prefix_statements(words, cluster_of)
        stated[i, : len(st)] = st
        stated[i, len(st) :] = st[-1]
    return ids, lengths, stated


def _renderer_key(size: int, n: int, seed: int) -> str:
    from gan_studio.data.catalog import render_item

    probe = render_item(seed, 0, size * 2)
    h = hashlib.sha256(probe.image.tobytes())
    h.update(probe.title.encode())
    return json.dumps({"seed": seed, "n": n, "size": size, "probe": h.hexdigest()})


def render_builtin(
    cache: Path, seed: int, n: int, size: int, *, progress: bool = False
) -> tuple[np.ndarray, list[str], list]:
    """Images (n, size, size, 3), titles and attributes of built-in items ``seed, [0, n)``, cached in ``cache``."""
    from gan_studio.data.catalog import attributes_of

    key = _renderer_key(size, n, seed)
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                if str(z["key"]) == key:
                    titles = json.loads(str(z["titles"]))
                    return z["images"], titles, [attributes_of(seed, i) for i in range(n)]
        except (OSError, ValueError, KeyError):
            pass  # stale or unreadable: render again
    images = np.empty((n, size, size, 3), np.uint8)
    titles: list[str] = []
    bar = ProgressBar(n, "render catalog", enabled=progress)
    workers = max(1, min(os.cpu_count() or 1, n // 500))  # a pool pays off from a few thousand items
    chunks = [range(a, min(a + 250, n)) for a in range(0, n, 250)]
    jobs = [(seed, c.start, c.stop, size) for c in chunks]
    with ExitStack() as stack:
        if workers > 1:
            spawn = multiprocessing.get_context("spawn")
            pool = stack.enter_context(
                ProcessPoolExecutor(workers, mp_context=spawn, initializer=_one_thread)
            )
            parts = pool.map(_render_chunk, jobs)
        else:
            parts = map(_render_chunk, jobs)
        for c, (imgs, tit) in zip(chunks, parts, strict=True):
            images[c.start : c.stop] = imgs
            titles += tit
            bar.update(c.stop)
    bar.close()
    attrs = [attributes_of(seed, i) for i in range(n)]
    write_file(  # atomic: a full disk leaves no half cache
        cache,
        lambda f: np.savez(f, images=images, titles=np.array(json.dumps(titles)), key=np.array(key)),
        make_parents=True,
    )
    return images, titles, attrs


def _one_thread() -> None:
    """Pool workers render one item at a time each: threads inside them would only oversubscribe the cores."""
    import torch

    torch.set_num_threads(1)


def _render_chunk(job: tuple[int, int, int, int]) -> tuple[np.ndarray, list[str]]:
    """Items [start, stop) of catalog ``seed`` rendered at 2x ``size`` and area-downsampled (a pool worker's job)."""
    from gan_studio.data.catalog import render_item
    from gan_studio.models.resize import resize_uint8

    seed, start, stop, size = job
    items = [render_item(seed, i, size * 2) for i in range(start, stop)]
    return np.stack([resize_uint8(it.image, size) for it in items]), [it.title for it in items]


def build_data(
    images: np.ndarray, titles: list[str], attrs: list, vocab: Vocabulary, cluster_of, description: dict
) -> TextImageData:
    ids, lengths, stated = encode_titles(titles, vocab, cluster_of)
    labels = np.array([label_row(a, cluster_of) for a in attrs], np.int64).reshape(
        len(titles), len(LABEL_HEADS)
    )
    return TextImageData(images, list(titles), ids, lengths, labels, stated, description)
