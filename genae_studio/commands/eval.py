"""``genae-studio eval``: sample quality and latent distances at each chain step, as a table
(and JSON and PNGs). The measures are :mod:`genae_studio.evaluation`; this module holds the
options, loads the runs and their data, reports progress and writes the outputs."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import DataError, UsageError
from ..sampling import BN_MODES, sorted_steps
from .common import BN_HELP, LazyBar, check_bundled_name, load_host

FEATURE_SPACES = ("cnn", "pca")
DEFAULT_STEPS = "0,1,5,10"
BATCH_SWEEP_NOTE = (
    "note: with --bn-mode batch, a decoder whose first layer is followed by batch norm (the "
    "built-in DCGAN decoders) normalises away any global scale of z, so every temperature "
    "decodes to the same images and only the latent measures change; sweep temperatures with "
    "--bn-mode precise or eval")


def add_arguments(parser) -> None:
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
                        help="chains and held-out images per run, and the floors' samples "
                             "(default 2000; capped at half the test split, whose other half "
                             "gives the floors at the same n)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda[:i]|mps")
    parser.add_argument("--bn-mode", choices=BN_MODES, default="batch", help=BN_HELP)
    parser.add_argument("--kernel", choices=("imq", "rbf"), default="imq",
                        help="MMD kernel, summed over 7 scales (default imq)")
    parser.add_argument("--attribute", metavar="NAME",
                        help="binary attribute for the decisiveness test (default: the one "
                             "the dataset registered, DatasetSpec.binary_attribute)")
    parser.add_argument("--points", type=int, default=10,
                        help="points per interpolation, endpoints included (default 10)")
    parser.add_argument("--feature-steps", type=int, default=600,
                        help="training steps of the feature network (default 600; cached)")
    parser.add_argument("--features", default="cnn,pca", metavar="SPACES",
                        help="feature spaces for FD, KID, precision/recall and density/"
                             "coverage, comma-separated: cnn (a small network trained on the "
                             "dataset), pca (principal components of the pixels), and "
                             "inception:PATH@SHA256 (torchvision's Inception-v3 with weights "
                             "from the local file PATH, safetensors or a .pt/.pth state dict, "
                             "pinned by its SHA-256; never downloaded; columns fd_inception "
                             "...) (default cnn,pca)")
    parser.add_argument("--sampler", default="prior", metavar="NAMES",
                        help="samplers of the chains' starting codes, comma-separated, each "
                             "followed by the chain at --steps with the same seed and n: "
                             "prior, gmm, reweighted or a plugin's; options as "
                             "NAME:key=value[:key=value], e.g. gmm:n_components=20:"
                             "covariance_type=diag, prior:temperature=0.8 (default prior; "
                             "genae-studio plugins lists them)")
    parser.add_argument("--temperatures", metavar="T1,T2,...",
                        help="also measure the prior at these temperatures (step 0 only): the "
                             "curve that lower temperature alone traces, to read the chain's "
                             "points against")
    parser.add_argument("--chain-batch", type=int, metavar="B",
                        help="run the chains in independent batches of B (default: all n in "
                             "one batch); with --bn-mode batch the batch size changes the "
                             "chain")
    parser.add_argument("--retrain-features", action="store_true",
                        help="train the feature network again instead of using the cache")
    parser.add_argument("--figures", type=Path, metavar="DIR",
                        help="also save sample grids and attribute interpolations as PNG")


def parse_spaces(text: str) -> tuple[str, ...]:
    """"cnn,pca" -> ("cnn", "pca"): the built-in spaces; a UsageError for unknown or no
    spaces. Weights-file spaces (``inception:PATH@SHA256``, :func:`parse_file_spaces`) are
    checked but not returned."""
    parts = tuple(dict.fromkeys(s.strip() for s in str(text).split(",") if s.strip()))
    files = parse_file_spaces(text)
    spaces = tuple(s for s in parts if ":" not in s)
    unknown = [s for s in spaces if s not in FEATURE_SPACES]
    if unknown or not (spaces or files):
        raise UsageError(f"--features takes {' and/or '.join(FEATURE_SPACES)} or ARCH:PATH@SHA256,"
                         f" comma-separated; got {text!r}")
    return spaces


def parse_file_spaces(text: str) -> list:
    """The weights-file spaces of --features (``inception:PATH@SHA256``), parsed, unread."""
    from ..evaluation.file_features import parse_weights_file

    found = [parse_weights_file(s.strip()) for s in str(text).split(",") if ":" in s]
    names = [f.name for f in found]
    if len(set(names)) < len(names):
        raise UsageError(f"--features names the space {names[0]!r} twice")
    return found


def check_args(args) -> list[int]:
    """The sorted steps; a UsageError for an option out of range."""
    steps = sorted_steps(args.steps)
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
    _check_outputs(args)
    return steps


def _check_outputs(args) -> None:
    """--json and --figures must be writable: refused before the evaluation, not after."""
    from ..fileio import check_output_folder, check_output_path

    if getattr(args, "json", None) is not None:
        check_output_path(args.json, None, "--json")
    if getattr(args, "figures", None) is not None:
        check_output_folder(args.figures, "--figures")


def _check_samplers(args, host):
    """(samplers, temperature sweep) as SamplerChoices; a UsageError for unknown names."""
    from ..evaluation.samplers import parse_samplers, temperature_sweep

    samplers = parse_samplers(getattr(args, "sampler", None) or "prior", host.samplers)
    sweep = (temperature_sweep(args.temperatures, host.samplers)
             if getattr(args, "temperatures", None) else [])
    return samplers, sweep


def _file_features(args):
    """The weights-file feature networks: each file checked (exists, SHA-256) and read before
    any other work."""
    from ..devices import resolve_device
    from ..evaluation.file_features import check_weights_file, load_file_features

    files = parse_file_spaces(args.features)
    for spec in files:  # every file checked before any is read
        check_weights_file(spec)
    return [load_file_features(spec, resolve_device(args.device)) for spec in files]


def log(msg: str) -> None:
    print(f"eval: {msg}", file=sys.stderr, flush=True)


def _load_runs(args, host) -> list:
    """(label, Run) of every --checkpoint or --model, batch norm prepared; all loaded before
    any slow work, so that bad input fails first."""
    from ..api import load_run

    sources = ([(str(p), p, None) for p in args.checkpoint] if args.checkpoint
               else [(m, None, m) for m in (args.model or ["vae"])])
    runs = []
    for label, path, model in sources:
        check_bundled_name(model)
        runs.append((label, load_run(path, model=model, device=args.device, host=host)))
    for label, run in runs:
        run.prepare_bn(args.bn_mode, host=host, data=args.data, data_format=args.data_format,
                       log=lambda msg, label=label: log(f"{label}: {msg}"))
    return runs


def main(args) -> int:
    """Evaluate the runs named on the command line; print the table, maybe write JSON/PNGs."""
    from ..data import default_dataset
    from ..evaluation import build_reference, evaluate_run, format_table, save_figures
    from ..features import FeatureSettings

    steps = check_args(args)
    host = load_host(args)
    samplers, sweep = _check_samplers(args, host)
    if sweep and args.bn_mode == "batch":
        log(BATCH_SWEEP_NOTE)
    extra = _file_features(args)
    runs = _load_runs(args, host)
    settings = FeatureSettings(steps=args.feature_steps)  # fixed seed: one net for all seeds
    spaces = parse_spaces(args.features)
    results, references = [], {}
    for label, run in runs:
        data = args.data or run.config.data_source() or default_dataset(host.datasets)
        data_format = args.data_format if args.data else run.config.data.get("format")
        key = (data, data_format, run.model.image_size)
        if key not in references:
            references[key] = _reference_data(data, data_format, run, host, settings, args,
                                               spaces)
        heldout, spaces_built = references[key]
        log(f"{label}: {run.name} on {data}, n={min(args.n, len(heldout) // 2)}, "
            f"steps {','.join(map(str, steps))}")
        ref = build_reference(run, heldout, n=args.n, extractor=spaces_built.extractor,
                              seed=args.seed, bn_mode=args.bn_mode, kernel=args.kernel,
                              attribute=args.attribute, pca=spaces_built.pca, spaces=spaces,
                              host=host, extra=tuple(extra))
        result = evaluate_run(run, ref, steps, seed=args.seed, points=args.points,
                              bn_mode=args.bn_mode, label=label, data=data,
                              chain_batch=args.chain_batch, samplers=samplers, sweep=sweep,
                              host=host, log=log)
        if args.figures:
            for path in save_figures(result, args.figures):
                log(f"wrote {path}")
        results.append(result)

    print(format_table(results))
    if args.json:
        _write_json(args, results, steps, spaces, extra, samplers, sweep)
    return 0


def _write_json(args, results: list[dict], steps: list[int], spaces, extra, samplers,
                sweep) -> None:
    from ..evaluation import AMBIGUOUS, DC_K, KNN_K, json_document
    from ..fileio import atomic_write_text

    text = json_document(results, {
        "steps": steps, "n": args.n, "seed": args.seed, "bn_mode": args.bn_mode,
        "kernel": args.kernel, "k": KNN_K, "ambiguous": list(AMBIGUOUS),
        "points": args.points, "feature_steps": args.feature_steps, "features": list(spaces),
        "extra_features": [f.spec.name for f in extra], "chain_batch": args.chain_batch,
        "samplers": [c.label for c in samplers], "temperatures": [c.label for c in sweep],
        "dc_k": DC_K})
    atomic_write_text(args.json, text)
    log(f"wrote {args.json}")


def _reference_data(data, data_format, run, host, settings, args, spaces):
    """(held-out dataset, FeatureSpaces) for one dataset at the run's image size, with the
    feature network's training drawn as a progress bar on terminals."""
    from ..data import check_fits, resolve_dataset
    from ..evaluation import feature_spaces

    kwargs = dict(data_format=data_format, image_size=run.model.image_size)
    heldout = resolve_dataset(data, host.datasets, split="test", **kwargs)
    check_fits(heldout, run.model.channels, name=data)
    if len(heldout) < 20:
        raise DataError(f"{data}: only {len(heldout)} held-out images; eval needs 20")
    if len(heldout) < 2 * args.n:
        log(f"{data}: the test split has {len(heldout)} images; using n={len(heldout) // 2} "
            "(n to compare with, n other ones for the floors)")
    bar = LazyBar(desc="eval: feature network", unit="step", leave=False, file=sys.stderr,
                  dynamic_ncols=True, disable=None,  # terminals only
                  mininterval=0)  # every step drawn: the feature network trains in seconds

    def progress(step: int, steps: int) -> None:
        shown = bar.get(steps)
        shown.update(step - shown.n)

    try:
        built = feature_spaces(data, host, **kwargs, heldout=heldout, device=run.device,
                               settings=settings, with_pca="pca" in spaces,
                               retrain=args.retrain_features, log=log, on_progress=progress)
    finally:
        bar.close()
    info = built.extractor.info
    scores = ", ".join(f"{k} {v:.3f}" for k, v in info.get("heldout", {}).items())
    how = "loaded from cache" if info.get("from_cache") else \
        f"trained in {info.get('train_s', 0):.0f} s"
    log(f"feature network for {data}: {built.extractor.mode} ({how}; "
        f"held-out {scores or 'n/a'})")
    if built.pca is not None:
        log(f"pixel PCA for {data}: {built.pca.components.shape[1]} components, "
            f"{built.pca.explained:.0%} of the pixel variance")
    return heldout, built
