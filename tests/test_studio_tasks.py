"""The studio's work without Qt (genae_studio.tasks): plain generators and functions that a
test runs directly, as the studio's workers run them."""
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch
from helpers import tiny_model

from genae_studio.errors import Cancelled
from genae_studio.tasks.progress import Progress

STUDIO_MODULES = ["chains", "chain_metrics", "export", "interpolation", "latent_cloud",
                  "live_training", "loading", "platform_libs", "precise", "progress", "system"]


def tiny_run(host, name="vae"):
    from genae_studio.api import Run
    from genae_studio.runs import RunConfig

    model, hparams = tiny_model(host, name)
    config = RunConfig(plugin="genae_builtins", model=name, hparams=hparams,
                       data={"data": "digits", "image_size": 32, "channels": 1},
                       training={"seed": 0})
    return Run(model.eval(), config, None, torch.device("cpu"))


def drain(gen):
    """Run a task generator to its end: (yielded values, returned value)."""
    seen = []
    while True:
        try:
            seen.append(next(gen))
        except StopIteration as stop:
            return seen, stop.value


def test_importing_the_studio_tasks_loads_neither_qt_nor_torch():
    code = ("import sys\n" + "".join(f"import genae_studio.tasks.{m}\n" for m in STUDIO_MODULES)
            + "print(sorted({m.split('.')[0] for m in sys.modules} & "
              "{'PyQt6', 'pyqtgraph', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_a_chain_task_yields_progress_and_frames_and_continues(host):
    from genae_studio.tasks.chains import ChainHistory, Frame, chain_task

    run, lock = tiny_run(host), threading.Lock()
    gen = run.generator(3)
    def task(z0, start_t, generator, score=None):
        return chain_task(run=run, lock=lock, chain_id=1, z0=z0, n=6, steps=2, start_t=start_t,
                          bn_mode="batch", noise_std=None, generator=generator, score=score)

    seen, _ = drain(task(None, 0, gen))
    frames = [v for v in seen if isinstance(v, Frame)]
    assert [f.t for f in frames] == [0, 1, 2]
    assert [(p.done, p.total) for p in seen if isinstance(p, Progress)] == [(1, 2), (2, 2)]
    assert frames[0].x.dtype == np.uint8 and frames[0].x.shape == (6, 1, 32, 32)
    assert frames[0].z.shape == (6, 8)
    more, _ = drain(task(frames[-1].z, 2, gen))
    assert [f.t for f in more if isinstance(f, Frame)] == [3, 4]  # no second step 0
    # The same seed gives the same chain.
    again, _ = drain(task(None, 0, run.generator(3)))
    np.testing.assert_array_equal(again[-1].z, frames[-1].z)
    history = ChainHistory(limit=3)
    for frame in frames + [f for f in more if isinstance(f, Frame)]:
        history.append(frame, None)
    assert history.t == [0, 3, 4] and history.n == 6 and history.trajectories() is None
    history.reproject(lambda z: z[:, :2])
    assert history.trajectories().shape == (3, 6, 2)


def test_the_data_score_is_computed_in_the_chain_task_with_each_frame(host):
    """The data score runs in the worker (LiveScore), not on the GUI thread; steps stored
    before the score existed are scored by score_task."""
    from genae_studio.tasks.chains import (
        ChainHistory,
        Frame,
        LiveScore,
        chain_task,
        score_task,
    )

    run, lock = tiny_run(host), threading.Lock()
    live = LiveScore()
    history = ChainHistory()

    def frames(z0, start_t):
        seen, _ = drain(chain_task(run=run, lock=lock, chain_id=1, z0=z0, n=6, steps=2,
                                   start_t=start_t, bn_mode="batch", noise_std=None,
                                   generator=run.generator(0), score=live))
        return [f for f in seen if isinstance(f, Frame)]

    for frame in frames(None, 0):
        history.append(frame, None)
    assert history.scores() is None and history.unscored() == [0, 1, 2]
    live.current = lambda z: 1 / (1 + np.exp(-z[:, 0]))  # as DataScore: z -> P(data)
    for frame in frames(history.z[-1], 2):
        assert frame.score.shape == (6,)
        history.append(frame, None)
    assert history.unscored() == [0, 1, 2]
    z = [history.z[k] for k in history.unscored()]
    _, scores = drain(score_task(z=z, score=live.current))
    history.set_scores(z, scores)
    assert history.scores().shape == (5, 6)
    np.testing.assert_allclose(history.scores()[0], live.current(history.z[0]), rtol=1e-6)


def test_encode_images_reports_each_batch_and_returns_the_codes(host, monkeypatch):
    from genae_studio.tasks import latent_cloud

    monkeypatch.setattr(latent_cloud, "ENCODE_BATCH", 10)
    run = tiny_run(host)
    images = np.random.default_rng(0).integers(0, 256, (40, 1, 32, 32), np.uint8)
    seen, codes = drain(latent_cloud.encode_images(run, threading.Lock(), images, "eval"))
    assert [(p.done, p.total) for p in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    np.testing.assert_allclose(codes, run.encode(images, bn_mode="eval").numpy(), atol=1e-5)


def _loaded_digits(host, n=120):
    from genae_studio.data import resolve_dataset
    from genae_studio.tasks.loading import LoadedData

    dataset = resolve_dataset("digits", host.datasets, split="test", image_size=32, limit=n)
    return LoadedData("digits", dataset, dataset.batch(np.arange(min(n, len(dataset)))))


def test_fitting_the_latent_cloud_reports_and_stops_when_asked(host):
    from genae_studio.latent import METHODS
    from genae_studio.tasks.latent_cloud import fit_latent_task

    run, data = tiny_run(host), _loaded_digits(host)
    reports = []
    cloud = fit_latent_task(run=run, lock=threading.Lock(), data=data, bn_mode="batch",
                            report=reports.append)
    assert set(cloud.views) == set(METHODS) and cloud.data_xy.shape == (len(data.images), 2)
    assert any(p.total for p in reports) and reports[-1].text == "fitting the data score"
    with pytest.raises(Cancelled):
        fit_latent_task(run=run, lock=threading.Lock(), data=data, bn_mode="batch",
                        should_stop=lambda: True)


def test_an_interpolation_task_encodes_interpolates_and_steps(host):
    from genae_studio.tasks.interpolation import interpolation_task

    run, data = tiny_run(host), _loaded_digits(host, 40)
    seen, res = drain(interpolation_task(run=run, lock=threading.Lock(), images=data.images,
                                         picks=[0, 5], points=6, steps=2, method="linear",
                                         bn_mode="batch", four=False))
    assert any(isinstance(p, Progress) for p in seen)
    assert res.before.shape == res.after.shape == (1, 6, 1, 32, 32)
    assert res.z.shape == (1, 6, 8) and res.method == "linear" and res.picks == [0, 5]


def test_the_metrics_reference_stops_before_training_when_asked(host):
    from genae_studio.tasks.chain_metrics import pick_steps, reference_task

    with pytest.raises(Cancelled):
        reference_task(run=tiny_run(host), lock=threading.Lock(), host=host,
                       data=_loaded_digits(host, 40), bn_mode="batch", should_stop=lambda: True)
    assert list(pick_steps(5, 40)) == [0, 1, 2, 3, 4]
    picks = pick_steps(200, 40)
    assert len(picks) <= 40 and picks[0] == 0 and picks[-1] == 199


def test_the_training_task_reports_losses_progress_and_previews(host, tmp_path):
    from genae_studio.tasks.live_training import Preview, TrainUpdate, train_task
    from genae_studio.training import TrainSettings

    reports = []
    settings = TrainSettings(model="vae", data="digits", epochs=1, batch_size=32, width=8,
                             latent_dim=8, limit=128, device="cpu")
    result = train_task(settings=settings, out=tmp_path / "run", host=host,
                        report=reports.append)
    assert not result.stopped and result.model is None and (tmp_path / "run").is_dir()
    updates = [r for r in reports if isinstance(r, TrainUpdate)]
    assert updates and updates[-1].steps[-1] == 4  # 128 images / 32 per batch
    assert any(isinstance(r, Progress) and r.done == r.total == 4 for r in reports)
    preview = next(r for r in reports if isinstance(r, Preview))  # at the checkpoint
    assert preview.recon.shape == (2, 8, 1, 32, 32) and preview.samples.shape[:2] == (1, 8)
    stopped = train_task(settings=settings, out=tmp_path / "run2", host=host,
                         should_stop=lambda: True)
    assert stopped.stopped


def test_the_precise_task_reports_and_can_be_stopped(host, monkeypatch):
    import functools

    from genae_studio.sampling import _precise_bn as precise_bn
    from genae_studio.tasks.precise import precise_bn_task

    monkeypatch.setattr(precise_bn, "PreciseSettings",
                        functools.partial(precise_bn.PreciseSettings, batches=6, batch_size=16))
    run = tiny_run(host)
    reports = []
    with pytest.raises(Cancelled):
        precise_bn_task(run=run, lock=threading.Lock(), host=host, report=reports.append,
                        should_stop=lambda: len(reports) >= 3)
    assert not run.has_bn_stats("precise")
    reports.clear()
    precise_bn_task(run=run, lock=threading.Lock(), host=host, report=reports.append)
    assert run.has_bn_stats("precise")
    assert [p.done for p in reports if p.total] == [1, 2, 3, 4, 5, 6]


def _stored_chain(steps=5, n=9):
    rng = np.random.default_rng(0)
    return list(range(steps)), [rng.integers(0, 256, (n, 3, 8, 8), np.uint8)
                                for _ in range(steps)]


def test_the_gif_task_reports_each_frame_and_writes_every_step(tmp_path):
    from PIL import Image

    from genae_studio.tasks.export import gif_task

    t, x = _stored_chain()
    reports = []
    path = gif_task(t=t, x=x, path=tmp_path / "c.gif", report=reports.append)
    with Image.open(path) as gif:
        assert gif.n_frames == 5
    done = [p.done for p in reports if isinstance(p, Progress)]
    assert done == [0, 1, 2, 3, 4, 5] and all(p.total == 5 for p in reports)
    one = gif_task(t=t, x=x, path=tmp_path / "one.gif", chain=2)
    with Image.open(one) as gif, Image.open(path) as every:
        assert gif.size[0] < every.size[0] / 2


def test_a_cancelled_gif_leaves_no_file(tmp_path):
    from genae_studio.tasks.export import gif_task

    t, x = _stored_chain()
    reports = []
    with pytest.raises(Cancelled):
        gif_task(t=t, x=x, path=tmp_path / "c.gif", report=reports.append,
                 should_stop=lambda: len(reports) >= 3)
    assert list(tmp_path.iterdir()) == []  # neither the GIF nor a temporary file


def test_export_tasks_refuse_an_empty_chain(tmp_path):
    from genae_studio.tasks.export import gif_task, npz_task

    with pytest.raises(ValueError, match="no chain"):
        gif_task(t=[], x=[], path=tmp_path / "c.gif")
    with pytest.raises(ValueError, match="no chain"):
        npz_task(t=[], x=[], z=[], path=tmp_path / "c.npz")
    t, x = _stored_chain()
    with pytest.raises(ValueError, match="no chain 12"):
        gif_task(t=t, x=x, path=tmp_path / "c.gif", chain=12)


def test_every_studio_task_takes_keyword_only_arguments():
    """Issue 18 §5: a task's call names what it passes (no ten positional parameters)."""
    import inspect

    from genae_studio.tasks import (
        chain_metrics,
        chains,
        export,
        interpolation,
        latent_cloud,
        live_training,
        loading,
        precise,
    )

    tasks = [getattr(m, name) for m in (chain_metrics, chains, export, interpolation,
                                        latent_cloud, live_training, loading, precise)
             for name in dir(m) if name.endswith("_task")]
    assert len(tasks) >= 12
    for task in tasks:
        kinds = {p.kind for p in inspect.signature(task).parameters.values()}
        assert kinds == {inspect.Parameter.KEYWORD_ONLY}, task.__name__


def test_the_table_task_writes_csv_and_json(tmp_path):
    import csv
    import json

    from genae_studio.tasks.export import table_task

    rows = [{"t": 0, "mmd_data": 0.5, "fd": None}, {"t": 1, "mmd_data": 0.25, "fd": 3.0,
                                                     "fd_low": 2.5, "fd_high": 3.5}]
    with open(table_task(rows=rows, path=tmp_path / "m.csv")) as f:
        read = list(csv.DictReader(f))
    assert [r["t"] for r in read] == ["0", "1"] and read[1]["fd_high"] == "3.5"
    assert json.loads(table_task(rows=rows, path=tmp_path / "m.json").read_text()) == rows
    with pytest.raises(ValueError, match="measure"):
        table_task(rows=[], path=tmp_path / "none.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "m.json"]


def _face_folder(folder, n=24):
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), np.uint8)).save(folder / f"{i}.png")
    return folder


