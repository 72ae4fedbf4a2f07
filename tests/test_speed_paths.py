"""The optimised paths compute what the plain ones do; fallbacks work; the benchmarks run."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import tiny_model

from genae_studio.data import Prefetcher
from genae_studio.devices import cpu_has_bf16
from genae_studio.errors import UsageError
from genae_studio.models import _compiled_plans as compiled_plans
from genae_studio.runs import load_training_state
from genae_studio.sampling import markov_chain, sampling_mode
from genae_studio.training import TrainSettings, train

ROOT = Path(__file__).resolve().parents[1]


def randomise_batchnorm(model):
    """Running statistics and affine parameters far from their defaults, so folding matters."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return model


def both_chains(model, bn_mode, **kwargs):
    runs = []
    for fast_path in (False, True):
        g = torch.Generator().manual_seed(7)
        runs.append(list(markov_chain(model, n=12, steps=3, bn_mode=bn_mode, generator=g,
                                      fast=fast_path, **kwargs)))
    return runs


@pytest.mark.parametrize("name", ["vae", "aae", "dvae"])
@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3)])
@pytest.mark.parametrize("bn_mode", ["batch", "eval"])
@pytest.mark.parametrize("amd", [False, True])
def test_the_fast_chain_equals_the_plain_chain(host, name, size, channels, bn_mode, amd,
                                               monkeypatch):
    monkeypatch.setattr(compiled_plans, "amd_cpu", lambda: amd)  # both sets of forms, on any CPU
    model, _ = tiny_model(host, name, image_size=size, channels=channels, width=8,
                          latent_dim=16)
    model = randomise_batchnorm(model).to(memory_format=torch.channels_last)
    plans = compiled_plans.cached_plan(model, bn_mode)
    assert plans is not None and plans.encoder is not None and plans.decoder is not None
    plain, quick = both_chains(model, bn_mode)
    for a, b in zip(plain, quick, strict=True):
        assert a.t == b.t
        assert torch.allclose(a.x, b.x, atol=2e-5), (a.t, (a.x - b.x).abs().max())
        assert torch.allclose(a.z, b.z, atol=2e-4, rtol=1e-4), (a.t, (a.z - b.z).abs().max())


