"""The records plugins register: ModelSpec and DatasetSpec."""
import dataclasses

import pytest

from genae_studio.model import GenerativeAutoencoder
from genae_studio.registry import DatasetSpec, ModelSpec


def test_specs_are_immutable_values():
    spec = ModelSpec("m", "a model", factory=dict)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"
    assert spec.defaults == {} and spec.denoising is False and spec.plugin == ""
    data = DatasetSpec("d", "a dataset", load=dict)
    assert data.detect is None and data.channels is None and data.image_size == 64


@pytest.mark.parametrize("name", ["vae", "dvae", "aae", "daae"])
def test_each_builtin_factory_builds_its_model_from_the_registered_defaults(host, name):
    spec = host.model(name)
    assert {"latent_dim", "width", "noise_std"} <= set(spec.defaults)
    model = spec.factory(**spec.defaults, image_size=32, channels=1)
    assert isinstance(model, GenerativeAutoencoder)
    assert model.denoising == spec.denoising == name.startswith("d")
    assert model.latent_dim == spec.defaults["latent_dim"]
    assert model.hparams["width"] == spec.defaults["width"]
    assert model.noise_std == (spec.defaults["noise_std"] if spec.denoising else 0.0)


def test_builtin_specs_do_not_share_their_defaults(host):
    assert host.model("vae").defaults is not host.model("dvae").defaults
