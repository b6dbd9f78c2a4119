"""Checkpoint I/O: round trip, and refusal of everything that is not a verified safetensors checkpoint."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_studio.models.checkpoint import (
    CheckpointError,
    card_path,
    load_checkpoint,
    load_model,
    load_training_state,
    manifest_path,
    optimizer_from_tensors,
    optimizer_to_tensors,
    read_manifest,
    save_checkpoint,
    save_training_state,
)

ARCH = "test-net"


def _mark(path: str) -> None:
    """What a malicious pickle would run on load: leaves a file behind."""
    Path(path).write_text("unpickled!")


class Evil:
    def __init__(self, flag: Path):
        self.flag = flag

    def __reduce__(self):
        return (_mark, (str(self.flag),))


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "layer.weight": torch.randn(4, 3, generator=g),
        "layer.bias": torch.randn(4, generator=g),
        "bn.num_batches_tracked": torch.tensor(7),
    }


def _save(tmp_path: Path, name: str = "model") -> Path:
    return save_checkpoint(
        _state(),
        tmp_path / f"{name}.safetensors",
        architecture=ARCH,
        config={"width": 3, "sizes": (1, 2)},
        training={"command": "gan-studio train test", "seed": 0, "steps": 10, "wall_time_s": 1.5},
        data={"source": "builtin", "seed": 0},
        metrics={"accuracy": 0.5},
        card="# Test net\n",
    )


def _one_sentence(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert msg and "\n" not in msg
    return msg


def test_round_trip_writes_weights_manifest_and_card(tmp_path):
    path = _save(tmp_path)
    assert path == tmp_path / "model.safetensors"
    assert manifest_path(path).is_file() and card_path(path).read_text() == "# Test net\n"
    written = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("model", ".model")))
    assert written == ["model.json", "model.md", "model.safetensors"]

    state, manifest = load_checkpoint(path, architecture=ARCH)
    for key, value in _state().items():
        assert torch.equal(state[key], value)
    assert manifest["format_version"] == 1
    assert manifest["architecture"] == ARCH
    assert manifest["config"] == {"width": 3, "sizes": [1, 2]}
    assert manifest["training"]["command"] == "gan-studio train test"
    assert manifest["metrics"] == {"accuracy": 0.5}
    assert len(manifest["sha256"]) == 64 and "created" in manifest
    # The manifest's own path names the same checkpoint.
    assert read_manifest(manifest_path(path)) == manifest
    assert load_checkpoint(manifest_path(path))[1] == manifest


def test_shared_and_noncontiguous_tensors_are_saved(tmp_path):
    w = torch.randn(4, 4)
    path = save_checkpoint(
        {"a": w, "b": w, "c": w.t()}, tmp_path / "tied.safetensors", architecture=ARCH, config={}
    )
    state, _ = load_checkpoint(path)
    assert torch.equal(state["c"], w.t())


@pytest.mark.parametrize("suffix", [".safetensors", ".pkl"])
def test_pickle_is_refused_and_never_unpickled(tmp_path, suffix):
    flag = tmp_path / "flag.txt"
    path = tmp_path / f"model{suffix}"
    with open(path, "wb") as f:
        pickle.dump({"w": Evil(flag)}, f, protocol=4)
    manifest_path(path.with_suffix(".safetensors")).write_text("{}")
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert "is a pickle/PyTorch file" in _one_sentence(exc)
    assert "never unpickles" in str(exc.value)
    assert not flag.exists()


def test_old_protocol_pickle_is_refused_as_not_safetensors(tmp_path):
    flag = tmp_path / "flag.txt"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(Evil(flag), protocol=0))
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert "safetensors" in _one_sentence(exc)
    assert not flag.exists()


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_torch_save_file_is_refused(tmp_path, suffix):
    flag = tmp_path / "flag.txt"
    path = tmp_path / f"model{suffix}"
    torch.save({"w": torch.zeros(2), "evil": Evil(flag)}, path)
    assert not flag.exists()
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert "is a pickle/PyTorch file" in _one_sentence(exc)
    assert not flag.exists()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".bin"])
def test_pickle_suffixes_are_refused_unread(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"anything")
    with pytest.raises(CheckpointError, match="pickle/PyTorch"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="pickle/PyTorch"):
        read_manifest(path)


def test_truncated_file_is_refused(tmp_path):
    path = _save(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert "truncated" in _one_sentence(exc)
    path.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


def test_hash_mismatch_is_refused(tmp_path):
    path = _save(tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a byte of tensor data: the file stays well formed
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert "sha256" in _one_sentence(exc)


def test_architecture_mismatch_is_refused(tmp_path):
    path = _save(tmp_path)
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path, architecture="other-net")
    msg = _one_sentence(exc)
    assert "'test-net'" in msg and "'other-net'" in msg


def test_missing_manifest_is_refused(tmp_path):
    path = _save(tmp_path)
    manifest_path(path).unlink()
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert "no manifest" in _one_sentence(exc)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "nothing.safetensors")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"format_version": 1}', "lacks"),
        ('{"format_version": 99, "architecture": "x", "config": {}, "sha256": ""}', "format version"),
    ],
)
def test_malformed_manifest_is_refused(tmp_path, text, phrase):
    path = _save(tmp_path)
    manifest_path(path).write_text(text)
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert phrase in _one_sentence(exc)


def test_garbage_header_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes((20).to_bytes(8, "little") + b"x" * 40)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(path)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_save_is_atomic_and_leaves_no_temporaries(tmp_path):
    path = _save(tmp_path)
    first = path.read_bytes()
    state = _state()
    state["layer.bias"] = state["layer.bias"] + 1
    save_checkpoint(state, path, architecture=ARCH, config={})
    assert path.read_bytes() != first
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]  # no temporaries left behind
    loaded, _ = load_checkpoint(path)
    assert torch.equal(loaded["layer.bias"], state["layer.bias"])


def test_save_refuses_non_safetensors_path(tmp_path):
    with pytest.raises(CheckpointError, match=".safetensors"):
        save_checkpoint(_state(), tmp_path / "model.pt", architecture=ARCH, config={})


class Tiny(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.layer = nn.Linear(3, width)


def test_load_model_builds_from_config_and_loads_strictly(tmp_path):
    net = Tiny(4)
    path = save_checkpoint(
        net.state_dict(), tmp_path / "m.safetensors", architecture=ARCH, config={"width": 4}
    )
    model, manifest = load_model(path, ARCH, lambda c: Tiny(c["width"]))
    assert not model.training and manifest["config"] == {"width": 4}
    assert torch.equal(model.layer.weight, net.layer.weight)

    with pytest.raises(CheckpointError, match="wrong shape"):
        load_model(path, ARCH, lambda c: Tiny(5))
    with pytest.raises(CheckpointError, match="missing"):
        load_model(path, ARCH, lambda c: nn.Sequential(nn.Linear(3, 4)))
    extra = dict(net.state_dict(), **{"other.weight": torch.zeros(1)})
    path2 = save_checkpoint(extra, tmp_path / "m2.safetensors", architecture=ARCH, config={"width": 4})
    with pytest.raises(CheckpointError, match="unexpected other.weight"):
        load_model(path2, ARCH, lambda c: Tiny(c["width"]))
    with pytest.raises(CheckpointError, match="cannot use"):
        load_model(path, ARCH, lambda c: Tiny(c["depth"]))


def test_optimizer_state_round_trip(tmp_path):
    net = Tiny(4)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
    net.layer.weight.sum().backward()
    opt.step()
    tensors, meta = optimizer_to_tensors(opt.state_dict())
    path = save_checkpoint(
        tensors, tmp_path / "o.safetensors", architecture=ARCH, config={}, extra={"opt": meta}
    )
    state, manifest = load_checkpoint(path)
    restored = optimizer_from_tensors(state, manifest["extra"]["opt"])
    opt2 = torch.optim.AdamW(Tiny(4).parameters(), lr=1.0)
    opt2.load_state_dict(restored)
    assert opt2.param_groups[0]["lr"] == 1e-3
    assert tuple(opt2.param_groups[0]["betas"]) == (0.5, 0.9)
    for k, v in opt.state_dict()["state"][0].items():
        assert torch.equal(opt2.state_dict()["state"][0][k], v)
    json.dumps(meta)  # plain JSON


def _stepped(width: int = 4) -> tuple[Tiny, torch.optim.Adam]:
    net = Tiny(width)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.layer(torch.ones(2, 3)).sum().backward()  # a gradient, hence moments, for the weight and the bias
    opt.step()
    return net, opt


def test_training_state_round_trip_keeps_the_layout_of_existing_files(tmp_path):
    # One optimizer: tensors optimizer.N.KEY, metadata in extra["optimizer"] (the classifier's and encoder's files).
    net, opt = _stepped()
    one = save_training_state(
        tmp_path / "one.safetensors",
        architecture=ARCH,
        model_config={"width": 4},
        train_config={"seed": 3},
        modules={"model": net},
        optimizers=opt,
        counters={"step": 7, "wall_time_s": 1.5},
        training={"step": 7},
    )
    state, manifest = load_checkpoint(one)
    assert set(state) == {f"model.{k}" for k in net.state_dict()} | {
        f"optimizer.{i}.{k}" for i in range(2) for k in ("step", "exp_avg", "exp_avg_sq")
    }
    assert manifest["config"] == {"model": {"width": 4}, "train": {"seed": 3}}
    assert list(manifest["extra"]) == ["step", "wall_time_s", "optimizer"]
    assert manifest["training"] == {"step": 7}

    net2 = Tiny(4)
    opt2 = torch.optim.Adam(net2.parameters(), lr=1.0)
    counters = load_training_state(
        one, architecture=ARCH, model_config={"width": 4}, modules={"model": net2}, optimizers=opt2
    )
    assert counters == {"step": 7, "wall_time_s": 1.5}
    assert torch.equal(net2.layer.weight, net.layer.weight)
    assert opt2.param_groups[0]["lr"] == 1e-3  # the saved param groups replace the new optimizer's
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])

    # Named optimizers: tensors NAME.N.KEY, metadata in extra["optimizers"][NAME] (ReStGAN's files).
    (g, opt_g), (d, opt_d) = _stepped(), _stepped()
    two = save_training_state(
        tmp_path / "two.safetensors",
        architecture=ARCH,
        model_config={},
        train_config={},
        modules={"g": g, "d": d},
        optimizers={"opt_g": opt_g, "opt_d": opt_d},
        counters={"stage": 2, "step": 0, "wall_time_s": 0.0},
    )
    state, manifest = load_checkpoint(two)
    assert {k.split(".")[0] for k in state} == {"g", "d", "opt_g", "opt_d"}
    assert list(manifest["extra"]) == ["stage", "step", "wall_time_s", "optimizers"]
    assert list(manifest["extra"]["optimizers"]) == ["opt_g", "opt_d"]
    g2, d2 = Tiny(4), Tiny(4)
    opts = {"opt_g": torch.optim.Adam(g2.parameters()), "opt_d": torch.optim.Adam(d2.parameters())}
    counters = load_training_state(
        two,
        architecture=ARCH,
        model_config={},
        modules={"g": g2, "d": d2},
        optimizers=opts,
        counters=("stage", "step"),
    )
    assert counters == {"stage": 2, "step": 0}
    assert torch.equal(d2.layer.weight, d.layer.weight) and torch.equal(g2.layer.weight, g.layer.weight)


def test_training_state_refuses_another_network_seed_or_layout(tmp_path):
    net, opt = _stepped()
    path = save_training_state(
        tmp_path / "s.safetensors",
        architecture=ARCH,
        model_config={"width": 4},
        train_config={"seed": 3, "batch": 8},
        modules={"model": net},
        optimizers=opt,
        counters={"step": 1, "wall_time_s": 0.1},
    )

    def load(**kw):
        net2 = Tiny(4)
        args = {"architecture": ARCH, "model_config": {"width": 4}, "modules": {"model": net2}}
        return load_training_state(path, **{**args, "optimizers": torch.optim.Adam(net2.parameters()), **kw})

    with pytest.raises(
        CheckpointError, match="different network than this run builds \\(it differs in width\\)"
    ):
        load(model_config={"width": 5})
    with pytest.raises(CheckpointError, match="trained with seed 3, not 4"):
        load(same_train={"seed": 4})
    with pytest.raises(CheckpointError, match="holds a 'test-net' model"):
        load(architecture="other")
    with pytest.raises(CheckpointError, match="not a usable training checkpoint"):
        load(counters=("stage",))
    with pytest.raises(CheckpointError, match="not a usable training checkpoint"):
        load(modules={"encoder": Tiny(4)})  # no encoder.* tensors
    assert load(same_train={"seed": 3, "batch": 8}) == {"step": 1, "wall_time_s": 0.1}


def test_a_header_length_whose_first_byte_looks_like_a_pickle_still_loads(tmp_path):
    # A safetensors header of 0x80 + 256 * k bytes starts with the pickle protocol byte 0x80; such files are real
    # checkpoints (a fitted label generator hit this) and must load. Pad tensor names until the header has that size.
    for extra in range(400):
        path = save_checkpoint(
            {"w" * (1 + extra): torch.zeros(2)},
            tmp_path / f"m{extra}.safetensors",
            architecture=ARCH,
            config={},
        )
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.skip("no header length of the form 0x..80 reached")
    state, _ = load_checkpoint(path, architecture=ARCH)
    assert torch.equal(next(iter(state.values())), torch.zeros(2))
