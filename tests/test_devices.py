"""Device choice: auto = cuda, then mps, then cpu; the environment overrides auto."""
import pytest
import torch

from genae_studio.devices import resolve_device
from genae_studio.errors import UsageError


@pytest.fixture
def no_accelerators(monkeypatch):
    monkeypatch.delenv("GENAE_STUDIO_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize("name", ["auto", None, "", " auto "])
def test_auto_falls_back_to_the_cpu(no_accelerators, name):
    assert resolve_device(name) == torch.device("cpu")


def test_auto_prefers_cuda_then_mps(no_accelerators, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_the_environment_overrides_auto_but_not_an_explicit_choice(no_accelerators,
                                                                    monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("GENAE_STUDIO_DEVICE", "cpu")
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cuda:0") == torch.device("cuda:0")


@pytest.mark.parametrize("name,message", [
    ("gpu0", "unknown device 'gpu0'"),
    ("cuda", "CUDA is not available here"),
    ("mps", "MPS is not available here"),
])
def test_devices_that_cannot_be_used_are_one_clear_usage_error(no_accelerators, name, message):
    with pytest.raises(UsageError, match=message):
        resolve_device(name)


def test_a_cuda_index_beyond_the_visible_devices_is_refused(no_accelerators, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(UsageError, match="only 2 CUDA devices are visible"):
        resolve_device("cuda:2")
