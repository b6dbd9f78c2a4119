"""Incremental consistency of a title generator: titles drawn word by word, every prefix judged by the classifier.

As words are appended, attributes already stated should stay (kept, held), a word stating a new value should take
effect, and words that state nothing new should change the image little (DESIGN.md, "Evaluation protocol"). The
counting is :func:`gan_studio.metrics.gan_scores.consistency_summary`; this module draws the prefixes and feeds it.
"""

from __future__ import annotations

import numpy as np

from gan_studio.data.attributes import DETAILS
from gan_studio.metrics import gan_scores as gs
from gan_studio.metrics.title_drawing import generate_prefixes
from gan_studio.metrics.title_scores import classify

HEADLINE_HEADS = ("type", "color", "gender")  # the attributes that must stay: the headline numbers
_DETAIL_WORDS = frozenset(DETAILS)


def incremental_scores(gen, classifier, titles: list[str], seeds: list[int], cluster_of) -> tuple[dict, list]:
    """Consistency of word-by-word generation; also returns the per-title (words, images) for the figure."""
    from gan_studio.train.text_data import LABEL_HEADS, prefix_statements

    seqs = generate_prefixes(gen, titles, seeds)
    if not seqs:
        return gs.consistency_summary([], {h: i for i, h in enumerate(LABEL_HEADS)}, HEADLINE_HEADS), seqs
    all_images = np.concatenate([im for _, im in seqs])
    scored = classify(classifier, all_images)
    sequences, start = [], 0
    for words, images in seqs:
        k = len(images)
        pred = scored["pred"][start : start + k]
        feats = scored["features"][start : start + k]
        start += k
        sequences.append(
            {
                "stated": prefix_statements(words, cluster_of),
                "pred": pred,
                "detail": [w in _DETAIL_WORDS for w in words],
                "pixel_change": gs.pixel_change(images),
                "feature_change": gs.feature_change(feats),
            }
        )
    summary = gs.consistency_summary(sequences, {h: i for i, h in enumerate(LABEL_HEADS)}, HEADLINE_HEADS)
    summary["images"] = len(all_images)
    return summary, seqs
