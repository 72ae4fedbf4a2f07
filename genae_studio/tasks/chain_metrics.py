"""Chain metrics against t for the studio: latent MMD² to P^(Z) and to P(Z), and the Frechet
distance, on a batch of chains of their own, with bootstrap 95% bands.

The same measures as ``genae-studio eval`` (genae_studio.evaluate). The reference (codes and
features of held-out images, and the dataset's feature network, trained once and cached) is
built per run, dataset and batch-norm mode; training the feature network reports its progress
and stops within a batch when asked.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .progress import Progress, raise_if_stopped, reporter

REFERENCE_N = 500  # held-out images the chains are compared with
MAX_POINTS = 40  # stored steps measured per chain (evenly spaced, always the first and last)
FEATURE_STEPS = 600  # as eval's default: the same cached feature network
N_BOOT = 200  # bootstrap resamples per measured step
PROGRESS_S = 0.1  # feature-training progress at most 10 times a second


def reference_task(*, run, lock, host, data, bn_mode: str, n: int | None = None,
                   feature_steps: int | None = None,
                   report: Callable[[object], None] | None = None,
                   should_stop: Callable[[], bool] | None = None):
    """The evaluate.Reference of ``data``'s held-out images (a LoadedData) for ``run``."""
    from ..evaluation import build_reference, feature_spaces
    from ..features import FeatureSettings

    report = reporter(report)
    n, feature_steps = n or REFERENCE_N, feature_steps or FEATURE_STEPS
    report(Progress(0, 0, f"loading the training split of {data.name} for the feature "
                          "network"))
    sent = [0.0]

    def progress(step: int, total: int) -> None:
        now = time.perf_counter()
        if now - sent[0] >= PROGRESS_S or step == total:
            sent[0] = now
            report(Progress(step, total, f"training the feature network for {data.name} "
                                         f"(once, then cached): step {step}/{total}"))

    raise_if_stopped(should_stop, "the chain metrics' reference")
    extractor = feature_spaces(data.name, host, image_size=run.model.image_size,
                               heldout=data.dataset, device=run.device,
                               settings=FeatureSettings(steps=feature_steps),
                               on_progress=progress, should_stop=should_stop).extractor
    raise_if_stopped(should_stop, "the chain metrics' reference")
    report(Progress(0, 0, f"encoding {min(n, len(data.dataset))} held-out images"))
    with lock:
        return build_reference(run, data.dataset, n=n, extractor=extractor, bn_mode=bn_mode)


@dataclass
class ChainState:
    """Where the metrics' own chains stand: z_t of every chain and the random stream."""

    z: np.ndarray  # float32 (n, K)
    t: int
    generator_state: object  # the state of the chains' random generator


@dataclass
class Measured:
    t: int
    row: dict  # evaluate.COLUMNS -> value
    bands: dict  # "mmd_data" | "mmd_prior" | "fd" -> (low, high)
    n: int


def measure_task(*, run, lock, reference, state: ChainState | None, n: int,
                 wanted: list[int], bn_mode: str, noise_std: float | None, seed: int,
                 n_boot: int = N_BOOT, sampler=None):
    """Run ``n`` chains on to max(wanted), measuring each wanted step.

    Yields Progress, a Measured for each wanted step and a ChainState after every step (so a
    later task continues where this one stopped). Starts from z0 ~ P(Z) drawn with ``seed``
    when ``state`` is None, or from ``n`` codes of ``sampler`` (a built sampler, see
    genae_studio.tasks.samplers) drawn with ``seed``.
    """
    import torch

    from ..confidence_bands import step_bands
    from ..evaluation import step_metrics
    from ..sampling import markov_chain

    wanted_set = set(wanted)
    generator = torch.Generator(run.device)
    if state is None:
        generator.manual_seed(seed)
        z0, t0 = None, 0
        if sampler is not None:
            from ..evaluation.samplers import draw

            codes = draw(sampler, n, seed=seed, latent_dim=int(run.model.latent_dim))
            z0 = torch.from_numpy(codes.astype(np.float32)).to(run.device)
    else:
        generator.set_state(state.generator_state)
        z0, t0 = torch.from_numpy(state.z).to(run.device), state.t
    target = max(wanted)

    def measured(t, step) -> Measured:
        z = step.z.float().cpu().numpy()
        x = step.x.float().cpu().numpy()
        row = step_metrics(reference, z, x)
        feats = reference.extractor.features(x)
        return Measured(t, row, step_bands(reference, z, feats, n_boot=n_boot, seed=t), len(z))

    yield Progress(0, max(1, target - t0), f"{n} chains for the metrics")
    with lock:
        chain = markov_chain(run.model, z0, n=n, steps=target - t0, bn_mode=bn_mode,
                             noise_std=noise_std, generator=generator)
        first = next(chain)
    if state is None and 0 in wanted_set:
        yield measured(0, first)
    for k in range(target - t0):
        with lock:
            step = next(chain)
        t = t0 + step.t
        yield Progress(k + 1, target - t0, f"metrics: {n} chains, step {t} of {target}")
        if t in wanted_set:
            yield measured(t, step)
        yield ChainState(step.z.float().cpu().numpy(), t, generator.get_state())


def pick_steps(count: int, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` stored steps, evenly spaced, first and last included."""
    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(int))
