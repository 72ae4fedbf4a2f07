"""The studio's samplers of the chain's starting codes z0 (the prior at a temperature, the GMM
on encoded training codes, the reweighted prior, a plugin's), and the MCMC diagnostics of the
chains on screen.

A sampler is built (fitted) in a worker, with its progress and stops between stages; the
built samplers of a run are kept in a :class:`SamplerStore` that the GUI thread owns, so each
is fitted once per run and batch-norm mode (the GMM's parameters are also cached on disk).
The GUI thread never fits, encodes or draws: :func:`start_codes_task` does, and returns the
sampler with the codes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .progress import Progress, raise_if_stopped, reporter

DEFAULT = "prior"


def sampler_text(name: str, temperature: float = 1.0) -> str:
    """The ``--sampler`` text of the studio's choice: the temperature is the prior's."""
    if name == DEFAULT and float(temperature) != 1.0:
        return f"{DEFAULT}:temperature={float(temperature):g}"
    return name


def is_plain_prior(text: str) -> bool:
    """The paper's start, N(0, I), which the chain draws itself (as before samplers)."""
    return text == DEFAULT


@dataclass
class SamplerStore:
    """The built samplers of one run and batch-norm mode, and the context they share
    (encoded training codes, the data score). The GUI thread makes and replaces it; the
    sampler job fills ``built`` (one job at a time; a cancelled job that still finishes its
    fit adds an equal sampler under the same label)."""

    run: object = None
    bn_mode: str = ""
    context: object = None
    built: dict = field(default_factory=dict)  # label -> sampler

    def for_run(self, run, bn_mode: str, host) -> SamplerStore:
        """This store, emptied first when the run or mode changed."""
        if run is not self.run or bn_mode != self.bn_mode:
            from ..evaluation.samplers import SamplerContext

            self.run, self.bn_mode, self.built = run, bn_mode, {}
            self.context = SamplerContext(run, seed=0, bn_mode=bn_mode, host=host)
        return self


@dataclass
class StartCodes:
    """What :func:`start_codes_task` returns: the sampler (kept for the metrics' chains) and
    n codes drawn with the chain's seed."""

    label: str
    sampler: object
    z0: np.ndarray  # float32 (n, K)
    info: dict


def start_codes_task(*, run, lock, host, store: SamplerStore, text: str, n: int, seed: int,
                     report: Callable[[object], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> StartCodes:
    """Build the sampler named by ``text`` (``gmm``, ``prior:temperature=0.8``; fitted once
    per run: ``store.built``) and draw ``n`` codes with ``seed``. Progress names each stage
    (encoding the training images, fitting); a stop request is honoured between them."""
    from ..evaluation.samplers import build_sampler, draw, parse_sampler

    report = reporter(report)
    choice = parse_sampler(text, host.samplers)
    sampler = store.built.get(choice.label)
    if sampler is None:
        context = store.context

        def log(message: str) -> None:
            raise_if_stopped(should_stop, f"sampler {choice.label}")
            report(Progress(0, 0, f"sampler {choice.label}: {message}"))

        context.log = log
        report(Progress(0, 0, f"sampler {choice.label}: building (fitted once per run)"))
        try:
            with lock:  # it may encode training images with the model
                sampler = build_sampler(choice, context)
        finally:
            context.log = None
        store.built[choice.label] = sampler
    raise_if_stopped(should_stop, f"sampler {choice.label}")
    report(Progress(0, 0, f"sampler {choice.label}: drawing {n} starting codes"))
    z0 = draw(sampler, n, seed=seed, latent_dim=int(run.model.latent_dim), label=choice.label)
    return StartCodes(choice.label, sampler, z0.astype(np.float32),
                      dict(getattr(sampler, "info", None) or {}))


# --- the trace view's diagnostics ------------------------------------------------------------
STATISTICS = {"norm": "latent norm ‖z‖", "axis1": "latent view, axis 1",
              "data_score": "data score P(data)"}


def trace_of(history, statistic: str) -> np.ndarray | None:
    """(chains, steps) of one statistic of a ChainHistory's stored codes; None when it is not
    available yet (no latent view fitted, steps not scored)."""
    if not len(history):
        return None
    if statistic == "norm":
        return np.stack([np.linalg.norm(z, axis=1) for z in history.z], axis=1)
    if statistic == "axis1":
        xy = history.trajectories()
        return None if xy is None else xy[:, :, 0].T.astype(np.float64)
    scores = history.scores()
    return None if scores is None else scores.T.astype(np.float64)


def diagnostics_task(*, traces: dict[str, np.ndarray], bn_mode: str) -> dict:
    """ESS, R-hat and nested R-hat of the traces (genae_studio.evaluation.diagnostics). The
    studio's chains are one batch: in ``batch`` mode they form one superchain (nested R-hat
    undefined, said in ``rhat_nested_note``); otherwise they are independent."""
    from ..evaluation.diagnostics import batch_ids, chain_diagnostics

    chains = next(iter(traces.values())).shape[0]
    superchains = batch_ids(chains, None) if bn_mode == "batch" else None
    return chain_diagnostics(traces, superchains)
