"""``genae-studio eval``: sample quality and latent distances at each chain step.

For every run and every requested chain step t the command measures

* ``mmd_data``: unbiased MMD^2 between the chain's z_t and codes of held-out data, i.e.
  samples of P^(Z), which the paper argues is the chain's stationary distribution (true only
  for a perfect encoder/decoder pair). The paper says this falls with t.
* ``mmd_prior``: unbiased MMD^2 between z_t and draws of the prior P(Z) = N(0, I).
* ``data_score``: the mean P(looks like encoded data) of z_t, from a classifier of prior draws
  against codes of held-out data (:class:`genae_studio.latent.DataScore`). A per-sample
  measure: it starts at the prior's level and should rise towards the data's level (the
  ``data`` row holds both the data's and, in JSON, the prior's out-of-fold levels).
* ``fd``: Frechet distance between the decoded x_t and held-out images, in the features of a
  small network trained on the dataset (see :mod:`genae_studio.features`).
* ``precision``/``recall``: Kynkaanniemi et al. (2019), k = 3, in the same features.
* ``fd_pca``/``precision_pca``/``recall_pca``: the same in a second, independently built
  feature space, the top principal components of the training pixels
  (:mod:`genae_studio.pixel_pca`); ``--features`` picks the spaces.
* ``ambiguous``/``glasses`` (datasets with a binary attribute such as toyfaces' sunglasses):
  the share of images whose predicted P(sunglasses) lies in (0.2, 0.8), and the share
  predicted to wear sunglasses (P > 0.5).

``interp`` rows interpolate (slerp) between held-out faces with and without sunglasses and
run the chain from every point: the paper's Figure 2 claim is that ``ambiguous`` falls after a
few steps. Decisiveness alone rewards jumps and lost endpoints, so these rows also report

* ``max_jump`` (smoothness): per pair, the largest CNN-feature distance between consecutive
  points divided by the distance between the pair's two ends at the same step, averaged over
  pairs; 1/(points-1) for evenly spaced points on a line, 1 for a single jump.
* ``kept`` (endpoint faithfulness): the share of endpoints (the chained codes of the two
  original images) whose attribute, as predicted, still equals the original image's label.
* ``end_dist``: the endpoints' mean CNN-feature distance to the original images, divided by
  the mean distance between two random held-out images (0: the same, 1: as far as a stranger).

``recon`` and ``data`` rows are floors, computed on two random halves
of the held-out set: ``data`` compares half A with half B (codes, images), ``recon`` compares
the decoded codes of half A with the images of half B.

The same measures are available without the command line (the studio's metrics panel
calls ``step_metrics`` once per stored step, so that it can report progress and stop)::

    ref = build_reference(run, n=500)                 # once per run (trains/loads features)
    row = step_metrics(ref, z_t, x_t)                 # per chain step, cheap
    curves = chain_metrics(run, ref, z_steps, x_steps)  # {"mmd_data": [...], "fd": [...]}

Heavy libraries (torch, numpy) are imported inside the functions, so the command line's
parser stays light.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import options
from .errors import DataError, UsageError
from .options import BN_MODES

if TYPE_CHECKING:
    import numpy as np

    from .api import Run
    from .data import ImageDataset
    from .features import FeatureExtractor, FeatureSettings
    from .latent import DataScore
    from .pixel_pca import PixelPCA

COLUMNS = ("mmd_data", "mmd_prior", "data_score", "fd", "precision", "recall", "fd_pca",
           "precision_pca", "recall_pca", "ambiguous", "glasses", "max_jump", "kept", "end_dist")
FEATURE_SPACES = ("cnn", "pca")
DEFAULT_STEPS = "0,1,5,10"
AMBIGUOUS = (0.2, 0.8)
PR_K = 3
JSON_VERSION = 2  # 2: PCA columns, interpolation smoothness/faithfulness, environment


# ---------------------------------------------------------------- command line

def add_eval_arguments(parser) -> None:
    """Add the eval options (argparse only: nothing heavy is imported here)."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", nargs="+", type=Path, metavar="DIR",
                        help="run folders to evaluate (one table block each)")
    source.add_argument("--model", nargs="+", metavar="NAME",
                        help="bundled runs to evaluate (default: vae)")
    parser.add_argument("--data", help="held-out data (default: each run's dataset, test split)")
    parser.add_argument("--data-format", help="force the on-disk format of --data")
    parser.add_argument("--steps", default=DEFAULT_STEPS,
                        help=f"chain steps to measure, comma-separated (default {DEFAULT_STEPS})")
    parser.add_argument("--n", type=int, default=2000,
                        help="chains and held-out images per run (default 2000; capped at the "
                             "size of the test split)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda[:i]|mps")
    parser.add_argument("--bn-mode", choices=BN_MODES, default="batch",
                        help="batch norm while sampling: minibatch (the paper; couples the "
                             "chains of a batch), running stats, or precise stats re-estimated "
                             "on the training data (batch-independent)")
    parser.add_argument("--kernel", choices=("imq", "rbf"), default="imq",
                        help="MMD kernel, summed over 7 scales (default imq)")
    parser.add_argument("--attribute", metavar="NAME",
                        help="binary attribute for the decisiveness test (default: the "
                             "dataset's registered one, e.g. toyfaces' sunglasses)")
    parser.add_argument("--points", type=int, default=10,
                        help="points per interpolation, endpoints included (default 10)")
    parser.add_argument("--feature-steps", type=int, default=600,
                        help="training steps of the feature network (default 600; cached)")
    parser.add_argument("--features", default="cnn,pca", metavar="SPACES",
                        help="feature spaces for FD and precision/recall, comma-separated: cnn "
                             "(a small network trained on the dataset), pca (principal "
                             "components of the pixels) (default cnn,pca)")
    parser.add_argument("--chain-batch", type=int, metavar="B",
                        help="run the chains in independent batches of B (default: all n in "
                             "one batch); with --bn-mode batch the batch size changes the "
                             "chain")
    parser.add_argument("--retrain-features", action="store_true",
                        help="train the feature network again instead of using the cache")
    parser.add_argument("--figures", type=Path, metavar="DIR",
                        help="also save sample grids and attribute interpolations as PNG")


