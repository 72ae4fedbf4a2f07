"""The studio's chain: stepped in a worker frame by frame, kept as a bounded history."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .progress import Progress

HISTORY = 200  # steps kept: step 0 and the latest HISTORY - 1


@dataclass
class Frame:
    """One chain step as the studio keeps it."""

    chain_id: int
    t: int
    z: np.ndarray  # float32 (n, K)
    x: np.ndarray  # uint8 (n, C, H, W)


def chain_generator(run, seed: int):
    """The random stream of a chain started from ``seed`` (z0 and every step's noise)."""
    import torch

    return torch.Generator(run.device).manual_seed(int(seed))


def chain_task(run, lock, chain_id: int, z0: np.ndarray | None, n: int, steps: int,
               start_t: int, bn_mode: str, noise_std: float | None, generator):
    """Yield Frames t = start_t + 1 .. start_t + steps (and t = 0 when z0 is None), each after
    a Progress. ``lock`` is held while the model runs."""
    import torch

    from ..imaging import to_uint8
    from ..sampling import markov_chain

    if z0 is not None:
        z0 = torch.from_numpy(z0).to(run.device)
    with lock:
        chain = markov_chain(run.model, z0, n=n, steps=steps, bn_mode=bn_mode,
                             noise_std=noise_std, generator=generator)
        first = next(chain)  # decodes z0; a continued chain already has it
    if z0 is None:
        yield Frame(chain_id, 0, first.z.float().cpu().numpy(), to_uint8(first.x))
    for k in range(steps):
        with lock:
            step = next(chain)
        yield Progress(k + 1, steps, f"chain step {start_t + step.t}")
        yield Frame(chain_id, start_t + step.t, step.z.float().cpu().numpy(), to_uint8(step.x))


class ChainHistory:
    """The stored chain: step 0 and the latest steps, with their 2-D projections."""

    def __init__(self, limit: int = HISTORY):
        self.limit = limit
        self.clear()

    def clear(self) -> None:
        self.t: list[int] = []
        self.z: list[np.ndarray] = []
        self.x: list[np.ndarray] = []
        self.xy: list[np.ndarray | None] = []

    def __len__(self) -> int:
        return len(self.t)

    @property
    def n(self) -> int:
        return len(self.z[0]) if self.z else 0

    @property
    def last_t(self) -> int:
        return self.t[-1] if self.t else 0

    def append(self, frame: Frame, xy: np.ndarray | None) -> None:
        self.t.append(frame.t)
        self.z.append(frame.z)
        self.x.append(frame.x)
        self.xy.append(xy)
        if len(self.t) > self.limit:  # keep step 0, drop the oldest after it
            for seq in (self.t, self.z, self.x, self.xy):
                del seq[1]

    def reproject(self, project) -> None:
        self.xy = [project(z) if project else None for z in self.z]

    def trajectories(self) -> np.ndarray | None:
        """(steps, n, 2) projected points, or None without a projection."""
        if not self.xy or self.xy[0] is None:
            return None
        return np.stack(self.xy)
