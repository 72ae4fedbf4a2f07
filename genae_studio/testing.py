"""Checks for plugin authors: does a model or a dataset keep the plugin contract?

Call them from your own test suite::

    from genae_studio.testing import check_dataset, check_model

    def test_my_model():
        check_model("mymodel", plugins=["genae_mymodel"])   # raises PluginCheckFailed

or from the command line: ``genae-studio --plugin genae_mymodel plugins --check mymodel``.
Each check is one ``CheckResult``; ``run_model_checks``/``run_dataset_checks`` return them
all without raising.
"""
from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GenaeError
from .plugins import load_plugins
from .registry import DatasetSpec, ModelSpec, SamplerSpec, one_line

__all__ = ["CheckResult", "PluginCheckFailed", "check_dataset", "check_model", "check_sampler",
           "run_dataset_checks", "run_model_checks", "run_sampler_checks"]

BATCH = 4  # images per check batch
PRIOR_SAMPLES = 16  # prior samples for the logits check


@dataclass(frozen=True)
class CheckResult:
    check: str  # e.g. "decoder logits"
    status: str  # "ok", "FAIL" or "skip"
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"

    def __str__(self) -> str:
        return f"{self.status:<4}  {self.check}: {self.detail}"


class PluginCheckFailed(AssertionError):
    """Raised by ``check_model``/``check_dataset``; the message lists every check."""

    def __init__(self, subject: str, results: list[CheckResult]):
        self.results = results
        failed = ", ".join(r.check for r in results if not r.ok)
        lines = "\n".join(str(r) for r in results)
        super().__init__(f"{subject} failed: {failed}\n{lines}")


class _Failed(Exception):
    """A check's failure, with the line to print."""


# Told ``(check, None)`` before each check runs and ``(check, result)`` after it:
# ``genae-studio plugins --check`` runs the checks in a child process that reports them.
on_check: Callable[[str, CheckResult | None], None] | None = None


def _run(results: list[CheckResult], check: str, body: Callable[[], str],
         skip: str | None = None) -> bool:
    """Run one check; record ok (body's detail), FAIL (its error) or skip."""
    if on_check is not None:
        on_check(check, None)
    try:
        return _run_one(results, check, body, skip)
    finally:
        if on_check is not None and results and results[-1].check == check:
            on_check(check, results[-1])


def _run_one(results: list[CheckResult], check: str, body: Callable[[], str],
             skip: str | None) -> bool:
    if skip:
        results.append(CheckResult(check, "skip", skip))
        return False
    try:
        results.append(CheckResult(check, "ok", body()))
        return True
    except KeyboardInterrupt:
        raise
    except _Failed as exc:
        results.append(CheckResult(check, "FAIL", str(exc)))
    except GenaeError as exc:
        results.append(CheckResult(check, "FAIL", str(exc)))
    except BaseException as exc:  # a plugin's own error, sys.exit() included
        results.append(CheckResult(check, "FAIL", f"raised {one_line(exc)}"))
    return False


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise _Failed(message)


# --- models ----------------------------------------------------------------------------------

def _model_hparams(spec: ModelSpec, image_size: int, channels: int, overrides: dict) -> dict:
    return {**spec.defaults, **overrides, "image_size": image_size, "channels": channels}


def _shapes(spec: ModelSpec, image_size: int, channels: int, overrides: dict) -> str:
    model = spec.build(_model_hparams(spec, image_size, channels, overrides))
    return model_shapes(model, image_size, channels)


def _code_fix(model, shape: tuple, k: int) -> str:
    """Why encode's codes have ``shape`` instead of (batch, k), and the fix."""
    from .models import VAE

    if len(shape) != 2:
        return (f": encode must return (batch, latent_dim) codes; flatten the encoder's "
                f"{len(shape)}-D output to (B, K) (e.g. end it with nn.Flatten() and "
                f"nn.Linear(..., {2 * k if isinstance(model, VAE) else k}))")
    if isinstance(model, VAE):
        return (f": a VAE's encoder returns 2 x latent_dim = {2 * k} values per image (mean "
                f"then log-variance), its encoder gives {2 * shape[1]}; give its last layer "
                f"{2 * k} outputs")
    return f": the encoder must give latent_dim = {k} values per image"


