"""Every row of one run: each sampler's chain steps, the interpolations (with an attribute),
the floors; and each sampler's MCMC diagnostics."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .chains import run_chains
from .controls import BLUR_SIGMA, CONTROLS, JUNK, RULE, control_rows, junk_blind
from .diagnostics import TraceRecorder, batch_ids, chain_diagnostics
from .interpolations import decisiveness
from .quality import attribute_column, reference_rows, step_metrics
from .samplers import DEFAULT_SAMPLER, SamplerContext, build_sampler, draw, parse_samplers

if TYPE_CHECKING:
    from ..api import Run
    from .reference import Reference


def evaluate_run(run: Run, reference: Reference, steps: list[int], *, seed: int = 0,
                 points: int = 10, bn_mode: str = "batch", label: str | None = None,
                 data: str | None = None, chain_batch: int | None = None,
                 samplers=(DEFAULT_SAMPLER,), sweep=(), host=None,
                 context: SamplerContext | None = None, log=None,
                 controls=CONTROLS) -> dict:
    """All rows for one run: for each sampler its chain steps, then interpolations (if an
    attribute), the floors and the control rows (:mod:`.controls`), all at the same n; and
    ``controls``: the measures a junk control fools (``junk_blind``).

    ``samplers`` are names with options (``"gmm:n_components=5"``) or
    :class:`~.samplers.SamplerChoice`; each draws n starting codes with the same seed, and
    the chain runs from them with the same random stream, so samplers differ only in z_0.
    ``sweep`` holds more choices (the prior's temperature sweep) measured at step 0 only.
    ``chain_batch`` runs the chains in independent batches of that size (default: one batch
    of all n); the metrics still see all n chains. Keys starting with ``_`` hold images for
    the figures, not the JSON.
    """
    from ..plugins import load_plugins

    count = len(reference.codes)
    host = host or (context.host if context else None) or load_plugins()
    choices = _choices(samplers, host)
    sweep = [c for c in _choices(sweep, host) if c.label not in {x.label for x in choices}]
    context = context or SamplerContext(run, seed=seed, bn_mode=bn_mode, host=host, log=log)
    rows, samples, infos = [], {}, []
    for choice, chain_steps in [*((c, steps) for c in choices), *((c, [0]) for c in sweep)]:
        sampler = build_sampler(choice, context)
        z0 = draw(sampler, count, seed=seed, latent_dim=run.model.latent_dim,
                  label=choice.label)
        if log:
            log(f"{label or run.name}: sampler {choice.label}, steps "
                f"{','.join(map(str, chain_steps))}")
        measured, shown, traces = _measure_chain(run, reference, z0, chain_steps, seed=seed,
                                                 bn_mode=bn_mode, chain_batch=chain_batch)
        for row in measured:
            rows.append({"kind": "chain", "sampler": choice.label, **row})
        samples[choice.label] = shown
        fd = {r["step"]: r.get("fd") for r in measured}
        superchains = batch_ids(count, chain_batch) if bn_mode == "batch" else None
        infos.append({"label": choice.label, "name": choice.spec.name,
                      "plugin": choice.spec.plugin, "options": {**choice.spec.options,
                                                                **choice.options},
                      "sweep": choice in sweep, "steps": list(chain_steps),
                      "info": dict(getattr(sampler, "info", None) or {}),
                      "diagnostics": chain_diagnostics(traces, superchains, fd)
                      if len(chain_steps) > 1 or max(chain_steps) > 0 else None})
        note = (infos[-1]["diagnostics"] or {}).get("rhat_nested_note")
        if log and note and len(infos) == 1:  # said once per run: it holds for every sampler
            log(f"{label or run.name}: nested R-hat is {note}")
    result = {"run": label or run.name, "model": run.name,
              "path": str(run.path) if run.path else None,
              "data": data or reference.info.get("data"), "n": count,
              "chain_batch": chain_batch or count, "bn_mode": bn_mode,
              "features": {k: v for k, v in reference.extractor.info.items() if k != "heads"},
              "feature_mode": reference.extractor.mode, "attribute": reference.attribute,
              "attribute_column": attribute_column(reference.attribute),
              "spaces": list(reference.spaces),
              "extra_spaces": {k: v.info for k, v in reference.extra_spaces.items()},
              "pca": None if reference.pca is None else
              {"dim": int(reference.pca.components.shape[1]),
               "explained": reference.pca.explained},
              "data_score": reference.info.get("data_score"),
              "samplers": infos, "rows": rows}
    first = choices[0].label
    result["_samples"] = samples[first]
    result["_sampler_samples"] = {k: v for k, v in samples.items() if k != first and
                                  k in {c.label for c in choices}}
    if reference.attribute is not None:
        interp = decisiveness(run, reference, steps, points=points, seed=seed, bn_mode=bn_mode,
                              chain_batch=chain_batch)
        rows.extend(interp["rows"])
        result["pairs"] = int(len(interp["pairs"]))
        result["_interp"] = interp["images"]
    rows.extend(reference_rows(run, reference, bn_mode=bn_mode, seed=seed))
    if controls:
        if log:
            log(f"{label or run.name}: controls {','.join(controls)}")
        rows.extend(control_rows(run, reference, bn_mode=bn_mode, seed=seed,
                                 controls=controls))
        result["controls"] = {"kinds": list(controls), "junk": [c for c in JUNK
                                                                 if c in controls],
                              "blur_sigma": BLUR_SIGMA, "rule": RULE,
                              "junk_blind": junk_blind(rows, choices[0].label)}
    result["_steps"] = list(steps)
    return result


def _choices(samplers, host) -> list:
    from .samplers import SamplerChoice

    if isinstance(samplers, str):
        return parse_samplers(samplers, host.samplers)
    return [s if isinstance(s, SamplerChoice) else parse_samplers(s, host.samplers)[0]
            for s in samplers]


def _measure_chain(run: Run, reference: Reference, z0, steps: list[int], *, seed: int,
                   bn_mode: str, chain_batch: int | None):
    """Rows of the wanted steps of chains from z0, the first 12 chains' images per step, and
    the traces of every step's summaries."""
    recorder = TraceRecorder(reference.score, *_view(reference))
    rows, shown = [], []
    for t, z, x in run_chains(run, z0, max(steps), bn_mode=bn_mode, seed=seed,
                              batch=chain_batch):
        z = z.float().cpu().numpy()
        recorder.add(z)
        if t in steps:
            x = x.float().cpu().numpy()
            rows.append({"step": t, "n": len(z), **step_metrics(reference, z, x)})
            shown.append(x[:12])
    return rows, shown, recorder.traces()


def _view(reference: Reference):
    """(axes, center) of the latent view: PCA of the held-out posterior means."""
    if reference.means is None:
        return None, None
    from ..latent import EncodedData, fit_view

    view = fit_view(EncodedData(reference.means, reference.codes, reference.prior), "means")
    return view.axes, view.center
