"""What plugins register: model types, datasets and samplers of starting codes.

Plugins receive a ``register`` callable in their hooks and pass it these records.
A model's defaults have one home, its typed config (a ``ModelConfig``, or a subclass
that adds the model's own hyperparameters); whether it is denoising has one home,
``ModelSpec.denoising``. Every model is made by ``ModelSpec.build``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from . import blame
from .errors import PluginError, one_line, plugin_code
from .models import ModelConfig

if TYPE_CHECKING:  # torch loads only when a model is built
    import numpy as np

    from .model_settings import SettingField
    from .models import GenerativeAutoencoder


class ModelFactory(Protocol):
    """Builds a model from hyperparameters: ``factory(**hparams) -> GenerativeAutoencoder``."""

    def __call__(self, **hparams: Any) -> GenerativeAutoencoder: ...


class DatasetLoader(Protocol):
    """Loads one split of a dataset at a size: returns a ``genae_studio.ImageDataset``.

    (Not annotated with it: genae_studio.data resolves ``--data`` with these records, so
    this module must not import it back.)"""

    def __call__(self, source: str | None, *, split: str, image_size: int | None,
                 limit: int | None, seed: int) -> Any: ...


@dataclass(frozen=True)
class ModelSpec:
    """A model type.

    ``config`` holds its defaults (a ``ModelConfig``); plugins written before it existed
    pass a ``defaults`` dict instead, which is completed with ``ModelConfig``'s values.
    Either way ``defaults`` is the complete dict and ``config`` the typed record.

    ``factory(**hparams)`` returns a ``genae_studio.GenerativeAutoencoder`` whose decoder
    returns logits; it receives ``defaults`` updated with what the user chose and the
    dataset's ``image_size`` and ``channels``, so always ``image_size``, ``channels``,
    ``latent_dim``, ``width`` and ``noise_std``. Call ``build`` rather than the factory:
    it also makes the model denoising exactly when ``denoising`` is set, and turns a
    factory that fails into a ``PluginError`` naming the plugin and the model.
    ``image_sizes`` lists the image sizes the model supports (``genae-studio plugins
    --check`` tests each).

    Every field of ``config`` (and every key of an older ``defaults`` dict) but
    ``image_size`` and ``channels`` is a user setting: ``settings()`` lists them,
    ``check_settings()`` types what the user gave (``train --set``).
    """

    name: str
    description: str
    factory: ModelFactory
    defaults: Mapping[str, Any] | None = None
    denoising: bool = False
    plugin: str = ""  # filled in by the plugin manager
    config: ModelConfig | None = None
    image_sizes: tuple[int, ...] = (32, 64)  # what the factory can build

    def __post_init__(self):
        given = dict(self.defaults or {})
        if self.config is None:
            known = {f.name for f in fields(ModelConfig)}
            config = ModelConfig(**{k: v for k, v in given.items() if k in known})
        else:
            config = self.config
            clash = sorted(k for k, v in asdict(config).items() if k in given and given[k] != v)
            if clash:
                raise ValueError(f"model {self.name!r}: defaults {clash} disagree with its "
                                 "config; pass only the config")
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "defaults", {**given, **asdict(config)})

    def settings(self) -> dict[str, SettingField]:
        """The model's user settings by name: its config's fields, typed, with defaults."""
        from .model_settings import setting_fields

        return setting_fields(self.config, self.defaults)

    def check_settings(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (text or Python values) as typed settings of this model; an unknown
        name or a bad value is a UsageError naming the model's settings."""
        from .model_settings import check_settings

        return check_settings(self.name, self.settings(), values)

    def build(self, hparams: Mapping[str, Any]) -> GenerativeAutoencoder:
        """The model for these complete hyperparameters (``defaults`` updated, as saved in a
        run's config), denoising exactly when this spec is."""
        from .models import GenerativeAutoencoder

        where = f"plugin {self.plugin or '?'}, model {self.name!r}"
        try:
            with plugin_code(self.plugin or self.name):  # its os._exit() raises PluginExit
                model = self.factory(**hparams)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # sys.exit() in a factory too
            check = blame.check_command(blame.Subject(self.plugin, "model", self.name))
            raise PluginError(f"{where}: the factory raised {one_line(exc)}; run `{check}`"
                              ) from exc
        if not isinstance(model, GenerativeAutoencoder):
            raise PluginError(f"{where}: the factory returned {type(model).__name__}, "
                              "not a genae_studio.GenerativeAutoencoder")
        model.denoising = self.denoising
        blame.used(self.plugin, "model", self.name, self.factory, model)
        return model


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: a built-in name (``detect`` is None) or an on-disk format.

    ``load(source, *, split, image_size, limit, seed)`` returns a
    ``genae_studio.ImageDataset`` (usually an ``ArrayDataset``) of uint8 (C, H, W)
    images resized by the loader to ``image_size`` (None: the loader's default,
    ``image_size`` here). ``source`` is None for built-in datasets and the path for
    on-disk formats; ``split`` is "train" or "test"; ``limit`` caps the number of
    images (None: all); ``seed`` may drive a random split or generation.
    ``detect(path)`` says whether a path holds this format. ``channels`` and
    ``image_size`` describe what ``load`` returns by default.
    A ``fallback`` format accepts almost any path and is tried after the others.
    ``binary_attribute`` names the 0/1 attribute (of ``ImageDataset.attributes``) that
    ``genae-studio eval``'s interpolation metrics test (``ambiguous``, ``interp`` rows).

    The dataset used when none is named is the first registered one that needs no path
    (``genae_studio.data.default_dataset``).
    """

    name: str
    description: str
    load: DatasetLoader
    detect: Callable[[Any], bool] | None = None
    channels: int | None = None
    image_size: int = 64
    plugin: str = ""
    binary_attribute: str | None = None
    fallback: bool = False


class Sampler(Protocol):
    """Draws latent codes: ``sample(n, rng)`` -> an (n, latent_dim) float array.

    ``rng`` is a ``numpy.random.Generator``; draw every random number from it, so that one
    seed gives the same codes. An optional ``info`` dict (JSON values) is reported by eval,
    e.g. the effective sample size of importance weights."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


class SamplerFactory(Protocol):
    """Builds a sampler for one run: ``build(context, **options) -> Sampler``."""

    def __call__(self, context: Any, **options: Any) -> Sampler: ...  # a SamplerContext


@dataclass(frozen=True)
class SamplerSpec:
    """A way to draw the chain's starting codes z_0 (the paper: the prior).

    ``build(context, **options)`` returns a ``Sampler`` for one trained run; ``context`` (a
    ``genae_studio.evaluation.SamplerContext``) gives the run, the seed, the encoded training
    codes and the data score, each computed once and shared by every sampler. ``options`` are
    the defaults of the keyword options ``build`` accepts; users override them as
    ``--sampler NAME:key=value`` and values are converted to the default's type. ``build``
    may fit something (a mixture, a classifier); keep heavy imports inside it.

    ``check(**options)`` (optional) raises ``UsageError`` for an option value ``build`` would
    refuse (``n_components=0``); it is called when ``--sampler`` is parsed, before any model
    loads, so a bad value is one line at once rather than after minutes of work.
    """

    name: str
    description: str
    build: SamplerFactory
    options: Mapping[str, Any] = field(default_factory=dict)
    plugin: str = ""
    check: Callable[..., None] | None = None


__all__ = ["DatasetLoader", "DatasetSpec", "ModelConfig", "ModelFactory", "ModelSpec",
           "Sampler", "SamplerFactory", "SamplerSpec"]
