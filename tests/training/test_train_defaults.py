"""The training defaults have one home, TrainSettings (and ModelConfig for the model's):
the command line's help and defaults read them there."""
import dataclasses

from genae_studio.cli import build_parser
from genae_studio.models import ModelConfig
from genae_studio.training import PRECISIONS, TrainSettings


def train_options():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return {a.dest: a for a in sub.choices["train"]._actions}


def test_the_train_command_shows_and_uses_the_settings_defaults(monkeypatch):
    options = train_options()
    settings = TrainSettings()
    assert options["epochs"].default == settings.epochs
    assert options["device"].default == settings.device
    assert options["precision"].default == settings.precision
    assert tuple(options["precision"].choices) == PRECISIONS
    assert f"default {settings.batch_size}" in options["batch_size"].help
    assert f"default {settings.lr:g}" in options["lr"].help
    assert f"default {settings.seed}" in options["seed"].help
    assert f"{ModelConfig().latent_dim} for the built-ins" in options["latent_dim"].help


def test_a_changed_default_reaches_the_help(monkeypatch):
    import genae_studio.training as training

    changed = dataclasses.make_dataclass("Changed", [("epochs", int, 7), ("batch_size", int, 9)],
                                         bases=(TrainSettings,))
    monkeypatch.setattr(training, "TrainSettings", changed)
    options = train_options()
    assert options["epochs"].default == 7 and "default 9" in options["batch_size"].help