def _image_fix(shape: tuple, expected: tuple) -> str:
    """Why the decoder's output has ``shape`` instead of ``expected``, and the fix."""
    if len(shape) != 4:
        return ": the decoder must return (B, C, H, W) logits; reshape its output"
    if shape[1] != expected[1]:
        return (f": the decoder must give `channels` = {expected[1]} channel(s); build its "
                "last layer from the factory's channels argument")
    if shape[2:] != expected[2:]:
        return (f": the decoder must give {expected[2]}x{expected[3]} images for image_size "
                f"{expected[2]}; scale its upsampling with the factory's image_size argument")
    return ""


def model_shapes(model, image_size: int, channels: int, batch: int = BATCH) -> str:
    """encode gives (batch, latent_dim) codes and the decoder (batch, C, H, W) logits, which
    decode squashes into [0, 1]; a failure says how to fix it."""
    import torch

    k = model.latent_dim
    x = torch.rand(batch, channels, image_size, image_size, device=model.device)
    with torch.no_grad():
        model.eval()
        for sample in (False, True):
            z = model.encode(x, sample=sample)
            _expect(tuple(z.shape) == (batch, k),
                    f"encode(x, sample={sample}) gave shape {tuple(z.shape)}, expected "
                    f"(batch, latent_dim) = {(batch, k)}" + _code_fix(model, tuple(z.shape), k))
        image_shape = (batch, channels, image_size, image_size)
        logits = model.decoder(z)
        _expect(tuple(logits.shape) == image_shape,
                f"the decoder gave shape {tuple(logits.shape)} for codes of shape "
                f"{tuple(z.shape)}, expected {image_shape}"
                + _image_fix(tuple(logits.shape), image_shape))
        out = model.decode(z)
        _expect(tuple(out.shape) == image_shape,
                f"decode(z) gave shape {tuple(out.shape)}, expected {image_shape}: decode "
                "must return the decoder's image (the base class's decode does)")
        _expect(bool(((out >= 0) & (out <= 1)).all()),
                "decode(z) left [0, 1]: decode must squash the decoder's logits with a "
                "sigmoid (the base class's decode does; don't override it)")
    return f"encode {tuple(x.shape)} -> {tuple(z.shape)}, decode -> {image_shape}"


def contract_problem(model, batch: int = 2) -> str | None:
    """The cheap checks ``genae-studio train`` runs before the first step: codes' and images'
    shapes and logits that no sigmoid squashed, on ``batch`` random images. The failure's
    line, or None. The model is left in eval mode; the random state is kept as it was."""
    import torch

    devices = [model.device] if model.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        for check, body in (("shapes", lambda: model_shapes(model, model.image_size,
                                                           model.channels, batch)),
                            ("decoder logits", lambda: _logits(model))):
            try:
                body()
            except _Failed as exc:
                return f"{check}: {exc}"
    return None


def _logits(model) -> str:
    """A final sigmoid keeps every output inside [0, 1], whatever the code; logits leave it
    for some codes. A young decoder's logits may all be small, so codes scaled by 10 and 100
    are tried too (batch norm on running statistics keeps the scale)."""
    import torch

    from .sampling import sampling_mode

    z = model.sample_prior(PRIOR_SAMPLES, device=model.device)
    constant = True
    with torch.no_grad(), sampling_mode(model, "eval"):
        for scale in (1, 10, 100):
            raw = model.decoder(z * scale)
            low, high = float(raw.min()), float(raw.max())
            if not (0.0 <= low and high <= 1.0):
                return f"raw decoder output spans [{low:.3g}, {high:.3g}] (codes x {scale})"
            constant = constant and low == high
    if constant:  # e.g. a zero-initialised last layer: no sigmoid gives one value for all
        return f"raw decoder output is {low:.3g} for every code (untrained): cannot tell yet"
    raise _Failed(f"the raw decoder output stays inside [0, 1] (min {low:.3g}, max {high:.3g}) "
                  f"for {PRIOR_SAMPLES} prior samples, also scaled by 10 and 100: the decoder "
                  "must return logits (remove its final sigmoid; decode() applies one)")


