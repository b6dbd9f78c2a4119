"""Product discovery: a catalog index by classifier features, its cache, and folder catalogs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_studio.data.catalog import iter_items, render_item
from gan_studio.data.catalog_writer import write_catalog
from gan_studio.methods import retrieval
from gan_studio.methods.retrieval import (
    CatalogIndex,
    build_builtin_index,
    build_folder_index,
    builtin_index_build,
    embed_images,
)
from gan_studio.models.classifier import AttributeClassifier, ClassifierConfig
from gan_studio.runtime.cancel import Cancelled, CancelToken

N = 12


@pytest.fixture(scope="module")
def classifier() -> AttributeClassifier:
    torch.manual_seed(0)
    return AttributeClassifier(ClassifierConfig()).eval()  # random weights: retrieval only needs a fixed map


def test_embed_images_normalizes_and_resizes(classifier) -> None:
    big = np.stack([render_item(0, i, 128).image for i in range(3)])
    small = np.stack([render_item(0, i, 64).image for i in range(3)])
    f_big, f_small = embed_images(classifier, big), embed_images(classifier, small)
    assert f_big.shape == f_small.shape == (3, classifier.feature_dim)
    assert f_big.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f_big, axis=1), 1.0, atol=1e-5)
    # a 64 px render upsampled to the classifier's input lands next to the same item at 128 px
    assert np.argmax(f_small @ f_big.T, axis=1).tolist() == [0, 1, 2]
    # a list of images of different sizes works too
    mixed = embed_images(classifier, [big[0], small[1], big[2][:100]])
    assert mixed.shape == (3, classifier.feature_dim)


def test_query_with_an_items_own_image_returns_it_first(tmp_path, classifier) -> None:
    index = build_builtin_index(N, seed=3, size=128, classifier=classifier, cache_dir=tmp_path)
    assert len(index) == N
    assert index.thumbnails.shape == (N, retrieval.THUMB_SIZE, retrieval.THUMB_SIZE, 3)
    for i in (0, 5, N - 1):
        item = render_item(3, i, 128)
        matches = index.query(item.image, k=4)
        assert len(matches) == 4
        assert matches[0].id == item.id and matches[0].title == item.title
        assert matches[0].distance == pytest.approx(0.0, abs=1e-4)
        assert [m.distance for m in matches] == sorted(m.distance for m in matches)
        assert matches[0].image.dtype == np.uint8 and matches[0].image.shape[-1] == 3
    # a generated-size (64 px) image of the item still finds it
    assert index.query(render_item(3, 7, 64).image, k=1)[0].id == render_item(3, 7, 128).id
    assert len(index.query(render_item(3, 0, 128).image, k=100)) == N


def test_builtin_index_is_cached_and_rebuilt_when_invalid(tmp_path, classifier) -> None:
    messages = []
    build_builtin_index(
        N,
        seed=1,
        size=64,
        progress=lambda f, m: messages.append(f),
        classifier=classifier,
        cache_dir=tmp_path,
    )
    assert messages and messages[-1] == 1.0
    files = list(tmp_path.glob("builtin-index-*.npz"))
    assert len(files) == 1

    build = builtin_index_build(N, seed=1, size=64, classifier=classifier, cache_dir=tmp_path)
    assert build.done and build.from_cache and len(build.index) == N

    # another classifier changes the key: a second cache file, not a stale hit
    torch.manual_seed(1)
    other = AttributeClassifier(ClassifierConfig()).eval()
    assert not builtin_index_build(N, seed=1, size=64, classifier=other, cache_dir=tmp_path).done

    files[0].write_bytes(b"not an npz")  # a damaged cache is rebuilt, not trusted
    build = builtin_index_build(N, seed=1, size=64, classifier=classifier, cache_dir=tmp_path)
    assert not build.done
    index = build.run()
    assert len(index) == N
    assert CatalogIndex.load(files[0]) is not None


def test_build_steps_and_cancel(tmp_path, classifier) -> None:
    build = builtin_index_build(N, seed=2, size=64, classifier=classifier, cache_dir=tmp_path, batch=5)
    assert not build.step() and build.count == 5 and 0 < build.fraction < 1
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        build.run(cancel=token)
    with pytest.raises(Cancelled):
        build.run(cancel=lambda: True)
    assert build.run().ids == [it.id for it in iter_items(2, 0, N, 64)]


def test_folder_index(tmp_path, classifier) -> None:
    folder = write_catalog(iter_items(5, 0, 6, 96), tmp_path / "cat")
    index = build_folder_index(folder, classifier=classifier)
    assert len(index) == 6
    item = render_item(5, 2, 96)
    assert index.query(item.image, k=2)[0].id == item.id
    (folder / "images" / f"{item.id}.png").write_bytes(b"broken")  # unreadable items are skipped
    assert len(build_folder_index(folder, classifier=classifier)) == 5


def test_empty_and_mismatched_indexes() -> None:
    empty = CatalogIndex(np.zeros((0, 4), np.float32), [], [], np.zeros((0, 8, 8, 3), np.uint8))
    assert empty.query_features(np.ones(4), k=3) == []
    with pytest.raises(ValueError):
        CatalogIndex(np.zeros((2, 4)), ["a"], ["t"], np.zeros((1, 8, 8, 3), np.uint8))


def test_default_cache_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("GAN_STUDIO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert retrieval.default_cache_dir() == tmp_path / "gan_studio"
    monkeypatch.setenv("GAN_STUDIO_CACHE", str(tmp_path / "x"))
    assert retrieval.default_cache_dir() == tmp_path / "x"
