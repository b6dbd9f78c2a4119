"""Training on two CPU processes (gloo) under torchrun: ranks stay identical and match one process on the whole batch.

Two processes train on halves of every global batch; one process trains on the whole batches. Batch norm runs over
the global batch, data and augmentation are drawn for the global batch on every rank, so the two runs differ only
by floating-point rounding (sums taken in another order, then a few Adam steps): TOLERANCE is several times the
largest difference measured (3e-7 to 2e-6 on these runs). The ranks themselves stay bitwise identical.

Run as a script (``python -m torch.distributed.run ... tests/integration/test_distributed.py OUT CACHE``) this file
is the worker of the ReStGAN test: every rank writes its own full training state.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gan_studio.data.attributes import CLASSIFIER_HEADS
from gan_studio.models.classifier import ClassifierConfig
from gan_studio.train import distributed as dist
from gan_studio.train.classifier import TrainConfig, train_loop

REPO = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5
CLASSIFIER = ClassifierConfig(in_size=32, width=4)
CLASSIFIER_TRAIN = TrainConfig(steps=5, batch=8, warmup=2, train_items=24, checkpoint_every=3, log_every=1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())


def _one_thread(fn):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the processes run on one thread each: the same sums in the same order
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------- the real command


def test_train_classifier_runs_unchanged_under_torchrun_and_resumes(tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    argv = ["train", "classifier", "--tiny", "--no-progress", "--seed", "3"]
    first = _torchrun("-m", "gan_studio.cli", *argv, "--out", str(two), "--steps", "4", cwd=tmp_path)
    assert first.stdout.count("wrote") == 1  # rank 0 alone reports, evaluates and writes
    # The same command asked for more steps: every rank resumes from the state rank 0 wrote.
    _torchrun("-m", "gan_studio.cli", *argv, "--out", str(two), "--steps", "8", cwd=tmp_path)
    manifest = json.loads((two / "classifier.json").read_text())
    training = manifest["training"]
    assert (training["steps"], training["resumed_from_step"], training["processes"]) == (8, 4, 2)
    log = [json.loads(line) for line in (two / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [2, 4, 6, 8]  # one writer

    from gan_studio.cli import main

    for steps in ("4", "8"):  # the same two runs (the learning-rate schedule follows --steps)
        assert _one_thread(lambda steps=steps: main([*argv, "--out", str(one), "--steps", steps])) == 0
    single = [json.loads(line) for line in (one / "log.jsonl").read_text().splitlines()]
    # The logged loss is the mean over ranks: the whole batch's loss.
    assert [e["loss"] for e in log] == pytest.approx([e["loss"] for e in single], abs=1e-4)
    difference = _max_difference(
        load_file(two / "classifier.safetensors"), load_file(one / "classifier.safetensors")
    )
    print(f"classifier, 2 processes vs 1: max weight difference {difference:.2e}")
    assert difference < TOLERANCE


# ------------------------------------------------------------------------------------------- ranks, ReStGAN


def _synthetic_items(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    sizes = CLASSIFIER.head_sizes()
    return images, np.stack([rng.integers(0, sizes[h], n) for h in CLASSIFIER_HEADS], axis=1)


def _gan_setup(cache: Path):
    from gan_studio.data.colortable import ColorTable
    from gan_studio.models.stackgan import GanConfig
    from gan_studio.models.text import Vocabulary
    from gan_studio.train.restgan import new_model
    from gan_studio.train.restgan_config import GanTrainConfig
    from gan_studio.train.text_data import build_data, render_builtin

    table = ColorTable.load()
    images, titles, attrs = render_builtin(cache, 0, 24, 64)
    vocab = Vocabulary.from_titles(titles, extra=table.words)
    data = build_data(images, titles, attrs, vocab, table.cluster_of, {"source": "builtin"})
    # The default (NCHW) layout: NHWC kernels sum in another order at the per-rank batch size (2.6e-5 apart after
    # these steps), which is rounding too, but this test pins the DDP arithmetic, not the kernels.
    cfg, gan = replace(GanTrainConfig.tiny("restgan"), channels_last=False), GanConfig.tiny()
    torch.manual_seed(0)
    return data, new_model(cfg, gan, vocab, table), cfg


def _worker(out: Path, cache: Path) -> None:
    """Under torchrun: both loops on two processes; every rank writes its own weights and full GAN state."""
    from unittest import mock

    from gan_studio.train import restgan

    save_state = restgan.save_state

    def save_every_rank(tr, folder, stage, step, cfg, wall):
        with mock.patch.object(dist, "is_main", lambda: True):  # each rank writes, into its own folder
            save_state(tr, folder / f"rank{dist.rank()}", stage, step, cfg, wall)

    restgan.save_state = save_every_rank
    with dist.session():
        assert dist.world_size() == 2
        result = train_loop(
            *_synthetic_items(), CLASSIFIER_TRAIN, CLASSIFIER, out / "classifier", progress=False
        )
        save_file(result.model.state_dict(), out / f"classifier_rank{dist.rank()}.safetensors")
        data, model, cfg = _gan_setup(cache)
        restgan.train_gan(data, model, cfg, out / "gan")


def test_ranks_stay_identical_and_match_one_process(tmp_path):
    from gan_studio.train.restgan import STATE_NAME, train_gan

    cache, two, one = tmp_path / "items.npz", tmp_path / "two", tmp_path / "one"
    data, model, cfg = _gan_setup(cache)  # renders the items the workers then read
    _torchrun(__file__, str(two), str(cache), cwd=tmp_path)

    ranks = [load_file(two / f"classifier_rank{r}.safetensors") for r in range(2)]
    assert _max_difference(*ranks) == 0.0
    single = _one_thread(
        lambda: train_loop(
            *_synthetic_items(), CLASSIFIER_TRAIN, CLASSIFIER, one / "classifier", progress=False
        )
    )
    difference = _max_difference(ranks[0], single.model.state_dict())
    print(f"classifier loop, 2 processes vs 1: max weight difference {difference:.2e}")
    assert difference < TOLERANCE
    assert len((two / "classifier" / "log.jsonl").read_text().splitlines()) == CLASSIFIER_TRAIN.steps

    # Generators, discriminators (spectral norm's vectors included), text encoder, EMA weights, optimizers.
    ranks = [load_file(two / "gan" / f"rank{r}" / STATE_NAME) for r in range(2)]
    assert _max_difference(*ranks) == 0.0
    _one_thread(lambda: train_gan(data, model, cfg, one / "gan"))
    reference = load_file(one / "gan" / STATE_NAME)
    weights = [k for k in reference if not k.startswith("opt_")]
    difference = _max_difference({k: ranks[0][k] for k in weights}, {k: reference[k] for k in weights})
    print(f"ReStGAN, 2 processes vs 1: max weight difference {difference:.2e}")
    assert difference < TOLERANCE
    log = [json.loads(line) for line in (two / "gan" / "log.jsonl").read_text().splitlines()]
    assert [(e["stage"], e["step"]) for e in log] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]


if __name__ == "__main__":
    torch.set_num_threads(1)
    _worker(Path(sys.argv[1]), Path(sys.argv[2]))