def _training_step(model, image_size: int, channels: int) -> str:
    import torch

    groups = model.optimizer_groups()
    _expect(isinstance(groups, dict) and groups,
            "optimizer_groups() must return a non-empty dict: name -> parameters")
    optimizers = {name: torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))
                  for name, params in groups.items()}
    before = {name: [p.detach().clone() for p in params] for name, params in groups.items()}
    called: list[str] = []

    def step(name: str, loss: torch.Tensor) -> None:
        _expect(name in optimizers, f"step({name!r}, loss) names no optimiser group "
                                    f"(optimizer_groups(): {', '.join(optimizers)})")
        _expect(bool(torch.isfinite(loss).all()), f"step({name!r}) got a non-finite loss "
                                                  f"({loss.detach().flatten()[:1].item()})")
        optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[name].step()
        called.append(name)

    model.train()
    x = torch.rand(BATCH, channels, image_size, image_size)
    losses = model.training_step(x, step)
    _expect(isinstance(losses, dict) and "loss" in losses,
            "training_step must return a dict of losses with a 'loss' entry")
    bad = [k for k, v in losses.items() if not math.isfinite(float(v))]
    _expect(not bad, f"non-finite losses: {', '.join(bad)}")
    missing = [name for name in optimizers if name not in called]
    _expect(not missing, f"training_step never called step() for {', '.join(missing)}")
    unchanged = [name for name, params in groups.items()
                 if all(torch.equal(p.detach(), old) for p, old in zip(params, before[name],
                                                                         strict=True))]
    _expect(not unchanged, f"the weights of {', '.join(unchanged)} did not change")
    return ", ".join(f"{k} {float(v):.4g}" for k, v in losses.items())


def _chain(spec: ModelSpec, model, hparams: dict) -> str:
    import torch

    from .api import Run
    from .runs import RunConfig

    run = Run(model, RunConfig(spec.plugin, spec.name, hparams), None, model.device)
    steps = list(run.sample_batches(BATCH, [0, 1, 2], seed=0, batch_size=BATCH))
    _expect([s.t for s in steps] == [0, 1, 2], "the chain did not yield steps 0, 1, 2")
    shape = (BATCH, model.channels, model.image_size, model.image_size)
    for s in steps:
        _expect(tuple(s.z.shape) == (BATCH, model.latent_dim) and tuple(s.x.shape) == shape,
                f"step {s.t}: z {tuple(s.z.shape)}, x {tuple(s.x.shape)}")
        _expect(bool(torch.isfinite(s.z).all() and torch.isfinite(s.x).all()),
                f"step {s.t} is not finite")
    kind = "denoising chain" if model.denoising else "chain"
    return f"2 steps of the {kind} from {BATCH} prior samples"


