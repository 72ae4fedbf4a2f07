"""Samplers of the chains' starting codes (hook register_samplers, genae_builtins.samplers),
eval --sampler / --temperatures, the samplers figure's data, and weights-file feature spaces."""
import hashlib
import json

import numpy as np
import pytest

from genae_studio import SamplerSpec, evaluation, hookimpl
from genae_studio.api import load_run
from genae_studio.cli import main
from genae_studio.errors import PluginError, UsageError
from genae_studio.evaluation import SamplerContext, build_sampler, draw, parse_samplers
from genae_studio.plugins import load_plugins
from genae_studio.training import TrainSettings, train

TINY = dict(epochs=1, batch_size=32, width=8, latent_dim=8, device="cpu")
FAST = ["--feature-steps", "20", "--device", "cpu"]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, host):
    out = tmp_path_factory.mktemp("digits-vae")
    train(TrainSettings(model="vae", data="digits", limit=128, **TINY), out, host=host)
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("GENAE_STUDIO_CACHE", str(path))
    return path


@pytest.fixture(scope="module")
def context(digits_run, host):
    run = load_run(digits_run, device="cpu", host=host)
    return SamplerContext(run, seed=0, host=host, max_codes=128, use_cache=False)


def test_the_builtin_samplers_are_registered_through_the_hook(host):
    assert list(host.samplers) == ["prior", "gmm", "reweighted"]
    assert all(s.plugin == "samplers" for s in host.samplers.values())
    assert host.samplers["gmm"].options == {"n_components": 10, "covariance_type": "full"}


def test_sampler_names_and_options_are_parsed_with_their_types(host):
    (gmm, prior) = parse_samplers("gmm:n_components=3:covariance_type=diag, prior",
                                  host.samplers)
    assert gmm.options == {"n_components": 3, "covariance_type": "diag"}
    assert gmm.label == "gmm:covariance_type=diag:n_components=3" and prior.label == "prior"
    # an option at its default is no option: one label per sampler
    assert [c.label for c in parse_samplers("prior,prior:temperature=1", host.samplers)] == \
        ["prior"]
    for bad, message in (("nope", "unknown sampler 'nope'"),
                         ("gmm:k=3", "gmm takes key=value options among"),
                         ("gmm:n_components=x", "'x' is not an integer"), ("", "sampler names")):
        with pytest.raises(UsageError, match=message):
            parse_samplers(bad, host.samplers)


def test_the_prior_sampler_draws_at_its_temperature(context, host):
    (choice,) = parse_samplers("prior:temperature=0.5", host.samplers)
    z = draw(build_sampler(choice, context), 4000, seed=1, latent_dim=8)
    assert z.shape == (4000, 8) and z.std() == pytest.approx(0.5, rel=0.03)
    again = draw(build_sampler(choice, context), 4000, seed=1, latent_dim=8)
    assert np.array_equal(z, again)  # one seed, one draw
    with pytest.raises(UsageError, match="temperature must be positive"):
        build_sampler(parse_samplers("prior:temperature=-1", host.samplers)[0], context)


def test_the_gmm_is_fitted_on_encoded_training_codes_once_and_cached(digits_run, host, cache):
    run = load_run(digits_run, device="cpu", host=host)
    (choice,) = parse_samplers("gmm:n_components=2:covariance_type=diag", host.samplers)
    first = SamplerContext(run, seed=0, host=host, max_codes=128)
    sampler = build_sampler(choice, first)
    files = list((cache / "samplers").glob("*.npz"))
    assert len(files) == 1 and sampler.info["codes"] == 128
    z = draw(sampler, 3000, seed=0, latent_dim=8)
    codes = first.training_codes()
    # the mixture's draws have the codes' mean and spread, not the prior's
    assert np.allclose(z.mean(0), codes.mean(0), atol=0.15)
    assert np.allclose(z.std(0), codes.std(0), rtol=0.15)
    second = SamplerContext(run, seed=0, host=host, max_codes=128)
    again = build_sampler(choice, second)
    assert second._memo["cache_hits"] == ["gmm"]
    assert np.array_equal(draw(again, 50, seed=3, latent_dim=8),
                          draw(sampler, 50, seed=3, latent_dim=8))
    files[0].write_bytes(b"not an npz")  # a corrupt cache file is fitted again
    build_sampler(choice, SamplerContext(run, seed=0, host=host, max_codes=128))


