"""Data that misbehaves: FIFOs, unreadable and odd-depth images, decompression bombs, and
Ctrl-C while the prefetch thread is stuck."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from genae_builtins.image_folder import load_folder
from PIL import Image

from genae_studio.data import Prefetcher, base
from genae_studio.data.base import FileDataset, preprocess
from genae_studio.runs import read_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def image_folder(folder: Path, n: int = 24, bad: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
            folder / f"img{i:03d}.png")
    for i in range(bad):
        (folder / f"bad{i}.png").write_bytes(b"not a png at all")
    return folder


def finishes(fn, seconds=60):
    """Run fn in a daemon thread; True if it returned in time (a FIFO would block it)."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(value=fn()), daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), result.get("value")


def test_a_fifo_named_like_an_image_is_skipped_without_being_opened(tmp_path):
    folder = image_folder(tmp_path / "images", n=12)
    os.mkfifo(folder / "a.png")
    done, dataset = finishes(lambda: load_folder(folder, split="train", image_size=16))
    assert done and all("a.png" not in p for p in dataset.paths)
    direct = FileDataset([folder / "a.png", folder / "img000.png"], image_size=16)
    done, image = finishes(lambda: direct[0])
    assert done and image.shape == (3, 16, 16)  # the next readable file stands in
    assert direct.skipped == 1 and "not a regular file" in direct.first_skipped


def test_16_bit_and_float_images_are_scaled_not_clipped():
    grey16 = Image.fromarray(np.full((8, 8), 32768, np.uint16))
    assert grey16.mode.startswith("I;16")
    assert abs(int(preprocess(grey16, 8, 1).mean()) - 128) <= 1
    assert abs(int(preprocess(grey16, 8, 3).mean()) - 128) <= 1
    floats = Image.fromarray(np.full((8, 8), 0.5, np.float32))
    assert floats.mode == "F"
    assert abs(int(preprocess(floats, 8, 1).mean()) - 128) <= 1
    ramp = Image.fromarray(np.linspace(-3, 5, 64, dtype=np.float32).reshape(8, 8))
    out = preprocess(ramp, 8, 1)
    assert out.min() == 0 and out.max() == 255  # another range: stretched, not clipped


def test_16_bit_png_files_decode_to_mid_grey(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(path)
    image = FileDataset([path], image_size=8, channels=1)[0]
    assert abs(int(image.mean()) - round(40000 / 257)) <= 1


def test_images_above_the_decompression_bomb_limit_are_skipped(tmp_path, monkeypatch):
    folder = image_folder(tmp_path / "images", n=2)
    monkeypatch.setattr(base, "MAX_IMAGE_PIXELS", 100)  # 20 x 20 images are "bombs" now
    dataset = FileDataset(sorted(folder.iterdir()), image_size=8)
    with pytest.raises(Exception, match="none of the 2 image files is readable"):
        dataset[0]
    assert dataset.skipped == 2 and "decompression-bomb limit" in dataset.first_skipped


class Stuck:
    """A dataset whose reads never return, like a FIFO or a stalled network drive."""

    def batch(self, indices):
        threading.Event().wait()


def test_ctrl_c_ends_the_loop_even_when_the_prefetch_thread_is_stuck():
    batches = Prefetcher(Stuck(), lambda step: np.arange(4), range(10), torch.device("cpu"))
    # Python's own Ctrl-C handler, even where the suite was started with SIGINT ignored
    # (in the background of a non-interactive shell).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    done = threading.Event()

    def press_ctrl_c():  # again every 0.5 s: one lost signal must not hang the suite
        for _ in range(60):
            if done.wait(0.5):
                return
            os.kill(os.getpid(), signal.SIGINT)
        batches.queue.put(RuntimeError("Ctrl-C never reached the training loop in 30 s"))

    sender = threading.Thread(target=press_ctrl_c, daemon=True)
    started = time.perf_counter()
    try:
        sender.start()
        with pytest.raises(KeyboardInterrupt), batches:
            for _ in batches:
                pass
    finally:
        done.set()
        sender.join()
        signal.signal(signal.SIGINT, previous)
    assert time.perf_counter() - started < 30  # ~1.5 s; it used to wait for ever


TRAIN = [sys.executable, "-m", "genae_studio", "train", "--model", "vae", "--epochs", "1000",
         "--batch-size", "8", "--width", "8", "--latent-dim", "8", "--image-size", "32",
         "--device", "cpu"]


def env():
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'plugins'}"}


def test_one_ctrl_c_ends_training_and_keeps_the_last_checkpoint(tmp_path):
    folder = image_folder(tmp_path / "images", n=24)
    run = tmp_path / "run"
    # A shell that starts the suite in the background (`cmd &`) makes it ignore SIGINT, and
    # children inherit that: the training must see Ctrl-C as a terminal user's would.
    proc = subprocess.Popen([*TRAIN, "--data", str(folder), "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 300
        while not (run / "config.json").exists() and time.time() < deadline:
            time.sleep(0.1)
        assert (run / "config.json").exists(), "no checkpoint was written"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)  # ~1 s measured; generous for loaded CI
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; the checkpoint of epoch" in err.splitlines()[-1]
    snap = read_checkpoint(run, state=True)
    assert snap.state["epoch"] == snap.config.progress["epoch"] >= 1


def test_unreadable_images_are_reported_and_counted(tmp_path):
    folder = image_folder(tmp_path / "images", n=24, bad=3)
    run = tmp_path / "run"
    one_epoch = [("1" if a == "1000" else a) for a in TRAIN]
    done = subprocess.run([*one_epoch, "--data", str(folder), "--out", str(run)],
                          capture_output=True, text=True, env=env(), timeout=600)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "unreadable" in line]
    assert len(warnings) == 1, done.stderr
    config = json.loads((run / "config.json").read_text())
    skipped = config["data"]["skipped"]
    assert warnings[0].startswith(f"genae-studio: warning: {skipped} unreadable images skipped "
                                  f"(first: {folder}/bad")
    assert 1 <= skipped <= 3  # the 90% train split holds some of the three
