"""The kill -9 loop (tests/test_faults.py): trains in forked children, kills each at a random
moment of a checkpoint cycle, and checks after every kill that the run is one consistent
checkpoint that --resume continues. Usage: python kill9_driver.py RUN KILLS SEED

Children are forked from this process, which has imported torch, sklearn and the project
but runs no torch operation (forking after one could hang the child's thread pools), so a
child starts training in a fraction of a second.
"""
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import sklearn.datasets  # noqa: F401 - imported once here, not in every child
import torch._dynamo  # noqa: F401 - Adam imports it
import torch.optim  # noqa: F401

from genae_studio.plugins import load_plugins  # imports torch; runs no torch op here
from genae_studio.training import TrainSettings, train

run, kills, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
settings = dict(data="digits", batch_size=8, limit=16, width=64, latent_dim=32, device="cpu")
host = load_plugins([], autoload=False)
STEPS_PER_EPOCH = 2


def child(fn):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            import torch
            torch.set_num_threads(1)
            fn()
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported through the exit code
            print(f"child failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(code)
    return pid


def check():
    from genae_studio.runs import read_checkpoint

    snap = read_checkpoint(run, state=True)
    progress = snap.config.progress
    assert len(progress["history"]) == progress["epoch"], progress
    done = progress["epoch"] * STEPS_PER_EPOCH + progress["step"]
    for opt in snap.state["optimizers"].values():
        for per_param in opt["state"].values():
            assert int(per_param["step"]) == done, (int(per_param["step"]), done)


def wait(pid):
    return os.waitpid(pid, 0)[1]


def orphans():
    """Temporaries and uncommitted checkpoint folders: a kill landed during a save."""
    return [p for p in run.rglob("*") if p.name.endswith(".tmp")] + \
        [p for p in (run / "checkpoints").iterdir()][1:]


assert wait(child(lambda: train(TrainSettings(epochs=1, **settings), run, host=host))) == 0
rng = random.Random(seed)
mid_save, cycle = 0, None
for k in range(kills):
    read_end, write_end = os.pipe()
    def resume(signal_fd=write_end):
        train(TrainSettings(epochs=10**6, device="cpu"), run, resume=run, host=host,
              on_checkpoint=lambda *_: os.write(signal_fd, b"c"))

    pid = child(resume)
    os.close(write_end)
    os.read(read_end, 1)  # the first checkpoint of this child is committed
    started = time.perf_counter()
    if cycle is None:  # measure one checkpoint cycle (two steps and a save)
        os.read(read_end, 1)
        cycle = time.perf_counter() - started
        started = time.perf_counter()
    time.sleep(max(0.0, rng.uniform(0, cycle) - (time.perf_counter() - started)))
    os.kill(pid, signal.SIGKILL)
    os.close(read_end)
    status = wait(pid)
    assert os.WIFSIGNALED(status), f"kill {k}: the child had already exited ({status})"
    mid_save += bool(orphans())
    assert wait(child(check)) == 0, f"kill {k}: the run is not consistent"
epochs = json.loads((run / "config.json").read_text())["progress"]["epoch"]
assert wait(child(lambda: train(TrainSettings(epochs=epochs + 1, device="cpu"), run,
                                resume=run, host=host))) == 0
assert wait(child(check)) == 0
print(json.dumps({"kills": kills, "mid_save": mid_save, "cycle_s": round(cycle, 3),
                  "epochs": epochs + 1, "leftovers": [str(p) for p in orphans()]}))
