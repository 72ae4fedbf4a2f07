"""The decoded-image cache (genae_studio.data.cache): decode once, read rows later."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genae_studio import DatasetSpec, hookimpl
from genae_studio.data import FileDataset, Prefetcher, cache, resolve_dataset
from genae_studio.errors import DataError
from genae_studio.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[1]


def jpeg_folder(folder: Path, n: int = 36, bad: int = 0) -> Path:
    """n CelebA-like JPEGs (178 x 218, smooth shapes), plus ``bad`` unreadable files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:218, 0:178]
    for i in range(n):
        cy, cx, r = rng.integers(60, 160), rng.integers(50, 130), rng.integers(30, 70)
        image = np.stack([(xx + 40 * i) % 256, (yy * 2 + 9 * i) % 256,
                          np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, 230, 40)], -1)
        Image.fromarray(image.astype(np.uint8)).save(folder / f"{i:06d}.jpg", quality=90)
    for i in range(bad):
        (folder / f"{i:06d}b.jpg").write_bytes(b"not a jpeg")
    return folder


def decoded(dataset: FileDataset) -> np.ndarray:
    """The images as FileDataset decodes them, without a cache."""
    plain = FileDataset(dataset.paths, image_size=dataset.image_size, channels=dataset.channels)
    return plain.batch(np.arange(len(plain)))


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """A cache folder per test: the tests look at everything in it."""
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(cache.DISABLE_ENV, raising=False)
    yield
    assert os.environ.get("GENAE_STUDIO_CACHE") == str(tmp_path / "cache")  # never the user's


@pytest.fixture
def specs():
    return load_plugins([], autoload=False).datasets


def test_cached_images_equal_the_decoded_ones_byte_for_byte(tmp_path, specs):
    folder = jpeg_folder(tmp_path / "faces")
    Image.fromarray(np.full((30, 50), 77, np.uint8)).save(folder / "grey.png")  # 1 channel
    dataset = resolve_dataset(str(folder), specs, split="train", image_size=32)
    assert dataset.cached is not None
    expected = decoded(dataset)
    assert np.array_equal(dataset.batch(np.arange(len(dataset))), expected)
    assert np.array_equal(dataset[5], expected[5])
    order = np.array([7, 3, 3, 0, len(dataset) - 1])
    assert np.array_equal(dataset.batch(order), expected[order])
    sub = dataset.subset([4, 2, 9])
    assert sub.cached is dataset.cached and np.array_equal(sub.batch([0, 1, 2]),
                                                           expected[[4, 2, 9]])
    # The processes of the parallel first pass write the same bytes.
    parallel = FileDataset(dataset.paths, image_size=32)
    entry = cache.build_cache(parallel, tmp_path / "parallel", workers=2, chunk=5)
    parallel.attach_cache(entry)
    assert entry.meta["workers"] == 2
    assert np.array_equal(parallel.batch(np.arange(len(parallel))), expected)


def test_later_uses_read_the_cache_without_decoding(tmp_path, specs, monkeypatch):
    folder = jpeg_folder(tmp_path / "faces", n=12)
    first = resolve_dataset(str(folder), specs, split="train", image_size=16)

    def no_decoding(*args):
        raise AssertionError("decoded again")

    with monkeypatch.context() as patch:
        patch.setattr(FileDataset, "_decode", no_decoding)
        again = resolve_dataset(str(folder), specs, split="train", image_size=16)
    assert again.cached.folder == first.cached.folder
    assert np.array_equal(again.batch([0, 1, 2]), first.batch([0, 1, 2]))
    # Another size, channel count or split is another cache.
    assert resolve_dataset(str(folder), specs, split="test", image_size=16).cached.folder \
        != first.cached.folder
    assert resolve_dataset(str(folder), specs, split="train", image_size=8).cached.folder \
        != first.cached.folder


def test_a_changed_file_invalidates_the_cache(tmp_path, specs):
    folder = jpeg_folder(tmp_path / "faces", n=12)
    before = resolve_dataset(str(folder), specs, split="train", image_size=16)
    target = Path(before.paths[3])
    stat = target.stat()
    Image.fromarray(np.zeros((218, 178, 3), np.uint8)).save(target, quality=90)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime
    after = resolve_dataset(str(folder), specs, split="train", image_size=16)
    assert after.cached.folder != before.cached.folder
    assert after[3].max() == 0 and before[3].max() > 0  # the old cache is not read
    assert np.array_equal(after.batch(np.arange(len(after))), decoded(after))
    target.touch()  # a new modification time alone is a new key too
    assert resolve_dataset(str(folder), specs, split="train",
                           image_size=16).cached.folder != after.cached.folder


