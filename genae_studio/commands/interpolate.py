"""``genae-studio interpolate``: interpolations between encoded test images, before and after
chain steps (the paper's Figure 2): rows of pairs, or with ``--four`` the four-image grid."""
from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .common import (
    add_model_source,
    check_outputs,
    close_outputs,
    commit_outputs,
    load_host,
    load_run_arg,
    log,
    positive,
)

MAX_FOUR_POINTS = 64  # --four draws points x points images


def add_arguments(p) -> None:
    add_model_source(p)
    p.add_argument("--data", help="dataset (default: the run's)")
    p.add_argument("--data-format")
    p.add_argument("--points", type=int, default=8)
    p.add_argument("--steps", type=int, default=5, help="chain steps after interpolating")
    p.add_argument("--pairs", type=positive, default=4, help="rows of pair interpolations")
    p.add_argument("--four", action="store_true", help="the four-image grid")
    p.add_argument("--method", choices=("slerp", "linear"), default="slerp")
    p.add_argument("--out", type=Path, default=Path("interp.png"))
    p.add_argument("--npz", type=Path)
    p.add_argument("--batch-size", type=positive, default=256,
                   help="interpolated points run through the chain together")


def _check_args(args) -> None:
    if args.points < 2:
        raise UsageError("--points must be at least 2")
    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0 (chain steps after interpolating), "
                         f"got {args.steps}")
    if args.four and args.points > MAX_FOUR_POINTS:
        raise UsageError(f"--four with --points {args.points} draws {args.points ** 2} images; "
                         f"at most --points {MAX_FOUR_POINTS}")
    check_outputs(args)


def _encode_endpoints(args, run, host):
    """Codes of the test images to interpolate between: 4 with --four, else 2 per pair."""
    import numpy as np

    from ..data import check_fits, default_dataset, resolve_dataset

    data = args.data or run.config.data_source() or default_dataset(host.datasets)
    dataset = resolve_dataset(data, host.datasets, data_format=args.data_format, split="test",
                              image_size=run.model.image_size)
    check_fits(dataset, run.model.channels, name=data)
    need = 4 if args.four else 2 * args.pairs
    # Encode a full batch so batch-norm statistics are meaningful; use its first images.
    count = min(len(dataset), max(64, need))
    if count < need:
        raise UsageError(f"{data}: only {len(dataset)} test images, {need} needed")
    pick = np.sort(np.random.default_rng(args.seed).choice(len(dataset), count, replace=False))
    return run.encode(dataset.batch(pick), bn_mode=args.bn_mode)[:need]


def _lines(args, z, mix, ts):
    """The (start, end) codes of each interpolation line, and the (lines, points) shape."""
    if args.four:  # rows go from the top corners to the bottom ones, columns left to right
        left = [mix(z[0], z[2], t) for t in ts]
        right = [mix(z[1], z[3], t) for t in ts]
        return [(a, b) for a, b in zip(left, right, strict=True)], (args.points,) * 2
    return [(z[2 * p], z[2 * p + 1]) for p in range(args.pairs)], (args.pairs, args.points)


def _declare_npz(npz, shape, model, steps: int) -> None:
    image = (model.channels, model.image_size, model.image_size)
    for name, tail in (("z", (model.latent_dim,)), ("before", image), ("after", image),
                       ("z_after", (model.latent_dim,))):
        npz.declare(name, (*shape, *tail), "float32")
    npz.declare("steps", (1,), "int64")
    npz.append("steps", [steps])


def main(args) -> int:
    import numpy as np
    import torch

    from ..outputs import GridWriter, NpzWriter
    from ..sampling import lerp, slerp

    _check_args(args)
    host = load_host(args)
    run = load_run_arg(args, host)
    run.prepare_bn(args.bn_mode, host=host, log=log, data=args.data,
                   data_format=args.data_format)
    model = run.model
    z = _encode_endpoints(args, run, host)
    mix = slerp if args.method == "slerp" else lerp
    ts = torch.linspace(0, 1, args.points).tolist()  # as interpolate.interpolate
    lines, shape = _lines(args, z, mix, ts)
    rows = len(lines)
    # Pairs: the "before" rows on top, "after" below. Four: "before" left, "after" right of
    # an empty column.
    grid_shape = (rows, 2 * args.points + 1) if args.four else (2 * rows, args.points)
    grid = GridWriter(args.out, *grid_shape, model.channels, model.image_size)
    npz = NpzWriter(args.npz) if args.npz else None
    try:
        if npz:
            _declare_npz(npz, shape, model, args.steps)
        count = shape[0] * shape[1]
        flat = torch.stack([mix(*lines[i // args.points], ts[i % args.points])
                            for i in range(count)])  # the codes only: small
        before = None
        for part in run.sample_batches(count, [0, args.steps], seed=args.seed,
                                       batch_size=args.batch_size, bn_mode=args.bn_mode,
                                       z0=flat):  # memory: one batch of chains
            before = part if part.t == 0 else before
            if part.t != args.steps:
                continue
            x = np.stack([before.x.float().cpu().numpy(), part.x.float().cpu().numpy()])
            _put_cells(grid, part.start, x, args.points, rows, args.four)
            if npz:
                for name, value in (("z", flat[part.start:part.stop].numpy()),
                                    ("before", x[0]), ("after", x[1]),
                                    ("z_after", part.z.float().cpu().numpy())):
                    npz.append(name, value)
        layout = "left: before, right" if args.four else f"top {rows} rows: before, bottom"
        commit_outputs(grid, npz, args, f"{layout}: after {args.steps} chain steps")
    finally:
        close_outputs(grid, npz)
    return 0


def _put_cells(grid, start: int, x, points: int, rows: int, four: bool) -> None:
    """Place a batch of flat interpolation indices start.. (before x[0], after x[1])."""
    i, end = start, start + x.shape[1]
    while i < end:
        row, col = divmod(i, points)
        k = min(end, (row + 1) * points) - i
        before, after = x[0][i - start:i - start + k], x[1][i - start:i - start + k]
        if four:
            grid.put(row, col, before)
            grid.put(row, points + 1 + col, after)
        else:
            grid.put(row, col, before)
            grid.put(rows + row, col, after)
        i += k
