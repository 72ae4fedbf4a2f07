"""The chains eval measures: n chains run in independent batches, in lockstep."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..api import Run


def run_chains(run: Run, z0, steps: int, *, bn_mode: str = "batch", seed: int = 0,
               batch: int | None = None):
    """Yield (t, z_t, x_t) for t = 0..steps of chains from codes ``z0`` (or ``n`` prior draws
    when z0 is an int), run in independent batches of ``batch`` (default: one batch), in
    lockstep: :meth:`genae_studio.api.Run.sample_batches` with ``lockstep``.

    One random stream seeded with ``seed`` draws z_0 first, then the chains' noise; with one
    batch this is exactly ``run.chain(..., seed=seed)``.

    This is eval's one call into the chain: samplers hand their z_0 to it.
    """
    n = z0 if isinstance(z0, int) else len(z0)
    for part in run.sample_batches(n, range(steps + 1), seed=seed, batch_size=batch or n,
                                   bn_mode=bn_mode, z0=None if isinstance(z0, int) else z0,
                                   lockstep=True):
        yield part.t, part.z, part.x
