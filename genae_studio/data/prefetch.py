"""Batches of a dataset prepared one step ahead in a background thread, for training.

Importing this module loads no torch; the thread imports it when it starts.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ..imaging import to_float


class Prefetcher:
    """Batches of a dataset prepared one step ahead in a background thread.

    The thread gathers the uint8 images and, on the CPU, converts them to float32 in [0, 1]
    (numpy releases the GIL); for CUDA it hands over pinned uint8 tensors, copied without
    blocking and converted on the GPU (a quarter of the bytes over PCIe). ``wait_s`` is the
    time the training loop spent blocked waiting for a batch.
    """

    def __init__(self, dataset, indices: Callable[[int], np.ndarray], steps, device,
                 depth: int = 2):
        import queue
        import threading

        self.dataset, self.indices, self.steps, self.device = dataset, indices, steps, device
        self.cuda = device.type == "cuda"
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.wait_s = 0.0
        self.thread = threading.Thread(target=self._work, name="genae-prefetch", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        import queue

        self.stop.set()
        # Wait for the thread, but not for ever: a read that blocks (a stalled network drive)
        # must not keep Ctrl-C from ending training. The thread is a daemon; it is left behind.
        deadline = time.perf_counter() + 1.0
        while self.thread.is_alive() and time.perf_counter() < deadline:
            try:
                self.queue.get(timeout=0.05)
            except queue.Empty:
                pass
        return False

    def _work(self) -> None:
        import queue

        import torch

        try:
            for step in self.steps:
                images = self.dataset.batch(self.indices(step))
                if self.cuda:
                    item = torch.from_numpy(images).pin_memory()
                else:
                    item = torch.from_numpy(to_float(images))
                while not self.stop.is_set():
                    try:
                        self.queue.put(item, timeout=0.05)
                        break
                    except queue.Full:
                        pass
                if self.stop.is_set():
                    return
        except BaseException as exc:  # re-raised in the training loop
            self.queue.put(exc)

    def __iter__(self):
        import queue

        for _ in self.steps:
            t0 = time.perf_counter()
            while True:  # wake up often: a Ctrl-C is handled only when this thread runs
                try:
                    item = self.queue.get(timeout=0.1)
                    break
                except queue.Empty:
                    pass
            self.wait_s += time.perf_counter() - t0
            if isinstance(item, BaseException):
                raise item
            if self.cuda:
                item = to_float(item.to(self.device, non_blocking=True))
            yield item
