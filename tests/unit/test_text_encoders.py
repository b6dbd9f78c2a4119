"""Title words, vocabulary and the two title encoders."""

from __future__ import annotations

import torch

from gan_studio.data.title_words import MAX_WORDS, split_words, stated_attributes
from gan_studio.models.text import (
    BagTextEncoder,
    RecurrentTextEncoder,
    TextConfig,
    Vocabulary,
    color_features,
)


def test_split_words_keeps_spans_and_never_raises():
    title = "Women’s Wide-Leg Pants, Navy (Size 8) 🙂 брюки"
    words = split_words(title)
    assert [w.text for w in words] == ["women's", "wide-leg", "pants", "navy", "size", "8", "брюки"]
    for w in words:
        assert title[w.start : w.end].lower().replace("’", "'") == w.text
    assert split_words("") == [] and split_words(None) == [] and split_words("🙂🙂 ,,") == []


def test_stated_attributes_later_words_override_and_cargo_pants_stays_cargo():
    words = [w.text for w in split_words("women's black pants petite capri")]
    assert stated_attributes(words) == {
        "gender": "women's",
        "color": "black",
        "type": "pants",
        "length": "capri",
    }
    assert stated_attributes(["men's", "olive", "cargo", "pants"])["type"] == "cargo"
    assert stated_attributes(["navy", "jeans", "black"])["color"] == "black"
    assert stated_attributes(["northfield", "classic"]) == {}


def test_vocabulary_skips_unknown_words_and_caps_length():
    vocab = Vocabulary.from_titles(["black pants", "black jeans", "black pants"], extra=["navy"])
    assert "black" in vocab and "pants" in vocab and "navy" in vocab and "jeans" not in vocab  # seen once
    assert vocab.encode_title("black zzz pants") == [vocab.id("black"), vocab.id("pants")]
    assert len(vocab.encode(["black"] * 500)) == MAX_WORDS


def _recurrent(vocab_size=10, n_clusters=3):
    enc = RecurrentTextEncoder(TextConfig("recurrent", vocab_size, 8, 12, n_clusters + 3))
    word_cluster = torch.full((vocab_size,), -1, dtype=torch.long)
    word_cluster[3] = 1
    word_cluster[4] = 1  # a synonym in the same cluster
    word_cluster[5] = 2
    enc.set_colors(word_cluster, color_features([(10.0, 0.0, 0.0), (50.0, 20.0, -30.0), (90.0, 0.0, 5.0)]))
    return enc


def test_recurrent_prefix_conditions_match_step_by_step_and_ignore_padding():
    torch.manual_seed(0)
    enc = _recurrent()
    ids = torch.tensor([[1, 2, 6, 7], [2, 6, 0, 0]])
    h = enc.prefix_conditions(ids)
    assert h.shape == (2, 5, 12)
    state = enc.initial_state(1)
    assert torch.allclose(h[0, 0], enc.output(state)[0])
    for k in range(4):
        state = enc.advance(state, ids[:1, k])
        assert torch.allclose(h[0, k + 1], enc.output(state)[0], atol=1e-6)
    assert torch.allclose(h[1, 2], h[1, 3]) and torch.allclose(h[1, 2], h[1, 4])  # padding keeps the state


def test_color_synonyms_share_features_in_the_recurrent_encoder():
    enc = _recurrent()
    v = enc.word_vectors(torch.tensor([3, 4, 5]))
    assert torch.equal(v[0], v[1])  # same cluster -> same input to the LSTM
    assert not torch.equal(v[0], v[2])


def test_bag_encoder_is_the_mean_of_the_words_and_order_free():
    torch.manual_seed(0)
    enc = BagTextEncoder(TextConfig("bag", 10, 8, 12))
    h = enc.prefix_conditions(torch.tensor([[1, 2, 3], [3, 2, 1]]))
    assert torch.allclose(h[0, 3], h[1, 3], atol=1e-6)
    assert torch.allclose(h[0, 0], enc.empty[0])
    state = enc.initial_state(1)
    for i in (1, 2, 3):
        state = enc.advance(state, torch.tensor([i]))
    assert torch.allclose(enc.output(state)[0], h[0, 3], atol=1e-6)
