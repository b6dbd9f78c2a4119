"""Training ReStGAN and its StackGAN baseline: stage I (with the text encoder), then stage II on frozen stage I.

Both variants share data, networks, losses, step budget and schedule; they differ only where the method does:

================  =====================================  ==========================================
                  ReStGAN                                StackGAN baseline
================  =====================================  ==========================================
text encoder      LSTM, one state per title prefix       mean of word embeddings of the whole title
color words       color-table cluster features           ordinary word embeddings
trained on        random prefixes of every title         whole titles
auxiliary heads   type, color, gender on D (and G loss)  none
================  =====================================  ==========================================

Losses are hinge losses on an unconditional and a conditional (projection) logit, with StackGAN's matching-aware
term (a real image under a title that contradicts it counts as fake), the KL term of conditioning augmentation, and
for ReStGAN the auxiliary cross-entropy (D on real labels; G on what the prefix states). The text encoder learns
with the discriminator (matching real images to titles); the generator sees its conditions detached. Generator
weights are averaged (EMA) for the shipped model.

Under torchrun (see :mod:`gan_studio.train.distributed`) every process draws the same global batch and trains on
its rows of it. The generator's parts (conditioning augmentation, stage I, stage II) and the discriminator's (each
discriminator, the text encoder, the text heads) are DDP-wrapped separately (:meth:`Trainer.parallel`); the
generator's batch norm runs over the global batch; the matching-aware term pairs each image with the previous
title of the *global* batch; means over labelled or mismatched rows divide by global counts. So N processes train
as one process on the whole batch would, up to floating-point rounding. The generator's step runs the
discriminator itself, not its wrapper: its gradients there are discarded, so they are not averaged. Spectral
norm's power-iteration vectors are computed identically on every rank and re-broadcast from rank 0 at every
wrapped discriminator pass.
"""

from __future__ import annotations

import copy
import json
import os
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gan_studio.models.checkpoint import load_training_state, save_training_state
from gan_studio.models.stackgan import ConditioningAugmentation, GanConfig, ProjectionHeads, stage_modules
from gan_studio.models.text import TextConfig, Vocabulary
from gan_studio.models.text_to_image import TextToImage, to_uint8
from gan_studio.runtime.progress import ProgressBar
from gan_studio.train import distributed as dist
from gan_studio.train.interrupt import deferred_interrupt
from gan_studio.train.text_data import LABEL_HEADS, TextImageData

VARIANTS = ("restgan", "stackgan")
SAMPLE_TITLES = (
    "women's black pants petite capri",
    "men's blue jeans slim",
    "Northfield Unisex Olive Cargo Pants Wide Leg",
    "Womens Pink Skinny Ankle Length Leggings",
    "Harlow Men's Khaki Shorts Knee Length Pleated",
    "Gray Unisex Joggers Drawstring",
)


