"""Hypercolumns: sampling pixels equals upsampling everything then indexing; memory is bounded by the batch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gan_studio.methods.hypercolumns import (
    FeatureNorm,
    HypercolumnSource,
    hypercolumns,
    image_bands,
    pixel_grid,
    tensor_bytes,
)
from gan_studio.methods.restgan import TitleGenerator
from tests.tiny_models import tiny_text_to_image


def _maps(dtype=torch.float32, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    # Sizes that divide the image size and sizes that do not, smaller and larger than it.
    shapes = [(5, 4, 4), (3, 5, 7), (4, 16, 16), (2, 23, 23), (3, 32, 32), (2, 40, 40)]
    return [torch.randn(batch, c, h, w, generator=gen, dtype=dtype) for c, h, w in shapes]


def _upsample_then_index(maps, size, pixels):
    full = torch.cat(
        [F.interpolate(f, size=(size, size), mode="bilinear", align_corners=False) for f in maps], dim=1
    )  # (B, C, S, S)
    x, y = pixels[..., 0], pixels[..., 1]
    batch = torch.arange(len(full))[:, None]
    return full.permute(0, 2, 3, 1)[batch, y, x]  # (B, P, C)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_sampled_pixels_equal_full_upsample_then_index(dtype, tol):
    size = 32
    maps = _maps(dtype)
    gen = torch.Generator().manual_seed(1)
    pixels = torch.randint(0, size, (2, 300, 2), generator=gen)
    # Every corner and edge pixel too, where interpolation clamps to the map's border.
    corners = torch.tensor(
        [[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1], [0, 7], [size - 1, 9]]
    )
    pixels = torch.cat([pixels, corners.expand(2, -1, -1)], dim=1)
    sampled = hypercolumns(maps, size, pixels)
    assert sampled.shape == (2, 306, sum(f.shape[1] for f in maps)) and sampled.dtype == dtype
    torch.testing.assert_close(sampled, _upsample_then_index(maps, size, pixels), rtol=0, atol=tol)


def test_all_pixels_row_major_equal_sampling_every_pixel_and_bands():
    size = 24
    maps = _maps(torch.float64, batch=1)
    full = hypercolumns(maps, size)
    grid = pixel_grid(size)
    assert full.shape == (1, size * size, sum(f.shape[1] for f in maps))
    assert grid[size + 3].tolist() == [3, 1]  # row-major: index y * S + x holds (x, y)
    torch.testing.assert_close(hypercolumns(maps, size, grid[None]), full, rtol=0, atol=1e-12)
    # Bands of rows, made under a byte budget of a few rows, cover the image in order.
    bands = list(image_bands(maps, size, max_rows_bytes=5 * size * full.shape[-1] * 8))
    assert [len(rows) for rows, _ in bands] == [5, 5, 5, 5, 4]
    torch.testing.assert_close(torch.cat([b for _, b in bands]), full[0], rtol=0, atol=1e-12)


def test_bad_pixel_shapes_are_refused():
    maps = _maps()
    with pytest.raises(ValueError, match="pixels"):
        hypercolumns(maps, 16, torch.zeros(3, 4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="feature map"):
        hypercolumns([], 16)


def test_feature_norm_matches_torch_and_leaves_constant_channels_alone():
    gen = torch.Generator().manual_seed(0)
    rows = torch.randn(1000, 4, generator=gen) * torch.tensor([1.0, 3.0, 0.5, 0.0]) + torch.tensor(
        [0, 1, -2, 5.0]
    )
    norm = FeatureNorm(4)
    for chunk in rows.split(128):
        norm.update(chunk)
    assert norm.count == 1000
    torch.testing.assert_close(norm.mean, rows.mean(0), atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.std[:3], rows.std(0, unbiased=False)[:3], atol=1e-5, rtol=1e-5)
    assert norm.std[3] == 1.0  # a dead channel is not divided by zero


@pytest.fixture(scope="module")
def protocol():
    return TitleGenerator(tiny_text_to_image("restgan")).protocol("women's black jeans")


def _stream_peak(protocol, n, cache_bytes, batch=2, pixels=64):
    latents = protocol.sample_latent(n, seed=3)
    source = HypercolumnSource(protocol, latents, batch_size=batch, cache_bytes=cache_bytes)
    seen = 0
    for index, images, columns in source.stream(
        lambda index, _: torch.randint(0, protocol.image_size, (len(index), pixels, 2))
    ):
        assert images.shape == (len(index), 3, protocol.image_size, protocol.image_size)
        assert columns.shape == (len(index), pixels, source.channels)
        seen += len(index)
    assert seen == n
    return source


def test_source_on_the_generator_protocol(protocol):
    latents = protocol.sample_latent(3, seed=1)
    source = HypercolumnSource(protocol, latents, batch_size=2)
    with torch.no_grad():
        images, maps = protocol.synthesize(latents, features=True)
    assert source.channels_per_block == [] and source.channels == sum(f.shape[1] for f in maps)
    pixels = torch.randint(0, protocol.image_size, (2, 50, 2))
    got_images, columns = source.sample([2, 0], pixels)
    torch.testing.assert_close(got_images, images[[2, 0]])
    expected = _upsample_then_index([f[[2, 0]] for f in maps], protocol.image_size, pixels)
    torch.testing.assert_close(columns, expected, rtol=0, atol=1e-6)


def test_cached_source_renders_each_image_once(protocol):
    source = _stream_peak(protocol, 5, cache_bytes=64 * 1024**2)
    source.sample([4, 1, 3], torch.zeros(3, 8, 2, dtype=torch.long))
    assert source.memory.renders == 5 and source.memory.cache_bytes > 0


def test_uncached_source_renders_again_and_says_why(protocol):
    source = _stream_peak(protocol, 3, cache_bytes=0)
    source.sample([0, 1], torch.zeros(2, 8, 2, dtype=torch.long))
    assert source.memory.renders == 5 and source.memory.cache_bytes == 0
    assert source.memory.notes and "rendered again" in source.memory.notes[0]


def test_bytes_held_at_once_are_bounded_by_the_batch_not_by_n(protocol):
    small, large = (_stream_peak(protocol, n, cache_bytes=0) for n in (2, 8))
    channels = small.channels
    assert small.memory.peak_hypercolumn_bytes == large.memory.peak_hypercolumn_bytes == 2 * 64 * channels * 4
    assert small.memory.peak_batch_bytes == large.memory.peak_batch_bytes
    # All hypercolumns of all pixels of the 8 images would be this much; the stream never held a 20th of it.
    everything = 8 * protocol.image_size**2 * channels * 4
    assert large.memory.as_dict()["peak_bytes"] < everything / 20
    assert tensor_bytes(torch.zeros(3, 5)) == 60


def test_extra_maps_are_the_image_and_pixel_centres() -> None:
    from gan_studio.methods.hypercolumns import extra_maps

    images = torch.rand(2, 3, 4, 4) * 2 - 1
    image, position = extra_maps(images, ("image", "position"))
    assert torch.equal(image, images)
    assert position.shape == (2, 2, 4, 4)
    # x varies along columns, y along rows; pixel centres of 4 pixels in [-1, 1] are -0.75, -0.25, 0.25, 0.75.
    assert torch.allclose(position[0, 0, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    assert torch.allclose(position[1, 1, :, 2], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    assert extra_maps(images, ()) == []
    with pytest.raises(ValueError, match="extra features"):
        HypercolumnSource(object(), torch.zeros(1, 2), extras=("depth",))
