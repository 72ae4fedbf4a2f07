"""Decode once: an on-disk dataset's images decoded into one uint8 file in the cache folder.

The first use of a ``FileDataset`` (CelebA, an image folder, or a third party's format that
returns one) at a given image size and channel count decodes every file, in parallel
processes, into ``cache_dir()/decoded/NAME-SPLIT-SIZEpxC-KEY/images.npy`` (a plain .npy
array of uint8 (N, C, S, S)) beside ``meta.json`` (the unreadable files, the first reason).
KEY is a fingerprint of the file list with every file's size, modification time and mode,
the size, channels and split, and the decoder (Pillow's version, this format's version): a
file that changed makes a new key, so a stale cache is never read.

Later epochs, runs, evals and studio sessions read rows from that file with positioned reads
(``os.preadv``) into the batch's own buffer: the operating system's page cache holds the
file, and the process's memory does not grow with the dataset, as it would with a memory map
whose touched pages all count as the process's own.

The cache is built in a hidden temporary folder and renamed into place when complete, so a
crash, a kill or Ctrl-C at any instant leaves either no cache or a whole one; a temporary
folder left by a killed build is never read, and is removed by the next build of the same
data (and by ``genae-studio cache clear``). ``--no-cache`` (or ``GENAE_STUDIO_NO_CACHE=1``)
turns it off; ``GENAE_STUDIO_CACHE`` moves the cache folder.

Under torchrun, local rank 0 builds the cache with all the machine's cores while the other
local ranks wait for it; then each rank reads only the rows of its share of each batch.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..env import NO_CACHE_ENV, data_cache_enabled
from ..errors import DataError, GenaeError
from .base import FileDataset, cache_dir, safe_name

FORMAT_VERSION = 1  # bump when preprocessing changes what a decoded image holds
DISABLE_ENV = NO_CACHE_ENV  # genae_studio.env owns the variable
SUBFOLDER = "decoded"
IMAGES, META = "images.npy", "meta.json"
PARALLEL_FROM = 512  # fewer images decode in this process: starting workers costs more
ANNOUNCE_FROM = 512  # smaller first passes take a blink: no lines, no progress bar


class CacheBuildCancelled(GenaeError):
    """The first pass was stopped (``cancel`` returned True); nothing was kept."""


@dataclass(frozen=True)
class CacheProgress:
    """How far the first pass is, for a progress bar: ``done`` of ``total`` images after
    ``seconds``; ``eta_s`` is None until one chunk has finished."""

    done: int
    total: int
    seconds: float
    eta_s: float | None


# --- switching it off ---------------------------------------------------------------------
def enabled() -> bool:
    """False when the cache is switched off (``--no-cache``, genae_studio.env.NO_CACHE_ENV)."""
    return data_cache_enabled()


def disable() -> None:
    """Turn the cache off for this process and the processes it starts (``--no-cache``)."""
    os.environ[DISABLE_ENV] = "1"


def cache_root() -> Path:
    return cache_dir() / SUBFOLDER


# --- the cached images --------------------------------------------------------------------
class CachedImages:
    """One complete cache entry: rows read with positioned reads, thread-safe."""

    def __init__(self, folder: Path, meta: dict):
        self.folder = Path(folder)
        self.path = self.folder / IMAGES
        self.meta = meta
        self.count = int(meta["count"])
        self.shape = (int(meta["channels"]), int(meta["image_size"]), int(meta["image_size"]))
        self.row_bytes = int(np.prod(self.shape))
        self.offset = int(meta["offset"])
        self.bad = np.asarray(meta["bad"], dtype=np.int64)
        self.first_skipped: str | None = meta.get("first_skipped")
        self._readable = np.flatnonzero(np.isin(np.arange(self.count), self.bad,
                                                invert=True)) if len(self.bad) else None
        self._fd: int | None = None
        self._pid = -1
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self.offset + self.count * self.row_bytes

    def readable_rows(self, rows: np.ndarray) -> np.ndarray:
        """Each row, or for an unreadable file's row the next readable one (wrapping), as
        ``FileDataset`` substitutes it."""
        if self._readable is None:
            return rows
        pos = np.searchsorted(self._readable, rows)
        pos[pos == len(self._readable)] = 0
        return self._readable[pos]

    def _file(self) -> int:
        with self._lock:
            if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
                self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
            return self._fd

    def read(self, rows: np.ndarray) -> np.ndarray:
        """uint8 (len(rows), C, S, S): the rows (already made readable), consecutive rows in
        one system call."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((len(rows), *self.shape), dtype=np.uint8)
        if not len(rows):
            return out
        flat = out.reshape(len(rows), self.row_bytes)
        fd = self._file()
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for start, stop in zip(np.r_[0, breaks], np.r_[breaks, len(rows)], strict=True):
            _read_at(fd, memoryview(flat[start:stop]).cast("B"),
                     self.offset + int(rows[start]) * self.row_bytes)
        return out

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None

    def __del__(self):
        self.close()

    def __getstate__(self):  # the file is reopened where it is unpickled
        return {k: v for k, v in self.__dict__.items() if k not in ("_fd", "_pid", "_lock")}

    def __setstate__(self, state):
        self.__dict__.update(state, _fd=None, _pid=-1, _lock=threading.Lock())


