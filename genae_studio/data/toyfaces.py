"""Moved: the toyfaces dataset is the built-in plugin's, ``genae_builtins.toyfaces``.

This module only keeps the old import path working (see ``data.moved``).
"""
from .moved import forward

__getattr__, __dir__ = forward(__name__, "genae_builtins.toyfaces")