def _round_trip(spec: ModelSpec, model, hparams: dict) -> str:
    import torch

    from .runs import RunConfig, load_weights, read_config, save_run

    try:
        text = json.dumps(hparams)
    except TypeError as exc:
        raise _Failed(f"hyperparameters are not JSON ({exc}); run folders store them "
                      "in config.json") from None
    z = model.sample_prior(BATCH)
    x = torch.rand(BATCH, model.channels, model.image_size, model.image_size)
    model.eval()
    with torch.no_grad():
        expected = model.decode(z), model.encode(x, sample=False)
    with tempfile.TemporaryDirectory(prefix="genae-check-") as tmp:
        save_run(Path(tmp), RunConfig(spec.plugin, spec.name, json.loads(text)), model)
        config = read_config(Path(tmp))
        torch.manual_seed(12345)  # a different initialisation: the weights must come back
        again = spec.build(config.hparams)
        load_weights(Path(tmp), again)
    again.eval()
    with torch.no_grad():
        got = again.decode(z), again.encode(x, sample=False)
    _expect(torch.equal(expected[0], got[0]),
            "decode(z) differs after saving and loading: state the outputs depend on is not "
            "in state_dict() (use register_buffer / nn.Parameter), or the factory ignores a "
            "hyperparameter")
    _expect(torch.equal(expected[1], got[1]), "encode(x) differs after saving and loading")
    return "config.json + model.safetensors reproduce decode and encode exactly"


def run_model_checks(spec: ModelSpec, *, hparams: dict[str, Any] | None = None,
                     image_sizes: Sequence[int] | None = None) -> list[CheckResult]:
    """Every model check, in order; a check that depends on a failed one is skipped.

    ``hparams`` overrides the spec's defaults (e.g. a smaller width for speed);
    ``image_sizes`` defaults to ``spec.image_sizes``.
    """
    import torch

    overrides = dict(hparams or {})
    sizes = list(image_sizes or spec.image_sizes)
    main_size = 64 if 64 in sizes else sizes[0]
    results: list[CheckResult] = []
    state: dict = {}

    def build() -> str:
        torch.manual_seed(0)
        state["hparams"] = _model_hparams(spec, main_size, 3, overrides)
        model = state["model"] = spec.build(state["hparams"])
        return (f"{type(model).__name__} at its defaults, {main_size}x{main_size}, "
                f"latent_dim {model.latent_dim}")

    built = _run(results, "build", build)
    skip = None if built else "skipped (needs: build, which failed)"
    shaped = {size: _run(results, f"shapes {size}x{size}",
                         lambda size=size: _shapes(spec, size, 3, overrides), skip)
              for size in sizes}
    _run(results, "shapes 1 channel", lambda: _shapes(spec, sizes[0], 1, overrides), skip)
    if skip is None and not shaped[main_size]:  # the rest runs the model at main_size
        skip = f"skipped (needs: shapes {main_size}x{main_size}, which failed)"
    model = state.get("model")
    _run(results, "decoder logits", lambda: _logits(model), skip)
    _run(results, "training step", lambda: _training_step(model, main_size, 3), skip)
    _run(results, "chain", lambda: _chain(spec, model, state["hparams"]), skip)
    _run(results, "checkpoint round trip", lambda: _round_trip(spec, model, state["hparams"]),
         skip)
    return results


# --- datasets --------------------------------------------------------------------------------

def _load(spec: DatasetSpec, source, split: str, image_size, limit):
    from .data.base import ImageDataset

    dataset = spec.load(source, split=split, image_size=image_size, limit=limit, seed=0)
    _expect(isinstance(dataset, ImageDataset),
            f"load() returned {type(dataset).__name__}, not an ImageDataset "
            "(use genae_studio.ArrayDataset for images in memory)")
    return dataset


def _split(spec: DatasetSpec, source, split: str, limit: int, state: dict) -> str:
    dataset = state[split] = _load(spec, source, split, None, limit)
    _expect(len(dataset) > 0, f"the {split} split is empty")
    _expect(len(dataset) <= limit, f"limit={limit} returned {len(dataset)} images")
    return (f"{len(dataset)} images (limit {limit}), {dataset.channels} channel(s), "
            f"{dataset.image_size}x{dataset.image_size}")