def test_reweighting_moves_prior_draws_towards_the_data_and_reports_the_ess(context, host):
    score = context.data_score()
    prior = draw(build_sampler(parse_samplers("prior", host.samplers)[0], context), 2000,
                 seed=0, latent_dim=8)
    levels = {}
    for power in (0.0, 0.5, 1.0):
        (choice,) = parse_samplers(f"reweighted:power={power}", host.samplers)
        sampler = build_sampler(choice, context)
        z = draw(sampler, 2000, seed=0, latent_dim=8)
        levels[power] = float(score(z).mean())
        info = sampler.info
        assert 0 < info["ess"] <= info["proposals"] == 40000
    # power 0 is the prior (every weight 1: ESS = all proposals); more power, more data-like
    assert levels[0.0] == pytest.approx(float(score(prior).mean()), abs=0.03)
    assert levels[0.0] < levels[0.5] < levels[1.0]


def test_reweighting_can_use_an_aae_adversary_as_its_classifier(context, host):
    import torch

    from genae_studio.testing import _sampler_context

    (choice,) = parse_samplers("reweighted:classifier=adversary:power=1", host.samplers)
    with pytest.raises(UsageError, match="needs an adversarial model"):
        build_sampler(choice, context)  # a VAE
    aae = _sampler_context("aae", 8)
    sampler = build_sampler(choice, aae)
    z = draw(sampler, 50, seed=0, latent_dim=8)
    assert sampler.info["classifier"] == "the model's adversary" and z.shape == (50, 8)
    model = aae.run.model.eval()
    with torch.no_grad():  # the adversary's logit is log P(prior) / P(data): r = exp(-logit)
        expected = -model.adversary(torch.as_tensor(z, dtype=torch.float32)).double().numpy()
    assert np.allclose(sampler.log_ratio(z), expected, atol=1e-5)


def test_a_broken_sampler_is_one_line_naming_it(context):
    class Bad:
        def sample(self, n, rng):
            return np.full((n, 3), np.nan)

    spec = SamplerSpec("bad", "returns the wrong shape", lambda context: Bad(), plugin="mine")
    (choice,) = parse_samplers("bad", {"bad": spec})
    with pytest.raises(PluginError, match=r"gave shape \(5, 3\), expected"):
        draw(build_sampler(choice, context), 5, seed=0, latent_dim=8, label="bad")
    raising = SamplerSpec("boom", "", lambda context: 1 / 0, plugin="mine")
    with pytest.raises(PluginError, match="plugin mine, sampler 'boom': build raised "
                                          "ZeroDivisionError"):
        build_sampler(parse_samplers("boom", {"boom": raising})[0], context)


def test_a_plugin_registers_a_sampler_through_the_hook():
    class Plugin:
        @hookimpl
        def register_samplers(self, register):
            register(SamplerSpec("zeros", "all codes zero",
                                 lambda context: type("Z", (), {"sample": lambda self, n, rng:
                                                                np.zeros((n, 8))})()))
            with pytest.raises(TypeError, match="takes a SamplerSpec"):
                register("zeros")

    host = load_plugins([], autoload=False)
    host.manager.register(Plugin(), name="zeros-plugin")
    host.collect()
    assert host.samplers["zeros"].plugin == "zeros-plugin" and not host.failures


