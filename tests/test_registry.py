"""The records plugins register: ModelSpec (with its typed config) and DatasetSpec."""
import dataclasses

import pytest

from genae_studio.models import GenerativeAutoencoder
from genae_studio.registry import DatasetSpec, ModelConfig, ModelSpec


def test_specs_are_immutable_values():
    spec = ModelSpec("m", "a model", factory=dict)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"
    assert spec.config == ModelConfig() and spec.denoising is False and spec.plugin == ""
    data = DatasetSpec("d", "a dataset", load=dict)
    assert data.detect is None and data.channels is None and data.image_size == 64


def test_the_typed_config_is_the_one_source_of_a_models_defaults():
    @dataclasses.dataclass(frozen=True)
    class BigConfig(ModelConfig):
        depth: int = 3

    spec = ModelSpec("big", "a model", dict, config=BigConfig(width=16))
    assert spec.defaults == {"latent_dim": 200, "width": 16, "noise_std": 0.5, "depth": 3}
    assert dataclasses.replace(spec, plugin="p").defaults == spec.defaults  # as registered
    with pytest.raises(ValueError, match=r"defaults \['width'\] disagree with its config"):
        ModelSpec("big", "a model", dict, defaults={"width": 8}, config=BigConfig(width=16))


def test_a_plain_defaults_dict_still_works_and_is_completed():
    """Plugins written before ModelConfig pass a dict; factories always get the three keys."""
    spec = ModelSpec("old", "a model", dict, defaults={"width": 32, "depth": 2})
    assert spec.config == ModelConfig(width=32)
    assert spec.defaults == {"latent_dim": 200, "width": 32, "noise_std": 0.5, "depth": 2}


@pytest.mark.parametrize("name", ["vae", "dvae", "aae", "daae"])
def test_each_builtin_builds_its_model_from_the_registered_defaults(host, name):
    spec = host.model(name)
    model = spec.build({**spec.defaults, "image_size": 32, "channels": 1})
    assert isinstance(model, GenerativeAutoencoder)
    assert model.denoising == spec.denoising == name.startswith("d")
    assert model.latent_dim == spec.config.latent_dim == 200
    assert model.hparams["width"] == spec.config.width == 64
    assert model.noise_std == spec.config.noise_std == 0.5


def test_build_makes_the_model_denoising_exactly_when_the_spec_says_so(host):
    vae = host.model("vae")
    hparams = {**vae.defaults, "image_size": 32, "channels": 1, "width": 8, "latent_dim": 4}
    assert not vae.build(hparams).denoising
    assert dataclasses.replace(vae, denoising=True).build(hparams).denoising
