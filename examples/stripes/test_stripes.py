"""How a plugin author tests a dataset plugin: genae_studio.testing in their own test suite."""
from pathlib import Path

from genae_studio.testing import check_dataset

PLUGIN = str(Path(__file__).with_name("genae_stripes.py"))


def test_stripes_keeps_the_plugin_contract():
    check_dataset("stripes", plugins=[PLUGIN])