def test_eval_compares_samplers_at_equal_n_with_diagnostics_and_a_figure(digits_run, tmp_path,
                                                                         cache, capsys):
    out, figures = tmp_path / "eval.json", tmp_path / "figures"
    assert main(["eval", "--checkpoint", str(digits_run), "--steps", "0,1,4", "--n", "40",
                 "--sampler", "prior,gmm:n_components=2,reweighted",
                 "--temperatures", "0.6,0.8", "--json", str(out), "--figures", str(figures),
                 *FAST]) == 0
    doc = json.loads(out.read_text())
    (run,) = doc["runs"]
    labels = ["prior", "gmm:n_components=2", "reweighted"]
    assert doc["settings"]["samplers"] == labels
    chain = [(r["sampler"], r["step"]) for r in run["rows"] if r["kind"] == "chain"]
    assert chain == [(s, t) for s in labels for t in (0, 1, 4)] + [
        ("prior:temperature=0.6", 0), ("prior:temperature=0.8", 0)]
    wanted = ("fd", "kid", "precision", "recall", "density", "coverage", "mmd_data",
              "data_score")
    assert all(r[c] is not None and r["n"] == 40 for r in run["rows"] if r["kind"] == "chain"
               for c in wanted)
    floors = [r for r in run["rows"] if r["kind"] in ("recon", "data")]
    assert [r["n"] for r in floors] == [40, 40]  # the floors at the chain rows' n
    by_label = {s["label"]: s for s in run["samplers"]}
    assert by_label["reweighted"]["info"]["ess"] > 0
    diag = by_label["gmm:n_components=2"]["diagnostics"]
    assert diag["chains"] == 40 and diag["draws"] == 5 and diag["max_rhat"] > 0
    assert diag["min_ess"] > 0 and diag["ess_method"].startswith("across chains")  # 5 draws
    assert -1 <= diag["max_start_correlation"] <= 1
    assert set(diag["summaries"]) == {"norm", "data_score", "axis1", "axis2"}
    assert diag["stopping"]["t_star"] in (0, 1, 4) and diag["stopping"]["rule"]
    assert diag["rhat_nested_note"].startswith("undefined")  # one batch: one superchain
    assert by_label["prior:temperature=0.6"]["sweep"] is True
    assert by_label["prior:temperature=0.6"]["diagnostics"] is None
    names = sorted(p.name for p in figures.iterdir())
    assert "digits-" + digits_run.name + "-samplers.png" in names
    assert sum("-chains" in n for n in names) == 3
    captured = capsys.readouterr()
    table = captured.out
    assert "gmm:n_components=2" in table and "reweighted" in table
    # why nested R-hat is null is said in the output, once per run
    assert captured.err.count("nested R-hat is undefined: all chains share one batch-norm "
                              "batch") == 1


def test_the_samplers_figure_data_holds_every_sampler_step_and_the_temperature_curve():
    rows = [{"kind": "chain", "sampler": s, "step": t, "precision": p, "recall": r, "fd": f}
            for s, t, p, r, f in [("prior", 0, 0.5, 0.6, 30.0), ("prior", 1, 0.7, 0.4, 20.0),
                                  ("gmm", 0, 0.8, 0.5, 15.0), ("gmm", 1, 0.75, 0.45, 16.0),
                                  ("prior:temperature=0.5", 0, 0.9, 0.1, 25.0)]]
    rows += [{"kind": "data", "sampler": None, "step": None, "precision": 0.8, "recall": 0.8,
              "fd": 5.0}]
    samplers = [{"label": "prior", "name": "prior", "options": {"temperature": 1.0},
                 "sweep": False},
                {"label": "gmm", "name": "gmm", "options": {}, "sweep": False},
                {"label": "prior:temperature=0.5", "name": "prior",
                 "options": {"temperature": 0.5}, "sweep": True}]
    data = evaluation.sampler_figure_data({"run": "r", "rows": rows, "samplers": samplers})
    assert data["samplers"] == {
        "prior": {"steps": [0, 1], "precision": [0.5, 0.7], "recall": [0.6, 0.4],
                  "fd": [30.0, 20.0]},
        "gmm": {"steps": [0, 1], "precision": [0.8, 0.75], "recall": [0.5, 0.45],
                "fd": [15.0, 16.0]}}
    assert data["temperature"] == {"temperature": [0.5, 1.0], "precision": [0.9, 0.5],
                                   "recall": [0.1, 0.6], "fd": [25.0, 30.0]}
    assert data["floors"] == {"data": {"precision": 0.8, "recall": 0.8, "fd": 5.0}}


# --- feature spaces from weights files --------------------------------------------------------

def random_inception(path):
    """A randomly initialised Inception-v3 (torchvision's architecture), saved as safetensors;
    returns its SHA-256."""
    import torch
    from safetensors.torch import save_file
    from torchvision.models import inception_v3

    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=False, init_weights=False)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # builds and runs Inception-v3 (about 40 s on a busy 2-core machine)
