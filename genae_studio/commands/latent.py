"""``genae-studio latent``: the studio's latent view as a figure for papers, and its numbers.

Encodes held-out data, fits a 2-D view (:mod:`genae_studio.latent`), runs ``n`` chains from the
prior and draws their trajectories z_0 -> z_T over the data and prior clouds, with the data score
of every z_t. Matplotlib draws it (PNG, SVG or PDF by the file's extension).
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UsageError
from ..sampling import BN_MODES, sorted_steps
from .common import BN_HELP, check_bundled_name, load_host

FORMATS = ("png", "svg", "pdf")
JSON_VERSION = 1


def add_arguments(parser) -> None:
    """The latent command's options (argparse only)."""
    from ..latent import CHOICES

    source = parser.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", type=Path, metavar="DIR", help="a run folder")
    source.add_argument("--model", help="use the bundled run of this model (default: vae)")
    parser.add_argument("--data", help="held-out data (default: the run's dataset, test split)")
    parser.add_argument("--data-format", help="force the on-disk format of --data")
    parser.add_argument("--steps", default="0,1,5,10",
                        help="chain steps to draw, comma-separated (default 0,1,5,10)")
    parser.add_argument("--n", type=int, default=64, help="chains (default 64)")
    parser.add_argument("--heldout", type=int, default=1000,
                        help="held-out images to encode (default 1000, as in the studio)")
    parser.add_argument("--method", choices=CHOICES, default="auto",
                        help="auto (default): the view whose axes hold the most encoded-data "
                             "variance; means: PCA of posterior means; joint: PCA of prior and "
                             "codes; discriminant: prior-vs-data axis and the data's PC")
    parser.add_argument("--color-by", metavar="ATTR", help="colour the data by 'label' or one of "
                        "the dataset's attributes")
    parser.add_argument("--out", type=Path, default=Path("latent.png"),
                        help="figure: .png, .svg or .pdf (default latent.png)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the numbers")
    parser.add_argument("--device", default="auto", help="auto|cpu|cuda[:i]|mps")
    parser.add_argument("--bn-mode", choices=BN_MODES, default="batch", help=BN_HELP)
    parser.add_argument("--seed", type=int, default=0)


