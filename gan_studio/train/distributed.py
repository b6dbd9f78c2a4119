"""Training on several processes or machines: torchrun and DistributedDataParallel, shared by every train command.

Under ``torchrun --nproc_per_node N ...`` (which sets ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``) :func:`session` joins the process group: gloo when the tensors live on the CPU (all of today's
train commands), NCCL on a CUDA device. Without ``WORLD_SIZE`` > 1 nothing is initialized and every helper here is
the identity, so a single process trains exactly as it always has.

How a train loop uses it:

- **Data.** Each step draws the *global* batch (the configured ``--batch``) from the same seeded generator on every
  rank, then keeps its own :func:`rows` of it: rank r gets rows ``[r * B / N, (r + 1) * B / N)``. A batch that does
  not split evenly is an error. Random draws that belong to rows (augmentation offsets, noise) are made for the
  whole batch too, so N processes see exactly the numbers one process would.
- **Weights.** :func:`wrap` puts a module in DDP (gradients averaged over ranks in backward; parameters and buffers
  broadcast from rank 0 when wrapped, so every rank starts from rank 0's weights). A plain mean over the batch is
  then the mean over the global batch; a mean whose denominator depends on the data (ignored labels, weighted
  rows) goes through :func:`batch_mean`, which divides by the global count.
- **Batch norm** must see the global batch for N processes to train as one. :func:`wrap` converts batch-norm layers:
  to ``torch.nn.SyncBatchNorm`` on CUDA, and to :class:`SyncedBatchNorm` on the CPU, because torch's
  ``SyncBatchNorm`` refuses CPU tensors (torch 2.13: "SyncBatchNorm expected input tensor to be on GPU"). The CPU
  version all-reduces the per-channel sum, then the sum of squared deviations from the global mean (two passes,
  as exact as one process's batch norm), through a differentiable all-reduce, so the gradient is the gradient
  of the global batch's normalization, and the running statistics are the same on every rank.
- **GANs.** Each network is wrapped on its own (generator parts, discriminators, text encoder), so a step's
  discriminator and generator updates each average only their own gradients. Several forwards of one wrapper
  before a backward are fine. The generator's step runs the discriminator unwrapped: the discriminator's gradients
  there are discarded, and DDP ignores gradients it was not prepared for. Spectral norm's power-iteration vectors
  are buffers: every rank computes the same update from the same weights, and DDP re-broadcasts rank 0's at every
  wrapped forward (``forward_sync_buffers``), so they cannot drift apart.
- **Writing.** Only :func:`is_main` (rank 0) writes checkpoints, logs, samples, final weights and model cards, and
  shows progress; the others stay quiet. A training state is written by rank 0 (each file atomically, by
  :func:`gan_studio.models.checkpoint.save_checkpoint`) followed by a :func:`barrier`; a restarted job
  (``torchrun --max-restarts``, or the same command again) finds it and every rank loads it, so all resume from
  the same step. The run folder must therefore be on a file system every node sees.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")

# Rank 0 may render the training items (minutes) while the others wait at a barrier.
TIMEOUT = datetime.timedelta(minutes=60)

_owned = False  # whether this module initialized the process group (and so tears it down)


# ------------------------------------------------------------------------------------------ set-up, teardown


def requested_world_size() -> int:
    """``WORLD_SIZE`` as torchrun sets it (1 when unset)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def backend_for(device: str | torch.device) -> str:
    """NCCL for CUDA tensors, gloo for CPU tensors."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def init(device: str | torch.device = "cpu") -> bool:
    """Join torchrun's process group when ``WORLD_SIZE`` > 1; returns whether this run is distributed.

    ``device`` is where the training tensors live: it picks the backend. On CUDA each process takes the GPU of its
    ``LOCAL_RANK``. Calling it again, or with a group already initialized, does nothing.
    """
    global _owned
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size() > 1
    if requested_world_size() <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend, timeout=TIMEOUT)
    _owned = True
    return True


def teardown() -> None:
    """Leave the process group if :func:`init` joined it."""
    global _owned
    if _owned and dist.is_initialized():
        dist.destroy_process_group()
    _owned = False


@contextlib.contextmanager
def session(device: str | torch.device = "cpu") -> Iterator[bool]:
    """``with session():`` around a train command: :func:`init` on entry, :func:`teardown` on exit."""
    init(device)
    try:
        yield is_distributed()
    finally:
        teardown()


# ------------------------------------------------------------------------------------------------ who am I


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def local_rank() -> int:
    """The process's index on its machine (torchrun's ``LOCAL_RANK``; 0 without torchrun)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Rank 0: the one process that writes files and shows progress."""
    return rank() == 0


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def prepare_in_turn(fn: Callable[[], T]) -> T:
    """``fn()`` on rank 0 first, then on the first process of every other machine, then on all the rest.

    For data preparation that caches to disk: rank 0 renders and writes the cache while the others wait; then they
    read it (on a shared file system) or, on a machine that does not see it, one process per machine renders and
    writes it there before that machine's other processes read it. No two processes write one cache at once.
    """
    if not is_distributed():
        return fn()
    turn = 0 if rank() == 0 else (1 if local_rank() == 0 else 2)
    result: Any = None
    for phase in range(3):
        if turn == phase:
            result = fn()
        barrier()
    return result


# ------------------------------------------------------------------------------------------------ the batch


def rows(batch: int) -> slice:
    """This rank's rows of a global batch of ``batch`` rows (all of them in a single process).

    Raises ValueError when the batch does not split evenly over the processes.
    """
    n = world_size()
    if batch % n:
        raise ValueError(
            f"the batch of {batch} does not split evenly over {n} processes; use a batch divisible by {n}"
        )
    per = batch // n
    return slice(rank() * per, (rank() + 1) * per)


def shard(x: T) -> T:
    """This rank's rows of a global batch (a tensor, array or list indexed along its first axis)."""
    return x[rows(len(x))]  # type: ignore[index]