def _images(spec: DatasetSpec, source, size: int, limit: int) -> str:
    dataset = _load(spec, source, "train", size, limit)
    _expect(dataset.image_size == size, f"asked for {size}x{size}, the dataset says "
                                        f"image_size {dataset.image_size}")
    _expect(dataset.channels in (1, 3), f"channels is {dataset.channels}, not 1 or 3")
    if spec.channels is not None:
        _expect(dataset.channels == spec.channels,
                f"{dataset.channels} channels, the spec says {spec.channels}")
    n = min(len(dataset), 4)
    expected = (dataset.channels, size, size)
    for i in range(n):
        image = np.asarray(dataset[i])
        _expect(image.dtype == np.uint8, f"image {i} is {image.dtype}, not uint8")
        _expect(image.shape == expected, f"image {i} has shape {image.shape}, expected "
                                         f"(C, H, W) = {expected}")
    batch = dataset.batch(np.arange(n))
    _expect(batch.dtype == np.uint8 and batch.shape == (n, *expected),
            f"batch() gave {batch.dtype} {batch.shape}, expected uint8 {(n, *expected)}")
    return f"uint8 {expected}"


BAD_SPLIT = "no-such-split"


def _bad_split(spec: DatasetSpec, source) -> str:
    """A split the dataset does not have is refused with an error that names it (a loader
    that returns some images instead would train or test on the wrong ones silently)."""
    try:
        dataset = spec.load(source, split=BAD_SPLIT, image_size=None, limit=4, seed=0)
    except Exception as exc:  # the error the user would see
        _expect(BAD_SPLIT in str(exc),
                f"load(split={BAD_SPLIT!r}) raised {one_line(exc)}, which does not name the "
                "split: raise genae_studio.DataError naming it (genae_studio.data.disk."
                "check_split(split, where) does)")
        return f"load(split={BAD_SPLIT!r}) raised {one_line(exc, 120)}"
    raise _Failed(f"load(split={BAD_SPLIT!r}) returned {type(dataset).__name__} instead of "
                  "refusing the split: call genae_studio.data.disk.check_split(split, where) "
                  "first, which raises a DataError naming it")


def _metadata(state: dict) -> str:
    notes = []
    for split in ("train", "test"):
        dataset = state[split]
        n = len(dataset)
        labels = dataset.labels
        if labels is not None:
            labels = np.asarray(labels)
            _expect(labels.shape == (n,), f"{split}: labels have shape {labels.shape} for "
                                          f"{n} images")
            _expect(np.issubdtype(labels.dtype, np.integer), f"{split}: labels are "
                                                             f"{labels.dtype}, not integers")
            if dataset.label_names is not None and n:
                _expect(0 <= labels.min() and labels.max() < len(dataset.label_names),
                        f"{split}: labels outside 0..{len(dataset.label_names) - 1} "
                        "(label_names)")
        for key, values in (dataset.attributes or {}).items():
            _expect(len(values) == n, f"{split}: attribute {key!r} has {len(values)} values "
                                      f"for {n} images")
        pick = _readable_pair(dataset)
        if pick is not None:  # a subset keeps images, labels and attributes together
            sub = dataset.subset(pick)
            _expect(np.array_equal(sub.batch([0, 1]), dataset.batch(pick)),
                    f"{split}: subset() reorders the images")
            if labels is not None:
                _expect(np.array_equal(np.asarray(sub.labels), labels[pick]),
                        f"{split}: subset() does not keep the labels with their images")
            for key, values in (dataset.attributes or {}).items():
                _expect(np.array_equal(np.asarray(sub.attributes[key]),
                                       np.asarray(values)[pick]),
                        f"{split}: subset() does not keep attribute {key!r} with its images")
        if split == "train":
            notes.append("labels" if labels is not None else "no labels")
            notes.append(f"attributes {', '.join(dataset.attributes)}" if dataset.attributes
                         else "no attributes")
    return "; ".join(notes) + "; aligned with the images in both splits"


