"""Samplers of the chain's starting codes z_0, as plugins (hook ``register_samplers``).

A sampler draws (n, K) codes for one trained run: the prior at a temperature, a Gaussian
mixture fitted on encoded training codes, importance-resampled prior draws (the built-ins,
``genae_builtins.samplers``), or a third party's. The paper's chain is one step operator that
starts from any sampler's codes (:func:`~.chains.run_chains`), so "GMM, then 1 step" is a
combination, not a sampler.

Qt-free API, for eval and the studio::

    from genae_studio.evaluation.samplers import SamplerContext, parse_samplers, build_sampler
    context = SamplerContext(run, seed=0, host=host)        # one per run: shares fits
    for choice in parse_samplers("prior,gmm:n_components=5", host.samplers):
        sampler = build_sampler(choice, context)
        z0 = draw(sampler, 500, seed=0, latent_dim=run.model.latent_dim)   # (500, K)
        choice.label, getattr(sampler, "info", {})
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import blame
from ..errors import PluginError, UsageError
from ..registry import SamplerSpec, one_line

if TYPE_CHECKING:
    import numpy as np

    from ..api import Run
    from ..latent import DataScore, EncodedData

DEFAULT_SAMPLER = "prior"
MAX_TRAINING_CODES = 5000  # training images encoded for the samplers that fit on codes


@dataclass(frozen=True)
class SamplerChoice:
    """One sampler as the user named it: the spec and the options that differ from its
    defaults; ``label`` is its canonical text (``gmm:n_components=5``)."""

    spec: SamplerSpec
    options: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        parts = [self.spec.name, *(f"{k}={_text(v)}" for k, v in sorted(self.options.items()))]
        return ":".join(parts)


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _convert(value: str, default, where: str):
    """The text of an option as the type of its default."""
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        kind = {"bool": "true or false", "int": "an integer", "float": "a number"}
        raise UsageError(f"{where}: {value!r} is not {kind[type(default).__name__]}") from None
    return value


def parse_sampler(text: str, samplers: Mapping[str, SamplerSpec]) -> SamplerChoice:
    """``NAME[:key=value...]`` -> SamplerChoice; a UsageError for an unknown sampler or
    option, or a value of the wrong type."""
    name, *pairs = [p.strip() for p in str(text).strip().split(":")]
    if name not in samplers:
        raise UsageError(f"--sampler {text!r}: unknown sampler {name!r} (loaded samplers: "
                         f"{', '.join(samplers) or 'none'})")
    spec = samplers[name]
    options = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or key not in spec.options:
            known = ", ".join(f"{k}={_text(v)}" for k, v in spec.options.items()) or "none"
            raise UsageError(f"--sampler {text!r}: {name} takes key=value options among: "
                             f"{known}")
        options[key] = _convert(value, spec.options[key], f"--sampler {text!r}, {key}")
    _check_values(spec, options, text)
    return SamplerChoice(spec, {k: v for k, v in options.items() if v != spec.options[k]})


def _check_values(spec: SamplerSpec, options: dict, text: str) -> None:
    """The spec's own ``check(**options)``, before any model loads: its UsageError is one
    line naming the option text; any other failure is the plugin's (a PluginError)."""
    if spec.check is None:
        return
    try:
        spec.check(**{**spec.options, **options})
    except UsageError as exc:
        raise UsageError(f"--sampler {text!r}: {exc}") from None
    except Exception as exc:
        raise PluginError(f"plugin {spec.plugin or '?'}, sampler {spec.name!r}: check raised "
                          f"{one_line(exc)}") from exc


def parse_samplers(text: str, samplers: Mapping[str, SamplerSpec]) -> list[SamplerChoice]:
    """``prior,gmm,reweighted`` -> one SamplerChoice each, in order, without repeats."""
    choices = [parse_sampler(t, samplers) for t in str(text).split(",") if t.strip()]
    if not choices:
        raise UsageError(f"--sampler takes sampler names, comma-separated; got {text!r}")
    unique = {c.label: c for c in choices}
    return list(unique.values())