def test_loading_data_reports_the_first_decode_and_stops_when_asked(tmp_path, monkeypatch,
                                                                     host):
    """The studio's data loading passes the cache's progress and cancel: the first decode of
    a dataset is shown (issue 24's CacheProgress), and a cancel keeps nothing."""
    from genae_studio.data import cache
    from genae_studio.tasks.loading import load_data_task

    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(cache.DISABLE_ENV, raising=False)
    folder = str(_face_folder(tmp_path / "faces"))
    seen = []
    with pytest.raises(Cancelled):
        load_data_task(host=host, name=folder, image_size=16, channels=3, report=seen.append,
                       should_stop=lambda: any("decoding" in p.text for p in seen))
    assert not list(cache.cache_root().glob("decoded/*"))  # nothing half-built is kept
    seen.clear()
    data = load_data_task(host=host, name=folder, image_size=16, channels=3,
                          report=seen.append, should_stop=lambda: False)
    decoding = [p for p in seen if "decoding the test split" in p.text]
    assert decoding and decoding[-1].done == decoding[-1].total == len(data.dataset)
    seen.clear()
    again = load_data_task(host=host, name=folder, image_size=16, channels=3,
                           report=seen.append)
    assert not any("decoding" in p.text for p in seen)  # read from the cache
    np.testing.assert_array_equal(again.images, data.images)
