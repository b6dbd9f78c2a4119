"""One ReStGAN / StackGAN training step: the networks it updates (:class:`Trainer`) and its losses.

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
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from gan_studio.models.stackgan import ConditioningAugmentation, ProjectionHeads, stage_modules
from gan_studio.models.text_to_image import TextToImage
from gan_studio.train import distributed as dist
from gan_studio.train.restgan_batch import Batch
from gan_studio.train.restgan_config import GanTrainConfig
from gan_studio.train.text_data import LABEL_HEADS


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
    # "mixed": the first ``paired_share`` of the rows take the real image's downsample as input (reconstruction
    # target: the real image), the rest the frozen stage I's drawing; every row is judged by the discriminator.
    mixed = stage == 2 and cfg.stage2_mode == "mixed"
    n_rows = b.real.shape[0]
    from_real = (
        torch.arange(n_rows, device=b.real.device) < round(cfg.paired_share * n_rows) if mixed else None
    )

    def generate(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if stage == 1:
            c, mu, logvar = run["ca"](h, b.eps)
            return run["stage1"](b.z, c)[0], mu, logvar
        with torch.no_grad():  # stage I and the encoder are frozen: their averaged weights feed stage II
            c, mu, logvar = tr.ema_ca(h, b.eps)
            if paired:
                image1 = F.avg_pool2d(b.real, scale)
            else:
                image1 = tr.ema_stage1(b.z, c)[0]
                if from_real is not None:
                    keep = from_real.view(-1, 1, 1, 1)
                    image1 = torch.where(keep, F.avg_pool2d(b.real, scale).to(image1.dtype), image1)
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
    elif from_real is not None:  # reconstruction on the rows whose input was the real image's downsample
        w_rec = from_real.float()
        gap_rec = (fake - real).abs().mean(dim=(1, 2, 3))
        rec = dist.batch_mean((gap_rec * w_rec).sum(), w_rec.sum(), least=1.0)
        loss_g = loss_g + cfg.rec_weight * rec
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
