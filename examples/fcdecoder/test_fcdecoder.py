"""How a plugin author tests a plugin: genae_studio.testing in their own test suite."""
from pathlib import Path

from genae_studio.testing import check_model

PLUGIN = str(Path(__file__).with_name("genae_fcdecoder.py"))


def test_fcvae_keeps_the_plugin_contract():
    # check_model("fcvae", plugins=[PLUGIN]) checks the defaults; smaller networks are faster
    # and check the same contract.
    check_model("fcvae", plugins=[PLUGIN], hparams={"width": 8, "hidden": 64})
