"""The Python API for scripts.

    from genae_studio.api import load_run
    run = load_run(model="vae")            # a bundled run, or load_run("path/to/run")
    rec = run.sample(n=64, steps=[0, 1, 5, 10])
    rec.x.shape                            # (4, 64, 3, 64, 64)
    for step in run.chain(n=16, steps=100):  # stream a chain
        ...
    for part in run.sample_batches(10_000, [0, 5], seed=0, batch_size=256):
        part.start, part.stop, part.t, part.z, part.x  # many chains, one batch in memory
    z = run.encode(images)                 # uint8 (N, C, H, W) or float in [0, 1]
    x = run.decode(z)
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .devices import resolve_device
from .env import resources_dir
from .errors import CheckpointError, DataError, PluginError, UsageError
from .imaging import to_float_tensor
from .plugins import PluginHost, load_hint, load_plugins
from .preflight import check_run
from .runs import RunConfig, fit_weights, read_checkpoint
from .sampling import (
    ChainRecord,
    ChainStep,
    four_corner_grid,
    interpolate,
    markov_chain,
    record_chain,
    sampling_mode,
)


def bundled_run_dir(model: str) -> Path:
    return resources_dir() / "runs" / model


@dataclass
class ChainBatch:
    """Step ``t`` of the chains ``start``..``stop`` (of the n asked for), on the run's device."""

    start: int
    stop: int
    t: int
    z: torch.Tensor  # (stop - start, K)
    x: torch.Tensor  # (stop - start, C, H, W) in [0, 1]


@dataclass
class Interpolation:
    """Codes along the interpolation and their decodings, before and after k chain steps."""

    z: np.ndarray  # (..., K) interpolated codes (before the chain)
    before: np.ndarray  # (..., C, H, W) decodings of z
    after: np.ndarray  # (..., C, H, W) decodings after ``steps`` chain steps
    z_after: np.ndarray
    steps: int


