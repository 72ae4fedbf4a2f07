"""MCMC diagnostics of the chains, because the paper's sampler is a Markov chain.

For every chain, a few scalar summaries of z_t at every step t (:data:`SUMMARIES`): the code's
norm, the data score (P(looks like encoded data)) and the projections on the latent view's
two axes (PCA of the held-out codes' posterior means). From these traces (chains x steps):

* autocorrelation and effective sample size per summary: arviz-stats' bulk ESS for chains of
  at least :data:`MIN_ESS_DRAWS` draws (for shorter ones it comes out far too high), else the
  same formula with the autocorrelation measured across the many chains
  (:func:`ess_across_chains`); and the correlation across chains between the first and the
  last step (``start_correlation``: how much the chains still remember their start);
* rank-normalised split R-hat (arviz-stats), which assumes independent chains;
* nested R-hat (Margossian et al. 2024; arviz-stats ``rhat_nested``) with each batch-norm
  batch as a superchain: in ``batch`` mode the chains of one batch share its statistics, so
  they are not independent (ArviZ #977, #2156 for ensemble samplers). With one batch there is
  one superchain and nested R-hat is undefined (reported as None, with the reason);
* a recommended stopping step t* (:func:`stopping_step`), with the rule that chose it.

Traces are short (a chain of T steps gives T + 1 draws), so these numbers describe how far the
chains have settled, not a long-run equilibrium; with fewer than 4 draws R-hat is None.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SUMMARIES = ("norm", "data_score", "axis1", "axis2")
MIN_DRAWS = 4  # R-hat needs this many draws per chain
# arviz-stats' ESS needs long chains: with hundreds of chains of 6 to 30 draws its estimate
# runs 2 to 20 times too high (up to its cap, draws x log10(draws)); below this it is None
MIN_ESS_DRAWS = 50
SETTLED = 0.1  # t* needs every summary's mean within this share of the chains' spread
NEAR_BEST = 0.05  # ... and FD within 5% of the best measured FD
MAX_LAG = 10


@dataclass
class TraceRecorder:
    """Collects the summaries of every step's codes: ``add(z)`` per step, in order."""

    score: object = None  # a DataScore, or None
    axes: np.ndarray | None = None  # (2, K) the latent view's axes
    center: np.ndarray | None = None
    steps: list = field(default_factory=list)

    def add(self, z) -> None:
        import numpy as np

        z = np.asarray(z, dtype=np.float64)
        row = {"norm": np.linalg.norm(z, axis=1)}
        if self.score is not None:
            row["data_score"] = np.asarray(self.score(z), dtype=np.float64)
        if self.axes is not None:
            xy = (z - self.center) @ np.asarray(self.axes, np.float64).T
            row["axis1"], row["axis2"] = xy[:, 0], xy[:, 1]
        self.steps.append(row)

    def traces(self) -> dict[str, np.ndarray]:
        """{summary: (chains, steps)}."""

        import numpy as np

        if not self.steps:
            return {}
        return {k: np.stack([s[k] for s in self.steps], axis=1) for k in self.steps[0]}


def _finite(value) -> float | None:
    import numpy as np

    value = float(value)
    return round(value, 4) if np.isfinite(value) else None


def _quiet(function, *args, **kwargs):
    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return function(*args, **kwargs)


def ess(trace) -> float | None:
    """Bulk effective sample size of a (chains, draws) trace (arviz-stats); None for chains
    shorter than :data:`MIN_ESS_DRAWS` draws (the estimate is unreliable there) or a
    constant trace."""

    import numpy as np
    from arviz_stats.base import array_stats

    trace = np.asarray(trace, np.float64)
    if trace.shape[1] < MIN_ESS_DRAWS or np.ptp(trace) == 0:
        return None
    return _finite(_quiet(array_stats.ess, trace, chain_axis=0, draw_axis=1, method="bulk"))


def rhat(trace) -> float | None:
    """Rank-normalised split R-hat of a (chains, draws) trace (assumes independent chains)."""

    import numpy as np
    from arviz_stats.base import array_stats

    trace = np.asarray(trace, np.float64)
    if trace.shape[1] < MIN_DRAWS or trace.shape[0] < 2 or np.ptp(trace) == 0:
        return None
    return _finite(_quiet(array_stats.rhat, trace, chain_axis=0, draw_axis=1, method="rank"))