def test_the_bf16_chain_is_opt_in_close_to_fp32_and_returns_float32(host):
    model, _ = tiny_model(host, "aae", width=8)
    z0 = torch.randn(8, model.latent_dim)
    exact = list(markov_chain(model, z0, steps=1))
    rough = list(markov_chain(model, z0, steps=1, precision="bf16"))
    for a, b in zip(exact, rough, strict=True):
        assert b.x.dtype == b.z.dtype == torch.float32
        assert torch.allclose(a.x, b.x, atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        next(markov_chain(model, z0, precision="fp16"))


def test_every_fast_layer_form_matches_its_module():
    """The GEMM forms are exercised at the default width too (the tiny models above use
    them at the 4x4 level only)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for conv, size in [(torch.nn.Conv2d(32, 16, 4, 2, 1, bias=False), 8),
                           (torch.nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False), 4),
                           (torch.nn.ConvTranspose2d(32, 3, 4, 2, 1), 16)]:
            x = torch.randn(5, 32, size, size).contiguous(memory_format=torch.channels_last)
            expected = conv(x)
            for kind in ("down_gemm", "down") if isinstance(conv, torch.nn.Conv2d) else \
                    ("up_gemm", "up", "up_fold"):
                layer = compiled_plans._Layer(conv, None, False, kind, "batch", torch.device("cpu"))
                assert torch.allclose(layer(x), expected, atol=1e-5), kind


def test_strided_gemm_forms_are_used_except_on_amd_cpus(host, monkeypatch):
    def kinds(amd):
        monkeypatch.setattr(compiled_plans, "amd_cpu", lambda: amd)
        model, _ = tiny_model(host, "vae", image_size=64, channels=3, width=8)
        plans = compiled_plans.NetworkPlans(model, "batch")
        return [layer.kind for layer in (*plans.encoder.layers, *plans.decoder.layers)]

    intel, amd = kinds(False), kinds(True)
    assert "down_gemm" in intel and "up_gemm" in intel
    assert "down_gemm" not in amd and "up_gemm" not in amd
    for common in ("dense_down", "dense_up", "up_fold"):
        assert common in intel and common in amd


def test_folded_batchnorm_is_legal_only_with_running_statistics(host):
    model, _ = tiny_model(host, "aae", width=8)
    model = randomise_batchnorm(model)
    folded = compiled_plans.cached_plan(model, "eval").encoder.layers[0].post
    assert folded == [compiled_plans._relu]  # BN folded into the convolution
    assert len(compiled_plans.cached_plan(model, "batch").encoder.layers[0].post) == 2  # BN + ReLU


def test_plans_are_cached_and_rebuilt_when_the_weights_change(host):
    model, _ = tiny_model(host, "aae", width=8)
    first = compiled_plans.cached_plan(model, "eval")
    assert compiled_plans.cached_plan(model, "eval") is first
    z0 = torch.randn(4, model.latent_dim)
    before = [s.z for s in markov_chain(model, z0, steps=1, bn_mode="eval")][-1]
    with torch.no_grad():
        model.decoder.net[0].weight.mul_(1.5)  # in place, as an optimiser step does
    assert compiled_plans.cached_plan(model, "eval") is not first
    after = [s.z for s in markov_chain(model, z0, steps=1, bn_mode="eval")][-1]
    plain = [s.z for s in markov_chain(model, z0, steps=1, bn_mode="eval", fast=False)][-1]
    assert not torch.allclose(before, after) and torch.allclose(after, plain, atol=1e-4)


def test_the_chain_leaves_the_model_as_it_found_it_even_on_errors(host, monkeypatch):
    model, _ = tiny_model(host, "vae", width=8)
    encoder, keys = model.encoder, list(model.state_dict())
    list(markov_chain(model, n=4, steps=2))
    assert model.encoder is encoder and "encoder" not in model.__dict__
    assert list(model.state_dict()) == keys

    def broken(x, **kw):
        assert model.encoder is not encoder  # the plan is installed while the step runs
        raise RuntimeError("boom")

    monkeypatch.setattr(model, "encode", broken)
    chain = markov_chain(model, n=4, steps=2)
    next(chain)
    with pytest.raises(RuntimeError, match="boom"):
        next(chain)
    assert model.encoder is encoder and "decoder" not in model.__dict__


def test_other_networks_fall_back_to_the_modules(host):
    from genae_studio.models import VAE

    enc = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8))
    dec = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Unflatten(1, (1, 8, 8)))
    model = VAE(image_size=8, channels=1, latent_dim=4, encoder=enc, decoder=dec)
    assert compiled_plans.cached_plan(model, "batch") is None
    steps = list(markov_chain(model, n=3, steps=2))
    assert steps[-1].x.shape == (3, 1, 8, 8)


def test_plans_can_be_built_under_inference_mode(host):
    model, _ = tiny_model(host, "vae", width=8)
    with torch.inference_mode(), sampling_mode(model, "eval"):
        plans = compiled_plans.NetworkPlans(model, "eval")
        x = torch.rand(2, 1, 32, 32)
        assert torch.allclose(plans.encoder(x), model.encoder(x), atol=1e-5)


# --- training ---------------------------------------------------------------------------------
TINY = dict(data="digits", batch_size=32, width=8, latent_dim=8, limit=128, device="cpu")


def test_unknown_precision_is_a_usage_error(host, tmp_path):
    with pytest.raises(UsageError, match="precision must be one of"):
        train(TrainSettings(precision="fp8", **TINY), tmp_path, host=host)


def test_compile_falls_back_to_eager_when_unavailable(host, tmp_path, monkeypatch):
    def unavailable(self, *args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch.nn.Module, "compile", unavailable)
    with pytest.warns(UserWarning, match="training eagerly"):
        done = train(TrainSettings(epochs=1, compile=True, **TINY), tmp_path / "c", host=host)
    plain = train(TrainSettings(epochs=1, **TINY), tmp_path / "p", host=host)
    for a, b in zip(done.model.state_dict().values(), plain.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


BF16_CPU = pytest.mark.skipif(not cpu_has_bf16(),
                              reason="this CPU has no native bfloat16 (AVX512-BF16 or AMX)")


@BF16_CPU
@pytest.mark.parametrize("model", ["vae", "daae"])
def test_bf16_trains_with_falling_losses_and_fp32_weights_and_losses(host, tmp_path, model,
                                                                      monkeypatch):
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    seen = []

    def spy(logits, target, *args, **kwargs):
        seen.append(logits.dtype)
        return bce(logits, target, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "binary_cross_entropy_with_logits", spy)
    done = train(TrainSettings(model=model, epochs=3, precision="bf16", **TINY), tmp_path,
                 host=host)
    losses = [h["loss"] for h in done.history]
    assert all(np.isfinite(v) for h in done.history for v in h.values())
    assert losses[-1] < losses[0]
    assert seen and set(seen) == {torch.float32}  # the networks' outputs come back as fp32
    assert all(p.dtype == torch.float32 for p in done.model.parameters())
    for opt in load_training_state(tmp_path)["optimizers"].values():
        for slot in opt["state"].values():
            assert slot["exp_avg"].dtype == torch.float32
    assert json.loads((tmp_path / "config.json").read_text())["training"]["precision"] == "bf16"
    assert not done.model.encoder._forward_hooks  # the fp32 output hooks are removed


@BF16_CPU
def test_resume_keeps_the_runs_precision_unless_another_is_named(host, tmp_path):
    train(TrainSettings(epochs=1, precision="bf16", **TINY), tmp_path, host=host)
    train(TrainSettings(epochs=2, device="cpu"), tmp_path, resume=tmp_path, host=host)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["training"]["precision"] == "bf16" and config["progress"]["epoch"] == 2
    train(TrainSettings(epochs=3, device="cpu", precision="fp32"), tmp_path, resume=tmp_path,
          host=host)
    assert json.loads((tmp_path / "config.json").read_text())["training"]["precision"] == "fp32"


def test_bf16_is_refused_where_the_cpu_lacks_it(host, tmp_path, monkeypatch, capsys):
    from genae_studio import devices
    from genae_studio.cli import main

    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: False)
    with pytest.raises(UsageError, match="bf16 refused: this CPU has no native bfloat16"):
        train(TrainSettings(precision="bf16", **TINY), tmp_path / "a", host=host)
    assert not (tmp_path / "a").exists()
    assert train(TrainSettings(epochs=1, precision="auto", **TINY), tmp_path / "b",
                 host=host).history  # auto still trains, in fp32
    code = main(["train", "--data", "digits", "--limit", "64", "--width", "8", "--epochs", "1",
                 "--device", "cpu", "--precision", "bf16", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no native bfloat16" in err
    assert not (tmp_path / "c").exists()


def test_the_data_wait_is_reported(host, tmp_path):
    waits = []
    done = train(TrainSettings(epochs=1, **TINY), tmp_path, host=host,
                 on_progress=lambda p: waits.append(p.data_wait_s))
    assert waits == sorted(waits) and 0 <= done.data_wait_s <= done.elapsed_s


class _Images:
    def __init__(self, fail_at=None):
        self.fail_at = fail_at

    def batch(self, idx):
        if self.fail_at is not None and idx[0] == self.fail_at:
            raise OSError("unreadable image")
        return np.full((len(idx), 1, 2, 2), idx[0], np.uint8)


def test_the_prefetcher_yields_batches_in_order_and_reraises_errors():
    steps = range(5)
    with Prefetcher(_Images(), lambda s: np.array([s]), steps, torch.device("cpu")) as batches:
        got = [float(x[0, 0, 0, 0]) * 255 for x in batches]
    assert np.allclose(got, [0, 1, 2, 3, 4])
    with pytest.raises(OSError, match="unreadable"):
        with Prefetcher(_Images(fail_at=2), lambda s: np.array([s]), steps,
                        torch.device("cpu")) as batches:
            list(batches)
    with Prefetcher(_Images(), lambda s: np.array([s]), range(100), torch.device("cpu"),
                    depth=1) as batches:
        next(iter(batches))  # leaving early stops the thread
    assert not batches.thread.is_alive()


# --- the benchmark runner ----------------------------------------------------------------------
@pytest.mark.slow
def test_the_benchmarks_run_end_to_end_in_quick_mode(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json",
                          str(tmp_path / "rows.json")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    table = out.stdout
    for needle in ("| chain (CPU) | (a) naive", "(b) project chain", "dense matmul fp32",
                   "VAE: genae-studio train", "AAE: plain PyTorch loop",
                   "genae-studio --help", "peak RSS", "event-loop gaps while a ",
                   "latent view update", "feature-network training stopped by Esc"):
        assert needle in table, needle
    crashed = re.findall(r"not available: \w*(?:Error|Exception)[^|]*", table)
    assert not crashed, crashed  # a section that raised is a broken benchmark, not a result
    assert "FAILS" not in table  # --help and plugins import neither torch nor Qt
    assert (tmp_path / "rows.json").stat().st_size > 0
