"""Sample quality and latent distances of chains at each step: what ``genae-studio eval``
measures, as a library (the command line itself is :mod:`genae_studio.commands.eval`).

Where each part lives:

* :mod:`.reference`: :func:`feature_spaces` (a dataset's training split -> its cached feature
  network and pixel PCA; the one place that builds them) and :func:`build_reference` (codes
  and features of held-out images, the :class:`Reference` every measure compares with);
* :mod:`.quality`: the table's columns (:data:`COLUMNS`, :func:`columns`) and the measures of
  one chain step (:func:`step_metrics`, :func:`chain_metrics`) and of the floors
  (:func:`reference_rows`);
* :mod:`.interpolations`: interpolations between images without and with the dataset's binary
  attribute, run through the chain (the paper's Figure 2);
* :mod:`.samplers`: samplers of the chains' starting codes (plugins, hook
  ``register_samplers``) and what they may use (:class:`SamplerContext`);
* :mod:`.chains` and :mod:`.runner`: the chains from each sampler's codes, and every row of
  one run (:func:`evaluate_run`);
* :mod:`.controls`: the control rows (junk and blurred images scored like samples) and the
  junk-blind rule (:func:`junk_blind`);
* :mod:`.diagnostics`: MCMC diagnostics of the chains (ESS, R-hat, nested R-hat, t*);
* :mod:`.file_features`: feature spaces from local, pinned weights files (Inception-v3);
* :mod:`.report` and :mod:`.figures`: the text table, the JSON document and the PNGs.

The maths of each measure (MMD, Frechet distance, improved precision/recall) is in
:mod:`genae_studio.metrics`. Heavy libraries (torch, numpy) are imported inside the functions,
so that the command line's parser stays light::

    ref = build_reference(run, n=500)                   # once per run (trains/loads features)
    row = step_metrics(ref, z_t, x_t)                   # per chain step, cheap
    curves = chain_metrics(run, ref, z_steps, x_steps)  # {"mmd_data": [...], "fd": [...]}
"""
from .chains import run_chains
from .controls import CONTROLS, control_images, control_rows, junk_blind
from .diagnostics import chain_diagnostics
from .figures import sampler_figure_data, save_figures, save_sampler_figure
from .interpolations import decisiveness, pick_pairs
from .quality import (
    AMBIGUOUS,
    COLUMNS,
    DC_K,
    KNN_K,
    attribute_column,
    chain_metrics,
    columns,
    reference_rows,
    step_metrics,
)
from .reference import (
    FeatureSpaces,
    Reference,
    build_reference,
    decode,
    encode_heldout,
    feature_spaces,
)
from .report import JSON_VERSION, environment, format_table, json_document
from .runner import evaluate_run
from .samplers import (
    SamplerChoice,
    SamplerContext,
    build_sampler,
    draw,
    parse_samplers,
    temperature_sweep,
)

__all__ = ["AMBIGUOUS", "COLUMNS", "CONTROLS", "DC_K", "JSON_VERSION", "KNN_K", "FeatureSpaces",
           "Reference", "SamplerChoice", "SamplerContext", "build_sampler", "chain_diagnostics",
           "draw", "parse_samplers", "sampler_figure_data", "save_sampler_figure",
           "temperature_sweep",
           "attribute_column", "build_reference", "control_images", "control_rows",
           "junk_blind", "chain_metrics", "columns", "decisiveness",
           "decode", "encode_heldout", "environment", "evaluate_run",
           "feature_spaces", "format_table", "json_document", "pick_pairs", "reference_rows",
           "run_chains", "save_figures", "step_metrics"]
