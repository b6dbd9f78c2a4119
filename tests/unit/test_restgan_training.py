"""The GAN training loop on a tiny config: it runs, writes what it promises, and resumes exactly."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from gan_studio.data.colortable import ColorTable
from gan_studio.models.stackgan import GanConfig
from gan_studio.models.text import Vocabulary
from gan_studio.train.restgan import new_model, train_gan
from gan_studio.train.restgan_batch import sample_batch
from gan_studio.train.restgan_config import GanTrainConfig
from gan_studio.train.text_data import LABEL_HEADS, build_data, prefix_statements, render_builtin


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    table = ColorTable.load()
    cache = tmp_path_factory.mktemp("cache") / "items.npz"
    images, titles, attrs = render_builtin(cache, 0, 24, 64)
    vocab = Vocabulary.from_titles(titles, extra=table.words)
    return build_data(images, titles, attrs, vocab, table.cluster_of, {"source": "builtin"}), vocab, table


def test_prefix_statements_track_what_each_prefix_says():
    table = ColorTable.load()
    st = prefix_statements(["women's", "black", "pants", "petite", "capri"], table.cluster_of)
    g, c, t, length = (LABEL_HEADS.index(h) for h in ("gender", "color", "type", "length"))
    assert (st[0] == -1).all()
    assert st[1, g] >= 0 and st[1, c] == -1
    assert st[2, c] == table.cluster_of("black")
    assert st[4, length] == -1 and st[5, length] >= 0
    assert st[5, t] == st[3, t]


def test_restgan_trains_on_prefixes_and_stackgan_on_whole_titles(data):
    d, _vocab, _table = data
    gan = GanConfig.tiny()
    r = sample_batch(d, GanTrainConfig.tiny("restgan"), gan, step=0, stage=1)
    s = sample_batch(d, GanTrainConfig.tiny("stackgan"), gan, step=0, stage=1)
    assert (r.k <= torch.from_numpy(d.lengths).max()).all()
    # the baseline always conditions on the whole title
    lengths = {int(n) for n in d.lengths}
    assert {int(k) for k in s.k} <= lengths
    # same step, same batch: resumable runs repeat their batches
    again = sample_batch(d, GanTrainConfig.tiny("restgan"), gan, step=0, stage=1)
    assert torch.equal(r.real, again.real) and torch.equal(r.z, again.z) and torch.equal(r.k, again.k)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _crash_after_four_steps(data, cfg: GanTrainConfig, out, before_resume=lambda: None):
    """A run stopped by an exception before its fifth step, then resumed (after ``before_resume()``): its model."""
    d, vocab, table = data
    calls = {"n": 0}

    def crash():
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train_gan(d, new_model(cfg, GanConfig.tiny(), vocab, table), cfg, out, cancel=crash)
    before_resume()
    torch.manual_seed(0)
    return train_gan(d, new_model(cfg, GanConfig.tiny(), vocab, table), cfg, out).model


def _assert_same_weights(a_model, b_model) -> None:
    a, b = _weights(a_model), _weights(b_model)
    assert a.keys() == b.keys()
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a), "resume diverged"


@pytest.mark.parametrize("variant", ["restgan", "stackgan"])
def test_training_writes_log_samples_state_and_resumes_exactly(data, tmp_path, variant):
    d, vocab, table = data
    gan, cfg = GanConfig.tiny(), GanTrainConfig.tiny(variant)
    torch.manual_seed(0)
    full = train_gan(d, new_model(cfg, gan, vocab, table), cfg, tmp_path / "a")
    assert (tmp_path / "a" / "train_state.safetensors").is_file()
    assert max(p.name for p in (tmp_path / "a" / "samples").iterdir()) == "stage2_000002.png"
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    assert [(e["stage"], e["step"]) for e in log] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    assert all(np.isfinite(e["loss_d"]) and np.isfinite(e["loss_g"]) for e in log)
    _assert_same_weights(full.model, _crash_after_four_steps(data, cfg, tmp_path / "b"))


def test_a_state_written_before_the_training_record_resumes_exactly(data, tmp_path):
    """The state's manifest repeats the counters and the seed for people (``training``), as the classifier's and
    the inversion encoder's do; states written before that have an empty record, and a run resumes from one as
    from a new one: loading reads only the tensors, the configs and the counters in ``extra``."""
    d, vocab, table = data
    cfg = GanTrainConfig.tiny("restgan")
    torch.manual_seed(0)
    full = train_gan(d, new_model(cfg, GanConfig.tiny(), vocab, table), cfg, tmp_path / "a")
    manifest_path = tmp_path / "b" / "train_state.json"

    def as_written_before():
        manifest = json.loads(manifest_path.read_text())
        extra = manifest["extra"]
        assert manifest["training"] == {
            "stage": extra["stage"], "step": extra["step"], "seed": cfg.seed,
            "wall_time_s": round(extra["wall_time_s"], 3),
        }  # fmt: skip
        manifest["training"] = {}  # what the ReStGAN loop wrote before it saved through train/network_state
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")

    _assert_same_weights(full.model, _crash_after_four_steps(data, cfg, tmp_path / "b", as_written_before))


def test_sigint_stops_after_the_whole_step_and_saves_it(data, tmp_path):
    """Ctrl-C (the Train workspace's Cancel) mid-run: the step under way finishes, its state is saved, and a
    resumed run ends with the same weights as one that was never stopped."""
    import os
    import signal

    from gan_studio.models.checkpoint import load_checkpoint

    d, vocab, table = data
    gan = GanConfig.tiny()
    cfg = dataclasses.replace(
        GanTrainConfig.tiny("restgan"), checkpoint_every=1000
    )  # only the interrupt saves
    torch.manual_seed(0)
    full = train_gan(d, new_model(cfg, gan, vocab, table), cfg, tmp_path / "a")

    calls = {"n": 0}

    def sigint_at_second_step():
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # arrives while step 2 of stage I is about to run

    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        train_gan(d, new_model(cfg, gan, vocab, table), cfg, tmp_path / "b", cancel=sigint_at_second_step)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    _, manifest = load_checkpoint(tmp_path / "b" / "train_state.safetensors")
    assert (manifest["extra"]["stage"], manifest["extra"]["step"]) == (1, 2)  # step 2 finished and was saved
    torch.manual_seed(0)
    resumed = train_gan(d, new_model(cfg, gan, vocab, table), cfg, tmp_path / "b")
    _assert_same_weights(full.model, resumed.model)


@pytest.mark.parametrize("weight", [0.0, 4.0])
def test_discriminator_auxiliary_weight_scales_only_the_discriminator_heads(data, weight):
    from gan_studio.train.restgan_step import build_trainer, train_step

    d, vocab, table = data
    gan = GanConfig.tiny()
    torch.manual_seed(0)
    model = new_model(GanTrainConfig.tiny("restgan"), gan, vocab, table)
    cfg = dataclasses.replace(GanTrainConfig.tiny("restgan"), aux_d_weight=weight, channels_last=False)
    tr = build_trainer(model, cfg)
    assert tr.d1.aux is not None
    before = {k: v.detach().clone() for k, v in tr.d1.aux.named_parameters()}  # (not spectral norm's buffers)
    train_step(tr, sample_batch(d, cfg, gan, step=0, stage=1), cfg, stage=1, step=0)
    moved = any(not torch.equal(before[k], v) for k, v in tr.d1.aux.named_parameters())
    assert moved == (weight > 0)  # the heads learn from real labels only through this term


def test_negative_auxiliary_weight_is_one_sentence(tmp_path, capsys):
    from gan_studio.cli import main

    assert main(["train", "restgan", "--tiny", "--aux-weight-d", "-1", "--out", str(tmp_path / "x")]) == 2
    assert "--aux-weight, --aux-weight-d and --layout-weight must be numbers >= 0" in capsys.readouterr().err


def test_layout_term_counts_only_whole_title_rows(data):
    from gan_studio.train.restgan_step import build_trainer, train_step

    d, vocab, table = data
    gan = GanConfig.tiny()
    cfg = dataclasses.replace(
        GanTrainConfig.tiny("restgan"), layout_weight=2.0, layout_size=4, channels_last=False
    )
    torch.manual_seed(0)
    tr = build_trainer(new_model(cfg, gan, vocab, table), cfg)
    b = sample_batch(d, cfg, gan, step=0, stage=1)
    whole = dataclasses.replace(b, full=torch.ones_like(b.full))
    assert train_step(tr, whole, cfg, stage=1, step=0)["layout"].item() > 0.0
    prefixes = dataclasses.replace(b, full=torch.zeros_like(b.full))
    assert train_step(tr, prefixes, cfg, stage=1, step=1)["layout"].item() == 0.0
    off = dataclasses.replace(cfg, layout_weight=0.0)
    assert train_step(tr, whole, off, stage=1, step=2)["layout"].item() == 0.0


def test_stackgan_rows_are_always_whole_titles(data):
    d, _, _ = data
    cfg = GanTrainConfig.tiny("stackgan")
    assert bool(sample_batch(d, cfg, GanConfig.tiny(), step=0, stage=1).full.all())


def test_model_card_names_the_loss_weights_a_run_changed():
    from gan_studio.commands.train_gan import _run_lines

    plain = _run_lines({"config": {"aux_weight": 1.0, "aux_d_weight": 1.0, "layout_weight": 0.0}, "seed": 5})
    assert "weight" not in plain.split("; stage II")[0]
    changed = _run_lines({"config": {"aux_d_weight": 4.0, "layout_weight": 10.0}, "seed": 5})
    assert "discriminator auxiliary weight 4" in changed and "layout term weight (L1 at 32 px" in changed
    finer = _run_lines({"config": {"layout_weight": 10.0, "layout_size": 64}, "seed": 6})
    assert "(L1 at 64 px" in finer


def test_layout_size_below_one_pixel_is_one_sentence(tmp_path, capsys):
    from gan_studio.cli import main

    assert main(["train", "stackgan", "--tiny", "--layout-size", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--layout-size must be a whole number of pixels >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["adversarial", "mixed"])
def test_mixed_stage2_reconstructs_the_real_rows_only(data, mode):
    """Mixed stage II: the first half of the rows start from the real image's downsample and are pulled to it."""
    import torch.nn.functional as F

    from gan_studio.train.restgan_step import build_trainer, train_step

    d, vocab, table = data
    gan = GanConfig.tiny()
    torch.manual_seed(0)
    cfg = dataclasses.replace(GanTrainConfig.tiny("restgan"), stage2_mode=mode, channels_last=False)
    tr = build_trainer(new_model(cfg, gan, vocab, table), cfg)
    b = sample_batch(d, cfg, gan, step=0, stage=2)
    inputs: list[torch.Tensor] = []
    parts = tr.parallel()
    parts["stage2"] = _Spy(parts["stage2"], inputs)  # sees stage II's input of each pass
    out = train_step(tr, b, cfg, stage=2, step=0)
    assert torch.isfinite(out["loss_g"])
    if mode == "adversarial":
        assert float(out["rec"]) == 0.0
    else:
        assert float(out["rec"]) > 0.0
    assert inputs
    half = len(b.real) // 2
    real_small = F.avg_pool2d(b.real, b.real.shape[-1] // inputs[0].shape[-1])
    assert torch.allclose(inputs[0][:half], real_small[:half]) == (mode == "mixed")
    assert not torch.allclose(inputs[0][half:], real_small[half:])  # the other rows: stage I's drawings


class _Spy(torch.nn.Module):
    def __init__(self, inner, seen):
        super().__init__()
        self.inner, self.seen = inner, seen

    def forward(self, image1, c):
        self.seen.append(image1.detach())
        return self.inner(image1, c)
