"""Batch-independent batch norm for sampling: "precise" statistics, as fvcore's PreciseBN.

In the paper's ``batch`` mode every batch-norm layer normalises with the statistics of the
current minibatch, so a chain's path depends on the other chains in its batch (and on the
batch size). ``eval`` mode uses the running averages kept during training, which are an
exponential average over weights that kept changing. The ``precise`` mode re-estimates those
statistics with the trained weights fixed: many training batches go through the model as in
training (the denoising models' inputs corrupted, the VAE's codes drawn), and each layer's
running mean and variance become the plain average of the per-batch statistics (PyTorch's
``momentum=None``, the estimator of fvcore's ``update_bn_stats``). Sampling then normalises
with those fixed numbers: every chain is independent of the others.

The statistics are kept on the batch-norm modules as a plain attribute (not a buffer, so
checkpoints are unchanged) and cached on disk as safetensors, keyed by the weights and the
data.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import DataError, UsageError
from ..imaging import to_float_tensor

ATTR = "_precise_bn_stats"  # (mean, var) on each batch-norm module
FORMAT = "genae-studio-precise-bn"


@dataclass
class PreciseSettings:
    """How many training batches the statistics average over (fvcore's default is 200)."""

    batches: int = 200
    batch_size: int = 64
    seed: int = 0


def batch_norms(model: nn.Module) -> list[tuple[str, nn.modules.batchnorm._BatchNorm]]:
    """The model's batch-norm layers that keep running statistics, by name."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None]


def has_precise_stats(model: nn.Module) -> bool:
    bns = batch_norms(model)
    return all(getattr(m, ATTR, None) is not None for _, m in bns)


def install(model: nn.Module, stats: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Attach precise statistics ({layer name: (mean, var)}) to the model's batch norms."""
    bns = dict(batch_norms(model))
    if set(stats) != set(bns):
        raise DataError("the precise batch-norm statistics do not match this model's layers")
    for name, (mean, var) in stats.items():
        bn = bns[name]
        if mean.shape != bn.running_mean.shape or var.shape != bn.running_var.shape:
            raise DataError(f"precise batch-norm statistics for {name}: wrong shape")
        setattr(bn, ATTR, (mean.to(bn.running_mean), var.to(bn.running_var)))


def precise_stats(model: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The precise statistics installed on the model ({layer name: (mean, var)}), to
    :func:`install` on a copy of it."""
    return {name: getattr(m, ATTR) for name, m in batch_norms(model)
            if getattr(m, ATTR, None) is not None}


def missing_message() -> str:
    return ("batch-norm mode 'precise' needs statistics estimated on training data first: "
            "run.prepare_bn('precise') or genae_studio.sampling.prepare(model, dataset)")


def estimate(model, dataset, settings: PreciseSettings | None = None, *,
             on_progress: Callable[[int, int], None] | None = None
             ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Average the per-batch statistics of ``settings.batches`` training batches.

    The weights are not touched; the model's running statistics and modes are restored.
    Only the batch-norm layers run in training mode (nothing else, e.g. dropout, changes).
    """
    settings = settings or PreciseSettings()
    if len(dataset) < 2:
        raise DataError(f"{dataset.name}: too few images ({len(dataset)}) for batch-norm "
                        f"statistics")
    bns = batch_norms(model)
    saved = [(m, m.momentum, m.running_mean.clone(), m.running_var.clone(),
              m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
             for _, m in bns]
    was_training = model.training
    device = model.device
    rng = np.random.default_rng(settings.seed)
    gen = torch.Generator(device).manual_seed(settings.seed)
    batch = min(settings.batch_size, len(dataset))
    try:
        model.eval()
        for _, m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average of the batch statistics
            m.train()
        with torch.no_grad():
            for i in range(settings.batches):
                idx = np.sort(rng.choice(len(dataset), batch, replace=False))
                x = to_float_tensor(dataset.batch(idx), device)
                if model.denoising:
                    x = model.corrupt(x, None, gen)
                x = x.contiguous(memory_format=torch.channels_last)
                model.decode(model.encode(x, sample=True, generator=gen))
                if on_progress:
                    on_progress(i + 1, settings.batches)
        return {name: (m.running_mean.detach().clone(), m.running_var.detach().clone())
                for name, m in bns}
    finally:
        for m, momentum, mean, var, tracked in saved:
            m.momentum = momentum
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)
        model.train(was_training)


def cache_key(model: nn.Module, dataset, settings: PreciseSettings) -> str:
    """A digest of the weights, the training data and the settings."""
    from ..features import fingerprint

    h = hashlib.blake2b(digest_size=10)
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    h.update(fingerprint(dataset).encode())
    h.update(json.dumps(asdict(settings), sort_keys=True).encode())
    return h.hexdigest()


def prepare(model, dataset, settings: PreciseSettings | None = None, *,
            log: Callable[[str], None] | None = None, cache: bool = True,
            on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Load the model's precise statistics from the cache, or estimate and cache them;
    install them on the model. Returns {"from_cache": bool, "path": str}.
    ``on_progress(done, total)`` follows the estimate batch by batch."""
    from safetensors.torch import load_file, save

    from ..cache import load_or_compute
    from ..env import cache_dir

    settings = settings or PreciseSettings()
    if settings.batches < 1 or settings.batch_size < 2:
        raise UsageError("precise batch norm needs at least 1 batch of at least 2 images")
    key = cache_key(model, dataset, settings)
    path = Path(cache_dir()) / "precise-bn" / f"{key}.safetensors"

    def load(entry: Path) -> dict:
        flat = load_file(entry)
        stats = {name[:-5]: (flat[name], flat[name[:-5] + ".var"])
                 for name in flat if name.endswith(".mean")}
        install(model, stats)  # a foreign file fails here: estimate again
        return stats

    def compute() -> dict:
        if log:
            log(f"estimating precise batch-norm statistics on {dataset.name} "
                f"({settings.batches} batches of {settings.batch_size})")
        stats = estimate(model, dataset, settings, on_progress=on_progress)
        install(model, stats)
        return stats

    def encode(stats: dict) -> dict[Path, bytes]:
        if not cache:
            return {}
        flat = {}
        for name, (mean, var) in stats.items():
            flat[f"{name}.mean"] = mean.cpu().contiguous()
            flat[f"{name}.var"] = var.cpu().contiguous()
        return {path: save(flat, metadata={"format": FORMAT})}

    _, _, from_cache = load_or_compute(load, compute, encode, path, refresh=not cache,
                                       what="the precise batch-norm statistics", log=log)
    return {"from_cache": from_cache, "path": str(path)}