def main(args) -> int:
    import json

    import numpy as np

    from ..api import load_run
    from ..data import default_dataset, resolve_dataset
    from ..fileio import atomic_file, atomic_write_text, check_output_path
    from ..latent import ENCODE_BATCH, DataScore, best_view, encode_data, fit_views

    steps = sorted_steps(args.steps)
    check_output_path(args.out, tuple(f".{f}" for f in FORMATS), "--out")
    if args.json:
        check_output_path(args.json, (".json",), "--json")
    suffix = args.out.suffix.lower().lstrip(".")
    if args.n < 3:
        raise UsageError(f"--n must be at least 3 chains, got {args.n}")
    if args.heldout < 10:
        raise UsageError(f"--heldout must be at least 10 images, got {args.heldout}")
    check_bundled_name(args.model)

    def log(msg: str) -> None:
        print(f"latent: {msg}", file=sys.stderr, flush=True)

    host = load_host(args)
    run = load_run(args.checkpoint, model=args.model, device=args.device, host=host)
    run.prepare_bn(args.bn_mode, host=host, log=log, data=args.data,
                   data_format=args.data_format)
    data = args.data or run.config.data_source() or default_dataset(host.datasets)
    data_format = args.data_format if args.data else run.config.data.get("format")
    heldout = resolve_dataset(data, host.datasets, data_format=data_format, split="test",
                              image_size=run.model.image_size, limit=args.heldout)
    if heldout.channels != run.model.channels:
        raise UsageError(f"{data}: {heldout.channels}-channel images, but the model expects "
                         f"{run.model.channels}")
    count = min(args.heldout, len(heldout))
    if count < 10:
        raise UsageError(f"{data}: only {count} held-out images; the latent view needs 10")
    colours = _colour_values(heldout, args.color_by, count)

    log(f"encoding {count} held-out {data} images with the {run.name} run")
    encoded = encode_data(run, heldout.batch(np.arange(count)), bn_mode=args.bn_mode,
                          seed=args.seed, batch=ENCODE_BATCH)
    views = fit_views(encoded, seed=args.seed)
    view = best_view(views) if args.method == "auto" else views[args.method]
    score = DataScore.fit(encoded, seed=args.seed)
    log(f"view {view.method}: {100 * view.explained[0]:.1f}% + {100 * view.explained[1]:.1f}% "
        f"of encoded-data variance, separation AUC {view.auc:.3f}, {view.active_units} of "
        f"{view.latent_dim} units active; data score accuracy {score.cv_accuracy:.3f}")
    record = run.sample(args.n, steps, bn_mode=args.bn_mode, seed=args.seed)
    traj = view.project(record.z)  # (S, n, 2)
    p_data = score(record.z)  # (S, n)

    fig = latent_figure(view, view.project(encoded.codes), view.project(encoded.prior), traj,
                        steps, p_data, score, colours,
                        title=f"{run.name} on {data}: {args.n} chains, steps "
                              f"{','.join(map(str, steps))}")
    with atomic_file(args.out) as f:
        fig.savefig(f, format=suffix, dpi=150)
    means = p_data.mean(axis=1)
    levels = ", ".join(f"t={t}: {m:.3f}" for t, m in zip(steps, means, strict=True))
    print(f"wrote {args.out} ({view.method} view, {100 * view.held:.1f}% of encoded-data "
          f"variance; P(data) {levels}; prior {score.prior_level:.3f}, "
          f"data {score.data_level:.3f})")
    if args.json:
        doc = {"version": JSON_VERSION, "model": run.name,
               "run": str(run.path) if run.path else None, "data": data,
               "heldout": count, "n": args.n, "steps": steps, "seed": args.seed,
               "bn_mode": args.bn_mode, "method": view.method, "requested": args.method,
               **{k: v for k, v in view.summary().items() if k != "method"},
               "low_share": bool(view.low),
               "views": {m: v.summary() for m, v in views.items()},
               "data_score": {**score.summary(),
                              "mean": [round(float(v), 4) for v in means],
                              "chains": np.round(p_data, 4).tolist()},
               "trajectories": np.round(traj, 4).tolist()}
        text = json.dumps(doc, indent=1)
        atomic_write_text(args.json, text + "\n")
        print(f"wrote {args.json}")
    return 0


def _colour_values(dataset, key: str | None, count: int):
    """(key, values, names) for --color-by, or None; a UsageError names the choices."""
    import numpy as np

    if not key:
        return None
    attrs = dataset.attributes or {}
    choices = (["label"] if dataset.labels is not None else []) + sorted(attrs)
    if key == "label" and dataset.labels is not None:
        return key, np.asarray(dataset.labels)[:count], dataset.label_names
    if key in attrs:
        return key, np.asarray(attrs[key])[:count], None
    raise UsageError(f"--color-by {key}: {dataset.name} has "
                     + (f"only {', '.join(choices)}" if choices else "no labels or attributes"))