@dataclass(frozen=True)
class GanTrainConfig:
    variant: str = "restgan"
    stage1_steps: int = 3000
    stage2_steps: int = 1500
    batch: int = 32
    lr_g: float = 2e-4
    lr_d: float = 4e-4  # two time-scale update rule
    beta1: float = 0.0
    beta2: float = 0.9
    kl_weight: float = 0.05  # 1.0 collapsed c to the prior within 300 steps (text ignored)
    aux_weight: float = 1.0  # the generator's auxiliary term (what the prefix states)
    # The discriminators' (and text heads') auxiliary term on real labels. Measured on the 128 px run after 3000
    # steps at 1.0: D1's heads read gender right on 44% of held-out real items and type on 56%, so the
    # generator's auxiliary gradient carried little of either.
    aux_d_weight: float = 1.0
    mismatch_weight: float = 1.0
    # Layout term (0: off): L1 between the drawing and the row's own real image, both area-downsampled to
    # ``layout_size`` px, on rows conditioned on the whole title (a prefix leaves the unstated open). A direct
    # gradient for the coarse silhouette the title fixes (the cut that tells gender, the type's shape), which the
    # discriminators' auxiliary heads were slow to learn (D1 read gender right on 58% of real items at weight 4).
    layout_weight: float = 0.0
    layout_size: int = 32
    full_title_p: float = 0.4  # ReStGAN: share of samples on whole titles; the rest on a uniform prefix
    ema: float = 0.999
    # Stage II's input: "adversarial" = the frozen stage I's drawing (StackGAN's original); "paired" = the real
    # image area-downsampled to the stage-I size, with a reconstruction (L1) and a feature-matching term on top of
    # the adversarial ones. docs/benchmarks/stage2_ablation.md: at 150 steps on the same stage I, adversarial drew
    # with the lower FID (792 vs 905) and paired reconstructed real items better (31.3 vs 26.0 dB).
    stage2_mode: str = "adversarial"
    rec_weight: float = 10.0
    fm_weight: float = 1.0
    # Wall-clock budget of each stage in seconds (0: none): the stage ends at the first logged step past it, so a
    # run on a lent machine fits its lease; the steps actually done are what the manifest reports.
    stage1_seconds: float = 0.0
    stage2_seconds: float = 0.0
    seed: int = 0
    items: int = 20000
    sample_every: int = 250
    checkpoint_every: int = 100
    log_every: int = 10
    # NHWC activations on the "sle" backbone, on the CPU: measured at batch 32, 2 threads, this CPU, stage I 1.56 -> 1.29 s/step
    # and stage II 3.09 -> 2.11 s/step (/tmp profile of train_step, same weights and batches).
    channels_last: bool = True

    @classmethod
    def tiny(cls, variant: str = "restgan") -> GanTrainConfig:
        return cls(variant=variant, stage1_steps=3, stage2_steps=2, batch=4, items=24, sample_every=2,
                   checkpoint_every=2, log_every=1)  # fmt: skip


@dataclass
class Trainer:
    """Everything the loop touches: the model being built, discriminators, EMA copies and optimizers."""

    model: TextToImage
    ema_ca: ConditioningAugmentation
    ema_stage1: torch.nn.Module
    ema_stage2: torch.nn.Module
    d1: ProjectionHeads
    d2: ProjectionHeads
    opt_g1: torch.optim.Adam
    opt_d1: torch.optim.Adam
    opt_g2: torch.optim.Adam
    opt_d2: torch.optim.Adam
    text_aux: torch.nn.ModuleDict | None = None  # ReStGAN: what the prefix states, read from its condition
    parts: dict[str, torch.nn.Module] = field(default_factory=dict)  # see parallel()

    def parallel(self) -> dict[str, torch.nn.Module]:
        """What the training passes run through: DDP wrappers under torchrun, the modules themselves otherwise.

        Made on first use, so after a resumed state is loaded (wrapping broadcasts rank 0's weights).
        """
        if not self.parts:
            m = self.model
            self.parts = {
                "ca": dist.wrap(m.ca),
                "stage1": dist.wrap(m.stage1),
                "stage2": dist.wrap(m.stage2),
                "d1": dist.wrap(self.d1),
                "d2": dist.wrap(self.d2),
                "encoder": dist.wrap(m.encoder, call=lambda encoder, ids: encoder.prefix_conditions(ids)),
            }
            if self.text_aux is not None:
                self.parts["text_aux"] = dist.wrap(self.text_aux, call=_text_heads)
        return self.parts

    def modules(self) -> dict[str, torch.nn.Module]:
        out = {
            "model": self.model,
            "ema_ca": self.ema_ca,
            "ema_stage1": self.ema_stage1,
            "ema_stage2": self.ema_stage2,
            "d1": self.d1,
            "d2": self.d2,
        }
        if self.text_aux is not None:
            out["text_aux"] = self.text_aux
        return out

    def optimizers(self) -> dict[str, torch.optim.Adam]:
        return {"opt_g1": self.opt_g1, "opt_d1": self.opt_d1, "opt_g2": self.opt_g2, "opt_d2": self.opt_d2}

    def shipped_model(self) -> TextToImage:
        """The model with the averaged generator weights (what inference uses)."""
        out = copy.deepcopy(self.model)
        out.ca.load_state_dict(self.ema_ca.state_dict())
        out.stage1.load_state_dict(self.ema_stage1.state_dict())
        out.stage2.load_state_dict(self.ema_stage2.state_dict())
        return out.eval()


