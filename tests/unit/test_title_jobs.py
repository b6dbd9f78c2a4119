"""The Generate workspace's worker jobs: reading titles, drawing them, and a missing or broken model."""

from __future__ import annotations

import numpy as np
import pytest

from gan_studio.methods.restgan import TitleGenerator
from gan_studio.methods.title_jobs import (
    MODEL_ENV,
    ModelUnavailable,
    TitleImages,
    TitleReader,
    draw_title,
    restgan_weights_path,
)
from gan_studio.runtime.jobs import ModelCache
from tests.tiny_models import save_tiny_text_to_image


class Ctx:
    """The parts of a JobContext that draw_title uses."""

    def __init__(self) -> None:
        self.models = ModelCache("cpu")
        self.device = "cpu"

    def raise_if_cancelled(self) -> None:
        pass


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return save_tiny_text_to_image(tmp_path_factory.mktemp("tiny"))


def test_reader_parses_like_the_generator(tiny_path) -> None:
    gen = TitleGenerator.load(tiny_path)
    reader = TitleReader.from_generator(gen)
    for title in ["Women's Navy slim qwzx jeans 😀", "", "black " * 60, None, "黒いジーンズ"]:
        assert reader.parse(title) == gen.parse(title)
    assert reader.color_word(reader.parse("black slim navy jeans")).text == "navy"
    assert reader.color_word(reader.parse("slim jeans")) is None


def test_draw_title_caches_the_model_and_the_session(tiny_path) -> None:
    ctx = Ctx()
    first = draw_title(ctx, "black slim", 5, path=tiny_path)
    assert isinstance(first, TitleImages)
    assert first.prefixes == ("", "black", "black slim") and first.computed == 3
    again = draw_title(ctx, "black slim jeans", 5, path=tiny_path)
    assert again.computed == 1 and len(ctx.models) == 1
    scratch = draw_title(ctx, "black slim jeans", 5, "scratch", path=tiny_path)
    assert scratch.computed == 4
    np.testing.assert_array_equal(scratch.image, again.image)
    fresh = draw_title(ctx, "black slim jeans", 5, path=tiny_path, reset_session=True)
    assert fresh.computed == 4
    with pytest.raises(ValueError):
        draw_title(ctx, "x", 0, "fast", path=tiny_path)


def test_new_weights_at_the_same_path_replace_the_old_entry(tmp_path) -> None:
    import os
    import shutil

    from tests.tiny_models import save_tiny_text_to_image as save

    path = save(tmp_path)
    ctx = Ctx()
    assert isinstance(draw_title(ctx, "black jeans", 1, path=path), TitleImages)
    other = save(tmp_path / "other")
    for f in other.parent.iterdir():  # a training run writing its final weights (and manifest) there
        shutil.copy(f, path.parent / f.name)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert isinstance(draw_title(ctx, "black jeans", 1, path=path), TitleImages)
    assert len(ctx.models) == 1  # the old model and its session's images are gone


def test_missing_and_broken_models_are_values(tmp_path, monkeypatch) -> None:
    out = draw_title(Ctx(), "black jeans", 0, path=tmp_path / "none.safetensors")
    assert isinstance(out, ModelUnavailable) and out.message.startswith("No text-to-image model at")
    bad = tmp_path / "restgan.safetensors"
    bad.write_bytes(b"garbage!" * 4)
    out = draw_title(Ctx(), "black jeans", 0, path=bad)
    assert isinstance(out, ModelUnavailable) and "could not be loaded" in out.message
    monkeypatch.setenv(MODEL_ENV, str(bad))
    assert restgan_weights_path() == bad
