"""Incremental generation: the cache gives the same pixels as recomputing, and odd titles never raise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_studio.data.title_words import MAX_WORDS
from gan_studio.methods.restgan import IncrementalSession, TitleGenerator
from tests.tiny_models import save_tiny_text_to_image, tiny_text_to_image


@pytest.fixture(scope="module", params=["restgan", "stackgan"])
def gen(request):
    return TitleGenerator(tiny_text_to_image(request.param))


def test_same_seed_same_images_and_seed_changes_them(gen):
    a = gen.generate("women's black pants petite capri", seed=7)
    b = gen.generate("women's black pants petite capri", seed=7)
    c = gen.generate("women's black pants petite capri", seed=8)
    assert len(a.images) == 6 and a.prefixes[0] == "" and a.prefixes[-1] == "women's black pants petite capri"
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images, strict=True))
    assert not np.array_equal(a.image, c.image)
    assert a.image.shape == (64, 64, 3) and a.image.dtype == np.uint8


def test_incremental_session_reuses_prefixes_and_matches_scratch(gen):
    session = IncrementalSession(gen)
    words = ["women's", "black", "pants", "petite", "capri"]
    first = session.run(" ".join(words[:3]), seed=3)
    assert first.computed == 4  # empty prefix + 3 words
    for n in (4, 5):
        step = session.run(" ".join(words[:n]), seed=3)
        assert step.computed == 1
    scratch = gen.generate(" ".join(words), seed=3)
    for x, y in zip(step.images, scratch.images, strict=True):
        assert np.abs(x.astype(int) - y.astype(int)).max() <= 1
    assert session.run(" ".join(words), seed=3).computed == 0
    assert session.run(" ".join(words), seed=4).computed == 6  # another seed is another image


def test_session_keeps_compact_numpy_entries_within_capacity(gen):
    """No torch tensors nor views of a drawn batch stay in the cache (they fragmented the heap in the soak)."""
    session = IncrementalSession(gen, capacity=4)
    session.run("women's black pants petite capri", seed=1)  # 6 prefixes drawn in one batch
    assert len(session._cache) == 4
    for states, image in session._cache.values():
        assert image.base is None and image.flags.c_contiguous
        assert all(isinstance(a, np.ndarray) and a.base is None for a in states)
    size = gen.image_size
    assert session.nbytes() >= 4 * size * size * 3
    assert session.run("women's black pants petite capri", seed=1).computed == 2  # the two evicted ones


def test_unknown_words_are_reported_and_do_not_change_the_image(gen):
    plain = gen.generate("men's blue jeans", seed=1)
    typo = gen.generate("men's bleu blue jeans 🙂", seed=1)
    assert typo.parsed.unknown_words == ["bleu"]
    assert "bleu" in typo.parsed.message
    assert np.array_equal(plain.image, typo.image)
    flags = {w.text: w.known for w in typo.parsed.words}
    assert flags == {"men's": True, "bleu": False, "blue": True, "jeans": True}


@pytest.mark.parametrize(
    "title",
    ["", "   ", "zzz qqq", "👖👖👖", "男士 黑色 裤子", "jeans " * 500, None, 42, "a" * 10000],
)
def test_bad_titles_give_an_image_and_a_message(gen, title):
    result = gen.generate(title, seed=0)
    assert result.image.shape == (64, 64, 3)
    assert len(result.images) <= MAX_WORDS + 1
    if not isinstance(title, str) or not [w for w in result.parsed.words if w.known]:
        assert result.parsed.message


def test_color_words_carry_their_cluster(gen):
    parsed = gen.parse("Jet black onyx navy")
    clusters = {w.text: w.color_cluster for w in parsed.words}
    if gen.model.architecture == "restgan":
        assert clusters["jet"] == clusters["black"] == clusters["onyx"] != clusters["navy"]


def test_generator_protocol_is_differentiable_and_batched(gen):
    proto = gen.protocol("men's blue jeans")
    latent = proto.sample_latent(3, seed=5)
    assert latent.shape == (3, proto.latent_dim)
    assert torch.equal(latent, proto.sample_latent(3, seed=5))
    latent.requires_grad_(True)
    image, feats = proto.synthesize(latent, features=True)
    assert image.shape == (3, 3, 64, 64) and float(image.detach().abs().max()) <= 1.0
    assert len(feats) >= 4 and all(f.shape[0] == 3 for f in feats)
    image.sum().backward()
    assert latent.grad is not None and latent.grad.abs().sum() > 0


def test_load_round_trip(tmp_path):
    path = save_tiny_text_to_image(tmp_path, "stackgan")
    gen = TitleGenerator.load(path, architecture="stackgan")
    assert gen.model.architecture == "stackgan"
    with pytest.raises(ValueError, match="stackgan"):
        TitleGenerator.load(path, architecture="restgan")