def parse_steps(text: str) -> list[int]:
    """"0,1,5,10" -> [0, 1, 5, 10] (sorted, unique); a UsageError otherwise."""
    return sorted(set(options.parse_steps(text)))


def _check_args(args) -> list[int]:
    steps = parse_steps(args.steps)
    if args.n < 10:
        raise UsageError(f"--n must be at least 10, got {args.n}")
    if args.points < 3:
        raise UsageError(f"--points must be at least 3 (two endpoints and one between), "
                         f"got {args.points}")
    if args.feature_steps < 1:
        raise UsageError(f"--feature-steps must be at least 1, got {args.feature_steps}")
    if getattr(args, "chain_batch", None) is not None and args.chain_batch < 2:
        raise UsageError(f"--chain-batch must be at least 2, got {args.chain_batch}")
    parse_spaces(getattr(args, "features", "cnn"))
    return steps


def parse_spaces(text: str) -> tuple[str, ...]:
    """"cnn,pca" -> ("cnn", "pca"); a UsageError for unknown or no spaces."""
    spaces = tuple(dict.fromkeys(s.strip() for s in str(text).split(",") if s.strip()))
    unknown = [s for s in spaces if s not in FEATURE_SPACES]
    if unknown or not spaces:
        raise UsageError(f"--features takes {' and/or '.join(FEATURE_SPACES)}, comma-separated; "
                         f"got {text!r}")
    return spaces


def environment() -> dict:
    """Library versions, thread count and machine: what a rerun must match to agree."""
    import platform

    import numpy
    import scipy
    import torch

    from . import __version__

    return {"genae_studio": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__, "python": platform.python_version(),
            "threads": torch.get_num_threads(), "machine": platform.machine(),
            "processor": platform.processor() or platform.machine()}


