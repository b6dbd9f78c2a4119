"""Many titles' images at once: whole titles, or every word prefix of each, drawn in batches.

A benchmark draws hundreds of titles; drawing them one :meth:`TitleGenerator.generate` call at a time would spend
its time in small batches. Here the encoder reads a chunk of titles together and the generator draws the
conditions in large batches, each row with its own noise seed, so that row i equals ``gen.generate(titles[i],
seeds[i])`` (to within one gray level: batching reorders float sums).
"""

from __future__ import annotations

import numpy as np
import torch


def _ids(gen, titles: list[str]) -> tuple[torch.Tensor, list[list[str]]]:
    """(B, T) word ids of the titles, zero-padded on the right, and each title's known words."""
    parsed = [gen.parse(t) for t in titles]
    ids = [gen.word_ids(p) for p in parsed]
    t = max((len(x) for x in ids), default=0)
    out = torch.zeros((len(titles), t), dtype=torch.long)
    for i, x in enumerate(ids):
        out[i, : len(x)] = torch.tensor(x, dtype=torch.long)
    return out.to(gen.device), [p.known_words for p in parsed]


@torch.no_grad()
def draw_batched(gen, h: torch.Tensor, seeds: list[int], batch: int = 128) -> np.ndarray:
    """Conditions (B, H) with one noise seed per row -> (B, S, S, 3) uint8; row i equals ``gen.draw(h[i], seeds[i])``."""
    from gan_studio.methods.restgan import to_uint8

    out = []
    for s in range(0, len(h), batch):
        noise = [gen.noise(seed) for seed in seeds[s : s + batch]]
        z = torch.cat([a for a, _ in noise])
        eps = torch.cat([b for _, b in noise])
        c, _, _ = gen.model.ca(h[s : s + batch], eps)
        out.append(to_uint8(gen.model.synthesize(z, c)))
    if not out:
        return np.zeros((0, gen.image_size, gen.image_size, 3), np.uint8)
    return np.concatenate(out)


@torch.no_grad()
def generate_titles(gen, titles: list[str], seeds: list[int], chunk: int = 256) -> np.ndarray:
    """(N, S, S, 3) images of whole titles (the last prefix), batched over titles."""
    out = []
    for s in range(0, len(titles), chunk):
        ids, _ = _ids(gen, titles[s : s + chunk])
        h = gen.model.encoder.prefix_conditions(ids)[:, -1]
        out.append(draw_batched(gen, h, seeds[s : s + chunk]))
    return np.concatenate(out) if out else np.zeros((0, gen.image_size, gen.image_size, 3), np.uint8)


@torch.no_grad()
def generate_prefixes(
    gen, titles: list[str], seeds: list[int], chunk: int = 32
) -> list[tuple[list[str], np.ndarray]]:
    """Per title: its known words and (K + 1, S, S, 3) images of every prefix (as ``gen.generate`` draws them)."""
    out = []
    for s in range(0, len(titles), chunk):
        ids, words = _ids(gen, titles[s : s + chunk])
        h_all = gen.model.encoder.prefix_conditions(ids)
        rows, row_seeds = [], []
        for i, w in enumerate(words):
            rows.append(h_all[i, : len(w) + 1])
            row_seeds += [seeds[s + i]] * (len(w) + 1)
        images = draw_batched(gen, torch.cat(rows), row_seeds)
        start = 0
        for w in words:
            out.append((w, images[start : start + len(w) + 1]))
            start += len(w) + 1
    return out