# ------------------------------------------------------------------------------------------------ reductions


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks, differentiable: the gradient of a sum is the sum of the gradients (all-reduced)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad)
        return grad


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks, with gradients flowing back to every rank's ``x`` (``x`` itself alone)."""
    return _AllReduceSum.apply(x) if is_distributed() else x


@torch.no_grad()
def global_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks, without gradient (counts, statistics)."""
    if not is_distributed():
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x


@torch.no_grad()
def all_reduce_mean(x: torch.Tensor | float) -> torch.Tensor:
    """Mean of ``x`` over ranks, for logging (``x`` itself, as a tensor, in a single process)."""
    x = torch.as_tensor(x)
    if not is_distributed():
        return x
    return (global_sum(x.to(torch.float64)) / world_size()).to(
        x.dtype if x.is_floating_point() else torch.float64
    )


def batch_mean(
    total: torch.Tensor, count: torch.Tensor, least: float = 0.0, *, count_is_global: bool = False
) -> torch.Tensor:
    """This rank's share of a mean over the global batch: ``total`` summed over this rank's rows, ``count`` how
    many (or how much weight) they hold (or, with ``count_is_global``, all ranks' rows hold).

    Returns ``world_size * total / max(global count, least)``: DDP averages the gradients of the ranks, so the
    result's gradient is that of ``sum of totals / global count``, the mean one process would take over the whole
    batch, even when the ranks hold different counts. In a single process it is ``total / max(count, least)``.
    """
    n = count.detach() if count_is_global else global_sum(count.detach())
    if least:
        n = n.clamp(min=least)
    return total / n if not is_distributed() else total / (n / world_size())


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Every rank's ``x`` (all of the same shape) stacked in rank order along the first axis: the global batch.

    Differentiable: the gradient of each rank's rows returns to that rank.
    """
    if not is_distributed():
        return x
    slots = [x.new_zeros(x.shape)] * world_size()
    slots[rank()] = x
    return all_reduce_sum(torch.cat(slots))


def roll_rows(x: torch.Tensor, shifts: int = 1) -> torch.Tensor:
    """``torch.roll(x, shifts, 0)`` over the global batch, this rank's rows of it: row i of the global batch gets
    row i - ``shifts``, across ranks. Differentiable."""
    if not is_distributed():
        return x.roll(shifts, dims=0)
    everyone = gather_rows(x)
    return everyone.roll(shifts, dims=0)[rows(everyone.shape[0])]


# ------------------------------------------------------------------------------------------------ batch norm


class SyncedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the global batch on CPU tensors (torch's ``SyncBatchNorm`` runs only on accelerators).

    Same parameters and buffers as the ``BatchNorm1d/2d/3d`` it replaces (state dicts are interchangeable). In
    training mode under a distributed run it all-reduces the per-channel count and sum, then the sum of squared
    deviations from the global mean, both differentiably; otherwise it is plain batch norm.
    """

    plain: type[nn.modules.batchnorm._BatchNorm] = nn.BatchNorm2d  # the class it replaced (revert_batch_norm)

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        self._check_input_dim(x)
        dims = [0, *range(2, x.ndim)]
        shape = [1, -1] + [1] * (x.ndim - 2)
        count = x.new_full((1,), x.numel() // max(x.shape[1], 1))
        first = all_reduce_sum(torch.cat([x.sum(dims), count]))
        n = first[-1].detach()
        mean = first[:-1] / n
        centered = x - mean.view(shape)
        var = all_reduce_sum(centered.square().sum(dims)) / n
        y = centered * torch.rsqrt(var + self.eps).view(shape)
        if self.weight is not None:
            y = y * self.weight.view(shape)
        if self.bias is not None:
            y = y + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                if self.momentum is None:  # cumulative moving average, as in torch's batch norm
                    factor = 1.0 / float(self.num_batches_tracked)
                else:
                    factor = self.momentum
                unbiased = var.detach() * (n / (n - 1).clamp(min=1))
                self.running_mean.lerp_(mean.detach(), factor)
                self.running_var.lerp_(unbiased, factor)
        return y


_PLAIN_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _rebuilt_batch_norm(old: nn.modules.batchnorm._BatchNorm, cls: type) -> nn.Module:
    """A ``cls`` with ``old``'s settings holding ``old``'s very parameters and buffers (optimizers and EMA copies
    keep pointing at them)."""
    new = cls(
        old.num_features,
        eps=old.eps,
        momentum=old.momentum,
        affine=old.affine,
        track_running_stats=old.track_running_stats,
        device="meta",
    )
    if old.affine:
        new.weight, new.bias = old.weight, old.bias
    new.running_mean, new.running_var = old.running_mean, old.running_var
    new.num_batches_tracked = old.num_batches_tracked
    new.train(old.training)
    return new


def convert_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm1d/2d/3d`` inside ``module`` (in place) with a batch norm over the global batch:
    ``torch.nn.SyncBatchNorm`` on CUDA, :class:`SyncedBatchNorm` elsewhere. Returns ``module`` (or its
    replacement when ``module`` is itself a batch norm)."""
    if isinstance(module, _PLAIN_BATCH_NORMS) and not isinstance(module, SyncedBatchNorm):
        state = [t for t in (module.weight, module.running_mean) if t is not None]
        on_cuda = bool(state) and state[0].device.type == "cuda"
        new = _rebuilt_batch_norm(module, nn.SyncBatchNorm if on_cuda else SyncedBatchNorm)
        new.plain = type(module)
        return new
    for name, child in module.named_children():
        converted = convert_batch_norm(child)
        if converted is not child:
            setattr(module, name, converted)
    return module


def revert_batch_norm(module: nn.Module) -> nn.Module:
    """Undo :func:`convert_batch_norm` (in place): the trained model goes back to plain batch-norm classes."""
    plain = getattr(module, "plain", None)
    if isinstance(module, (SyncedBatchNorm, nn.SyncBatchNorm)) and plain is not None:
        return _rebuilt_batch_norm(module, plain)
    for name, child in module.named_children():
        reverted = revert_batch_norm(child)
        if reverted is not child:
            setattr(module, name, reverted)
    return module


# ------------------------------------------------------------------------------------------------ wrapping


class Call(nn.Module):
    """A module whose forward is ``call(module, *args)``: DDP only watches ``forward``, and some training passes
    go through another method (``encoder.prefix_conditions``) or over several sub-modules (a dict of heads)."""

    def __init__(self, module: nn.Module, call: Callable[..., Any]):
        super().__init__()
        self.module = module
        self.call = call

    def forward(self, *args, **kwargs):
        return self.call(self.module, *args, **kwargs)


def wrap(
    module: nn.Module, *, call: Callable[..., Any] | None = None, sync_buffers: bool = True
) -> nn.Module:
    """What the training passes of ``module`` go through: DDP in a distributed run, ``module`` itself otherwise.

    ``call(module, *args)``, when given, is what the forward of the wrapper runs (a method other than
    ``forward``). Batch norm inside ``module`` is converted to the global-batch kind (:func:`convert_batch_norm`).
    ``sync_buffers`` (on by default) copies rank 0's buffers to every rank at each forward: spectral norm's
    power-iteration vectors and batch-norm statistics are computed identically on every rank anyway, and the
    broadcast keeps them bitwise equal where floating point could not (different CPUs, thread counts).

    Every parameter of ``module`` must get a gradient in every backward that follows a grad-enabled forward of the
    wrapper. (No ``find_unused_parameters``: it searches the graph of the last forward only, and GAN losses run a
    discriminator several times per step.) Passes whose gradient is thrown away (a discriminator in the
    generator's step) should call ``module`` itself, not the wrapper: its gradients are then neither averaged nor
    waited for.
    """
    target = module if call is None else Call(module, call)
    if not is_distributed():
        return target
    convert_batch_norm(module)
    device = next(module.parameters()).device
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(
            target, device_ids=[device.index], output_device=device.index, forward_sync_buffers=sync_buffers
        )
    return DistributedDataParallel(target, forward_sync_buffers=sync_buffers)