def build_trainer(model: TextToImage, cfg: GanTrainConfig) -> Trainer:
    gan = model.gan_config
    n_clusters = max(len(model.cluster_labs), 1)
    # The paper's auxiliary classifier predicts type, color and gender; on the "sle" backbone it also predicts
    # length and fit, the two other attributes the catalog labels (the "plain" 64 px models had the three).
    aux = None
    if cfg.variant == "restgan":
        aux = {"type": 6, "color": n_clusters, "gender": 3}
        if gan.backbone != "plain":
            aux |= {"length": 5, "fit": 5}
    _, _, discriminator = stage_modules(gan)
    d1 = discriminator(gan, gan.stage1_size, aux)
    d2 = discriminator(gan, gan.image_size, aux)
    betas = (cfg.beta1, cfg.beta2)
    # ReStGAN's auxiliary classifier also reads the stated attributes back from the text condition, so that the
    # LSTM state encodes them from the first steps (learning them only through the discriminator's matching
    # logit left the condition uninformative for hundreds of steps, and the generator ignored it).
    text_aux = None
    if cfg.variant == "restgan":
        sizes = {"type": 6, "gender": 3, "color": n_clusters, "length": 5, "fit": 5}
        text_aux = torch.nn.ModuleDict(
            {f"head_{k}": torch.nn.Linear(gan.text_dim, n) for k, n in sizes.items()}
        )
    d_params = [*d1.parameters(), *model.encoder.parameters(), *(text_aux.parameters() if text_aux else [])]
    return Trainer(
        model=model,
        # The averaged copies always run as at inference (batch norm on running statistics).
        ema_ca=copy.deepcopy(model.ca).requires_grad_(False).eval(),
        ema_stage1=copy.deepcopy(model.stage1).requires_grad_(False).eval(),
        ema_stage2=copy.deepcopy(model.stage2).requires_grad_(False).eval(),
        d1=d1,
        d2=d2,
        opt_g1=torch.optim.Adam([*model.stage1.parameters(), *model.ca.parameters()], cfg.lr_g, betas),
        opt_d1=torch.optim.Adam(d_params, cfg.lr_d, betas),
        opt_g2=torch.optim.Adam(model.stage2.parameters(), cfg.lr_g, betas),
        opt_d2=torch.optim.Adam(d2.parameters(), cfg.lr_d, betas),
        text_aux=text_aux,
    )


def _text_heads(heads: torch.nn.ModuleDict, h: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k.removeprefix("head_"): m(h) for k, m in heads.items()}


@torch.no_grad()
def ema_update(ema: torch.nn.Module, live: torch.nn.Module, decay: float) -> None:
    # One fused call per list instead of one small kernel per tensor (hundreds of launches a step on a GPU).
    params_e, params_l = list(ema.parameters()), list(live.parameters())
    buffers_e, buffers_l = list(ema.buffers()), list(live.buffers())
    if len(params_e) != len(params_l) or len(buffers_e) != len(buffers_l):
        raise ValueError("the averaged copy and the live module differ in their tensors")
    if params_e:
        torch._foreach_lerp_(params_e, params_l, 1.0 - decay)
    if buffers_e:
        torch._foreach_copy_(buffers_e, buffers_l)


# ------------------------------------------------------------------------------------------------- one step