def run_eval_command(args, host) -> int:
    """Evaluate the runs named on the command line; print the table, maybe write JSON/PNGs."""
    import json

    from .api import load_run
    from .data import default_dataset
    from .features import FeatureSettings
    from .runs import atomic_write

    steps = _check_args(args)

    def log(msg: str) -> None:
        print(f"eval: {msg}", file=sys.stderr, flush=True)

    sources = ([(str(p), p, None) for p in args.checkpoint] if args.checkpoint
               else [(m, None, m) for m in (args.model or ["vae"])])
    runs = []
    for label, path, model in sources:  # load all first: bad input fails before slow work
        if model is not None and "/" in model:
            raise UsageError(f"--model takes a bundled model name, got {model!r}; "
                             f"use --checkpoint for a run folder")
        runs.append((label, load_run(path, model=model, device=args.device, host=host)))
    for label, run in runs:
        run.prepare_bn(args.bn_mode, host=host, log=lambda msg, label=label: log(f"{label}: {msg}"))
    settings = FeatureSettings(steps=args.feature_steps)  # fixed seed: one net for all seeds
    spaces = parse_spaces(args.features)
    results, references = [], {}
    for label, run in runs:
        data = args.data or run.config.data.get("data") or default_dataset(host.datasets)
        data_format = args.data_format if args.data else run.config.data.get("format")
        key = (data, data_format, run.model.image_size)
        if key not in references:
            references[key] = _datasets(data, data_format, run, host, settings, args, log,
                                        spaces)
        heldout, extractor, pca = references[key]
        log(f"{label}: {run.name} on {data}, n={min(args.n, len(heldout))}, "
            f"steps {','.join(map(str, steps))}")
        ref = build_reference(run, heldout, n=args.n, extractor=extractor, seed=args.seed,
                              bn_mode=args.bn_mode, kernel=args.kernel,
                              attribute=args.attribute, pca=pca, spaces=spaces)
        result = evaluate_run(run, ref, steps, seed=args.seed, points=args.points,
                              bn_mode=args.bn_mode, label=label, data=data,
                              chain_batch=args.chain_batch)
        if args.figures:
            for path in save_figures(result, args.figures):
                log(f"wrote {path}")
        results.append(result)

    print(format_table(results))
    if args.json:
        doc = {"version": JSON_VERSION,
               "settings": {"steps": steps, "n": args.n, "seed": args.seed,
                            "bn_mode": args.bn_mode, "kernel": args.kernel, "k": PR_K,
                            "ambiguous": list(AMBIGUOUS), "points": args.points,
                            "feature_steps": args.feature_steps, "features": list(spaces),
                            "chain_batch": args.chain_batch},
               "environment": environment(),
               "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]}
        text = json.dumps(doc, indent=2, default=_json_default)
        atomic_write(args.json, lambda p: Path(p).write_text(text + "\n"))
        log(f"wrote {args.json}")
    return 0


def _json_default(value):
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _datasets(data, data_format, run, host, settings, args, log, spaces=("cnn",)):
    """(held-out dataset, feature extractor, pixel PCA or None) for one dataset at the run's
    image size."""
    from .data import check_fits, resolve_dataset
    from .features import feature_extractor
    from .pixel_pca import pixel_pca

    kwargs = dict(data_format=data_format, image_size=run.model.image_size)
    heldout = resolve_dataset(data, host.datasets, split="test", **kwargs)
    check_fits(heldout, run.model.channels, name=data)
    if len(heldout) < 10:
        raise DataError(f"{data}: only {len(heldout)} held-out images; eval needs 10")
    if len(heldout) < args.n:
        log(f"{data}: the test split has {len(heldout)} images; using n={len(heldout)}")
    train_set = resolve_dataset(data, host.datasets, split="train", **kwargs)
    bar = None

    def progress(step: int, steps: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc="eval: feature network", unit="step", leave=False,
                       file=sys.stderr, dynamic_ncols=True, disable=None,  # terminals only
                       mininterval=0)  # every step drawn: the feature network trains in seconds
        bar.update(step - bar.n)

    try:
        extractor = feature_extractor(train_set, settings, heldout=heldout, device=run.device,
                                      retrain=args.retrain_features, log=log,
                                      on_progress=progress)
    finally:
        if bar is not None:
            bar.close()
    info = extractor.info
    scores = ", ".join(f"{k} {v:.3f}" for k, v in info.get("heldout", {}).items())
    log(f"feature network for {data}: {extractor.mode} "
        f"({'loaded from cache' if info.get('from_cache') else 'trained'}; "
        f"held-out {scores or 'n/a'})")
    pca = None
    if "pca" in spaces:
        pca = pixel_pca(train_set, retrain=args.retrain_features, log=log)
        log(f"pixel PCA for {data}: {pca.components.shape[1]} components, "
            f"{pca.explained:.0%} of the pixel variance")
    return heldout, extractor, pca


# ---------------------------------------------------------------- reference

@dataclass
class Reference:
    """What the per-step metrics compare against; built once per run by build_reference."""

    heldout: ImageDataset  # the n held-out images (with their labels/attributes)
    codes: np.ndarray  # (n, K) codes of held-out data: samples of P^(Z)
    prior: np.ndarray  # (n, K) draws of P(Z) = N(0, I)
    feats: np.ndarray  # (n, D) features of the held-out images
    mu: np.ndarray  # (D,) and (D, D): their mean and covariance
    sigma: np.ndarray
    extractor: FeatureExtractor
    attribute: str | None = None  # binary attribute for ambiguous/glasses, if any
    pca: PixelPCA | None = None  # the second feature space and its held-out statistics
    pca_feats: np.ndarray | None = None
    pca_mu: np.ndarray | None = None
    pca_sigma: np.ndarray | None = None
    spaces: tuple = ("cnn",)  # which spaces give fd/precision/recall columns
    kernel: str = "imq"
    latent_dim: int = 0
    image_shape: tuple = ()
    info: dict = field(default_factory=dict)
    score: DataScore | None = None  # P(looks like encoded data) of a code


def encode_heldout(run: Run, images, *, bn_mode: str = "batch", seed: int = 0,
                   batch: int = 1000):
    """Codes of held-out images as the chain would produce them: samples of P^(Z).

    A draw of Q(Z|x) (for a VAE z = mu + sigma * eps, for an AAE the deterministic code);
    denoising models encode the corrupted image, as their chain does (Eq. 2 of the paper).
    Batches of up to ``batch`` images, so batch-norm statistics are meaningful.
    """
    import numpy as np
    import torch

    from .chain import sampling_mode
    from .imaging import to_float_tensor

    model = run.model
    # A stream of its own: with the chain's seed, a VAE's eps here would equal the chain's z0
    # draw for draw, and for posteriors close to the prior the two samples would be paired.
    gen = torch.Generator(run.device).manual_seed(encoding_seed(seed))
    out = []
    with torch.inference_mode(), sampling_mode(model, bn_mode):
        for start in range(0, len(images), batch):
            x = to_float_tensor(images[start:start + batch], run.device)
            if model.denoising:
                x = model.corrupt(x, None, gen)
            x = x.contiguous(memory_format=torch.channels_last)
            out.append(model.encode(x, sample=True, generator=gen).float().cpu().numpy())
    return np.concatenate(out).astype(np.float64)


def encoding_seed(seed: int) -> int:
    """The seed of the held-out encodings' random draws, independent of ``seed``'s stream."""
    import numpy as np

    return int(np.random.SeedSequence([int(seed), 0x5EED]).generate_state(1)[0])


def decode(run: Run, z, *, bn_mode: str = "batch", batch: int = 1000):
    """Decoder mean images of codes z, float32 in [0, 1], in batches."""
    import numpy as np

    return np.concatenate([run.decode(z[s:s + batch], bn_mode=bn_mode).float().cpu().numpy()
                           for s in range(0, len(z), batch)])


def build_reference(run: Run, heldout: ImageDataset | None = None, *, n: int = 2000,
                    extractor: FeatureExtractor | None = None, host=None,
                    feature_settings: FeatureSettings | None = None, seed: int = 0,
                    bn_mode: str = "batch", kernel: str = "imq",
                    attribute: str | None = None, pca: PixelPCA | None = None,
                    spaces: tuple = ("cnn",)) -> Reference:
    """Encode up to ``n`` held-out images and take their features: the metrics' reference.

    ``heldout`` defaults to the test split of the run's dataset, ``extractor`` to the cached
    feature network of its training split (trained on first use, which takes seconds to a
    minute on a CPU). ``attribute`` defaults to the dataset's registered binary attribute
    (``DatasetSpec.binary_attribute``, toyfaces: sunglasses) when its images have it. With
    "pca" in ``spaces``, ``pca`` (default: the cached pixel PCA of the training split) gives
    the second feature space's columns.
    """
    import numpy as np

    from . import metrics
    from .data import binary_attribute, check_fits, default_dataset, resolve_dataset
    from .features import feature_extractor
    from .latent import DataScore, EncodedData, encode_data
    from .plugins import load_plugins

    if heldout is None or extractor is None:
        host = host or load_plugins()
        data = run.config.data.get("data") or default_dataset(host.datasets)
        kwargs = dict(data_format=run.config.data.get("format"),
                      image_size=run.model.image_size)
        if heldout is None:
            heldout = resolve_dataset(data, host.datasets, split="test", **kwargs)
        if extractor is None:
            train_set = resolve_dataset(data, host.datasets, split="train", **kwargs)
            extractor = feature_extractor(train_set, feature_settings, heldout=heldout,
                                          device=run.device)
    spaces = tuple(spaces)
    if "pca" in spaces and pca is None:
        from .pixel_pca import pixel_pca

        host = host or load_plugins()
        data = run.config.data.get("data") or default_dataset(host.datasets)
        pca = pixel_pca(resolve_dataset(data, host.datasets, split="train",
                                        data_format=run.config.data.get("format"),
                                        image_size=run.model.image_size))
    check_fits(heldout, run.model.channels, run.model.image_size)
    count = min(int(n), len(heldout))
    if count < 10:
        raise DataError(f"{heldout.name}: {count} held-out images; the metrics need 10")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.permutation(len(heldout))[:count])
    subset = heldout.subset(pick)
    images = subset.batch(np.arange(count))
    # The same codes as encode_heldout, with the posterior means the data score needs.
    encoded = encode_data(run, images, bn_mode=bn_mode, seed=seed)
    codes = encoded.codes.astype(np.float64)
    prior = np.random.default_rng([seed, 1]).standard_normal((count, run.model.latent_dim))
    score = DataScore.fit(EncodedData(encoded.means, encoded.codes, prior.astype(np.float32)),
                          seed=seed)
    feats = extractor.features(images)
    default = None if attribute else binary_attribute((host or load_plugins()).datasets,
                                                      heldout.name)
    attribute = _pick_attribute(subset, extractor, attribute, default)
    pca_feats = pca.features(images) if "pca" in spaces else None
    return Reference(heldout=subset, codes=codes, prior=prior, feats=feats,
                     mu=feats.mean(axis=0), sigma=np.cov(feats, rowvar=False),
                     extractor=extractor, attribute=attribute, kernel=kernel,
                     latent_dim=run.model.latent_dim,
                     image_shape=(run.model.channels, run.model.image_size,
                                  run.model.image_size),
                     pca=pca if "pca" in spaces else None, pca_feats=pca_feats,
                     pca_mu=None if pca_feats is None else pca_feats.mean(axis=0),
                     pca_sigma=None if pca_feats is None else np.cov(pca_feats, rowvar=False),
                     spaces=spaces,
                     info={"n": count, "data": heldout.name,
                           "typical_distance": metrics.typical_distance(feats, seed=seed),
                           "data_score": score.summary()}, score=score)


