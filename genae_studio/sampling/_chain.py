"""The paper's Markov chain (section 3, Eq. 1 and 2).

Start from z_0 (from the prior, or given). Each step decodes the mean image of
z_t, corrupts it for denoising models, and encodes it: z_{t+1} ~ Q(Z|x). The
next step starts from that output: the chain feeds back.

What the chain is depends on the model:

* VAE, DVAE, DAAE: the encoder draws anew (VAE) or the corruption adds noise (denoising
  models), so the transition operator is stochastic. The paper argues that its stationary
  distribution is P^(Z), the distribution of encoded data. That holds only for an
  encoder/decoder pair that reconstructs perfectly; a real pair adds its reconstruction error
  at every step, and the decoder's mean image (not a draw) is fed back, so after the first
  steps the chain drifts and concentrates on a few modes (see the README's Results).
* AAE: the encoder is deterministic and nothing is corrupted, so a step is the deterministic
  map z -> e(d(z)). Chains with different seeds from the same z_0 are identical, the
  ergodicity argument (a stochastic operator) does not apply, and a long chain settles on
  fixed points or cycles of that map: it collapses onto attractors rather than sampling a
  stationary distribution.

Batch norm: in ``batch`` mode (the paper's) each step normalises with the statistics of the
current batch, so a chain's path depends on the other chains in the batch and on the batch
size. ``eval`` (running averages from training) and ``precise`` (statistics re-estimated on
training data with the weights fixed, ``_precise_bn``) make every chain independent of the
others.

Step t of a chain holds z_t and the image shown for it, x_t = decoder mean of z_t
(the paper's x_{t+1} ~ P(X|z_t)); step 0 is the plain prior sample.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import UsageError
from ..models import GenerativeAutoencoder, cached_plan
from ._options import BN_MODES

CHAIN_PRECISIONS = ("fp32", "bf16")


@dataclass
class ChainStep:
    t: int
    z: torch.Tensor  # (n, K)
    x: torch.Tensor  # (n, C, H, W) in [0, 1]


@contextmanager
def sampling_mode(model: nn.Module, bn_mode: str = "batch"):
    """Eval mode for everything; batch norm uses minibatch statistics ("batch",
    the paper's choice) without touching the running averages, the running
    statistics ("eval"), or the precise statistics installed by
    :func:`genae_studio.sampling.prepare` ("precise"; batch-independent).

    It changes the model's state while inside, so it is not thread-safe: two threads must
    not sample one model at once (the studio serialises model calls with a lock)."""
    if bn_mode not in BN_MODES:
        raise ValueError(f"batch-norm mode must be one of {BN_MODES}, got {bn_mode!r}")
    was_training = model.training
    model.eval()
    saved = []
    if bn_mode == "batch":
        # An eval-mode batch norm without running statistics normalises with the
        # batch and has nothing to update.
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                saved.append((m, m.running_mean, m.running_var))
                m.running_mean = m.running_var = None
    elif bn_mode == "precise":
        from ._precise_bn import ATTR, batch_norms, missing_message

        bns = [m for _, m in batch_norms(model)]
        if any(getattr(m, ATTR, None) is None for m in bns):
            model.train(was_training)
            raise UsageError(missing_message())
        for m in bns:
            saved.append((m, m.running_mean, m.running_var))
            m.running_mean, m.running_var = getattr(m, ATTR)
    try:
        yield model
    finally:
        for m, mean, var in saved:
            m.running_mean, m.running_var = mean, var
        model.train(was_training)


def markov_chain(model: GenerativeAutoencoder, z0: torch.Tensor | None = None, *,
                 n: int = 64, steps: int = 10, bn_mode: str = "batch",
                 corrupt: bool | None = None, noise_std: float | None = None,
                 generator: torch.Generator | None = None,
                 fast: bool = True, precision: str = "fp32") -> Iterator[ChainStep]:
    """Yield steps 0..steps of the chain. Batched, under inference mode, on the model's device.

    ``corrupt`` defaults to the model's ``denoising``; ``noise_std`` to the model's. With
    ``fast`` (the default), built-in DCGAN networks run as compiled plans
    (``genae_studio.models.cached_plan``): the same numbers up to float rounding, faster on the
    CPU. The model's own ``encode``/``decode``/``corrupt`` still run, so stochastic encoders
    draw as before.
    ``precision="bf16"`` runs the networks under bfloat16 autocast (opt-in: about 3x faster
    on CPUs with AMX and on GPUs, but not the same numbers); steps are float32 either way.
    """
    if precision not in CHAIN_PRECISIONS:
        raise ValueError(f"precision must be one of {CHAIN_PRECISIONS}, got {precision!r}")
    corrupt = model.denoising if corrupt is None else corrupt
    device = model.device
    plans = None

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")

    @torch.inference_mode()
    def first():
        nonlocal plans
        if bn_mode not in BN_MODES:
            raise ValueError(f"batch-norm mode must be one of {BN_MODES}, got {bn_mode!r}")
        plans = cached_plan(model, bn_mode) if fast and bn_mode != "precise" else None
        z = model.sample_prior(n, generator=generator) if z0 is None else z0.to(device)
        with sampling_mode(model, bn_mode):
            if fast and bn_mode == "precise":  # folds the statistics sampling_mode installs
                plans = cached_plan(model, bn_mode)
            with _networks(model, plans), autocast():
                return z, model.decode(z).float()

    @torch.inference_mode()
    def step(x):
        with sampling_mode(model, bn_mode), _networks(model, plans), autocast():
            if corrupt:
                x = model.corrupt(x, noise_std, generator)
            z = model.encode(x.contiguous(memory_format=torch.channels_last),
                             generator=generator).float()
            return z, model.decode(z).float()

    # Generators must not yield inside inference mode: it would leak into the caller.
    z, x = first()
    yield ChainStep(0, z, x)
    for t in range(1, steps + 1):
        z, x = step(x)
        yield ChainStep(t, z, x)


def _networks(model, plans):
    return plans.installed(model) if plans is not None else nullcontext()


@dataclass
class ChainRecord:
    """Recorded steps of a chain as numpy arrays."""

    steps: np.ndarray  # (S,)
    z: np.ndarray  # (S, n, K) float32
    x: np.ndarray  # (S, n, C, H, W) float32 in [0, 1]


def record_chain(model: GenerativeAutoencoder, steps: list[int], **chain_kwargs) -> ChainRecord:
    """Run a chain to max(steps) and keep only the listed steps (memory stays bounded)."""
    wanted = sorted(set(int(s) for s in steps))
    if not wanted or wanted[0] < 0:
        raise ValueError("steps must be non-negative integers")
    keep_z, keep_x = {}, {}
    for s in markov_chain(model, steps=wanted[-1], **chain_kwargs):
        if s.t in wanted:
            keep_z[s.t] = s.z.float().cpu().numpy()
            keep_x[s.t] = s.x.float().cpu().numpy()
    order = [int(s) for s in steps]
    return ChainRecord(np.array(order), np.stack([keep_z[t] for t in order]),
                       np.stack([keep_x[t] for t in order]))