@dataclass
class Batch:
    real: torch.Tensor  # (B, 3, S, S) in [-1, 1] at the final size
    ids: torch.Tensor  # (B, T)
    k: torch.Tensor  # (B,) prefix length used as the condition
    labels: torch.Tensor  # (B, 5) of the item
    stated: torch.Tensor  # (B, 5) what the prefix states
    mismatch_ok: torch.Tensor  # (B,) the rolled image contradicts this row's prefix
    full: torch.Tensor  # (B,) the condition is the whole title
    z: torch.Tensor
    eps: torch.Tensor


def sample_batch(
    data: TextImageData,
    cfg: GanTrainConfig,
    gan: GanConfig,
    step: int,
    stage: int,
    rows: slice | None = None,
    bank: torch.Tensor | None = None,
) -> Batch:
    """Batch ``step`` of ``stage``: a pure function of (seed, stage, step), so a resumed run repeats it exactly.

    ``rows``: this process's rows of the batch (all by default); everything is drawn for the whole batch first.
    ``bank``: ``data.images`` as a uint8 tensor already on the training device (the batch is then drawn there,
    with no copy from the host); without it the batch is on the CPU.
    """
    rows = slice(None) if rows is None else rows
    rng = np.random.default_rng([cfg.seed, stage, step])
    idx = rng.integers(len(data), size=cfg.batch)
    lengths = data.lengths[idx]
    if cfg.variant == "restgan":
        k = np.where(rng.random(cfg.batch) < cfg.full_title_p, lengths, rng.integers(0, lengths + 1))
    else:
        k = lengths
    stated = data.stated[idx, k]
    labels = data.labels[idx]
    other = np.roll(labels, 1, axis=0)
    if cfg.variant == "restgan":
        # Only a contradiction of what the prefix states makes the other image a mismatch.
        mismatch_ok = ((stated >= 0) & (other >= 0) & (stated != other)).any(axis=1)
    else:
        mismatch_ok = ((labels[:, :3] != other[:, :3]) & (labels[:, :3] >= 0)).any(axis=1)
        mismatch_ok |= np.array([data.titles[i] != data.titles[j] for i, j in zip(idx, np.roll(idx, 1))]) & (
            labels[:, 0] < 0
        )
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    z = torch.randn(cfg.batch, gan.z_dim, generator=gen)
    eps = torch.randn(cfg.batch, gan.cond_dim, generator=gen)
    idx = idx[rows]
    if bank is None:
        pixels, device = torch.from_numpy(data.images[idx]), torch.device("cpu")
    else:
        device = bank.device
        pixels = bank[torch.from_numpy(idx).to(device)]
    real = pixels.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
    return Batch(
        real=real,
        ids=torch.from_numpy(data.ids[idx]).to(device),
        k=torch.from_numpy(k[rows]).to(device),
        labels=torch.from_numpy(labels[rows]).to(device),
        stated=torch.from_numpy(stated[rows]).to(device),
        mismatch_ok=torch.from_numpy(mismatch_ok[rows]).to(device),
        full=torch.from_numpy(k[rows] == lengths[rows]).to(device),
        z=z[rows].to(device),
        eps=eps[rows].to(device),
    )


def _aux_loss(
    aux: dict[str, torch.Tensor], target: torch.Tensor, unused: list[str] | None = None
) -> torch.Tensor:
    """Cross-entropy of each auxiliary head against ``target`` columns, ignoring -1 (unknown or unstated).

    Each head's mean is over the known rows of the global batch. A head with none is left out; in a distributed
    run it still adds a zero (DDP waits for a gradient of every parameter) and is named in ``unused`` so that the
    caller can drop that gradient, as one process would have none.
    """
    total = torch.zeros((), device=target.device)
    if not aux:
        return total
    columns = [target[:, LABEL_HEADS.index(head)] for head in aux]
    known = dist.global_sum(torch.stack([(t >= 0).sum() for t in columns]))
    # One read-back for all heads (each `if n > 0` on a tensor would stall a GPU once).
    counts = known.tolist()
    for (head, logits), t, n, count in zip(aux.items(), columns, known, counts, strict=True):
        if count > 0:
            total = total + dist.batch_mean(
                F.cross_entropy(logits, t, ignore_index=-1, reduction="sum"), n, count_is_global=True
            )
        elif dist.is_distributed():
            total = total + 0.0 * logits.sum()
            if unused is not None:
                unused.append(head)
    return total