def test_unreadable_files_are_still_counted(tmp_path, specs):
    folder = jpeg_folder(tmp_path / "faces", n=20, bad=3)
    for workers in (1, 2):
        dataset = FileDataset(sorted(str(p) for p in folder.iterdir()), image_size=16)
        dataset.attach_cache(cache.build_cache(dataset, tmp_path / f"w{workers}",
                                               workers=workers, chunk=4))
        assert dataset.skipped == 3  # known from the start, not only once read
        assert dataset.first_skipped.startswith(f"{folder}/000000b.jpg: ")
        plain = FileDataset(dataset.paths, image_size=16)
        everything = np.arange(len(dataset))
        # Each bad file's index gives the next readable image, as without a cache.
        assert np.array_equal(dataset.batch(everything), plain.batch(everything))
        assert plain.skipped == 3
        bad_rows = [i for i, p in enumerate(dataset.paths) if p.endswith("b.jpg")]
        assert dataset.subset(bad_rows[:2]).skipped == 2
    with pytest.raises(DataError, match="none of the 2 image files is readable"):
        only_bad = FileDataset([folder / "000000b.jpg", folder / "000001b.jpg"])
        cache.build_cache(only_bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def entry_folder(dataset, split="train") -> Path:
    """Where use_cache keeps ``dataset``'s cache."""
    return cache.cache_root() / cache.entry_name(dataset, split, cache.fingerprint(dataset,
                                                                                   split))


def children() -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_a_killed_decoding_process_leaves_no_trusted_cache_and_the_next_run_rebuilds(
        tmp_path, specs):
    folder = jpeg_folder(tmp_path / "faces", n=40)
    dataset = resolve_dataset(str(folder), specs, split="train", image_size=16, cache=False)
    killed = []

    def kill_a_worker(progress):
        if progress.done and not killed:
            killed.append(children()[0])
            os.kill(killed[0], signal.SIGKILL)

    with pytest.raises(DataError, match="a decoding process died"):
        cache.build_cache(dataset, entry_folder(dataset), workers=2, chunk=1,
                          progress=kill_a_worker)
    assert killed and dataset.cached is None
    assert cache.find_cache(dataset, "train") is None
    assert not list(cache.cache_root().iterdir())  # no entry, no temporary folder
    rebuilt = resolve_dataset(str(folder), specs, split="train", image_size=16)
    assert rebuilt.cached is not None
    assert np.array_equal(rebuilt.batch(np.arange(len(rebuilt))), decoded(rebuilt))


KILL_MYSELF = """
import os, signal, sys
from genae_studio.data import cache, resolve_dataset
from genae_studio.plugins import load_plugins

def die(progress):
    if progress.done:
        os.kill(os.getpid(), signal.SIGKILL)

dataset = resolve_dataset(sys.argv[1], load_plugins([], autoload=False).datasets,
                          split="train", image_size=16, cache=False)
cache.build_cache(dataset, cache.cache_root() / cache.entry_name(
    dataset, "train", cache.fingerprint(dataset, "train")), workers=2, chunk=1, progress=die)
"""


def test_a_build_killed_mid_way_leaves_no_trusted_partial_cache(tmp_path, specs):
    folder = jpeg_folder(tmp_path / "faces", n=40)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(KILL_MYSELF), str(folder)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    left = list(cache.cache_root().iterdir())
    assert len(left) == 1 and left[0].name.startswith(".") and left[0].name.endswith(".tmp")
    dataset = resolve_dataset(str(folder), specs, split="train", image_size=16, cache=False)
    assert cache.find_cache(dataset, "train") is None  # the half-written rows are never read
    cache.use_cache(dataset, "train")
    assert dataset.cached is not None
    assert np.array_equal(dataset.batch(np.arange(len(dataset))), decoded(dataset))
    assert not left[0].exists()  # the dead build's temporary folder is gone


def test_a_cancelled_or_interrupted_build_leaves_nothing(tmp_path, specs):
    folder = jpeg_folder(tmp_path / "faces", n=30)
    dataset = resolve_dataset(str(folder), specs, split="train", image_size=16, cache=False)
    seen = []
    for workers in (1, 2):
        with pytest.raises(cache.CacheBuildCancelled):
            cache.use_cache(dataset, "train", workers=workers, progress=seen.append,
                            cancel=lambda: len(seen) > 1)
        assert dataset.cached is None and not list(cache.cache_root().iterdir())
    assert seen[0].done == 0 and seen[0].total == len(dataset)

    def ctrl_c(progress):
        if progress.done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.build_cache(dataset, entry_folder(dataset), workers=2, chunk=1, progress=ctrl_c)
    assert not list(cache.cache_root().iterdir()) and children() == []  # workers stopped


def test_a_third_party_file_dataset_gets_the_cache(tmp_path):
    folder = jpeg_folder(tmp_path / "faces", n=10)

    class Plugin:
        @hookimpl
        def register_datasets(self, register):
            register(DatasetSpec(
                "thirdparty", "JPEGs listed by a plugin",
                load=lambda source, **kw: FileDataset(sorted(Path(source).glob("*.jpg")),
                                                      image_size=16, name="thirdparty"),
                detect=lambda path: Path(path, "000000.jpg").exists()))

    host = load_plugins([], autoload=False)
    host.manager.register(Plugin(), name="thirdparty-plugin")
    host.collect()
    dataset = resolve_dataset(str(folder), host.datasets, data_format="thirdparty")
    assert dataset.cached is not None and dataset.cached.folder.name.startswith("thirdparty-")
    assert np.array_equal(dataset.batch(np.arange(10)), decoded(dataset))


def test_subclasses_with_their_own_decoder_are_cached_with_it_and_transforms_are_not(tmp_path):
    paths = sorted(jpeg_folder(tmp_path / "faces", n=6).iterdir())

    class Inverted(FileDataset):
        def _decode(self, i):
            return 255 - super()._decode(i)

    class Augmented(FileDataset):
        def __getitem__(self, i):
            return np.roll(super().__getitem__(i), 1)

    inverted = cache.use_cache(Inverted(paths, image_size=16), "train")
    assert inverted.cached is not None
    assert np.array_equal(inverted[2], 255 - FileDataset(paths, image_size=16)[2])
    assert cache.use_cache(Augmented(paths, image_size=16), "train").cached is None


def test_no_cache_switch_and_the_cache_command(tmp_path, specs, monkeypatch, capsys):
    from genae_studio.cli import main

    folder = jpeg_folder(tmp_path / "faces", n=12)
    monkeypatch.setenv(cache.DISABLE_ENV, "1")
    assert resolve_dataset(str(folder), specs, image_size=16).cached is None
    monkeypatch.setenv(cache.DISABLE_ENV, "0")
    dataset = resolve_dataset(str(folder), specs, image_size=16)
    assert dataset.cached is not None
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert "decoded images: 1 cache(s)" in out and dataset.cached.folder.name in out
    assert f"{len(dataset):,} images" in out and "MB" in out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 decoded-image cache(s)" in capsys.readouterr().out
    assert cache.entries() == []
    assert main(["--no-cache", "cache"]) == 0  # the flag turns the cache off
    assert "the decoded-image cache is off" in capsys.readouterr().out
    assert os.environ[cache.DISABLE_ENV] == "1"


def test_the_first_pass_reports_progress_and_the_cache_size_on_stderr(tmp_path, specs,
                                                                     monkeypatch, capsys):
    monkeypatch.setattr(cache, "ANNOUNCE_FROM", 1)
    folder = jpeg_folder(tmp_path / "faces", n=12)
    dataset = resolve_dataset(str(folder), specs, image_size=16)
    err = capsys.readouterr().err
    n = len(dataset)
    assert f"decoding {n} images of {folder} into the cache" in err
    assert f"cached {n} images in" in err and f"{dataset.cached.nbytes / 1e6:,.1f} MB" in err
    assert "older cache" not in err
    (folder / "000000.jpg").unlink()
    resolve_dataset(str(folder), specs, image_size=16)
    assert "1 older cache(s) of the same data" in capsys.readouterr().err


def test_under_torchrun_other_local_ranks_wait_for_local_rank_0(tmp_path, specs, monkeypatch):
    folder = jpeg_folder(tmp_path / "faces", n=12)
    plain = resolve_dataset(str(folder), specs, image_size=16, cache=False)
    target = entry_folder(plain)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")

    def rank_0_builds_later():
        time.sleep(0.5)
        cache.build_cache(FileDataset(plain.paths, image_size=16, name=plain.name), target)

    builder = threading.Thread(target=rank_0_builds_later)
    builder.start()
    dataset = resolve_dataset(str(folder), specs, image_size=16)  # waits, never builds
    builder.join()
    assert dataset.cached.folder == target


def test_a_cached_dataset_feeds_the_prefetcher(tmp_path, specs):
    import torch

    from genae_studio.imaging import to_float

    folder = jpeg_folder(tmp_path / "faces", n=20)
    dataset = resolve_dataset(str(folder), specs, image_size=16)
    expected = decoded(dataset)
    order = np.random.default_rng(0).permutation(len(dataset))
    steps = range(len(dataset) // 4)
    with Prefetcher(dataset, lambda s: np.sort(order[s * 4:(s + 1) * 4]), steps,
                    torch.device("cpu")) as batches:
        for step, x in zip(steps, batches, strict=True):
            want = to_float(expected[np.sort(order[step * 4:(step + 1) * 4])])
            assert torch.equal(x, torch.from_numpy(want))


def test_in_memory_datasets_resize_once(tmp_path, monkeypatch):
    from genae_studio.data import base
    from genae_studio.data.disk import array_dataset

    digits = np.random.default_rng(0).integers(0, 256, (30, 1, 28, 28), dtype=np.uint8)
    expected = base.resize_images(digits, 64)
    first = array_dataset(digits, None, "mnist", tmp_path / "mnist", 64, None)
    assert np.array_equal(first.batch(np.arange(30)), expected)

    def no_resizing(*args):
        raise AssertionError("resized again")

    with monkeypatch.context() as patch:
        patch.setattr(base, "resize_images", no_resizing)
        again = array_dataset(digits, None, "mnist", tmp_path / "mnist", 64, None)
    assert np.array_equal(again.images, expected) and not again.images.flags.owndata  # mapped
    changed = digits.copy()
    changed[3, 0, 5, 5] ^= 1  # one pixel: a new entry, not the old images
    assert len(cache.entries()) == 1
    array_dataset(changed, None, "mnist", tmp_path / "mnist", 64, None)
    assert len(cache.entries()) == 2


def test_a_cache_folder_that_cannot_be_written_falls_back_to_decoding(tmp_path, specs,
                                                                      monkeypatch, capsys):
    folder = jpeg_folder(tmp_path / "faces", n=8)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    with monkeypatch.context() as patch:
        patch.setenv("GENAE_STUDIO_CACHE", str(blocker))
        dataset = resolve_dataset(str(folder), specs, image_size=16)
    assert dataset.cached is None
    assert "warning: cannot use the decoded-image cache" in capsys.readouterr().err
    assert np.array_equal(dataset.batch(np.arange(len(dataset))), decoded(dataset))


SLOW_CLI = """
import sys, time
from genae_studio.data import cache
from genae_studio.cli import main

cache.ANNOUNCE_FROM = cache.PARALLEL_FROM = 1  # announce, and use processes, for 40 images
tick = cache._ProgressBar.__call__
cache._ProgressBar.__call__ = lambda self, p: (tick(self, p), time.sleep(1))
sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_during_the_first_pass_leaves_nothing_behind(tmp_path):
    folder = jpeg_folder(tmp_path / "faces", n=40)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SLOW_CLI), "train", "--model", "vae",
         "--epochs", "1", "--batch-size", "8", "--width", "8", "--latent-dim", "8",
         "--image-size", "32", "--device", "cpu", "--data", str(folder),
         "--out", str(tmp_path / "run")], env=env, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
        assert "decoding" in first and "into the cache" in first, first
        time.sleep(0.2)  # the first pass takes over 5 s: each progress report sleeps 1 s
        proc.send_signal(signal.SIGINT)
        err = first + proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "genae-studio: interrupted" in err.splitlines()[-1]
    assert not cache.cache_root().exists() or not list(cache.cache_root().iterdir())
    workers = subprocess.run(["pgrep", "-f", str(cache.cache_root())], capture_output=True)
    assert workers.stdout == b""  # no decoding process outlives the command


def test_only_dead_builds_temporary_folders_are_removed(tmp_path):
    import socket

    from genae_studio.data.base import safe_name

    host = safe_name(socket.gethostname())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    names = {"live": f".x-all-8px3-k.{host}-{os.getpid()}-ab12.tmp",
             "dead": f".x-all-8px3-k.{host}-{dead.pid}-cd34.tmp",
             "elsewhere": ".x-all-8px3-k.another_machine-1-ef56.tmp"}
    for name in names.values():
        (tmp_path / name).mkdir()
    removed = cache.remove_stale_temporaries(tmp_path)
    assert removed == [tmp_path / names["dead"]]
    assert (tmp_path / names["live"]).exists() and (tmp_path / names["elsewhere"]).exists()


@pytest.mark.slow
def test_the_data_benchmark_runs_in_quick_mode(tmp_path):
    import re

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "data",
                          "--n", "600"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    for needle in ("(a) today: per-access decode", "(b) torchvision ImageFolder",
                   "(c) first pass", "(d) cached epoch through the Prefetcher",
                   "peak RSS of a cached epoch, 600 images", "open 600 files lazily"):
        assert needle in out.stdout, needle
    crashed = re.findall(r"not available: \w*(?:Error|Exception)[^|]*", out.stdout)
    assert not crashed, crashed


def test_a_20000_image_split_opens_lazily(tmp_path, monkeypatch):
    """The studio's gallery: opening a large split and showing what is visible decodes only
    that (and with cache=False, resolve_dataset never starts a first pass)."""
    from genae_studio.data import base

    one = next(jpeg_folder(tmp_path / "faces", n=1).iterdir())
    calls = []
    real = base.decode_image
    monkeypatch.setattr(base, "decode_image", lambda *a: calls.append(a) or real(*a))
    split = FileDataset([one] * 20_000, image_size=16)
    visible = split.batch(np.arange(100, 164))
    assert visible.shape == (64, 3, 16, 16) and len(calls) == 64