def _readable_pair(dataset, tries: int = 8) -> np.ndarray | None:
    """The last and the first image whose own file decodes, or None. A dataset may put a
    readable neighbour in place of an unreadable image (the folder formats do, within the
    dataset), so a subset, which is another dataset, may pick another neighbour: only
    readable images can be compared with their subset."""
    n = len(dataset)

    def readable(i: int) -> bool:
        try:
            dataset.subset([i])[0]
        except Exception:  # none of the subset's one image is readable
            return False
        return True

    last = next((i for i in range(n - 1, max(n - 1 - tries, 0), -1) if readable(i)), None)
    first = next((i for i in range(min(tries, n)) if i != last and readable(i)), None)
    if last is None or first is None or first >= last:
        return None
    return np.array([last, first])


def run_dataset_checks(spec: DatasetSpec, source: str | Path | None = None, *,
                       image_sizes: Sequence[int] = (32, 64), limit: int = 64
                       ) -> list[CheckResult]:
    """Every dataset check. An on-disk format (``spec.detect``) needs ``source``, a path."""
    results: list[CheckResult] = []
    if spec.detect is not None and source is None:
        results.append(CheckResult("source", "FAIL", f"{spec.name} is an on-disk format: "
                                                     "give a path to check it with (--data)"))
        return results
    source = None if spec.detect is None else str(source)
    if source is not None:
        def detect() -> str:
            _expect(bool(spec.detect(Path(source))), f"detect({source!r}) is false")
            return f"detect({source!r}) is true"

        _run(results, "detect", detect)
    state: dict = {}
    splits = [_run(results, f"load {split}",
                   lambda split=split: _split(spec, source, split, limit, state))
              for split in ("train", "test")]
    for size in image_sizes:
        _run(results, f"images {size}x{size}", lambda size=size: _images(spec, source, size,
                                                                         limit))
    failed = [f"load {split}" for split, ok in zip(("train", "test"), splits, strict=True)
              if not ok]
    _run(results, "labels and attributes", lambda: _metadata(state),
         f"skipped (needs: {' and '.join(failed)}, which failed)" if failed else None)
    _run(results, "unknown split", lambda: _bad_split(spec, source))
    return results


# --- samplers --------------------------------------------------------------------------------

SAMPLER_DRAWS = 16


def _sampler_context(model: str, latent_dim: int):
    """A SamplerContext on a small, untrained built-in model and random training images."""
    import torch

    from .api import Run
    from .evaluation.samplers import SamplerContext
    from .runs import RunConfig

    spec = load_plugins([], autoload=False).model(model)
    hparams = {**spec.defaults, "image_size": 32, "channels": 1, "latent_dim": latent_dim,
               "width": 8}
    torch.manual_seed(0)
    net = spec.build(hparams).eval()
    run = Run(net, RunConfig(spec.plugin, spec.name, hparams), None, torch.device("cpu"))
    images = np.random.default_rng(0).integers(0, 256, (64, 1, 32, 32), dtype=np.uint8)
    return SamplerContext(run, seed=0, images=images, use_cache=False)


