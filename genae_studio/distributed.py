"""Data-parallel training across processes and machines, started by ``torchrun``.

    torchrun --nproc_per_node=4 -m genae_studio train --model aae --batch-size 256

Every process holds the whole model and trains on its share of each global batch; gradients
are averaged across processes before every optimiser step, so all replicas stay identical.
This is DistributedDataParallel's algorithm (broadcast the initial state from rank 0, average
gradients with an all-reduce), done in the training loop's ``step(optimizer_name, loss)``
hook rather than by wrapping the module: the models' ``training_step`` runs several
backward passes per batch over different parameter groups (the AAE's adversary and
autoencoder each have their own Adam, and the adversary takes part in both losses), which
``nn.parallel.DistributedDataParallel``'s one-forward-one-backward reducer cannot express.
Each optimiser's gradients are flattened into one buffer and averaged with one all-reduce.

``--batch-size`` is the global batch: with N processes each one takes batch_size / N images
of the same global batch that single-process training would use, and batch norm computes its
statistics over the global batch (``SyncBatchNorm2d``). For models without random draws in
training the result equals single-process training up to float rounding; models that draw
noise (the VAE's eps, the AAE's prior samples, dropout, denoising) draw it independently on
each process, so they match in distribution rather than draw for draw.

NCCL is used on CUDA devices (one process per GPU, ``cuda:LOCAL_RANK``), Gloo on the CPU.

Known issue: once in about 60 two-process Gloo runs on a 2-core machine, one process aborted
with "terminate called without an active exception" after training had finished (its peer
was then stopped by torchrun). Every process leaves through ``DistContext.close`` (a barrier,
then ``destroy_process_group``); the cause was not found.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .errors import UsageError


@dataclass
class DistContext:
    """This process's place in the job."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # --- collectives -----------------------------------------------------------------------
    def broadcast_state(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every process (as DDP does at start)."""
        tensors = [t.data for t in (*module.parameters(), *module.buffers())]
        for group in _by_dtype(tensors):
            flat = torch._utils._flatten_dense_tensors(group)
            dist.broadcast(flat, src=0)
            for t, value in zip(group, torch._utils._unflatten_dense_tensors(flat, group),
                                strict=True):
                t.copy_(value)

    def average_gradients(self, params: list[nn.Parameter]) -> None:
        """Replace each gradient with its mean over processes (one all-reduce per dtype).

        A parameter without a gradient on some process but not others gets zeros there;
        one with no gradient anywhere keeps none, as in single-process training.
        """
        flags = torch.tensor([p.grad is not None for p in params], dtype=torch.uint8,
                             device=self.device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        grads = []
        for p, flag in zip(params, flags.tolist(), strict=True):
            if flag and p.grad is None:
                p.grad = torch.zeros_like(p)
            if flag:
                grads.append(p.grad)
        for group in _by_dtype(grads):
            flat = torch._utils._flatten_dense_tensors(group)
            dist.all_reduce(flat)
            flat /= self.world
            for g, value in zip(group, torch._utils._unflatten_dense_tensors(flat, group),
                                strict=True):
                g.copy_(value)

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise mean of a small tensor over processes."""
        values = values.detach().to(self.device, torch.float64).clone()
        dist.all_reduce(values)
        return values / self.world

    def gather_objects(self, obj) -> list:
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.device.type == "cuda":
            dist.barrier(device_ids=[self.device.index])
        else:
            dist.barrier()

    def close(self) -> None:
        """Leave together: no process tears down its connections while another still uses
        them (rank 0 may still be writing the last checkpoint)."""
        if dist.is_initialized():
            try:
                self.barrier()
            finally:
                dist.destroy_process_group()


def _by_dtype(tensors: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    groups: dict = {}
    for t in tensors:
        groups.setdefault(t.dtype, []).append(t)
    return list(groups.values())


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_from_environment(device: torch.device) -> DistContext | None:
    """Join the process group torchrun describes in the environment; None when not launched
    with more than one process. ``device`` is the resolved single-process device: "cuda"
    becomes ``cuda:LOCAL_RANK``."""
    if not launched_by_torchrun():
        return None
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise UsageError(f"local rank {local_rank} has no GPU: {torch.cuda.device_count()} "
                             "visible; use --nproc_per_node <= the number of GPUs")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
        _loopback_for_gloo()
    else:
        raise UsageError(f"distributed training runs on CUDA (NCCL) or the CPU (Gloo), "
                         f"not {device.type}")
    if not dist.is_initialized():
        if device.type == "cuda":
            dist.init_process_group(backend, device_id=device)
        else:
            dist.init_process_group(backend)
    return DistContext(rank, world, local_rank, device, backend)


def _loopback_for_gloo() -> None:
    """Gloo picks its network interface from the host name, which may not resolve in a
    container; when the whole job is on this machine, use the loopback interface."""
    addr = os.environ.get("MASTER_ADDR", "")
    single_node = os.environ.get("LOCAL_WORLD_SIZE") == os.environ.get("WORLD_SIZE")
    if "GLOO_SOCKET_IFNAME" not in os.environ and single_node \
            and addr in ("127.0.0.1", "localhost", "::1"):
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"


def shard(indices: np.ndarray, ctx: DistContext | None) -> np.ndarray:
    """This process's share of a global batch: a contiguous slice, the same size on every
    process. Concatenated over ranks it is the batch single-process training would use."""
    if ctx is None:
        return indices
    per = len(indices) // ctx.world
    return indices[ctx.rank * per:(ctx.rank + 1) * per]


def rank_seed(seed: int, rank: int) -> int:
    """Independent random streams per process for the per-step draws (eps, noise, dropout)."""
    return int(np.random.SeedSequence([seed, rank, 0x6E4E]).generate_state(1)[0])


# --- batch norm over the global batch ------------------------------------------------------
class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the batch of every process.

    ``torch.nn.SyncBatchNorm`` runs on GPUs only; this one works with Gloo on the CPU and with
    NCCL. It keeps BatchNorm2d's parameters, buffers and state-dict keys. Statistics are
    computed in two passes (mean, then centred squares), each summed with an autograd-aware
    all-reduce, so gradients flow across processes exactly as on one big batch.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only training syncs: evaluation (or a rank-0-only preview) stays local.
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        dtype, x = x.dtype, x.float()  # statistics in float32 also under autocast
        # Every process holds an equal share of the global batch (training drops the last
        # partial batch), so the count needs no communication and no device sync.
        n = float(x.numel() // x.shape[1] * dist.get_world_size())
        mean = _AllReduceSum.apply(x.sum((0, 2, 3))) / n
        centred = x - mean[None, :, None, None]
        var = _AllReduceSum.apply(centred.pow(2).sum((0, 2, 3))) / n
        if self.training and self.track_running_stats:
            self._update_running(mean.detach(), var.detach(), n)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(dtype)

    @torch.no_grad()
    def _update_running(self, mean, var, n: float) -> None:
        self.num_batches_tracked += 1
        momentum = self.momentum
        if momentum is None:  # cumulative moving average
            momentum = 1.0 / float(self.num_batches_tracked)
        unbiased = var * (n / max(n - 1.0, 1.0))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes; the gradient of a sum is the sum of the processes' gradients."""

    @staticmethod
    def forward(ctx, tensor):
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


def convert_sync_batchnorm(module: nn.Module) -> list[nn.Module]:
    """Make every BatchNorm2d in ``module`` a SyncBatchNorm2d, in place (the same objects and
    parameters: optimisers and state dicts are unaffected). Returns the converted modules."""
    converted = [m for m in module.modules() if type(m) is nn.BatchNorm2d]
    for m in converted:
        m.__class__ = SyncBatchNorm2d
    return converted


def revert_sync_batchnorm(modules: list[nn.Module]) -> None:
    for m in modules:
        m.__class__ = nn.BatchNorm2d


def replicate(model: nn.Module, ctx: DistContext, sync_bn: bool) -> list[nn.Module]:
    """Make this process's model a replica of rank 0's (identical even if initialisation is
    not) and, with ``sync_bn``, give its batch norms the global batch's statistics. Returns
    the converted batch norms, for ``revert_sync_batchnorm`` when training ends."""
    ctx.broadcast_state(model)
    return convert_sync_batchnorm(model) if sync_bn else []