class Run:
    """A loaded model with its config, on a device."""

    def __init__(self, model, config: RunConfig, path: Path | None, device: torch.device):
        self.model = model
        self.config = config
        self.path = path
        self.device = device

    @property
    def name(self) -> str:
        return self.config.model

    @property
    def denoising(self) -> bool:
        return bool(self.model.denoising)

    def chain(self, z0=None, *, n: int = 64, steps: int = 10, bn_mode: str = "batch",
              noise_std: float | None = None, seed: int | None = None,
              generator: torch.Generator | None = None) -> Iterator[ChainStep]:
        """Stream the chain's steps 0..steps (tensors on the run's device).

        Pass one ``generator`` to continue a chain on the same random stream.
        """
        self.prepare_bn(bn_mode)
        return markov_chain(self.model, self._tensor(z0), n=n, steps=steps, bn_mode=bn_mode,
                            noise_std=noise_std, generator=generator or self.generator(seed))

    def sample_batches(self, n: int, steps: Sequence[int], *, seed: int | None = 0,
                       batch_size: int = 256, bn_mode: str = "batch",
                       noise_std: float | None = None, z0=None,
                       progress: Callable[[int, int], None] | None = None,
                       lockstep: bool = False) -> Iterator[ChainBatch]:
        """Run ``n`` chains in batches of ``batch_size``, all on one random stream seeded with
        ``seed``, and yield the listed ``steps`` as ChainBatch records, in ascending t: the
        one way to run many chains (the sample, interpolate and eval commands and the plugin
        checks go through it).

        ``z0``: (n, K) starting codes (array or tensor); by default draws of the prior from the
        stream. Batches run one after another, so memory holds one batch whatever ``n``, and
        each batch draws its prior codes when it starts. With ``lockstep`` the batches advance
        one step together and each yield holds step t of all n chains (``start`` 0, ``stop``
        n), for measures that need every chain of a step at once; the n prior draws then come
        first. With ``bn_mode`` "batch" a chain's path depends on its batch (its statistics).
        ``progress(done, total)`` is called after each step of each batch.
        """
        wanted = sorted({int(s) for s in steps})
        if not wanted or wanted[0] < 0:
            raise ValueError("steps must be non-negative integers")
        if n < 1 or batch_size < 1:
            raise ValueError(f"n and batch_size must be at least 1, got {n} and {batch_size}")
        self.prepare_bn(bn_mode)
        generator = self.generator(seed)
        if z0 is not None:
            z0 = self._tensor(z0)
            if len(z0) != n:
                raise ValueError(f"z0 holds {len(z0)} codes for {n} chains")
        elif lockstep:
            z0 = self.model.sample_prior(n, generator=generator)
        spans = [(start, min(n, start + batch_size)) for start in range(0, n, batch_size)]

        def chain(start, stop):
            return markov_chain(self.model, None if z0 is None else z0[start:stop],
                                n=stop - start, steps=wanted[-1], bn_mode=bn_mode,
                                noise_std=noise_std, generator=generator)

        every = _in_lockstep(spans, chain) if lockstep else _in_turn(spans, chain)
        per_part = len(spans) if lockstep else 1

        def listed():
            for k, part in enumerate(every, 1):
                if progress is not None:
                    progress(k * per_part, len(spans) * (wanted[-1] + 1))
                if part.t in wanted:
                    yield part

        return listed()  # the arguments are checked now, before the first step runs

    def sample(self, n: int = 64, steps: Sequence[int] = (0, 1, 5, 10), *, z0=None,
               bn_mode: str = "batch", noise_std: float | None = None,
               seed: int | None = None) -> ChainRecord:
        """Chains from the prior (or z0); keeps the listed steps as numpy arrays."""
        self.prepare_bn(bn_mode)
        return record_chain(self.model, list(steps), z0=self._tensor(z0), n=n, bn_mode=bn_mode,
                            noise_std=noise_std, generator=self.generator(seed))

    def encode(self, images, *, sample: bool = False, bn_mode: str = "batch") -> torch.Tensor:
        """Codes of images (uint8, or float in [0, 1]); the posterior mode unless ``sample``."""
        x = self._images(images)
        self.prepare_bn(bn_mode)
        with torch.inference_mode(), sampling_mode(self.model, bn_mode):
            return self.model.encode(x, sample=sample)

    def decode(self, z, *, bn_mode: str = "batch") -> torch.Tensor:
        self.prepare_bn(bn_mode)
        with torch.inference_mode(), sampling_mode(self.model, bn_mode):
            return self.model.decode(self._tensor(z))

    def interpolate(self, endpoints: torch.Tensor, *, points: int = 8, steps: int = 5,
                    four: bool = False, method: str = "slerp", bn_mode: str = "batch",
                    seed: int | None = None) -> Interpolation:
        """Interpolate between codes, then apply ``steps`` chain steps to every point.

        ``endpoints``: (pairs, 2, K) for rows between pairs, or (4, K) with ``four``
        for the paper's four-corner grid (points x points).
        """
        endpoints = self._tensor(endpoints)
        if four:
            z = four_corner_grid(endpoints, points, method)
        else:
            z = torch.stack([interpolate(a, b, points, method) for a, b in endpoints])
        flat = z.reshape(-1, z.shape[-1])
        rec = self.sample(len(flat), steps=[0, steps], z0=flat, bn_mode=bn_mode, seed=seed)
        shape = z.shape[:-1]
        return Interpolation(z.cpu().numpy(), rec.x[0].reshape(*shape, *rec.x.shape[2:]),
                             rec.x[1].reshape(*shape, *rec.x.shape[2:]),
                             rec.z[1].reshape(*shape, -1), steps)

    def prepare_bn(self, bn_mode: str = "precise", *, dataset=None,
                   host: PluginHost | None = None, settings=None, log=None,
                   on_progress=None, data: str | None = None,
                   data_format: str | None = None) -> None:
        """Make ``bn_mode`` usable: for "precise", estimate the batch-norm statistics on
        ``dataset`` (default: the run's training data; where that is not found here, the
        training split of ``data``, a dataset name or path) or load them from the cache.
        Other modes need nothing; statistics already installed are kept.
        ``on_progress(done, total)`` is called after each batch (raising from it stops the
        estimate)."""
        from .sampling import has_precise_stats, prepare

        if bn_mode != "precise" or has_precise_stats(self.model):
            return
        if dataset is None:
            dataset = self.training_data(host, data=data, data_format=data_format)
        prepare(self.model, dataset, settings, log=log, on_progress=on_progress)

    def has_bn_stats(self, bn_mode: str) -> bool:
        """Whether ``bn_mode`` can be used without preparing anything first."""
        from .sampling import has_precise_stats

        return bn_mode != "precise" or has_precise_stats(self.model)

    def training_data(self, host: PluginHost | None = None, *, data: str | None = None,
                      data_format: str | None = None, progress=None, cancel=None):
        """The run's training split, as it was trained (format, limit, seed); where the run's
        data is not found here (a path that is gone), ``data`` (and ``data_format``): the
        ``--data`` of the commands, another copy of it. ``progress`` and ``cancel`` follow
        the first decode into the cache (data.cache.use_cache)."""
        from .data import resolve_dataset

        try:
            own = self.config.data_source()
        except DataError:
            if data is None:
                raise
            own = None
        if own:
            data, data_format = own, self.config.data.get("format")
        if not data:
            raise UsageError(f"{self.path}: the run does not name its training data; "
                             f"pass a dataset for the precise batch-norm statistics (--data)")
        return resolve_dataset(data, (host or load_plugins()).datasets, split="train",
                               data_format=data_format,
                               image_size=self.model.image_size,
                               limit=self.config.data.get("limit"),
                               seed=int(self.config.training.get("seed", 0)),
                               progress=progress, cancel=cancel)

    # --- helpers ---------------------------------------------------------------------
    def _tensor(self, value):
        if value is None:
            return None
        return torch.as_tensor(value, dtype=torch.float32).to(self.device)

    def _images(self, images) -> torch.Tensor:
        x = to_float_tensor(images, self.device)
        return x.contiguous(memory_format=torch.channels_last)

    def generator(self, seed: int | None) -> torch.Generator | None:
        """The random stream of ``seed`` on the run's device (None: torch's global stream)."""
        if seed is None:
            return None
        return torch.Generator(self.device).manual_seed(int(seed))


