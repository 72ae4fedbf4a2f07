"""``genae-studio sample``: chains from the prior, one labelled grid block per step (and the
codes and images as .npz). Memory holds one batch of chains, whatever ``--n``."""
from __future__ import annotations

from pathlib import Path

from .common import (
    add_model_source,
    check_outputs,
    close_outputs,
    commit_outputs,
    load_host,
    load_run_arg,
    log,
    noise_std,
    positive,
    steps_list,
)


def add_arguments(p) -> None:
    add_model_source(p)
    p.add_argument("--n", type=positive, default=16, help="chains (default 16)")
    p.add_argument("--steps", type=steps_list, default=[0, 1, 5, 10])
    p.add_argument("--columns", type=positive, default=16,
                   help="images per grid line; a step's row wraps after this many (16)")
    p.add_argument("--noise-std", type=noise_std,
                   help="corruption std for denoising models (a finite number >= 0)")
    p.add_argument("--data", help="with --bn-mode precise: the training data to estimate "
                                  "the statistics on where the run's is not found here")
    p.add_argument("--data-format", help="force the on-disk format of --data")
    p.add_argument("--out", type=Path, default=Path("grid.png"))
    p.add_argument("--npz", type=Path, help="also save x, z and steps as .npz")
    p.add_argument("--batch-size", type=positive, default=256,
                   help="chains run together (memory grows with it; with --bn-mode batch, "
                        "their batch-norm statistics come from this batch)")


def main(args) -> int:
    from ..outputs import GridWriter, NpzWriter

    check_outputs(args)
    host = load_host(args)
    run = load_run_arg(args, host)
    run.prepare_bn(args.bn_mode, host=host, log=log, data=args.data,
                   data_format=args.data_format)
    model, steps = run.model, args.steps
    image = (model.channels, model.image_size, model.image_size)
    # One block per step, labelled with its t; a block wraps after --columns chains.
    grid = GridWriter(args.out, len(steps), args.n, model.channels, model.image_size,
                      columns=args.columns, row_labels=[f"t = {t}" for t in steps])
    npz = NpzWriter(args.npz) if args.npz else None
    try:
        if npz:
            npz.declare("x", (len(steps), args.n, *image), "float32", parts=len(steps))
            npz.declare("z", (len(steps), args.n, model.latent_dim), "float32",
                        parts=len(steps))
            npz.declare("steps", (len(steps),), "int64")
            npz.append("steps", steps)
        for part in run.sample_batches(args.n, steps, seed=args.seed,  # one batch in memory
                                       batch_size=args.batch_size, bn_mode=args.bn_mode,
                                       noise_std=args.noise_std):
            x, z = part.x.float().cpu().numpy(), part.z.float().cpu().numpy()
            for row in (r for r, t in enumerate(steps) if t == part.t):
                grid.put(row, part.start, x)
                if npz:
                    npz.append("x", x, part=row)
                    npz.append("z", z, part=row)
        lines = grid.layout.lines
        shape = f"{len(steps)} rows" if lines == 1 else \
            f"{len(steps)} blocks of {lines} lines"
        commit_outputs(grid, npz, args, f"{shape} labelled with t: steps "
                       f"{','.join(map(str, steps))}; {args.n} chains of {run.name}")
    finally:
        close_outputs(grid, npz)
    return 0
