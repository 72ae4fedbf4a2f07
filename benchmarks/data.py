"""Feeding training from image files: today's per-access decode, torchvision's ImageFolder +
DataLoader, the decoded-image cache's first (parallel) pass, and a cached epoch through the
Prefetcher; peak RSS of a cached epoch at two dataset sizes; a lazily opened test split.

The data is a CelebA-layout folder (img_align_celeba/000001.jpg ..., 178 x 218 JPEGs at
quality 90, about CelebA's file size) made deterministically here, not downloaded; 20,000
images by default (``--n``). Everything runs in a temporary folder with its own cache folder.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from .common import Config, Row, unavailable

SECTION = "data"
BATCH = 256
IMAGE_SIZE = 64


def make_celeba_folder(root: Path, n: int) -> list[Path]:
    """n JPEGs like CelebA's aligned faces (178 x 218, q90): smooth shapes with fine texture,
    each drawn from its own seed (deterministic), written on every core. Returns their
    paths, sorted."""
    from concurrent.futures import ProcessPoolExecutor

    from genae_studio.data.cache import cores

    folder = root / "img_align_celeba"
    folder.mkdir(parents=True, exist_ok=True)
    step = 500
    with ProcessPoolExecutor(cores()) as pool:
        list(pool.map(_draw_faces, [(folder, i, min(i + step, n)) for i in range(0, n, step)]))
    return [folder / f"{i + 1:06d}.jpg" for i in range(n)]


def _draw_faces(job) -> None:
    from PIL import Image

    folder, start, stop = job
    yy, xx = np.mgrid[0:218, 0:178].astype(np.float32)
    textures = [np.random.default_rng([1, k]).normal(0, 9, (218, 178, 3)).astype(np.float32)
                for k in range(4)]
    for i in range(start, stop):
        rng = np.random.default_rng([0, i])
        cy, cx, ry, rx = rng.uniform(90, 130), rng.uniform(70, 108), rng.uniform(50, 70), \
            rng.uniform(38, 52)
        face = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        background = rng.uniform(40, 220, 3) * (0.6 + 0.4 * yy[..., None] / 218)
        skin = rng.uniform(120, 230, 3)
        image = np.where(face[..., None], skin * (1.1 - 0.3 * xx[..., None] / 178), background)
        image = np.clip(image + textures[i % 4], 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{i + 1:06d}.jpg", quality=90)


def data_rows(cfg: Config, n: int | None = None) -> list[Row]:
    n = n or (400 if cfg.quick else 20_000)
    old = os.environ.get("GENAE_STUDIO_CACHE")
    with tempfile.TemporaryDirectory(prefix="genae-bench-data-") as tmp:
        os.environ["GENAE_STUDIO_CACHE"] = str(Path(tmp) / "cache")
        try:
            return _rows(Path(tmp), n)
        finally:
            if old is None:
                os.environ.pop("GENAE_STUDIO_CACHE", None)
            else:
                os.environ["GENAE_STUDIO_CACHE"] = old


def _rows(tmp: Path, n: int) -> list[Row]:
    from genae_studio.data import FileDataset, cache

    t0 = time.perf_counter()
    paths = make_celeba_folder(tmp / "celeba", n)
    kb = np.mean([p.stat().st_size for p in paths[:500]]) / 1024
    cores = cache.cores()
    rows = [Row(SECTION, "CelebA-layout folder", f"{n:,} JPEGs 178x218 q90, mean {kb:.1f} KB",
                note=f"generated in {time.perf_counter() - t0:.0f} s; images resized to "
                     f"{IMAGE_SIZE}x{IMAGE_SIZE}, batch {BATCH}, {cores} cores")]

    # (a) today: FileDataset decodes on every access, in the prefetch thread (one thread).
    plain = FileDataset(paths, image_size=IMAGE_SIZE, name="celeba")
    sample = np.sort(np.random.default_rng(0).permutation(n)[:min(n, 4000)])
    t0 = time.perf_counter()
    for start in range(0, len(sample), BATCH):
        plain.batch(sample[start:start + BATCH])
    decode_rate = len(sample) / (time.perf_counter() - t0)
    rows.append(Row(SECTION, "(a) today: per-access decode (FileDataset.batch, one thread)",
                    decode_rate, "images/s", note=f"{len(sample):,} random images"))

    # (b) what most users write: torchvision ImageFolder + DataLoader with worker processes.
    rows.append(_dataloader_row(tmp / "celeba", n, cores, decode_rate))

    # (c) the cache's first pass, in parallel processes.
    full = FileDataset(paths, image_size=IMAGE_SIZE, name="celeba")
    t0 = time.perf_counter()
    entry = cache.build_cache(full, cache.cache_root() / cache.entry_name(
        full, "", cache.fingerprint(full, "")), progress=lambda p: None)
    first = n / (time.perf_counter() - t0)
    rows.append(Row(SECTION, f"(c) first pass: decode into the cache ({entry.meta['workers']} "
                             f"processes)", first, "images/s",
                    f"{first / decode_rate:.2f}x (a)", ">= 1.7x (a) on 2 cores",
                    f"cache {entry.nbytes / 1e6:,.0f} MB; includes starting the processes"))

    # (d) a cached epoch through the Prefetcher (CPU: float32 batches).
    cached = FileDataset(paths, image_size=IMAGE_SIZE, name="celeba")
    cached.attach_cache(entry)
    epoch = _cached_epoch_rate(cached)
    rows.append(Row(SECTION, "(d) cached epoch through the Prefetcher (float32 batches)", epoch,
                    "images/s", f"{epoch / decode_rate:.0f}x (a); "
                                f"{epoch / rows[-2].value:.1f}x (b)"
                    if isinstance(rows[-2].value, float) else f"{epoch / decode_rate:.0f}x (a)",
                    ">= 20x (a), >= 5x (b)", "random order, sorted within each batch, as "
                                             "training reads"))
    gather = _gather_rate(cached)
    rows.append(Row(SECTION, "cached uint8 gather alone (dataset.batch)", gather, "images/s",
                    note="positioned reads from the page cache"))

    rows += _rss_rows(tmp, paths, entry)
    rows += _lazy_rows(paths)
    rows.append(Row(SECTION, "GPU: training images/s with and without the cache, time "
                             "waiting for data", None, goal="waiting < 5% at batch 256",
                    note="not measured: no GPU in this session"))
    return rows


def _dataloader_row(root: Path, n: int, cores: int, decode_rate: float) -> Row:
    name = f"(b) torchvision ImageFolder + DataLoader(num_workers={cores})"
    try:
        import torch
        from torchvision import datasets, transforms
    except Exception as exc:  # torchvision missing or broken
        return unavailable(SECTION, name, f"{type(exc).__name__}: {exc}")
    transform = transforms.Compose([transforms.CenterCrop(178), transforms.Resize(IMAGE_SIZE),
                                    transforms.ToTensor()])
    folder = datasets.ImageFolder(str(root), transform=transform)
    m = min(n, 4000)  # an epoch of 4,000 random images: the rate, in a quarter of the time
    part = torch.utils.data.Subset(folder, np.random.default_rng(0).permutation(n)[:m].tolist())
    loader = torch.utils.data.DataLoader(part, batch_size=BATCH, shuffle=True,
                                         num_workers=cores, persistent_workers=True)
    for _ in loader:  # the first epoch starts the workers
        pass
    t0 = time.perf_counter()
    for _ in loader:
        pass
    rate = m / (time.perf_counter() - t0)
    return Row(SECTION, name, rate, "images/s", f"{rate / decode_rate:.2f}x (a)",
               note=f"second epoch of {m:,} random images (persistent workers); CenterCrop "
                    f"+ Resize + ToTensor")


def _cached_epoch_rate(dataset) -> float:
    import torch

    from genae_studio.data import Prefetcher

    order = np.random.default_rng(1).permutation(len(dataset))
    steps = range(len(dataset) // BATCH)
    t0 = time.perf_counter()
    with Prefetcher(dataset, lambda s: np.sort(order[s * BATCH:(s + 1) * BATCH]), steps,
                    torch.device("cpu")) as batches:
        for _ in batches:
            pass
    return len(steps) * BATCH / (time.perf_counter() - t0)


def _gather_rate(dataset) -> float:
    order = np.random.default_rng(2).permutation(len(dataset))
    t0 = time.perf_counter()
    for start in range(0, len(order) - BATCH + 1, BATCH):
        dataset.batch(np.sort(order[start:start + BATCH]))
    return (len(order) // BATCH) * BATCH / (time.perf_counter() - t0)


_RSS = textwrap.dedent('''
    import json, sys
    import numpy as np
    import torch
    from genae_studio.data import FileDataset, Prefetcher
    from genae_studio.data.cache import CachedImages, open_entry

    def rss_mib(field):  # VmRSS now, or VmHWM: the peak since the last reset
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024

    folder, mode, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    entry = open_entry(__import__("pathlib").Path(folder))
    n = entry.count
    if mode == "cache":
        dataset = FileDataset([f"{i}.jpg" for i in range(n)], image_size=entry.shape[1])
        dataset.attach_cache(entry)
    else:  # the contrast: a numpy memory map, whose touched pages all count as RSS
        from genae_studio.data import ArrayDataset
        dataset = ArrayDataset(np.load(entry.path, mmap_mode="r"))
    order = np.random.default_rng(0).permutation(n)
    steps = range(n // batch)
    with Prefetcher(dataset, lambda s: np.sort(order[:batch]), range(2),
                    torch.device("cpu")) as warm:  # warm up: threads, allocator pools
        for _ in warm:
            pass
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = rss_mib("VmRSS")
    with Prefetcher(dataset, lambda s: np.sort(order[s * batch:(s + 1) * batch]), steps,
                    torch.device("cpu")) as batches:
        for _ in batches:
            pass
    print("RSS=" + json.dumps({"base": base, "peak": rss_mib("VmHWM")}))
''')


def _child_rss(folder: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _RSS, str(folder), mode, str(BATCH)],
                         capture_output=True, text=True, timeout=900)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RSS=")), None)
    if line is None:
        raise RuntimeError((out.stderr.strip().splitlines() or ["no output"])[-1][:200])
    return json.loads(line[4:])


def _rss_rows(tmp: Path, paths: list[Path], full) -> list[Row]:
    from genae_studio.data import FileDataset, cache

    small_n = max(BATCH * 2, len(paths) // 10)
    small = cache.build_cache(FileDataset(paths[:small_n], image_size=IMAGE_SIZE),
                              cache.cache_root() / "celeba-small", progress=lambda p: None)
    batch_mib = BATCH * full.row_bytes * 5 / 2**20  # the uint8 batch and its float32 copy
    rows = []
    try:
        a, b = _child_rss(small.folder, "cache"), _child_rss(full.folder, "cache")
        growth = (b["peak"] - b["base"]) - (a["peak"] - a["base"])
        rows.append(Row(SECTION, f"peak RSS of a cached epoch, {len(paths):,} images",
                        b["peak"], "MiB", f"{small_n:,} images: {a['peak']:.0f} MiB",
                        "grows < one batch", f"the epoch added {b['peak'] - b['base']:.0f} "
                        f"MiB ({small_n:,}: {a['peak'] - a['base']:.0f} MiB); {growth:+.0f} "
                        f"MiB with {len(paths) / small_n:.0f}x the images; one batch (uint8 + "
                        f"float32) is {batch_mib:.0f} MiB"))
        m = _child_rss(full.folder, "mmap")
        rows.append(Row(SECTION, f"for contrast: the same epoch from np.load(mmap_mode='r'), "
                                 f"{len(paths):,} images", m["peak"], "MiB",
                        note=f"the epoch added {m['peak'] - m['base']:.0f} MiB: every page "
                             f"of the map it touched counts as the process's memory"))
    except Exception as exc:
        rows.append(unavailable(SECTION, "peak RSS of a cached epoch", str(exc)))
    return rows


def _lazy_rows(paths: list[Path]) -> list[Row]:
    """The studio's gallery over a large split: listing it must not decode it."""
    from genae_studio.data import FileDataset, cache

    t0 = time.perf_counter()
    lazy = FileDataset(paths, image_size=IMAGE_SIZE, name="celeba")
    lazy.batch(np.arange(64))
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = FileDataset(paths, image_size=IMAGE_SIZE, name="celeba")
    entry = cache.find_cache(warm, "")
    if entry is not None:
        warm.attach_cache(entry)
    warm.batch(np.arange(64))
    hot = time.perf_counter() - t0
    return [Row(SECTION, f"open {len(paths):,} files lazily + read the first 64 images",
                cold * 1e3, "ms", note="no cache: 64 decodes"),
            Row(SECTION, f"open {len(paths):,} files + find their cache + read 64 images",
                hot * 1e3, "ms", note="the fingerprint stats every file"
                if entry is None else "the fingerprint stats every file; read from the cache")]