def _pick_attribute(dataset, extractor, attribute, default=None):
    """``attribute`` if the data has it as a binary attribute; else the dataset's registered
    ``binary_attribute`` (``default``) when the data has it; else None."""
    head = extractor.net.head(attribute or default)
    binary = head is not None and head.kind == "class" and head.classes == 2
    if attribute is None:
        return default if binary and default in (dataset.attributes or {}) else None
    if not binary or attribute not in (dataset.attributes or {}):
        raise UsageError(f"{dataset.name}: no binary attribute {attribute!r} to test "
                         f"decisiveness with")
    return attribute


# ---------------------------------------------------------------- metrics

def step_metrics(reference: Reference, z, x) -> dict[str, float | None]:
    """All metrics of one chain step: codes z (n, K) and decoded images x (n, C, H, W).

    MMD uses every reference code; precision/recall use as many reference images as there are
    samples (both sides the same size, as k-NN radii depend on it); FD uses the reference's
    feature statistics. Columns that do not apply are None.
    """
    from . import metrics

    z = _numpy(z)
    feats = reference.extractor.features(_numpy(x))
    row: dict[str, float | None] = dict.fromkeys(COLUMNS)
    if z is not None:
        row["mmd_data"] = metrics.mmd2_unbiased(z, reference.codes, reference.kernel)
        row["mmd_prior"] = metrics.mmd2_unbiased(z, reference.prior, reference.kernel)
        if reference.score is not None:
            row["data_score"] = float(reference.score(z).mean())
    x = _numpy(x)
    row.update(_image_metrics(reference, feats, reference.feats[:len(feats)], x,
                              stats=(reference.mu, reference.sigma)))
    return row


