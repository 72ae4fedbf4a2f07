"""The chains eval measures: n chains run in independent batches, in lockstep."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..api import Run


def run_chains(run: Run, z0, steps: int, *, bn_mode: str = "batch", seed: int = 0,
               batch: int | None = None):
    """Yield (t, z_t, x_t) of chains from codes ``z0`` (or ``n`` prior draws when z0 is an
    int), run in independent batches of ``batch`` (default: one batch), in lockstep.

    One random stream seeded with ``seed`` draws z_0 first, then the chains' noise; with one
    batch this is exactly ``run.chain(..., seed=seed)``.

    This is eval's one call into the chain (samplers hand their z_0 to it); it becomes
    ``Run.sample_batches(..., z0=z0)`` once that exists.
    """
    import torch

    gen = torch.Generator(run.device).manual_seed(int(seed))
    if isinstance(z0, int):
        z0 = run.model.sample_prior(z0, generator=gen)
    z0 = torch.as_tensor(z0, dtype=torch.float32).to(run.device)
    size = len(z0) if batch is None else max(1, int(batch))
    chains = [run.chain(z0[i:i + size], n=len(z0[i:i + size]), steps=steps, bn_mode=bn_mode,
                        generator=gen) for i in range(0, len(z0), size)]
    for parts in zip(*chains, strict=True):
        if len(parts) == 1:
            yield parts[0].t, parts[0].z, parts[0].x
        else:
            yield parts[0].t, torch.cat([p.z for p in parts]), torch.cat([p.x for p in parts])
