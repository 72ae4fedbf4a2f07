"""The studio's chain: stepped in a worker frame by frame, kept as a bounded history."""
from __future__ import annotations

from collections.abc import Callable
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
    score: np.ndarray | None = None  # float (n,): P(data) of each z, None without a data score


class LiveScore:
    """The data score a running chain applies to each frame, in its worker. The studio sets
    ``current`` when the latent view's fit arrives (or goes), so a chain started before that
    scores its later frames too. Reading one attribute is safe across threads."""

    def __init__(self, score: Callable[[np.ndarray], np.ndarray] | None = None):
        self.current = score

    def __call__(self, z: np.ndarray) -> np.ndarray | None:
        score = self.current
        return None if score is None else np.asarray(score(z), np.float32)


def chain_task(*, run, lock, chain_id: int, z0: np.ndarray | None, n: int, steps: int,
               start_t: int, bn_mode: str, noise_std: float | None, generator,
               score: Callable[[np.ndarray], np.ndarray | None] | None = None,
               start_frame: bool = False):
    """Yield Frames t = start_t + 1 .. start_t + steps (and t = start_t when z0 is None, or
    when ``start_frame``: z0 came from a sampler, or it is another run's chain from the same
    z0), each after a Progress, with the data ``score`` of their codes. ``lock`` is held
    while the model runs."""
    import torch

    from ..imaging import to_uint8
    from ..sampling import markov_chain

    def frame(t, z, x) -> Frame:
        z = z.float().cpu().numpy()
        return Frame(chain_id, t, z, to_uint8(x), score(z) if score is not None else None)

    if z0 is not None:
        z0 = torch.from_numpy(z0).to(run.device)
    with lock:
        chain = markov_chain(run.model, z0, n=n, steps=steps, bn_mode=bn_mode,
                             noise_std=noise_std, generator=generator)
        first = next(chain)  # decodes z0; a continued chain already has it
    if z0 is None or start_frame:
        yield frame(start_t, first.z, first.x)
    for k in range(steps):
        with lock:
            step = next(chain)
        yield Progress(k + 1, steps, f"chain step {start_t + step.t}")
        yield frame(start_t + step.t, step.z, step.x)


def score_task(*, z: list[np.ndarray], score: Callable[[np.ndarray], np.ndarray]):
    """The data score of each stored step's codes (the latent view's fit arrived after them)."""
    out = []
    for k, codes in enumerate(z):
        yield Progress(k, len(z), f"scoring {len(z)} stored chain steps")
        out.append(np.asarray(score(codes), np.float32))
    return out


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
        self.score: list[np.ndarray | None] = []  # P(data) of each step's chains

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
        self.score.append(frame.score)
        if len(self.t) > self.limit:  # keep step 0, drop the oldest after it
            for seq in (self.t, self.z, self.x, self.xy, self.score):
                del seq[1]

    def reproject(self, project) -> None:
        self.xy = [project(z) if project else None for z in self.z]

    def unscored(self) -> list[int]:
        """Indices of the stored steps without a data score."""
        return [k for k, p in enumerate(self.score) if p is None]

    def set_scores(self, z: list[np.ndarray], scores: list[np.ndarray]) -> None:
        """Scores computed for the codes ``z`` (matched by identity: steps dropped or added
        meanwhile are left alone)."""
        by_id = {id(codes): p for codes, p in zip(z, scores, strict=True)}
        self.score = [by_id.get(id(codes), p) for codes, p in zip(self.z, self.score,
                                                                   strict=True)]

    def forget_scores(self) -> None:
        self.score = [None] * len(self.t)

    def scores(self) -> np.ndarray | None:
        """(steps, n) P(data), or None while a step has none."""
        if not self.score or any(p is None for p in self.score):
            return None
        return np.stack(self.score)

    def trajectories(self) -> np.ndarray | None:
        """(steps, n, 2) projected points, or None without a projection."""
        if not self.xy or self.xy[0] is None:
            return None
        return np.stack(self.xy)