def _space_metrics(feats, real_feats, stats=None) -> dict:
    """fd (against ``stats`` when given, else real_feats) and precision/recall in one space."""
    import numpy as np

    from . import metrics

    out = {}
    if stats is not None:
        out["fd"] = metrics.frechet_distance_from_stats(
            feats.mean(axis=0), np.cov(feats, rowvar=False), *stats)
    else:
        out["fd"] = metrics.frechet_distance(feats, real_feats)
    if min(len(feats), len(real_feats)) > PR_K:
        out["precision"], out["recall"] = metrics.precision_recall(real_feats, feats, PR_K)
    return out


def _image_metrics(reference: Reference, feats, real_feats, x=None, stats=None,
                   real_images=None) -> dict:
    """FD and precision/recall in each feature space (against ``stats`` when given, else the
    real features/images), and the attribute shares."""
    import numpy as np

    from . import metrics

    out = {}
    if "cnn" in reference.spaces:
        out.update(_space_metrics(feats, real_feats, stats))
    if reference.pca is not None and x is not None:
        pca_feats = reference.pca.features(x)
        if stats is not None:
            pca_real, pca_stats = reference.pca_feats[:len(pca_feats)], \
                (reference.pca_mu, reference.pca_sigma)
        else:  # the floors: the held-out images of half B, as ``real_feats`` are
            pca_real, pca_stats = reference.pca.features(real_images), None
        out.update({f"{k}_pca": v
                    for k, v in _space_metrics(pca_feats, pca_real, pca_stats).items()})
    if reference.attribute is not None and x is not None:
        p = reference.extractor.probability(x, reference.attribute)
        out["ambiguous"] = metrics.ambiguous_share(p, *AMBIGUOUS)
        out["glasses"] = float(np.mean(p > 0.5))
    return out