def _drop_grads(heads: torch.nn.ModuleDict | None, unused: list[str]) -> None:
    for head in unused:
        if heads is not None and f"head_{head}" in heads:
            heads[f"head_{head}"].zero_grad(set_to_none=True)


def _condition(encode, b: Batch) -> torch.Tensor:
    """The condition of each row's prefix; ``encode`` is the text encoder's ``prefix_conditions`` (or its wrapper)."""
    h_all = encode(b.ids)
    return h_all[torch.arange(len(b.k), device=b.k.device), b.k]


def train_step(
    tr: Trainer, b: Batch, cfg: GanTrainConfig, stage: int, step: int = 10**9
) -> dict[str, torch.Tensor]:
    """One discriminator and one generator update; returns the losses as 0-d tensors (no device sync here)."""
    model = tr.model
    d, opt_d, opt_g = (tr.d1, tr.opt_d1, tr.opt_g1) if stage == 1 else (tr.d2, tr.opt_d2, tr.opt_g2)
    run = tr.parallel()  # the trained modules' passes go through these (DDP wrappers under torchrun)
    scale = model.image_size // model.gan_config.stage1_size
    real = b.real if stage == 2 else F.avg_pool2d(b.real, scale)
    paired = stage == 2 and cfg.stage2_mode == "paired"

    def generate(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if stage == 1:
            c, mu, logvar = run["ca"](h, b.eps)
            return run["stage1"](b.z, c)[0], mu, logvar
        with torch.no_grad():  # stage I and the encoder are frozen: their averaged weights feed stage II
            c, mu, logvar = tr.ema_ca(h, b.eps)
            image1 = F.avg_pool2d(b.real, scale) if paired else tr.ema_stage1(b.z, c)[0]
        return run["stage2"](image1, c)[0], mu, logvar

    # Discriminator (and, in stage I, the text encoder).
    if stage == 1:
        h = _condition(run["encoder"], b)
    else:
        with torch.no_grad():
            h = _condition(run["encoder"], b)
    with torch.no_grad():
        fake, _, _ = generate(h.detach())
    u_r, c_r, aux_r, phi_r = run[f"d{stage}"](real, h)
    u_f, c_f, _, _ = run[f"d{stage}"](fake, h)
    c_m = d.cond_logit(dist.roll_rows(phi_r, 1), h)  # each title with the previous row's image (global batch)
    w_m = b.mismatch_ok.float()
    loss_mis = dist.batch_mean((F.relu(1.0 + c_m) * w_m).sum(), w_m.sum(), least=1.0)
    loss_d = (
        F.relu(1.0 - u_r).mean()
        + F.relu(1.0 + u_f).mean()
        + F.relu(1.0 - c_r).mean()
        + F.relu(1.0 + c_f).mean()
        + cfg.mismatch_weight * loss_mis
    )
    unused_d: list[str] = []
    unused_text: list[str] = []
    aux_d = _aux_loss(aux_r, b.labels, unused_d) if aux_r else torch.zeros((), device=real.device)
    if stage == 1 and tr.text_aux is not None:
        aux_d = aux_d + _aux_loss(run["text_aux"](h), b.stated, unused_text)
    opt_d.zero_grad(set_to_none=True)
    (loss_d + cfg.aux_d_weight * aux_d).backward()
    _drop_grads(d.aux, unused_d)
    _drop_grads(tr.text_aux, unused_text)
    opt_d.step()

    # Generator. The discriminator itself, not its wrapper: its gradients here are discarded (zeroed before its
    # next step), so they need no averaging over ranks.
    hd = h.detach()
    fake, mu, logvar = generate(hd)
    matching = paired and cfg.fm_weight and hasattr(d, "block_features")
    if matching:  # one pass gives the logits and the block activations feature matching compares
        phi_f, acts_f = d.block_features(fake)
        u_f, c_f, aux_f = d.heads(phi_f, hd)
    else:
        u_f, c_f, aux_f, _ = d(fake, hd)
    zero = torch.zeros((), device=fake.device)
    kl = ConditioningAugmentation.kl(mu, logvar) if stage == 1 else zero
    aux_g = _aux_loss(aux_f, b.stated) if aux_f else zero
    loss_g = -u_f.mean() - c_f.mean() + cfg.kl_weight * kl + cfg.aux_weight * aux_g
    layout = zero
    if cfg.layout_weight:
        size = min(cfg.layout_size, fake.shape[-1])
        gap = (
            (F.adaptive_avg_pool2d(fake, size) - F.adaptive_avg_pool2d(real, size)).abs().mean(dim=(1, 2, 3))
        )
        w_full = b.full.float()
        layout = dist.batch_mean((gap * w_full).sum(), w_full.sum(), least=1.0)
        loss_g = loss_g + cfg.layout_weight * layout
    rec = zero
    if paired:  # the real image this row's input was downsampled from is the target
        rec = (fake - real).abs().mean()
        loss_g = loss_g + cfg.rec_weight * rec
        if matching:
            with torch.no_grad():
                _, acts_r = d.block_features(real)
            fm = sum((a - r).abs().mean() for a, r in zip(acts_f, acts_r, strict=True)) / len(acts_r)
            loss_g = loss_g + cfg.fm_weight * fm
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    # Warm-up: early on the average follows the live weights instead of staying near the random start.
    decay = min(cfg.ema, (1.0 + step) / (10.0 + step))
    if stage == 1:
        ema_update(tr.ema_stage1, model.stage1, decay)
        ema_update(tr.ema_ca, model.ca, decay)
    else:
        ema_update(tr.ema_stage2, model.stage2, decay)
    return {
        "loss_d": loss_d.detach(),
        "loss_g": loss_g.detach(),
        "aux_d": aux_d.detach(),
        "aux_g": aux_g.detach(),
        "kl": kl.detach(),
        "rec": rec.detach(),
        "layout": layout.detach(),
        "d_real": u_r.mean().detach(),
        "d_fake": u_f.mean().detach(),
    }


# ------------------------------------------------------------------------------------------------- samples


@torch.no_grad()
def prefix_images(model: TextToImage, title: str, seed: int, stage: int = 2) -> tuple[list[str], np.ndarray]:
    """Word prefixes of ``title`` (known words only, the empty prefix first) and their images (K+1, S, S, 3)."""
    from gan_studio.data.title_words import split_words

    words = [w.text for w in split_words(title) if w.text in model.vocab]
    ids = torch.tensor([model.vocab.encode(words)], dtype=torch.long).reshape(1, -1)
    h = model.encoder.prefix_conditions(ids)[0]
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(1, model.gan_config.z_dim, generator=gen).expand(len(h), -1)
    eps = torch.randn(1, model.gan_config.cond_dim, generator=gen).expand(len(h), -1)
    c, _, _ = model.ca(h, eps)
    image1, _ = model.stage1(z, c)
    image = model.stage2(image1, c)[0] if stage == 2 else image1
    prefixes = [" ".join(words[:k]) for k in range(len(words) + 1)]
    return prefixes, to_uint8(image)


def write_sample_grid(model: TextToImage, path: Path, stage: int, seed: int = 0) -> None:
    """One row per sample title, one column per word prefix; stage-I images are upsampled to the row height."""
    rows = []
    size = model.image_size
    for r, title in enumerate(SAMPLE_TITLES):
        _, imgs = prefix_images(model, title, seed + r, stage)
        if imgs.shape[1] != size:
            imgs = np.repeat(np.repeat(imgs, size // imgs.shape[1], axis=1), size // imgs.shape[2], axis=2)
        rows.append(np.concatenate(list(imgs), axis=1))
    width = max(r.shape[1] for r in rows)
    grid = np.full((size * len(rows), width, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        grid[i * size : (i + 1) * size, : row.shape[1]] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


# ------------------------------------------------------------------------------------------------- state


STATE_NAME = "train_state.safetensors"


def save_state(tr: Trainer, out: Path, stage: int, step: int, cfg: GanTrainConfig, wall: float) -> None:
    """Rank 0 writes (each file atomically), then every rank waits for it: a restarted job finds the state whole."""
    if dist.is_main():
        _save_state(tr, out, stage, step, cfg, wall)
    dist.barrier()


def _save_state(tr: Trainer, out: Path, stage: int, step: int, cfg: GanTrainConfig, wall: float) -> None:
    save_training_state(
        out / STATE_NAME,
        architecture=f"{cfg.variant}-training-state",
        model_config=tr.model.config_dict(),
        train_config=asdict(cfg),
        modules=tr.modules(),
        optimizers=tr.optimizers(),
        counters={"stage": stage, "step": step, "wall_time_s": wall},
    )


def load_state(tr: Trainer, out: Path, cfg: GanTrainConfig) -> tuple[int, int, float]:
    """Restores ``tr`` from ``out``; returns (stage, step done in that stage, wall time so far)."""
    return load_state_file(tr, out / STATE_NAME, cfg)


def load_state_file(tr: Trainer, path: Path, cfg: GanTrainConfig) -> tuple[int, int, float]:
    """Restores ``tr`` from a training-state file; returns (stage, step done in that stage, wall time so far).

    The state's model configuration (sizes, vocabulary) must be the one ``tr`` was built with."""
    c = load_training_state(
        path,
        architecture=f"{cfg.variant}-training-state",
        model_config=tr.model.config_dict(),
        modules=tr.modules(),
        optimizers=tr.optimizers(),
        counters=("stage", "step", "wall_time_s"),
        what="configuration or vocabulary",
    )
    return int(c["stage"]), int(c["step"]), float(c["wall_time_s"])


def new_model(cfg: GanTrainConfig, gan: GanConfig, vocab: Vocabulary, table) -> TextToImage:
    recurrent = cfg.variant == "restgan"
    n_feat = len(table) + 3 if recurrent else 0
    text = TextConfig(
        kind="recurrent" if recurrent else "bag",
        vocab_size=len(vocab),
        hidden_dim=gan.text_dim,
        embed_dim=min(64, gan.text_dim),
        n_color_features=n_feat,
    )
    return TextToImage(
        text,
        gan,
        vocab.words,
        table.word_to_cluster if recurrent else None,
        [c.lab for c in table.clusters] if recurrent else None,
    )


# ------------------------------------------------------------------------------------------------- loop


def _out_of_time(elapsed: float, budget: float, device: torch.device) -> bool:
    """Whether this stage's time budget (counted in this run) is spent, on any rank (all ranks stop together)."""
    late = torch.tensor([1.0 if elapsed >= budget else 0.0], device=device)
    return bool(dist.global_sum(late).item() > 0) if dist.is_distributed() else bool(late.item())


@dataclass
class TrainOutcome:
    model: TextToImage
    steps: dict[str, int]
    wall_time_s: float
    steps_per_s: dict[str, float]


def train_gan(
    data: TextImageData,
    model: TextToImage,
    cfg: GanTrainConfig,
    out: Path,
    *,
    progress: bool = False,
    cancel=None,
    device: str | torch.device = "cpu",
    init_state: Path | None = None,
) -> TrainOutcome:
    """Run (or resume) both stages into ``out``; returns the EMA model (on the CPU).

    Under torchrun each process trains on its rows of every batch of ``cfg.batch`` (which must split evenly);
    rank 0 alone writes the log, samples and state, and every rank resumes from the state rank 0 wrote.
    ``device``: where the networks and the images live (a CUDA device keeps the whole image set there).
    ``init_state``: another run's training-state file to continue from when ``out`` has none of its own: every
    network (discriminators, text heads and averages included) and the optimizers' moments are taken from it, and
    this run counts its own steps from 0 (with its own seed, batch and stage-II mode).
    """
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    model.to(device)
    nhwc = (
        cfg.channels_last and model.gan_config.backbone != "plain" and device.type == "cpu"
    )  # measured there
    if nhwc:  # before the averaged copies are made, so they share the layout
        model.to(memory_format=torch.channels_last)
    tr = build_trainer(model, cfg)
    for module in (tr.d1, tr.d2, tr.text_aux):
        if module is not None:
            module.to(device)
            if nhwc:
                module.to(memory_format=torch.channels_last)
    bank = torch.from_numpy(data.images).to(device) if device.type != "cpu" else None
    stage, done, wall = 1, 0, 0.0
    if (out / STATE_NAME).is_file():
        stage, done, wall = load_state(tr, out, cfg)
    elif init_state is not None:
        load_state_file(tr, init_state, cfg)
    mine = dist.rows(cfg.batch)
    main = dist.is_main()
    log = (out / "log.jsonl" if main else Path(os.devnull)).open("a")
    rates: dict[str, float] = {}
    steps = {"stage1": cfg.stage1_steps, "stage2": cfg.stage2_steps}
    stop = ExitStack()
    interrupted = stop.enter_context(deferred_interrupt(enabled=not dist.is_distributed()))
    try:
        for s, total in ((1, cfg.stage1_steps), (2, cfg.stage2_steps)):
            if s < stage:
                continue
            start = done if s == stage else 0
            model.train()
            bar = ProgressBar(total, f"{cfg.variant} stage {s}", enabled=progress and main)
            bar.update(start)
            t0 = time.monotonic()
            budget = cfg.stage1_seconds if s == 1 else cfg.stage2_seconds
            for step in range(start, total):
                if cancel is not None:
                    cancel()
                b = sample_batch(data, cfg, model.gan_config, step, s, mine, bank)
                losses = train_step(tr, b, cfg, s, step)
                n = step + 1
                if n % cfg.log_every == 0 or n == total:
                    values = torch.stack(list(losses.values())).double().cpu()
                    if dist.is_distributed():  # the mean over ranks: the loss of the global batch
                        values = dist.all_reduce_mean(values)
                    logged = dict(zip(losses, values.tolist(), strict=True))
                    log.write(
                        json.dumps({"stage": s, "step": n, **{k: round(v, 4) for k, v in logged.items()}})
                    )
                    log.write("\n")
                    log.flush()
                    bar.update(n, f"D {logged['loss_d']:.2f} G {logged['loss_g']:.2f}")
                    if budget and n < total and _out_of_time(time.monotonic() - t0, budget, device):
                        total = n  # this stage's budget is spent: finish it here (sample, save) as if planned
                        steps[f"stage{s}"] = n
                if (n % cfg.sample_every == 0 or n == total) and main:
                    write_sample_grid(tr.shipped_model().cpu(), out / "samples" / f"stage{s}_{n:06d}.png", s)
                    model.train()
                if n % cfg.checkpoint_every == 0 or n == total or interrupted():
                    save_state(tr, out, s, n, cfg, wall + time.monotonic() - t0)
                if interrupted():  # Ctrl-C / the Train workspace's Cancel: stopped after a whole step, saved
                    raise KeyboardInterrupt
                if n == total:
                    break
            elapsed = time.monotonic() - t0
            wall += elapsed
            rates[f"stage{s}"] = (total - start) / elapsed if elapsed > 0 and total > start else 0.0
            bar.close()
            if s == 1:
                # Stage II starts on fresh state saved at its step 0.
                save_state(tr, out, 2, 0, cfg, wall)
            stage, done = s + 1, 0
    finally:
        stop.close()
        log.close()
    dist.revert_batch_norm(model)
    return TrainOutcome(tr.shipped_model().cpu(), steps, wall, rates)
