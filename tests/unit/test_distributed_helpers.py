"""gan_studio.train.distributed in one process: identities without torchrun, batch shards, batch-norm conversion,
and the global-batch batch norm's arithmetic (on a one-process gloo group standing in for many)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.distributed as tdist
from torch import nn

from gan_studio.train import distributed as dist
from gan_studio.train.classifier import augment


def test_without_torchrun_everything_is_the_identity(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with dist.session() as distributed:
        assert distributed is False and not tdist.is_initialized()
        assert (dist.rank(), dist.world_size(), dist.is_main()) == (0, 1, True)
        assert dist.rows(7) == slice(0, 7)
        assert dist.shard([1, 2, 3]) == [1, 2, 3]
        model = nn.Linear(2, 2)
        assert dist.wrap(model) is model
        x = torch.randn(5, 3)
        assert torch.equal(dist.roll_rows(x, 1), x.roll(1, dims=0))
        assert dist.gather_rows(x) is x
        assert dist.all_reduce_mean(x) is x
        total, count = torch.tensor(3.0), torch.tensor(0.0)
        assert dist.batch_mean(total, count, least=1.0) == 3.0
        assert dist.batch_mean(total, torch.tensor(4)) == 0.75
        assert dist.prepare_in_turn(lambda: 42) == 42
        dist.barrier()


def test_wrap_with_a_call_runs_that_method():
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def encode(self, x):
            return self.fc(x) * 2

    encoder = Encoder()
    wrapped = dist.wrap(encoder, call=lambda e, x: e.encode(x))
    x = torch.randn(4, 3)
    assert torch.equal(wrapped(x), encoder.encode(x))
    assert set(dict(wrapped.named_parameters())) == {"module.fc.weight", "module.fc.bias"}


@pytest.mark.parametrize(
    ("world", "rank", "batch", "expected"), [(2, 0, 8, slice(0, 4)), (4, 2, 8, slice(4, 6))]
)
def test_rows_split_the_global_batch(monkeypatch, world, rank, batch, expected):
    monkeypatch.setattr(dist, "world_size", lambda: world)
    monkeypatch.setattr(dist, "rank", lambda: rank)
    assert dist.rows(batch) == expected
    assert dist.shard(list(range(batch))) == list(range(batch))[expected]


def test_a_batch_that_does_not_split_evenly_is_one_sentence(monkeypatch):
    monkeypatch.setattr(dist, "world_size", lambda: 4)
    with pytest.raises(ValueError, match="batch of 6 does not split evenly over 4 processes"):
        dist.rows(6)


def test_the_augmentation_of_a_share_is_that_share_of_the_whole_batch():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    whole = augment(x, torch.Generator().manual_seed(5), 2, True)
    for rows in (slice(0, 4), slice(4, 8)):
        part = augment(x[rows], torch.Generator().manual_seed(5), 2, True, rows, 8)
        assert torch.equal(part, whole[rows])


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, bias=False),
        nn.BatchNorm2d(4),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6, bias=False),
        nn.BatchNorm1d(6, momentum=None),
        nn.BatchNorm1d(6, affine=False),
    )


def test_batch_norm_conversion_keeps_parameters_buffers_and_state_dict():
    net = _net()
    params = [id(p) for p in net.parameters()]
    buffers = [id(b) for b in net.buffers()]
    keys = list(net.state_dict())
    dist.convert_batch_norm(net)
    assert [type(m) for m in net if isinstance(m, nn.modules.batchnorm._BatchNorm)] == [
        dist.SyncedBatchNorm
    ] * 3
    assert [id(p) for p in net.parameters()] == params
    assert [id(b) for b in net.buffers()] == buffers
    assert list(net.state_dict()) == keys
    assert net[4].momentum is None and not net[5].affine
    dist.revert_batch_norm(net)
    assert [type(net[i]) for i in (1, 4, 5)] == [nn.BatchNorm2d, nn.BatchNorm1d, nn.BatchNorm1d]
    assert [id(p) for p in net.parameters()] == params and list(net.state_dict()) == keys


@pytest.fixture
def one_process_group(monkeypatch):
    """A real gloo group of one process, with the helpers told it is distributed: the all-reduces run, sum over
    one rank, and the global-batch batch norm must then agree with plain batch norm."""
    tdist.init_process_group("gloo", store=tdist.HashStore(), rank=0, world_size=1)
    monkeypatch.setattr(dist, "is_distributed", lambda: True)
    yield
    tdist.destroy_process_group()


def test_global_batch_norm_matches_batch_norm(one_process_group):
    plain, synced = _net().train(), dist.convert_batch_norm(_net()).train()
    x = torch.randn(10, 3, 6, 6) * 3 + 1
    for _ in range(3):  # several batches: running statistics, cumulative average (momentum None) included
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        ya, yb = plain(xa), synced(xb)
        torch.testing.assert_close(yb, ya, rtol=1e-5, atol=1e-5)
        weights = torch.randn_like(ya)
        (ya * weights).sum().backward()
        (yb * weights).sum().backward()
        torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-4, atol=1e-5)
        x = x * 0.5 + 0.3
    for (name, a), b in zip(plain.state_dict().items(), synced.state_dict().values(), strict=True):
        torch.testing.assert_close(b.float(), a.float(), rtol=1e-5, atol=1e-6, msg=name)
    for a, b in zip(plain.parameters(), synced.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5)
    synced.eval()
    torch.testing.assert_close(synced(x), plain.eval()(x), rtol=1e-5, atol=1e-5)


def test_global_helpers_on_a_group(one_process_group):
    x = torch.arange(6.0).reshape(3, 2).requires_grad_(True)
    rolled = dist.roll_rows(x, 1)
    assert torch.equal(rolled, x.detach().roll(1, dims=0))
    rolled.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    assert float(dist.batch_mean(torch.tensor(6.0), torch.tensor(3))) == 2.0
    assert np.isclose(float(dist.all_reduce_mean(torch.tensor(1.5))), 1.5)


def test_a_share_of_a_gan_batch_is_those_rows_of_the_whole_batch(tmp_path):
    from gan_studio.data.colortable import ColorTable
    from gan_studio.models.stackgan import GanConfig
    from gan_studio.models.text import Vocabulary
    from gan_studio.train.restgan_batch import sample_batch
    from gan_studio.train.restgan_config import GanTrainConfig
    from gan_studio.train.text_data import build_data, render_builtin

    table = ColorTable.load()
    images, titles, attrs = render_builtin(tmp_path / "items.npz", 0, 12, 64)
    vocab = Vocabulary.from_titles(titles, extra=table.words)
    data = build_data(images, titles, attrs, vocab, table.cluster_of, {"source": "builtin"})
    cfg, gan = GanTrainConfig.tiny("restgan"), GanConfig.tiny()
    whole = sample_batch(data, cfg, gan, step=3, stage=1)
    for rows in (slice(0, 2), slice(2, 4)):
        part = sample_batch(data, cfg, gan, step=3, stage=1, rows=rows)
        for name in ("real", "ids", "k", "labels", "stated", "mismatch_ok", "z", "eps"):
            assert torch.equal(getattr(part, name), getattr(whole, name)[rows]), name