def chain_metrics(run: Run, reference: Reference, z_steps, x_steps) -> dict[str, list]:
    """Metrics of several chain steps: z_steps (S, n, K), x_steps (S, n, C, H, W).

    Returns {column: [value per step]}: the curves against t, for scripts (README's
    Python API); checks that the reference was built for this model's sizes.
    """
    shape = (run.model.channels, run.model.image_size, run.model.image_size)
    if run.model.latent_dim != reference.latent_dim or shape != tuple(reference.image_shape):
        raise UsageError("the reference was built for a model with other latent or image sizes")
    rows = [step_metrics(reference, z, x) for z, x in zip(z_steps, x_steps, strict=True)]
    return {col: [r[col] for r in rows] for col in COLUMNS}


def _numpy(a):
    import numpy as np

    if a is None:
        return None
    if hasattr(a, "detach"):
        a = a.detach().float().cpu().numpy()
    return np.asarray(a)


def reference_rows(run: Run, reference: Reference, *, bn_mode: str = "batch",
                   seed: int = 0) -> list[dict]:
    """The floors: ``recon`` (decoded codes of half A vs images of half B) and ``data``."""
    import numpy as np

    from . import metrics

    count = len(reference.codes)
    a, b = metrics.split_half(np.arange(count), seed=seed)
    real_b = reference.feats[b]
    images = reference.heldout.batch(np.arange(count))
    recon = decode(run, reference.codes[a], bn_mode=bn_mode)
    rows = []
    for kind, x in (("recon", recon), ("data", images[a])):
        row = dict.fromkeys(COLUMNS)
        if kind == "data":
            row["mmd_data"] = metrics.mmd2_unbiased(reference.codes[a], reference.codes[b],
                                                    reference.kernel)
            row["mmd_prior"] = metrics.mmd2_unbiased(reference.codes[a],
                                                     reference.prior[:len(a)],
                                                     reference.kernel)
            if reference.score is not None:  # out-of-fold: not scored by a fit that saw them
                row["data_score"] = reference.score.data_level
        feats = reference.extractor.features(x)
        row.update(_image_metrics(reference, feats, real_b, x, real_images=images[b]))
        rows.append({"kind": kind, "step": None, "n": len(a), **row})
    return rows