def _read_at(fd: int, view: memoryview, offset: int) -> None:
    while len(view):
        if hasattr(os, "preadv"):
            got = os.preadv(fd, [view], offset)
        else:  # platforms without preadv
            data = os.pread(fd, len(view), offset)
            got = len(data)
            view[:got] = data
        if got <= 0:
            raise DataError(f"decoded-image cache file is truncated at byte {offset} "
                            f"(remove it with: genae-studio cache clear)")
        view, offset = view[got:], offset + got


# --- keys and lookup ----------------------------------------------------------------------
def cacheable(dataset) -> bool:
    """A FileDataset whose images are what ``_decode`` returns (a subclass that changes
    ``__getitem__`` or ``batch`` transforms them, and is left alone)."""
    kind = type(dataset)
    return (isinstance(dataset, FileDataset) and len(dataset) > 0
            and kind.__getitem__ is FileDataset.__getitem__ and kind.batch is FileDataset.batch)


def _custom_decoder(dataset) -> bool:
    return type(dataset)._decode is not FileDataset._decode


def fingerprint(dataset: FileDataset, split: str = "") -> str:
    """The cache key: the file list with each file's size, modification time and mode; the
    image size, channels and split; the decoder (Pillow's version and this format's)."""
    import PIL

    kind = type(dataset)
    decoder = f"{kind.__module__}.{kind.__qualname__}" if _custom_decoder(dataset) else ""
    digest = hashlib.sha256(json.dumps(
        {"format": FORMAT_VERSION, "pillow": PIL.__version__, "decoder": decoder,
         "size": dataset.image_size, "channels": dataset.channels, "split": split,
         "n": len(dataset)}, sort_keys=True).encode())
    for path in dataset.paths:
        path = os.path.abspath(path)
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}:{st.st_mode:o}"
        except OSError:
            stamp = "missing"
        digest.update(f"{path}\0{stamp}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:32]


def entry_name(dataset: FileDataset, split: str, key: str) -> str:
    return (f"{safe_name(dataset.name, 'files')}-{safe_name(split or 'all')}-"
            f"{dataset.image_size}px{dataset.channels}-{key}")


def open_entry(folder: Path) -> CachedImages | None:
    """The complete entry in ``folder``; None when there is none or it does not hold what its
    meta.json says (a damaged entry is never read)."""
    try:
        meta = json.loads((folder / META).read_text())
        entry = CachedImages(folder, meta)
        if meta.get("format") != FORMAT_VERSION or \
                (folder / IMAGES).stat().st_size != entry.nbytes:
            return None
        return entry
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_cache(dataset: FileDataset, split: str = "") -> CachedImages | None:
    """The complete cache of ``dataset`` as its files are now, if one was built."""
    key = fingerprint(dataset, split)
    return open_entry(cache_root() / entry_name(dataset, split, key))


# --- using it -----------------------------------------------------------------------------
def use_cache(dataset, split: str = "", *, build: bool = True,
              progress: Callable[[CacheProgress], object] | None = None,
              cancel: Callable[[], bool] | None = None, workers: int | None = None):
    """``dataset`` reading from its cache: found, or (``build``) built now. Returns the
    dataset itself (attached) or, when it cannot be cached, unchanged.

    ``progress`` receives a CacheProgress after every chunk (default: a progress bar with
    ETA on stderr, plus a line before and after); ``cancel`` is polled as often and stops
    the build (CacheBuildCancelled) with nothing left behind. A cache folder that cannot be
    written is a warning: the images are then decoded on access, as without a cache.
    """
    if not enabled() or not cacheable(dataset):
        return dataset
    if dataset.cached is not None:
        return dataset
    try:
        key = fingerprint(dataset, split)
        folder = cache_root() / entry_name(dataset, split, key)
        entry = open_entry(folder)
        if entry is None and build:
            entry = (_wait_for_local_rank_0(folder) if _local_rank() > 0 else
                     build_cache(dataset, folder, progress=progress, cancel=cancel,
                                 workers=workers))
    except (OSError, DataError) as exc:  # DataError: the cache folder cannot be a folder
        _say(f"genae-studio: warning: cannot use the decoded-image cache "
             f"({getattr(exc, 'strerror', None) or exc}); decoding images on access")
        return dataset
    if entry is not None:
        dataset.attach_cache(entry)
    return dataset


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _local_rank() -> int:
    """This process's local rank under torchrun (0 alone)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return int(os.environ.get("LOCAL_RANK", "0")) if world > 1 else 0
    except ValueError:
        return 0


def _wait_for_local_rank_0(folder: Path) -> CachedImages:
    """Under torchrun: wait while local rank 0 builds the cache (if it fails, torchrun stops
    this process with it)."""
    _say(f"genae-studio: waiting for local rank 0 to decode the images into {folder}")
    while True:
        entry = open_entry(folder)
        if entry is not None:
            return entry
        time.sleep(0.2)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --- building it --------------------------------------------------------------------------
def build_cache(dataset: FileDataset, folder: Path, *,
                progress: Callable[[CacheProgress], object] | None = None,
                cancel: Callable[[], bool] | None = None, workers: int | None = None,
                chunk: int | None = None) -> CachedImages:
    """Decode every image of ``dataset`` into the cache entry ``folder`` (see use_cache).

    ``workers`` processes decode (default: one per core; this process alone below
    PARALLEL_FROM images or for a subclass with its own ``_decode``). Each writes its chunks
    straight into the file; only unreadable files' reasons come back.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder.parent, folder.name)
    n = len(dataset)
    if workers is None:
        workers = cores() if n >= PARALLEL_FROM else 1
    if _custom_decoder(dataset):
        workers = 1
    workers = max(1, min(int(workers), n))
    chunk = chunk or int(np.clip(n // (workers * 16), 8, 256))
    tmp = folder.parent / f".{folder.name}.{safe_name(socket.gethostname())}-{os.getpid()}-" \
                          f"{secrets.token_hex(4)}.tmp"
    report = progress or (_ProgressBar(dataset, n, workers) if n >= ANNOUNCE_FROM
                          else (lambda p: None))
    tmp.mkdir()
    started = time.perf_counter()
    try:
        offset = _create_images_file(tmp / IMAGES, (n, dataset.channels, dataset.image_size,
                                                    dataset.image_size))
        spec = (str(tmp / IMAGES), offset, dataset.channels, dataset.image_size)
        chunks = [(start, min(start + chunk, n)) for start in range(0, n, chunk)]

        def tick(done: int) -> None:
            seconds = time.perf_counter() - started
            eta = seconds / done * (n - done) if done else None
            report(CacheProgress(done, n, seconds, eta))
            if cancel is not None and cancel():
                raise CacheBuildCancelled(f"decoding {dataset.source or dataset.name} was "
                                          f"stopped; nothing was cached")

        tick(0)
        if workers == 1:
            bad = _decode_here(dataset, spec, chunks, tick)
        else:
            bad = _decode_in_processes(dataset.paths, spec, chunks, workers, tick)
        bad.sort()
        if len(bad) == n:
            raise DataError(f"{dataset.source or dataset.name}: none of the {n} image files "
                            f"is readable (first: {bad[0][1]})")
        meta = {"format": FORMAT_VERSION, "count": n, "channels": dataset.channels,
                "image_size": dataset.image_size, "offset": offset, "name": dataset.name,
                "source": str(dataset.source), "bad": [i for i, _ in bad],
                "first_skipped": bad[0][1] if bad else None,
                "seconds": round(time.perf_counter() - started, 3), "workers": workers,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        _write_synced(tmp / META, json.dumps(meta, indent=1).encode())
        _commit(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(report, _ProgressBar):
            report.close()
        raise
    entry = open_entry(folder)
    if entry is None:
        raise DataError(f"{folder}: the decoded-image cache just written cannot be read")
    if isinstance(report, _ProgressBar):
        report.finish(entry)
    return entry


def _create_images_file(path: Path, shape: tuple[int, ...]) -> int:
    """An .npy file of uint8 ``shape``, its space reserved (a full disk fails here, not half
    way); returns the offset of the first row."""
    with open(path, "xb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "|u1", "fortran_order": False, "shape": shape})
        offset = f.tell()
        size = offset + int(np.prod(shape))
        if hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(f.fileno(), 0, size)
            except OSError as exc:
                if exc.errno not in (22, 95):  # file systems without fallocate
                    raise
        f.truncate(size)
    return offset


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _commit(tmp: Path, folder: Path) -> None:
    """Make the complete entry durable, then visible under its final name in one rename."""
    from ..fileio import fsync_dir

    fd = os.open(tmp / IMAGES, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(tmp)
    try:
        os.rename(tmp, folder)
    except OSError:
        if open_entry(folder) is None:  # another process's complete entry wins
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    fsync_dir(folder.parent)


def decode_rows(decode: Callable[[int], np.ndarray], fd: int, offset: int, start: int,
                 stop: int, shape: tuple[int, ...]) -> list[tuple[int, str]]:
    """Decode rows start..stop-1 with ``decode(row)`` and write them at their place;
    returns (row, "PATH: reason") for the unreadable ones (their rows stay zero)."""
    out = np.zeros((stop - start, *shape), dtype=np.uint8)
    bad = []
    for row in range(start, stop):
        try:
            out[row - start] = decode(row)
        except Exception as exc:  # unreadable, or not really an image
            bad.append((row, exc))
    view = memoryview(out.reshape(-1)).cast("B")
    position = offset + start * out[0].nbytes
    while len(view):
        written = os.pwrite(fd, view, position)
        view, position = view[written:], position + written
    return bad


def reason(path: str, exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{path}: {(text.splitlines()[0] if text else type(exc).__name__)[:200]}"


def _decode_here(dataset: FileDataset, spec, chunks, tick) -> list[tuple[int, str]]:
    path, offset, channels, size = spec
    bad = []
    fd = os.open(path, os.O_WRONLY)
    try:
        for start, stop in chunks:
            found = decode_rows(dataset._decode, fd, offset, start, stop, (channels, size, size))
            bad += [(row, reason(dataset.paths[row], exc)) for row, exc in found]
            tick(stop)
    finally:
        os.close(fd)
    return bad


def _decode_in_processes(paths: list[str], spec, chunks, workers: int,
                         tick) -> list[tuple[int, str]]:
    """Chunks decoded by ``workers`` processes (``genae_studio.data.decode_worker``)."""
    processes = _DecodeProcesses(paths, spec, chunks, workers)
    try:
        return processes.run(tick)
    except BaseException:
        processes.kill()
        raise
    finally:
        processes.close()


class _DecodeProcesses:
    """The first pass's worker processes, at most two chunks each in flight, so a cancel or
    a dead process is noticed within a chunk.

    The workers are fresh interpreters started with ``-m``, not forks (the parent may hold
    threads: the studio's, torch's) nor multiprocessing's spawn (which would import the
    caller's main script again). They ignore Ctrl-C: the parent stops them and cleans up.
    """

    def __init__(self, paths: list[str], spec, chunks, workers: int):
        import queue

        self.paths, self.pending = paths, iter(chunks)
        path, offset, channels, size = spec
        package_parent = str(Path(__file__).resolve().parents[2])
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)}
        self.command = [sys.executable, "-m", "genae_studio.data.decode_worker", path,
                        str(offset), str(channels), str(size)]
        self.workers = workers
        self.procs: list = []
        self.outstanding = [0] * workers
        self.replies: queue.Queue = queue.Queue()

    def run(self, tick) -> list[tuple[int, str]]:
        import queue
        import subprocess
        import threading

        for k in range(self.workers):
            self.procs.append(subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, text=True, env=self.env))
            threading.Thread(target=self._listen, args=(k,), daemon=True).start()
            self._send(k)
            self._send(k)
        done, bad = 0, []
        while any(self.outstanding):
            try:
                k, line = self.replies.get(timeout=0.1)
            except queue.Empty:
                tick(done)
                continue
            if line is None:  # the worker ended
                if self.outstanding[k]:
                    raise self._died(k)
                continue
            _, count, found = json.loads(line)
            self.outstanding[k] -= 1
            done += count
            bad += [(int(row), str(why)) for row, why in found]
            self._send(k)
            tick(done)
        return bad

    def _listen(self, k: int) -> None:
        for line in self.procs[k].stdout:
            self.replies.put((k, line))
        self.replies.put((k, None))

    def _send(self, k: int) -> None:
        task = next(self.pending, None)
        stdin = self.procs[k].stdin
        try:
            if task is None:
                stdin.close()
                return
            start, stop = task
            stdin.write(json.dumps([start, self.paths[start:stop]]) + "\n")
            stdin.flush()
        except (BrokenPipeError, ValueError):
            raise self._died(k) from None
        self.outstanding[k] += 1

    def _died(self, k: int) -> DataError:
        with contextlib.suppress(Exception):
            self.procs[k].wait(timeout=5)
        return DataError(f"a decoding process died (exit code {self.procs[k].returncode}: "
                         f"killed, or crashed in the image decoder); nothing was cached; "
                         f"run again, or use --no-cache")

    def kill(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(OSError):
                proc.kill()

    def close(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)


def remove_stale_temporaries(root: Path, prefix: str = "") -> list[Path]:
    """Remove temporary build folders (of entries starting with ``prefix``) whose building
    process is gone: on this machine, a process that no longer runs; another machine's (a
    shared cache folder) once a day old. Live builds are left alone."""
    removed = []
    host = safe_name(socket.gethostname())
    with contextlib.suppress(OSError), os.scandir(root) as entries:
        for entry in entries:
            if not (entry.name.startswith(f".{prefix}") and entry.name.endswith(".tmp")):
                continue
            owner = entry.name[:-4].rsplit(".", 1)[-1].rsplit("-", 2)  # HOST-PID-TOKEN
            if len(owner) == 3 and owner[1].isdigit():
                if owner[0] == host and _alive(int(owner[1])):
                    continue
                with contextlib.suppress(OSError):
                    if owner[0] != host and time.time() - entry.stat().st_mtime < 86400:
                        continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class _ProgressBar:
    """The command line's report: a line, a tqdm bar with ETA (on a terminal), a line."""

    def __init__(self, dataset, n: int, workers: int):
        from tqdm import tqdm

        size = n * dataset.channels * dataset.image_size ** 2
        how = f"{workers} processes" if workers > 1 else "1 process"
        _say(f"genae-studio: decoding {n:,} images of {dataset.source or dataset.name} into "
             f"the cache ({size / 1e6:,.0f} MB, {how}); later runs read it")
        self.bar = tqdm(total=n, unit="img", desc="decoding", file=sys.stderr, disable=None,
                        dynamic_ncols=True, leave=False)

    def __call__(self, p: CacheProgress) -> None:
        self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        self.bar.close()

    def finish(self, entry: CachedImages) -> None:
        self.close()
        seconds = float(entry.meta.get("seconds") or 0)
        _say(f"genae-studio: cached {entry.count:,} images in {seconds:.1f} s "
             f"({entry.count / max(seconds, 1e-9):,.0f} images/s): "
             f"{entry.nbytes / 1e6:,.1f} MB in {entry.folder}")
        older = older_entries(entry)
        if older:
            size = sum(folder_size(folder) for folder in older)
            _say(f"genae-studio: {len(older)} older cache(s) of the same data ({size / 1e6:,.1f} "
                 f"MB) remain; genae-studio cache clear removes every cache")


# --- in-memory datasets that resize ------------------------------------------------------
def resized(images: np.ndarray, image_size: int, name: str = "array",
            source: str = "") -> np.ndarray:
    """``resize_images(images, image_size)``, done once: the result is cached under a hash of
    the input pixels (so any change to them is a new entry) and read back memory-mapped.
    This is where the MNIST and SVHN loaders spend their time (every image resized with
    Pillow). Without the cache, or when it cannot be written, it resizes as before."""
    from .base import resize_images

    if not enabled() or not len(images) or images.shape[-1] == images.shape[-2] == image_size:
        return resize_images(images, image_size)
    import PIL

    images = np.ascontiguousarray(images)
    digest = hashlib.blake2b(json.dumps(
        {"format": FORMAT_VERSION, "pillow": PIL.__version__, "shape": images.shape,
         "dtype": str(images.dtype), "size": image_size}).encode(), digest_size=16)
    digest.update(memoryview(images.reshape(-1).view(np.uint8)))
    try:
        folder = cache_root() / f"{safe_name(name)}-resized-{image_size}px{images.shape[1]}-" \
                                f"{digest.hexdigest()}"
        if open_entry(folder) is None:
            out = resize_images(images, image_size)
            _write_entry(folder, out, {"name": name, "source": source})
        return np.load(folder / IMAGES, mmap_mode="r")
    except (OSError, DataError) as exc:
        _say(f"genae-studio: warning: cannot use the decoded-image cache "
             f"({getattr(exc, 'strerror', None) or exc}); resizing in memory")
        return resize_images(images, image_size)


def _write_entry(folder: Path, images: np.ndarray, meta: dict) -> None:
    """A complete entry holding ``images``, committed like a first pass's."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder.parent, folder.name)
    tmp = folder.parent / f".{folder.name}.{safe_name(socket.gethostname())}-{os.getpid()}-" \
                          f"{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        offset = _create_images_file(tmp / IMAGES, images.shape)
        with open(tmp / IMAGES, "r+b") as f:
            f.seek(offset)
            f.write(memoryview(np.ascontiguousarray(images).reshape(-1)))
        _write_synced(tmp / META, json.dumps(
            {"format": FORMAT_VERSION, "count": len(images), "channels": images.shape[1],
             "image_size": images.shape[2], "offset": offset, "bad": [], "first_skipped": None,
             "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **meta}, indent=1).encode())
        _commit(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --- reporting and removing ---------------------------------------------------------------
def entries() -> list[tuple[Path, CachedImages | None]]:
    """Every entry folder in the cache (None for a damaged one), sorted by name."""
    root = cache_root()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not folder.name.startswith("."):
            found.append((folder, open_entry(folder)))
    return found


def older_entries(entry: CachedImages) -> list[Path]:
    """Other entries of the same data (name, split, size, channels and source): caches of
    files since changed, or of another ``limit``."""
    prefix = entry.folder.name.rsplit("-", 1)[0] + "-"
    return [folder for folder, other in entries()
            if folder != entry.folder and folder.name.startswith(prefix) and other is not None
            and other.meta.get("source") == entry.meta.get("source")]


def folder_size(path: Path) -> int:
    """Bytes in the files under ``path`` (0 when it is missing)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def clear() -> tuple[int, int]:
    """Remove every decoded-image entry and dead builds' temporaries; (entries, bytes)."""
    root = cache_root()
    removed, freed = 0, 0
    for folder, _ in entries():
        freed += folder_size(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if root.is_dir():
        remove_stale_temporaries(root)
    return removed, freed