def rhat_nested(trace, superchains) -> float | None:
    """Nested R-hat with ``superchains[i]`` the group of chain i; chains beyond complete equal
    groups are left out. None for fewer than 2 groups."""

    import numpy as np
    from arviz_stats.base import array_stats

    trace = np.asarray(trace, np.float64)
    ids = np.asarray(superchains)
    groups, counts = np.unique(ids, return_counts=True)
    if len(groups) < 2 or trace.shape[1] < MIN_DRAWS or np.ptp(trace) == 0:
        return None
    size = counts.min()
    keep = np.concatenate([np.flatnonzero(ids == g)[:size] for g in groups])
    return _finite(_quiet(array_stats.rhat_nested, trace[keep], superchain_ids=list(ids[keep]),
                          chain_axis=0, draw_axis=1, method="rank"))


def autocorrelation(trace, max_lag: int = MAX_LAG) -> list[float]:
    """Autocorrelation at lags 0..max_lag: with chains of at least :data:`MIN_ESS_DRAWS`
    draws the mean over chains of each chain's own (arviz-stats); with shorter chains, the
    correlation across chains of the summary at step t and at step t + lag, averaged over t
    (:func:`lagged_correlation`): many short chains estimate it well, and for a stationary
    chain both equal the autocorrelation."""
    import numpy as np
    from arviz_stats.base import array_stats

    trace = np.asarray(trace, np.float64)
    if trace.shape[1] < 2:
        return []
    lags = min(max_lag, trace.shape[1] - 1) + 1
    if trace.shape[1] < MIN_ESS_DRAWS:
        return [lagged_correlation(trace, k) for k in range(lags)]
    acf = _quiet(array_stats.autocorr, trace, axis=-1)
    return [_finite(v) for v in np.nanmean(acf[:, :lags], axis=0)]


def ess_across_chains(trace) -> float | None:
    """ESS of many short chains: chains x draws / tau, tau = 1 + 2 sum_k rho_k, with rho_k
    the lag-k correlation measured across chains (:func:`lagged_correlation`), summed until
    the first lag where it is not positive (Geyer's initial positive sequence, as arviz does
    within chains). The sum stops at the chains' length too, so a correlation that lasts
    longer makes this an upper bound. None for a constant trace or a single chain."""
    import numpy as np

    trace = np.asarray(trace, np.float64)
    chains, draws = trace.shape
    if chains < 3 or np.ptp(trace) == 0:
        return None
    tau = 1.0
    for k in range(1, draws):
        rho = lagged_correlation(trace, k)
        if rho is None or rho <= 0:
            break
        tau += 2.0 * rho
    return _finite(chains * draws / tau)


def lagged_correlation(trace, lag: int, start: int = 0) -> float | None:
    """Mean over steps t >= start of the correlation across chains between the summary at
    t and at t + lag; None when no step pair varies across chains. ``lag`` = last step with
    ``start`` = 0 is how much the chains still remember where they started."""
    import numpy as np

    trace = np.asarray(trace, np.float64)
    values = []
    for t in range(start, trace.shape[1] - lag):
        a, b = trace[:, t], trace[:, t + lag]
        if a.std() > 0 and b.std() > 0:
            values.append(np.corrcoef(a, b)[0, 1])
    return _finite(np.mean(values)) if values else None


def settled_step(traces: dict[str, np.ndarray], tolerance: float = SETTLED) -> int | None:
    """The first step t after which every summary's mean over chains stays near its last
    value: within ``tolerance`` x (its spread over chains at the last step), or within three
    standard errors of a difference of two such means (3 sqrt(2 / chains) x spread) when
    that is larger, so that few chains do not mistake noise for movement."""
    import numpy as np

    last = None
    for trace in traces.values():
        mean, spread = trace.mean(axis=0), trace[:, -1].std()
        allowed = max(tolerance, 3.0 * np.sqrt(2.0 / trace.shape[0])) * spread
        off = np.abs(mean - mean[-1]) > allowed if spread > 0 else mean != mean[-1]
        moved = np.flatnonzero(off)
        step = int(moved[-1]) + 1 if len(moved) else 0
        last = step if last is None else max(last, step)
    return last