def latent_figure(view, data_xy, prior_xy, traj, steps, p_data, score, colours=None,
                  title: str = ""):
    """A matplotlib Figure: the view (left) and the mean data score against t (right)."""
    import numpy as np
    from matplotlib.figure import Figure

    from ..latent import ellipse, score_band

    fig = Figure(figsize=(11, 5.6), layout="constrained")
    ax, side = fig.subplots(1, 2, width_ratios=[2.1, 1])
    ax.scatter(*prior_xy.T, s=5, c="0.55", alpha=0.3, linewidths=0, rasterized=True,
               label="prior P(Z)")
    if colours is None:
        ax.scatter(*data_xy.T, s=5, c="tab:blue", alpha=0.35, linewidths=0, rasterized=True,
                   label="encoded data P̂(Z)")
    else:
        key, values, names = colours
        uniq = np.unique(values)
        if key == "label" or (values.dtype.kind in "iub" and len(uniq) <= 10):
            # tab10 without its orange (the chains' colour) and grey (the prior's)
            palette = [c for i, c in enumerate(_tab10()) if i not in (1, 7)]
            for k, v in enumerate(uniq):
                name = names[int(v)] if names and 0 <= int(v) < len(names) else v
                pick = values == v
                ax.scatter(*data_xy[pick].T, s=5, color=palette[k % len(palette)], alpha=0.45,
                           linewidths=0, rasterized=True, label=f"data: {key} {name}")
        else:
            sc = ax.scatter(*data_xy.T, s=5, c=values, cmap="viridis", alpha=0.45,
                            linewidths=0, rasterized=True, label=f"data: {key}")
            fig.colorbar(sc, ax=ax, shrink=0.6, pad=0.01).set_label(key)
    for xy, colour, label in ((data_xy, "tab:blue", "2σ: data"),
                              (prior_xy, "0.35", "2σ: prior")):
        ax.plot(*ellipse(xy), color=colour, lw=1.5, ls="--", label=label)
    for chain in traj.transpose(1, 0, 2):
        ax.plot(*chain.T, color="tab:orange", lw=0.8, alpha=0.45)
    ax.scatter(*traj[0].T, s=14, marker="x", c="tab:orange", linewidths=1,
               label=f"z at t={steps[0]}")
    last = ax.scatter(*traj[-1].T, s=26, c=p_data[-1], cmap="plasma", vmin=0, vmax=1,
                      edgecolors="k", linewidths=0.4, label=f"z at t={steps[-1]}")
    if len(steps) > 2:
        mid = traj[1:-1].reshape(-1, 2)
        ax.scatter(*mid.T, s=9, c=p_data[1:-1].ravel(), cmap="plasma", vmin=0, vmax=1,
                   linewidths=0)
    fig.colorbar(last, ax=ax, shrink=0.6, pad=0.01).set_label("P(looks like encoded data)")
    ax.set_xlabel(view.axis_label(0))
    ax.set_ylabel(view.axis_label(1))
    ax.set_title(f"{view.method} view: axes hold {100 * view.held:.1f}% of encoded-data "
                 f"variance · separation AUC {view.auc:.2f} · "
                 f"{view.active_units}/{view.latent_dim} units active", fontsize=9)
    if view.low:
        ax.text(0.01, 0.99, f"Warning: the axes hold only {100 * view.held:.1f}% of the "
                "encoded data's variance", transform=ax.transAxes, va="top", color="firebrick",
                fontsize=9, bbox=dict(facecolor="white", edgecolor="firebrick", alpha=0.9))
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.12), ncol=4, fontsize=8, frameon=False,
              markerscale=2)
    ax.grid(alpha=0.2)

    band = score_band(p_data)
    side.fill_between(steps, band["low"], band["high"], color="tab:orange", alpha=0.25,
                      label="10–90% of chains")
    side.plot(steps, band["mean"], "o-", color="tab:orange", label="mean over chains")
    side.axhline(score.data_level, color="tab:blue", ls="--", lw=1.2,
                 label=f"encoded data ({score.data_level:.2f})")
    side.axhline(score.prior_level, color="0.4", ls=":", lw=1.2,
                 label=f"prior ({score.prior_level:.2f})")
    side.set_ylim(0, 1)
    side.set_xticks(steps)
    side.set_xlabel("chain step t")
    side.set_ylabel("P(looks like encoded data)")
    side.set_title(f"data score (classifier accuracy {score.cv_accuracy:.2f}, 3-fold)",
                   fontsize=9)
    side.legend(loc="lower right", fontsize=8)
    side.grid(alpha=0.2)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _tab10():
    from matplotlib import colormaps

    return list(colormaps["tab10"].colors)