def temperature_sweep(text: str, samplers: Mapping[str, SamplerSpec]) -> list[SamplerChoice]:
    """``0.6,0.8,1.0`` -> the prior at each temperature (a UsageError for a value <= 0)."""
    try:
        values = [float(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise UsageError(f"--temperatures takes numbers, comma-separated; got {text!r}") \
            from None
    if not values or min(values) <= 0:
        raise UsageError(f"--temperatures takes positive numbers, comma-separated; got {text!r}")
    return [parse_sampler(f"{DEFAULT_SAMPLER}:temperature={v}", samplers) for v in values]


def build_sampler(choice: SamplerChoice, context: SamplerContext):
    """The spec's ``build(context, **options)``; a failure is one PluginError line naming the
    plugin and the sampler (a UsageError from the sampler, e.g. a bad option, passes)."""
    where = f"plugin {choice.spec.plugin or '?'}, sampler {choice.label!r}"
    try:
        sampler = choice.spec.build(context, **{**choice.spec.options, **choice.options})
    except (KeyboardInterrupt, UsageError):
        raise
    except BaseException as exc:
        check = blame.check_command(blame.Subject(choice.spec.plugin, "sampler",
                                                  choice.spec.name))
        raise PluginError(f"{where}: build raised {one_line(exc)}; run `{check}`") from exc
    if not callable(getattr(sampler, "sample", None)):
        raise PluginError(f"{where}: build returned {type(sampler).__name__}, which has no "
                          "sample(n, rng) method")
    blame.used(choice.spec.plugin, "sampler", choice.spec.name, choice.spec.build, sampler)
    return sampler


def draw(sampler, n: int, *, seed: int, latent_dim: int, label: str = "sampler"):
    """``n`` codes from ``sampler`` with a generator seeded by ``seed``, checked: float64
    (n, latent_dim) and finite, else one PluginError line."""
    import numpy as np

    rng = np.random.default_rng([int(seed), 0x5A3])
    try:
        z = sampler.sample(int(n), rng)
    except (KeyboardInterrupt, UsageError):
        raise
    except BaseException as exc:
        subject = blame.find(exc) if isinstance(exc, Exception) else None
        if subject is not None:  # a plugin's sampler: name the plugin, say how to check it
            raise PluginError(f"{subject}: sample() raised {one_line(exc)}; run "
                              f"`{blame.check_command(subject)}`") from exc
        raise PluginError(f"sampler {label!r}: sample() raised {one_line(exc)}") from exc
    if hasattr(z, "detach"):
        z = z.detach().cpu().numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.shape != (n, latent_dim):
        raise PluginError(f"sampler {label!r}: sample({n}) gave shape {z.shape}, expected "
                          f"(n, latent_dim) = {(n, latent_dim)}")
    if not np.isfinite(z).all():
        raise PluginError(f"sampler {label!r}: sample({n}) gave NaN or infinite codes")
    return z


@dataclass
class SamplerContext:
    """What a sampler may use for one run, each part computed once and shared.

    ``encoded()``: up to ``max_codes`` training images of the run (its training split, as it
    was trained; or ``images`` when given) encoded as the chain encodes, with as many prior
    draws (``genae_studio.latent.EncodedData``). ``training_codes()``: their sampled codes.
    ``data_score()``: the prior-vs-encoded-data classifier fitted on them. ``cached(kind,
    key, compute)``: arrays stored in the cache folder, keyed by the run's weights.
    """

    run: Run
    seed: int = 0
    bn_mode: str = "batch"
    host: Any = None
    images: Any = None  # uint8 (N, C, H, W) training images; default: the run's training data
    max_codes: int = MAX_TRAINING_CODES
    use_cache: bool = True
    log: Callable[[str], None] | None = None
    _memo: dict = field(default_factory=dict, repr=False)

    @property
    def latent_dim(self) -> int:
        return int(self.run.model.latent_dim)

    def training_images(self):
        import numpy as np

        if self.images is None:
            if not self.run.config.data.get("data"):
                raise UsageError(f"{self.run.path or self.run.name}: the run does not name its "
                                 "training data, which this sampler fits on")
            data = self.run.training_data(self.host)
            count = min(len(data), self.max_codes)
            pick = np.sort(np.random.default_rng(self.seed).permutation(len(data))[:count])
            self.images = data.batch(pick)
        return self.images

    def encoded(self) -> EncodedData:
        if "encoded" not in self._memo:
            from ..latent import encode_data

            images = self.training_images()
            if self.log:
                self.log(f"encoding {len(images)} training images for the samplers")
            self._memo["encoded"] = encode_data(self.run, images, bn_mode=self.bn_mode,
                                                seed=self.seed)
        return self._memo["encoded"]

    def training_codes(self) -> np.ndarray:
        import numpy as np

        return self.encoded().codes.astype(np.float64)

    def data_score(self) -> DataScore:
        if "score" not in self._memo:
            from ..latent import DataScore

            self._memo["score"] = DataScore.fit(self.encoded(), seed=self.seed)
        return self._memo["score"]

    def fingerprint(self) -> str:
        """A digest of the run's weights and of what the codes depend on."""
        if "fingerprint" not in self._memo:
            digest = hashlib.blake2b(digest_size=12)
            for name, tensor in sorted(self.run.model.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            images = self.training_images()
            digest.update(repr((self.seed, self.bn_mode, images.shape)).encode())
            digest.update(images[:: max(1, len(images) // 256)].tobytes())
            self._memo["fingerprint"] = digest.hexdigest()
        return self._memo["fingerprint"]

    def cache_path(self, kind: str, key: Mapping) -> Path | None:
        if not self.use_cache:
            return None
        from ..data import cache_dir, safe_name

        text = json.dumps({"run": self.fingerprint(), **key}, sort_keys=True, default=str)
        digest = hashlib.blake2b(text.encode(), digest_size=10).hexdigest()
        return cache_dir() / "samplers" / f"{safe_name(self.run.name)}-{safe_name(kind)}-" \
                                          f"{digest}.npz"

    def cached(self, kind: str, key: Mapping, compute: Callable[[], dict]) -> dict:
        """``compute()``'s dict of arrays, stored once as .npz (written atomically, read
        without pickles); a missing or unreadable file is computed again."""
        import numpy as np

        from ..fileio import atomic_write

        path = self.cache_path(kind, key)
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as found:
                    arrays = {k: found[k] for k in found.files}
                self._memo.setdefault("cache_hits", []).append(kind)
                return arrays
            except (OSError, ValueError):
                pass
        arrays = compute()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)

                def write(tmp):
                    with open(tmp, "wb") as f:
                        np.savez(f, **arrays)

                atomic_write(path, write)
            except OSError as exc:  # a read-only cache only costs time
                if self.log:
                    self.log(f"could not cache {kind} ({exc})")
        return arrays
