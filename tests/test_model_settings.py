"""A model's config fields are user settings (issue 22): ``train --set``, TrainSettings,
config.json, reloading, ``--resume`` and ``plugins --check --set``; the VAE's ``kl_weight``;
``--image-size`` from ``ModelSpec.image_sizes``."""
import json
from dataclasses import dataclass

import pytest
from helpers import BETAVAE

from genae_studio import ModelConfig, ModelSpec
from genae_studio.cli import main
from genae_studio.errors import UsageError
from genae_studio.runs import read_config

TINY = ["--data", "digits", "--limit", "64", "--batch-size", "32", "--device", "cpu"]


@pytest.fixture
def betavae(tmp_path):
    path = tmp_path / "genae_betavae.py"
    path.write_text(BETAVAE)
    return str(path)


def _error(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# --- typing what the user gives ----------------------------------------------------------

@dataclass(frozen=True)
class KindsConfig(ModelConfig):
    flag: bool = False
    steps: int = 3
    rate: float = 0.5
    label: str = "x"
    cap: int | None = None
    sizes: tuple = (1, 2)  # another type: a JSON value


def _spec():
    return ModelSpec("kinds", "every kind of field", lambda **h: None, config=KindsConfig())


@pytest.mark.parametrize(("given", "expected"), [
    ({"flag": "true", "steps": "7", "rate": "2", "label": "abc", "cap": "5"},
     {"flag": True, "steps": 7, "rate": 2.0, "label": "abc", "cap": 5}),
    ({"flag": "off", "cap": "none", "latent_dim": "16"},
     {"flag": False, "cap": None, "latent_dim": 16}),
    ({"flag": True, "steps": 2, "rate": 1, "cap": None}, {"flag": True, "steps": 2, "rate": 1.0,
                                                           "cap": None}),
    ({"sizes": "[3, 4]", "label": "none"}, {"sizes": [3, 4], "label": "none"}),
])
def test_values_are_parsed_with_the_fields_type(given, expected):
    checked = _spec().check_settings(given)
    assert checked == expected
    assert all(type(checked[k]) is type(v) for k, v in expected.items())


@pytest.mark.parametrize(("given", "message"), [
    ({"beta": "1"}, "model 'kinds' has no setting 'beta' (its settings: latent_dim, width, "
                    "noise_std, flag, steps, rate, label, cap, sizes)"),
    ({"steps": "1.5"}, "--set steps=1.5: not an integer"),
    ({"rate": "fast"}, "--set rate=fast: not a number"),
    ({"rate": "inf"}, "--set rate=inf: not a finite number"),
    ({"flag": "maybe"}, "--set flag=maybe: expected true or false"),
    ({"steps": "none"}, "--set steps=none: not an integer"),
    ({"steps": True}, "expected int, got bool"),
    ({"image_size": "32"}, "has no setting 'image_size'"),  # set from the data
    ({"sizes": object()}, "not a JSON value"),
])
def test_an_unknown_key_or_a_bad_value_is_one_usage_error(given, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _spec().check_settings(given)


def test_the_settings_of_an_older_defaults_dict_are_typed_by_their_values():
    spec = ModelSpec("old", "a defaults dict", lambda **h: None,
                     defaults={"latent_dim": 32, "weight": 10.0})
    assert spec.check_settings({"weight": "3"}) == {"weight": 3.0}
    assert list(spec.settings()) == ["latent_dim", "width", "noise_std", "weight"]


# --- the VAE's KL weight -------------------------------------------------------------------

def test_the_vae_weights_its_kl_term_by_kl_weight():
    import torch

    from genae_studio import VAE, VAEConfig

    assert VAEConfig().kl_weight == 1.0  # the paper's ELBO
    losses = {}
    for weight in (1.0, 4.0):
        torch.manual_seed(0)
        model = VAE(image_size=32, channels=1, latent_dim=4, width=8, kl_weight=weight)
        torch.manual_seed(1)
        out = model.training_step(torch.rand(8, 1, 32, 32), lambda name, loss: None)
        assert torch.allclose(out["loss"], out["rec"] + weight * out["kl"])
        losses[weight] = out
        assert model.hparams["kl_weight"] == weight
    assert torch.equal(losses[1.0]["kl"], losses[4.0]["kl"])
    with pytest.raises(ValueError, match="kl_weight must be >= 0"):
        VAE(image_size=32, channels=1, latent_dim=4, width=8, kl_weight=-1)


# --- the command line, config.json, reloading and --resume -----------------------------------

def test_a_beta_vae_from_the_docs_trains_with_set_records_reloads_and_resumes(
        betavae, tmp_path, capsys):
    from genae_studio.api import load_run

    run = tmp_path / "run"
    assert main(["--plugin", betavae, "train", "--model", "betavae", *TINY, "--epochs", "1",
                 "--set", "beta=1.0", "--out", str(run)]) == 0
    hparams = read_config(run).hparams
    assert hparams["beta"] == 1.0 and hparams["latent_dim"] == 8
    assert json.loads((run / "config.json").read_text())["hparams"]["beta"] == 1.0
    assert load_run(run, plugins=[betavae], device="cpu").model.kl_weight == 1.0
    capsys.readouterr()

    assert main(["--plugin", betavae, "train", "--resume", str(run), "--epochs", "2",
                 "--set", "beta=2"]) == 2
    assert "--set beta=2 (the run: 1.0) disagree with the run" in _error(capsys)
    assert main(["--plugin", betavae, "train", "--resume", str(run), "--epochs", "2",
                 "--set", "gamma=2"]) == 2
    assert "--set gamma=2 (the run has no setting gamma)" in _error(capsys)
    assert main(["--plugin", betavae, "train", "--resume", str(run), "--epochs", "2",
                 "--set", "beta=1"]) == 0  # the same value, written another way
    assert read_config(run).progress["epoch"] == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "gamma=1"], "--set gamma: model 'betavae' has no setting 'gamma' (its "
                           "settings: latent_dim, width, noise_std, beta)"),
    (["--set", "beta=high"], "--set beta=high: not a number (model 'betavae', setting beta: "
                             "float, default 4.0)"),
    (["--set", "beta"], "--set 'beta': expected KEY=VALUE"),
    (["--set", "latent_dim=4", "--latent-dim", "6"], "--latent-dim 6 and --set latent_dim=4 "
                                                     "disagree"),
    (["--image-size", "64"], "--image-size 64: model 'betavae' builds images of size 32"),
])
def test_bad_settings_are_refused_before_training(betavae, tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert main(["--plugin", betavae, "train", "--model", "betavae", *TINY, *argv,
                 "--out", str(out)]) == 2
    assert message in _error(capsys)
    assert not out.exists()  # refused before the run folder was made


def test_image_size_takes_the_models_sizes(betavae, tmp_path, capsys):
    """48 is no built-in size: a model that lists it trains at 48."""
    plugin = tmp_path / "genae_size48.py"
    plugin.write_text(BETAVAE.replace("image_sizes=(32,)", "image_sizes=(32, 48)")
                      .replace('"betavae"', '"size48"').replace(
                          "return VAE(kl_weight=beta, **hparams)",
                          "from torch import nn\n"
                          "    c, s, k = hparams['channels'], hparams['image_size'], "
                          "hparams['latent_dim']\n"
                          "    enc = nn.Sequential(nn.Flatten(), nn.Linear(c * s * s, 2 * k))\n"
                          "    dec = nn.Sequential(nn.Linear(k, c * s * s), "
                          "nn.Unflatten(1, (c, s, s)))\n"
                          "    return VAE(kl_weight=beta, encoder=enc, decoder=dec, **hparams)"))
    run = tmp_path / "run"
    assert main(["--plugin", str(plugin), "train", "--model", "size48", *TINY, "--epochs", "1",
                 "--image-size", "48", "--out", str(run)]) == 0
    assert read_config(run).hparams["image_size"] == 48
    capsys.readouterr()
    assert main(["train", "--model", "vae", *TINY, "--image-size", "48",
                 "--out", str(tmp_path / "vae")]) == 2
    assert "--image-size 48: model 'vae' builds images of size 32, 64" in _error(capsys)


def test_train_settings_take_model_settings(betavae, tmp_path):
    from genae_studio.plugins import load_plugins
    from genae_studio.training import TrainSettings, train

    host = load_plugins([betavae], autoload=False)
    settings = TrainSettings(model="betavae", data="digits", epochs=1, batch_size=32, limit=64,
                             device="cpu", model_settings={"beta": 0.5, "width": 4})
    result = train(settings, tmp_path / "run", host=host)
    assert result.model.kl_weight == 0.5
    assert read_config(tmp_path / "run").hparams["width"] == 4
    with pytest.raises(UsageError, match="has no setting 'gamma'"):
        train(TrainSettings(model="betavae", model_settings={"gamma": 1}), tmp_path / "r2",
              host=host)


def test_plugins_check_builds_the_model_with_the_settings(betavae, capsys):
    """The factory refuses beta > 100: --check with --set beta=1000 fails its build."""
    assert main(["--plugin", betavae, "plugins", "--check", "betavae", "--set", "beta=1000",
                 "--timeout", "120"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  build" in out and "beta 1000.0 is too large" in out
    assert main(["--plugin", betavae, "plugins", "--check", "betavae", "--set", "gamma=1"]) == 2
    assert "model 'betavae' has no setting 'gamma'" in _error(capsys)
    assert main(["plugins", "--set", "beta=1"]) == 2
    assert "--set needs --check NAME" in _error(capsys)