def pick_pairs(dataset: ImageDataset, attribute: str, pairs: int, seed: int = 0):
    """Indices (pairs, 2) into ``dataset``: column 0 without the attribute, column 1 with it."""
    import numpy as np

    values = np.asarray((dataset.attributes or {})[attribute])
    without, with_ = np.flatnonzero(values == 0), np.flatnonzero(values == 1)
    pairs = min(pairs, len(without), len(with_))
    if pairs < 1:
        raise DataError(f"{dataset.name}: no held-out images both with and without "
                        f"{attribute}")
    rng = np.random.default_rng([seed, 2])
    return np.stack([rng.choice(without, pairs, replace=False),
                     rng.choice(with_, pairs, replace=False)], axis=1)


def run_chains(run: Run, z0, steps: int, *, bn_mode: str = "batch", seed: int = 0,
               batch: int | None = None):
    """Yield (t, z_t, x_t) of chains from codes ``z0`` (or ``n`` prior draws when z0 is an
    int), run in independent batches of ``batch`` (default: one batch), in lockstep.

    One random stream seeded with ``seed`` draws z_0 first, then the chains' noise; with one
    batch this is exactly ``run.chain(..., seed=seed)``.
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


def decisiveness(run: Run, reference: Reference, steps: list[int], *, points: int = 10,
                 pairs: int | None = None, seed: int = 0, bn_mode: str = "batch",
                 keep: int = 4, chain_batch: int | None = None) -> dict:
    """Interpolate between faces without and with the attribute; run the chain from each point.

    Returns {"pairs": (P, 2) indices, "rows": [{"step", "ambiguous", "glasses", "max_jump",
    "kept", "end_dist", ...}], "images": (keep, S, points, C, H, W) of the first ``keep``
    pairs}. ``ambiguous``/``glasses`` are over the interior points (the endpoints are
    reconstructions, not interpolations); ``max_jump`` over whole paths; ``kept`` and
    ``end_dist`` over the endpoints, against the original images.
    """
    import numpy as np
    import torch

    from . import metrics
    from .interpolate import interpolate

    attribute = reference.attribute
    if attribute is None:
        raise UsageError("the reference has no binary attribute for a decisiveness test")
    count = len(reference.codes)
    idx = pick_pairs(reference.heldout, attribute, pairs or max(1, count // points), seed)
    # Encode the endpoints in one batch (with filler images up to 64, for batch norm).
    flat = idx.reshape(-1)
    filler = np.setdiff1d(np.arange(count), flat)[:max(0, 64 - len(flat))]
    images = reference.heldout.batch(np.concatenate([flat, filler]))
    codes = run.encode(images, bn_mode=bn_mode)[:len(flat)].reshape(len(idx), 2, -1)
    z0 = torch.stack([interpolate(a, b, points, "slerp") for a, b in codes])
    shape = z0.shape[:2]
    labels = np.asarray(reference.heldout.attributes[attribute])[idx]  # (P, 2): 0 and 1
    original = reference.feats[idx]  # (P, 2, D): features of the original images
    scale = reference.info.get("typical_distance") or 1.0
    rows, kept = [], {}
    for t, _, x in run_chains(run, z0.reshape(-1, z0.shape[-1]), max(steps), bn_mode=bn_mode,
                              seed=seed, batch=chain_batch):
        if t not in steps:
            continue
        x = x.float().cpu().numpy().reshape(*shape, *x.shape[1:])
        flat_x = x.reshape(-1, *x.shape[2:])
        p = reference.extractor.probability(flat_x, attribute).reshape(shape)
        feats = reference.extractor.features(flat_x).reshape(*shape, -1)
        ends = feats[:, [0, -1]]
        jumps = metrics.largest_jump(feats)
        rows.append({"kind": "interp", "step": t, "n": int(p[:, 1:-1].size),
                     **dict.fromkeys(COLUMNS),
                     "ambiguous": metrics.ambiguous_share(p[:, 1:-1], *AMBIGUOUS),
                     "glasses": float(np.mean(p[:, 1:-1] > 0.5)),
                     "max_jump": float(np.nanmean(jumps)) if np.isfinite(jumps).any()
                     else None,
                     "kept": float(np.mean((p[:, [0, -1]] > 0.5) == (labels == 1))),
                     "end_dist": metrics.mean_distance(ends.reshape(-1, ends.shape[-1]),
                                                       original.reshape(-1, ends.shape[-1]))
                     / scale})
        kept[t] = x[:keep]
    return {"pairs": idx, "rows": rows,
            "images": np.stack([kept[t] for t in steps], axis=1)}


def evaluate_run(run: Run, reference: Reference, steps: list[int], *, seed: int = 0,
                 points: int = 10, bn_mode: str = "batch", label: str | None = None,
                 data: str | None = None, chain_batch: int | None = None) -> dict:
    """All rows for one run: chain steps, interpolations (if an attribute), the floors.

    ``chain_batch`` runs the chains in independent batches of that size (default: one batch
    of all n); the metrics still see all n chains.
    """
    count = len(reference.codes)
    rows, samples = [], {}
    for t, z, x in run_chains(run, count, max(steps), bn_mode=bn_mode, seed=seed,
                              batch=chain_batch):
        if t in steps:
            x = x.float().cpu().numpy()
            rows.append({"kind": "chain", "step": t, "n": count,
                         **step_metrics(reference, z, x)})
            samples[t] = x[:12]
    result = {"run": label or run.name, "model": run.name,
              "path": str(run.path) if run.path else None,
              "data": data or reference.info.get("data"), "n": count,
              "chain_batch": chain_batch or count, "bn_mode": bn_mode,
              "features": {k: v for k, v in reference.extractor.info.items() if k != "heads"},
              "feature_mode": reference.extractor.mode, "attribute": reference.attribute,
              "spaces": list(reference.spaces),
              "pca": None if reference.pca is None else
              {"dim": int(reference.pca.components.shape[1]),
               "explained": reference.pca.explained},
              "data_score": reference.info.get("data_score"),
              "rows": rows}
    result["_samples"] = [samples[t] for t in steps]
    if reference.attribute is not None:
        interp = decisiveness(run, reference, steps, points=points, seed=seed, bn_mode=bn_mode,
                              chain_batch=chain_batch)
        rows.extend(interp["rows"])
        result["pairs"] = int(len(interp["pairs"]))
        result["_interp"] = interp["images"]
    rows.extend(reference_rows(run, reference, bn_mode=bn_mode, seed=seed))
    result["_steps"] = list(steps)
    return result


# ---------------------------------------------------------------- output

def _cell(value, col: str) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    if col.startswith("mmd"):
        return f"{value:.4f}"
    if col == "fd":
        return f"{value:.3f}"
    return f"{value:.3f}"


def format_table(results: list[dict]) -> str:
    """One aligned table: a row per run, kind and step; blank lines between runs."""
    header = ["run", "data", "kind", "step", "n", *COLUMNS]
    blocks = []
    for result in results:
        cols = [c for c in COLUMNS if any(r[c] is not None for r in result["rows"])]
        lines = [[result["run"], result["data"] or "", r["kind"],
                  "-" if r["step"] is None else str(r["step"]), str(r["n"]),
                  *[_cell(r[c], c) for c in COLUMNS if c in cols]] for r in result["rows"]]
        blocks.append(([*header[:5], *cols], lines))
    width: dict[int, int] = {}
    for head, lines in blocks:
        for row in [head, *lines]:
            for i, cell in enumerate(row):
                width[i] = max(width.get(i, 0), len(cell))
    out = []
    for head, lines in blocks:
        if out:
            out.append("")
        for row in [head, *lines]:
            out.append("  ".join(c.ljust(width[i]) if i < 3 else c.rjust(width[i])
                                 for i, c in enumerate(row)).rstrip())
    return "\n".join(out)


def save_figures(result: dict, folder: Path) -> list[Path]:
    """``<data>-<run>-chains.png`` (a row per step, the first 12 chains) and, with an attribute,
    ``<data>-<run>-<attribute>.png`` (for each of 4 pairs a row per step)."""
    import numpy as np

    from .data import safe_name
    from .imaging import grid, save_png

    stem = safe_name(f"{result['data']}-{Path(result['run']).name}")
    paths = [save_png(grid(np.stack(result["_samples"])), Path(folder) / f"{stem}-chains.png")]
    if "_interp" in result:
        images = result["_interp"]  # (pairs, S, points, C, H, W)
        rows = images.reshape(-1, *images.shape[2:])
        paths.append(save_png(grid(rows), Path(folder) / f"{stem}-{result['attribute']}.png"))
    return paths