def _in_turn(spans, chain) -> Iterator[ChainBatch]:
    """Every step of each batch's chain, the batches one after another."""
    for start, stop in spans:
        for step in chain(start, stop):
            yield ChainBatch(start, stop, step.t, step.z, step.x)


def _in_lockstep(spans, chain) -> Iterator[ChainBatch]:
    """Every step of all the batches' chains together, as one ChainBatch of all of them."""
    n = spans[-1][1]
    for parts in zip(*[chain(start, stop) for start, stop in spans], strict=True):
        if len(parts) == 1:
            yield ChainBatch(0, n, parts[0].t, parts[0].z, parts[0].x)
        else:
            yield ChainBatch(0, n, parts[0].t, torch.cat([p.z for p in parts]),
                             torch.cat([p.x for p in parts]))


def load_run(path: str | Path | None = None, *, model: str | None = None,
             device: str = "auto", plugins: Sequence[str] = (),
             host: PluginHost | None = None) -> Run:
    """Load a run folder, or the bundled run of ``model`` (vae by default) when no path is given."""
    host = host or load_plugins(list(plugins))
    dev = resolve_device(device)
    if path is None:
        path = bundled_run_dir(model or "vae")
        if not path.is_dir():
            bundled = ", ".join(bundled_models()) or "none"
            raise CheckpointError(f"no bundled run for model {model or 'vae'!r} in "
                                  f"{path.parent} (bundled: {bundled}); for a run you "
                                  "trained, pass --checkpoint RUN (the folder train wrote)")
    path = Path(path)
    check_run(path, host)  # the weights' header against the model, before it is built
    checkpoint = read_checkpoint(path)  # the config and the weights of one committed save
    config = checkpoint.config
    try:
        spec = host.model(config.model)
    except PluginError:
        hint = f"; {load_hint(config.plugin, config.plugin_source)}" if config.plugin else ""
        raise CheckpointError(f"{path}: the run needs model {config.model!r} from plugin "
                              f"{config.plugin!r}, which is not loaded{hint}") from None
    try:
        net = spec.build(config.hparams)
    except PluginError as exc:
        raise CheckpointError(f"{path}: cannot build the run's model: {exc}") from None
    fit_weights(checkpoint, net)
    net = net.to(dev).to(memory_format=torch.channels_last).eval()
    return Run(net, config, path, dev)


def bundled_models() -> list[str]:
    root = resources_dir() / "runs"
    return sorted(p.name for p in root.iterdir() if (p / "config.json").is_file()) \
        if root.is_dir() else []
