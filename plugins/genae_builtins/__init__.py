"""The built-in genae-studio plugins: VAE, DVAE, AAE, DAAE and the built-in datasets.

They use only genae-studio's documented public names, like a third party's plugin
(tests/test_builtins_public_names.py checks it).
"""
import genae_studio  # noqa: F401  (its old import paths, genae_builtins.vae_model included)