def stopping_step(traces: dict[str, np.ndarray], fd_by_step: dict[int, float]) -> dict:
    """A recommended stopping step t* and how it was chosen.

    t* is the earliest measured step whose FD is within 5% of the lowest measured FD and that
    is not before the step at which the summaries settled (:func:`settled_step`); when no
    measured step satisfies both, the earliest step within 5% of the best FD.
    """
    settled = settled_step(traces) if traces else None
    fds = {int(t): v for t, v in fd_by_step.items() if v is not None}
    if not fds:
        return {"t_star": settled, "settled_step": settled,
                "rule": "no FD measured: the step at which the summaries settled"}
    best = min(fds.values())
    near = sorted(t for t, v in fds.items() if v <= best * (1 + NEAR_BEST))
    after = [t for t in near if settled is None or t >= settled]
    t_star = after[0] if after else near[0]
    rule = (f"earliest measured step with FD within {NEAR_BEST:.0%} of the lowest measured FD "
            f"({best:.3g}) and not before the summaries settled (every summary's mean over "
            f"chains within max({SETTLED}, 3 sqrt(2/chains)) x its spread over chains of its "
            f"final value from step {settled} on)")
    if not after:
        rule += "; no measured step satisfied both, so the FD condition alone"
    return {"t_star": t_star, "settled_step": settled, "best_fd_step": min(fds, key=fds.get),
            "rule": rule}


def chain_diagnostics(traces: dict[str, np.ndarray], superchains=None,
                      fd_by_step: dict | None = None) -> dict:
    """Per summary: ESS, R-hat, nested R-hat (with ``superchains``), autocorrelation, and the
    mean and spread over chains at every step; with t*. JSON-ready values."""

    import numpy as np

    chains = next(iter(traces.values())).shape[0] if traces else 0
    groups = 0 if superchains is None else len(np.unique(superchains))
    out: dict = {"chains": int(chains),
                 "draws": int(next(iter(traces.values())).shape[1]) if traces else 0,
                 "superchains": groups, "summaries": {}}
    if groups < 2:
        out["rhat_nested_note"] = nested_rhat_note(superchains)
    for name, trace in traces.items():
        short = trace.shape[1] < MIN_ESS_DRAWS
        out["summaries"][name] = {
            "ess": ess_across_chains(trace) if short else ess(trace), "rhat": rhat(trace),
            "rhat_nested": rhat_nested(trace, superchains) if groups >= 2 else None,
            "autocorrelation": autocorrelation(trace),
            "start_correlation": lagged_correlation(trace, trace.shape[1] - 1)
            if trace.shape[1] > 1 else None,
            "mean": [_finite(v) for v in trace.mean(axis=0)],
            "sd": [_finite(v) for v in trace.std(axis=0)]}
    values = [s["ess"] for s in out["summaries"].values() if s["ess"] is not None]
    out["min_ess"] = min(values) if values else None
    out["ess_method"] = "arviz-stats bulk ESS within chains"
    if out["draws"] < MIN_ESS_DRAWS:
        out["ess_method"] = (f"across chains: chains of {out['draws']} draws are too short for "
                             f"arviz's within-chain estimate (needs {MIN_ESS_DRAWS}); chains x "
                             "draws / (1 + 2 sum of the positive lag correlations measured "
                             "across chains), an upper bound when correlation outlasts the "
                             "chain; start_correlation is how much the last step still "
                             "depends on the start")
    starts = [abs(s["start_correlation"]) for s in out["summaries"].values()
              if s["start_correlation"] is not None]
    out["max_start_correlation"] = max(starts) if starts else None
    rhats = [s["rhat"] for s in out["summaries"].values() if s["rhat"] is not None]
    out["max_rhat"] = max(rhats) if rhats else None
    nested = [s["rhat_nested"] for s in out["summaries"].values() if s["rhat_nested"] is not None]
    out["max_rhat_nested"] = max(nested) if nested else None
    out["stopping"] = stopping_step(traces, fd_by_step or {})
    return out


def nested_rhat_note(superchains) -> str:
    """Why nested R-hat is None: it compares superchains (groups of chains that may depend on
    each other), so it needs at least two of them."""
    if superchains is None:
        return ("not needed: the chains are independent (batch norm eval or precise), so the "
                "rank R-hat applies as it is; nested R-hat is for chains that share a "
                "batch-norm batch")
    return ("undefined: all chains share one batch-norm batch, so they form one superchain "
            "and there is no between-superchain variance to compare (--chain-batch B runs "
            "them in independent batches of B, which changes the chain; --bn-mode eval or "
            "precise makes every chain independent)")


def batch_ids(chains: int, batch: int | None) -> np.ndarray:
    """The batch-norm batch of each chain when n chains run in batches of ``batch``."""

    import numpy as np

    size = chains if not batch else int(batch)
    return np.arange(chains) // max(1, size)