def run_sampler_checks(spec: SamplerSpec, *, options: dict[str, Any] | None = None,
                       model: str = "vae", latent_dim: int = 8) -> list[CheckResult]:
    """Every sampler check, on a small untrained ``model`` (a built-in VAE) with random
    training images: it builds; ``sample(n, rng)`` gives (n, latent_dim) finite codes; the
    same seed gives the same codes."""
    from .evaluation.samplers import SamplerChoice, build_sampler, draw

    results: list[CheckResult] = []
    state: dict = {}

    def option_check() -> str:
        spec.check(**{**spec.options, **(options or {})})
        return "check(**options) accepts the options (checked when --sampler is parsed)"

    _run(results, "option check", option_check,
         None if spec.check is not None else "the spec has no check (bad values are found "
                                            "when the sampler is built)")

    def build() -> str:
        context = _sampler_context(model, latent_dim)
        state["sampler"] = build_sampler(SamplerChoice(spec, dict(options or {})), context)
        return f"built for an untrained {model} (latent_dim {latent_dim}) and 64 random images"

    built = _run(results, "build", build)
    skip = None if built else "the sampler did not build"

    def shapes() -> str:
        z = state["z"] = draw(state["sampler"], SAMPLER_DRAWS, seed=0, latent_dim=latent_dim,
                              label=spec.name)
        return f"sample({SAMPLER_DRAWS}, rng) -> {z.shape}, finite"

    drew = _run(results, "shapes and finiteness", shapes, skip)

    def determinism() -> str:
        again = draw(state["sampler"], SAMPLER_DRAWS, seed=0, latent_dim=latent_dim,
                     label=spec.name)
        _expect(np.array_equal(again, state["z"]), "the same seed gave different codes: draw "
                                                   "every random number from rng")
        other = draw(state["sampler"], SAMPLER_DRAWS, seed=1, latent_dim=latent_dim,
                     label=spec.name)
        varies = "another seed gives other codes" if not np.array_equal(other, state["z"]) \
            else "another seed gives the same codes (a deterministic sampler)"
        return f"the same seed gives the same codes; {varies}"

    _run(results, "determinism under a seed", determinism, None if drew else "sample failed")
    return results


def check_sampler(sampler: SamplerSpec | str, *, plugins: Sequence[str] = (),
                  options: dict[str, Any] | None = None) -> list[CheckResult]:
    """Check a sampler (a ``SamplerSpec`` or a registered name). Raises
    ``PluginCheckFailed`` naming every failing check."""
    spec, _ = _spec("sampler", sampler, plugins)
    results = run_sampler_checks(spec, options=options)
    if not all(r.ok for r in results):
        raise PluginCheckFailed(f"sampler {spec.name!r}", results)
    return results


# --- the entry points ------------------------------------------------------------------------

def _spec(kind: str, spec_or_name, plugins: Sequence[str]):
    if not isinstance(spec_or_name, str):
        return spec_or_name, []
    host = load_plugins(list(plugins))
    table = {"model": host.models, "dataset": host.datasets, "sampler": host.samplers}[kind]
    if spec_or_name not in table:
        known = ", ".join(table) or "none"
        why = "; ".join(str(f) for f in host.failures)
        raise PluginCheckFailed(f"{kind} {spec_or_name!r}", [CheckResult(
            "registered", "FAIL", f"no {kind} {spec_or_name!r} (loaded: {known})"
            + (f"; plugin failures: {why}" if why else ""))])
    return table[spec_or_name], host.failures


def check_model(model: ModelSpec | str, *, plugins: Sequence[str] = (),
                hparams: dict[str, Any] | None = None,
                image_sizes: Sequence[int] | None = None) -> list[CheckResult]:
    """Check a model (a ``ModelSpec``, or a name registered by the built-ins or ``plugins``).

    Returns the results; raises ``PluginCheckFailed`` (an AssertionError) naming every
    failing check.
    """
    spec, _ = _spec("model", model, plugins)
    results = run_model_checks(spec, hparams=hparams, image_sizes=image_sizes)
    if not all(r.ok for r in results):
        raise PluginCheckFailed(f"model {spec.name!r}", results)
    return results


def check_dataset(dataset: DatasetSpec | str, source: str | Path | None = None, *,
                  plugins: Sequence[str] = (), image_sizes: Sequence[int] = (32, 64),
                  limit: int = 64) -> list[CheckResult]:
    """Check a dataset (a ``DatasetSpec`` or a registered name); ``source`` is the path for
    on-disk formats. Raises ``PluginCheckFailed`` naming every failing check."""
    spec, _ = _spec("dataset", dataset, plugins)
    results = run_dataset_checks(spec, source, image_sizes=image_sizes, limit=limit)
    if not all(r.ok for r in results):
        raise PluginCheckFailed(f"dataset {spec.name!r}", results)
    return results
