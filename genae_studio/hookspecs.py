"""The plugin API's hooks and markers: what a plugin implements.

A plugin is a module (or object) with functions decorated by ``hookimpl``. Import
the markers from the package root (``from genae_studio import hookimpl``) or from
here; ``genae_studio.plugins.hookimpl`` is the same object. The full guide is
docs/plugins.md.

Each hook receives one argument, ``register``: a callable that takes one
``ModelSpec`` (``DatasetSpec``, ``SamplerSpec``) per call, so a plugin can contribute several.
``register`` raises ``TypeError`` for anything that is not the expected spec or
whose factory/loader is not callable, and ``ValueError`` for an empty name.

What happens when something goes wrong, always without stopping the others:

- a hook that raises (anything but ``KeyboardInterrupt``, ``sys.exit()`` included)
  drops everything that plugin registered in that hook; the plugin is listed as
  failed with the error, and every command prints that as one warning line;
- a name that another plugin registered first keeps the first registration; the
  later one is reported as a failure of the later plugin;
- a ``hookimpl`` whose name is not one of these hooks is reported.
"""
from __future__ import annotations

import pluggy

PROJECT = "genae_studio"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(register):
    """Register model types: call ``register(ModelSpec(...))`` once per model.

    ``ModelSpec.factory(**hparams)`` must return a ``GenerativeAutoencoder`` whose
    decoder returns logits (no sigmoid). It is called when a model is trained or a
    run is loaded, not at registration, so keep heavy imports (torch) inside it.
    """


@hookspec
def register_datasets(register):
    """Register datasets: call ``register(DatasetSpec(...))`` once per dataset or format.

    ``DatasetSpec.load(source, *, split, image_size, limit, seed)`` must return an
    ``ImageDataset`` (``ArrayDataset`` for images in memory) of uint8 (C, H, W)
    images at ``image_size``; ``source`` is None for a built-in dataset (no
    ``detect``) and the path for an on-disk format. ``split`` is "train" or "test".
    """


@hookspec
def register_samplers(register):
    """Register samplers of the chain's starting codes: ``register(SamplerSpec(...))`` once
    per sampler.

    ``SamplerSpec.build(context, **options)`` returns an object whose ``sample(n, rng)``
    gives (n, latent_dim) codes, drawing only from the numpy generator ``rng``. It is called
    when eval (or the studio) uses the sampler, not at registration.
    """