def test_a_weights_file_gives_its_own_feature_space_columns(digits_run, tmp_path, cache,
                                                            monkeypatch):
    from genae_studio.evaluation import file_features

    monkeypatch.setattr(file_features, "INPUT_SIZE", 75)  # Inception's smallest input: fast
    weights = tmp_path / "inception.safetensors"
    sha = random_inception(weights)
    out = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(digits_run), "--steps", "0,1", "--n", "20",
                 "--features", f"cnn,inception:{weights}@{sha}", "--json", str(out),
                 *FAST]) == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["extra_spaces"]["inception"]["sha256"] == sha
    for row in run["rows"]:
        assert row["fd_inception"] is not None and row["kid_inception"] is not None
        assert row["density_inception"] is not None and "fd_pca" not in row or \
            row["fd_pca"] is None


@pytest.mark.parametrize("spec, message", [
    ("inception:{missing}@" + "0" * 64, "no such file (weights are never downloaded"),
    ("inception:{file}@" + "0" * 64, "SHA-256 is "),
    ("inception:{file}", "write inception:PATH@SHA256"),
    ("dinov9:{file}@" + "0" * 64, "unknown architecture 'dinov9'"),
])
def test_a_missing_or_mismatched_weights_file_is_one_line_with_exit_code_2(
        spec, message, tmp_path, capsys):
    file = tmp_path / "w.safetensors"
    file.write_bytes(b"weights")
    spec = spec.format(missing=tmp_path / "none.safetensors", file=file)
    code = main(["eval", "--features", f"cnn,{spec}", "--n", "20", "--device", "cpu"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and message in err[0]


def test_a_weights_file_that_is_not_inception_or_holds_code_is_refused(tmp_path):
    import torch

    from genae_studio.evaluation import file_features

    odd = tmp_path / "odd.pt"
    torch.save({"layer.weight": torch.zeros(2, 2)}, odd)
    with pytest.raises(UsageError, match="do not fit Inception-v3"):
        file_features.inception_network(file_features.read_state_dict(odd), odd)
    pickled = tmp_path / "pickled.pt"
    torch.save({"layer": torch.nn.Linear(2, 2)}, pickled)  # a module: weights_only refuses
    with pytest.raises(UsageError, match="cannot read weights"):
        file_features.read_state_dict(pickled)


@pytest.mark.parametrize("option, message", [
    ("gmm:components=abc", "gmm takes key=value options among: n_components=10"),
    ("gmm:n_components=abc", "'abc' is not an integer"),
    ("gmm:n_components=0", "n_components must be at least 1, got 0"),
    ("gmm:covariance_type=bogus", "covariance_type must be one of full"),
    ("reweighted:power=-1", "power must be >= 0"),
    ("reweighted:classifier=svm", "classifier must be score or adversary"),
    ("prior:temperature=0", "temperature must be positive"),
])
def test_a_bad_sampler_option_is_one_line_with_exit_2_before_any_model_loads(
        option, message, capsys, monkeypatch):
    from genae_studio import api

    def no_loading(*args, **kwargs):
        raise AssertionError("a model was loaded before the sampler options were checked")

    monkeypatch.setattr(api, "load_run", no_loading)
    code = main(["eval", "--model", "vae", "--sampler", f"prior,{option}", "--n", "20",
                 "--device", "cpu"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1, err
    assert f"--sampler {option!r}" in err[0] and message in err[0]


def test_a_plugin_sampler_check_that_crashes_is_one_line_naming_the_plugin(host):
    def check(**options):
        raise ZeroDivisionError("boom")

    spec = SamplerSpec("fragile", "d", lambda context: None, {"k": 1}, plugin="mine",
                       check=check)
    with pytest.raises(PluginError, match="plugin mine, sampler 'fragile': check raised "
                                          "ZeroDivisionError: boom"):
        parse_samplers("fragile:k=2", {"fragile": spec})


def test_plugins_check_runs_a_samplers_option_check_on_its_defaults():
    from genae_studio.testing import run_sampler_checks

    class Fixed:
        def sample(self, n, rng):
            return rng.standard_normal((n, 8))

    def strict(*, k=0):
        if k < 1:
            raise UsageError(f"k must be at least 1, got {k}")

    spec = SamplerSpec("strict", "d", lambda context, k=0: Fixed(), {"k": 0}, check=strict)
    first = run_sampler_checks(spec)[0]
    assert (first.check, first.status) == ("option check", "FAIL")
    assert "k must be at least 1, got 0" in first.detail
    unchecked = SamplerSpec("loose", "d", lambda context: Fixed())
    first = run_sampler_checks(unchecked)[0]
    assert (first.check, first.status) == ("option check", "skip")
