"""Training throughput: genae_studio.training.train against a plain PyTorch loop and pythae.

All three train the same networks (the DCGAN encoder/decoder at the configured size, the
AAE's adversary) with Adam on the same in-memory uint8 images. Each runs one warm-up epoch
of ``train_steps`` batches, then a timed epoch; the rate counts the timed epoch's steps after
its first, from per-step timestamps.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from genae_studio.plugins import hookimpl, load_plugins

from .common import Config, Row, cuda_sync

SECTION = "training"


def clock() -> float:
    """Wall time; with GENAE_BENCH_CLOCK=cpu the process's CPU time instead. On a machine
    shared with other jobs, CPU time with one intra-op thread (``--threads 1``) measures the
    work rather than this process's share of the cores."""
    import os

    return time.process_time() if os.environ.get("GENAE_BENCH_CLOCK") == "cpu" \
        else time.perf_counter()


def _images(cfg: Config) -> np.ndarray:
    rng = np.random.default_rng(0)
    n = cfg.batch * cfg.train_steps
    return rng.integers(0, 256, (n, cfg.channels, cfg.image_size, cfg.image_size), np.uint8)


def _rate(stamps: list[float], batch: int) -> float:
    """Images per second over the timed epoch's steps, from end-of-step timestamps."""
    if len(stamps) < 2:
        return float("nan")
    return (len(stamps) - 1) * batch / (stamps[-1] - stamps[0])


# --- the project's training loop -------------------------------------------------------------
class _BenchData:
    """A plugin with one dataset: the benchmark's images."""

    def __init__(self, images: np.ndarray):
        self.images = images

    @hookimpl
    def register_datasets(self, register):
        from genae_studio.data.base import ArrayDataset
        from genae_studio.registry import DatasetSpec

        images = self.images

        def load(source, *, split, image_size, limit, seed):
            return ArrayDataset(images, name="bench")

        register(DatasetSpec("bench", "benchmark images", load, channels=images.shape[1],
                             image_size=images.shape[2]))


def bench_host(images: np.ndarray):
    """The built-in plugins plus the "bench" dataset."""
    host = load_plugins([], autoload=False)
    host.manager.register(_BenchData(images), name="bench-data")
    host.collect()
    return host


def project_rate(cfg: Config, model_name: str, device, images: np.ndarray,
                 **speed) -> tuple[float, float]:
    """(images/s, share of the time waiting for data) of genae_studio.training.train."""
    from genae_studio.training import TrainSettings, train

    host = bench_host(images)
    stamps: list[float] = []
    sync = cuda_sync(device)

    def on_progress(p):
        if p.epoch == 1:
            sync()
            stamps.append(clock())

    with tempfile.TemporaryDirectory() as out:
        settings = TrainSettings(model=model_name, data="bench", epochs=2, batch_size=cfg.batch,
                                 latent_dim=cfg.latent_dim, width=cfg.width,
                                 device=str(device), seed=0, **speed)
        result = train(settings, Path(out), host=host, on_progress=on_progress)
    return _rate(stamps, cfg.batch), result.data_wait_s / max(result.elapsed_s, 1e-9)


# --- a plain PyTorch loop --------------------------------------------------------------------
def plain_rate(cfg: Config, model_name: str, device, images: np.ndarray) -> float:
    """The loop a PyTorch user would write: tensors in memory, shuffled indices, Adam."""
    import torch
    from torch import nn

    from genae_studio.models import Adversary, DCGANDecoder, DCGANEncoder

    torch.manual_seed(0)
    k, c, s = cfg.latent_dim, cfg.channels, cfg.image_size
    aae = model_name == "aae"
    enc = DCGANEncoder(c, s, k if aae else 2 * k, cfg.width).to(device)
    dec = DCGANDecoder(k, c, s, cfg.width).to(device)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=2e-4, betas=(0.5, 0.999))
    if aae:
        adv = Adversary(k).to(device)
        opt_d = torch.optim.Adam(adv.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    data = torch.from_numpy(images)
    sync = cuda_sync(device)
    stamps: list[float] = []
    for epoch in range(2):
        order = torch.randperm(len(data))
        for i in range(len(data) // cfg.batch):
            x = data[order[i * cfg.batch:(i + 1) * cfg.batch]].to(device).float() / 255
            if aae:
                z = enc(x)
                real, fake = adv(torch.randn_like(z)), adv(z.detach())
                d_loss = bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake))
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
                d_out = adv(z)
                loss = bce(dec(z), x, reduction="sum") / len(x) + \
                    bce(d_out, torch.ones_like(d_out))
            else:
                mu, logvar = enc(x).chunk(2, dim=1)
                z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
                kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
                loss = bce(dec(z), x, reduction="sum") / len(x) + kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
            if epoch == 1:
                sync()
                stamps.append(clock())
    return _rate(stamps, cfg.batch)


# --- pythae ----------------------------------------------------------------------------------
def pythae_rate(cfg: Config, model_name: str, device, images: np.ndarray) -> float:
    """pythae's trainer (BaseTrainer / AdversarialTrainer) on the same networks."""
    import torch
    from pythae.data.datasets import BaseDataset
    from pythae.models import VAE, Adversarial_AE, Adversarial_AE_Config, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseDiscriminator, BaseEncoder
    from pythae.trainers import (
        AdversarialTrainer,
        AdversarialTrainerConfig,
        BaseTrainer,
        BaseTrainerConfig,
    )
    from pythae.trainers.training_callbacks import TrainingCallback

    from genae_studio.models import Adversary, DCGANDecoder, DCGANEncoder

    torch.manual_seed(0)
    k, c, s = cfg.latent_dim, cfg.channels, cfg.image_size
    aae = model_name == "aae"

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = DCGANEncoder(c, s, k if aae else 2 * k, cfg.width)

        def forward(self, x):
            h = self.net(x)
            if aae:
                return ModelOutput(embedding=h, log_covariance=torch.zeros_like(h))
            mu, logvar = h.chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = DCGANDecoder(k, c, s, cfg.width)

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    class Discriminator(BaseDiscriminator):
        def __init__(self):
            super().__init__()
            self.net = Adversary(k)

        def forward(self, z):
            return ModelOutput(embedding=torch.sigmoid(self.net(z))[:, None])

    stamps: list[float] = []
    sync = cuda_sync(device)

    class Stamp(TrainingCallback):
        timing = False

        def on_train_step_end(self, training_config, **kwargs):
            if Stamp.timing:
                sync()
                stamps.append(clock())

    common = dict(per_device_train_batch_size=cfg.batch, num_epochs=2,
                  no_cuda=device.type != "cuda", train_dataloader_num_workers=0)
    data = BaseDataset(torch.from_numpy(images).float() / 255, torch.zeros(len(images)))
    with tempfile.TemporaryDirectory() as out:
        if aae:
            config = Adversarial_AE_Config(input_dim=(c, s, s), latent_dim=k,
                                           reconstruction_loss="bce",
                                           deterministic_posterior=True)
            model = Adversarial_AE(config, encoder=Encoder(), decoder=Decoder(),
                                   discriminator=Discriminator())
            tconf = AdversarialTrainerConfig(
                output_dir=out, autoencoder_learning_rate=2e-4,
                discriminator_learning_rate=2e-4,
                autoencoder_optimizer_params={"betas": (0.5, 0.999)},
                discriminator_optimizer_params={"betas": (0.5, 0.999)}, **common)
            trainer = AdversarialTrainer(model, data, training_config=tconf,
                                         callbacks=[Stamp()])
        else:
            config = VAEConfig(input_dim=(c, s, s), latent_dim=k, reconstruction_loss="bce")
            model = VAE(config, encoder=Encoder(), decoder=Decoder())
            tconf = BaseTrainerConfig(output_dir=out, learning_rate=2e-4,
                                      optimizer_params={"betas": (0.5, 0.999)}, **common)
            trainer = BaseTrainer(model, data, training_config=tconf, callbacks=[Stamp()])
        trainer.prepare_training()
        trainer.train_step(1)  # warm-up epoch
        Stamp.timing = True
        trainer.train_step(2)
    return _rate(stamps, cfg.batch)


def training_rows(cfg: Config, device) -> list[Row]:
    """Per model: the plain loop, genae-studio fp32 and bf16, and pythae, measured in turn
    ``cfg.repeats`` times (ABCD ABCD ...) so that load changes hit every row alike; each row
    is the median, with the spread and the load average in the note."""
    import os
    import statistics

    from genae_studio.devices import bf16_unsupported

    images = _images(cfg)
    rows = []
    where = "GPU" if device.type == "cuda" else "CPU"
    section = f"{SECTION} ({where})"
    no_bf16 = bf16_unsupported(device)
    for name in ("vae", "aae"):
        rates: dict[str, list[float]] = {}
        waits: dict[str, list[float]] = {}
        loads: list[float] = []
        pythae_missing = None
        for _ in range(cfg.repeats):
            loads.append(os.getloadavg()[0])
            rates.setdefault("plain", []).append(plain_rate(cfg, name, device, images))
            for precision in ("fp32", "bf16"):
                if precision == "bf16" and no_bf16:
                    continue
                rate, wait = project_rate(cfg, name, device, images, precision=precision)
                rates.setdefault(precision, []).append(rate)
                waits.setdefault(precision, []).append(wait)
            if pythae_missing is None:
                try:
                    theirs = _quiet_pythae(cfg, name, device, images)
                    rates.setdefault("pythae", []).append(theirs)
                except ImportError as exc:
                    pythae_missing = exc.name
        med = {k: statistics.median(v) for k, v in rates.items()}

        def note(key, extra="", rates=rates):
            v = rates[key]
            spread = f"median of {len(v)}, {min(v):.0f} to {max(v):.0f}" if len(v) > 1 else ""
            return "; ".join(x for x in (spread, extra) if x)

        label = name.upper()
        clock_note = ("images per CPU-second of this process" if
                      os.environ.get("GENAE_BENCH_CLOCK") == "cpu" else "wall clock")
        rows.append(Row(section, f"{label}: plain PyTorch loop, fp32", med["plain"], "images/s",
                        note=note("plain", f"{clock_note}; load average {min(loads):.1f} to "
                                           f"{max(loads):.1f} while measuring")))
        fp32 = med["fp32"]
        rows.append(Row(section, f"{label}: genae-studio train, fp32", fp32, "images/s",
                        f"{fp32 / med['plain']:.2f}x plain",
                        ">= 0.95x plain" if where == "CPU" else "",
                        note("fp32", f"waiting for data {statistics.median(waits['fp32']):.2%}"
                                     " of the time")))
        if no_bf16:
            rows.append(Row(section, f"{label}: genae-studio train, bf16", None,
                            note=f"not measured: {no_bf16}"))
        else:
            bf16 = med["bf16"]
            rows.append(Row(section, f"{label}: genae-studio train, bf16 (--precision bf16)",
                            bf16, "images/s", f"{bf16 / fp32:.2f}x fp32; "
                                              f"{bf16 / med['plain']:.2f}x plain fp32",
                            ">= 1.4x fp32" if where == "CPU" else ">= 1.5x fp32",
                            note("bf16", "bfloat16 autocast, fp32 weights and losses")))
        if pythae_missing:
            rows.append(Row(section, f"{label}: pythae trainer", None,
                            note=f"not installed ({pythae_missing}): pip install -e .[bench]"))
        else:
            theirs = med["pythae"]
            rows.append(Row(section, f"{label}: pythae trainer, same networks, fp32", theirs,
                            "images/s", f"genae-studio fp32 {fp32 / theirs:.2f}x pythae",
                            note=note("pythae")))
    return rows


def _quiet_pythae(cfg: Config, name: str, device, images: np.ndarray) -> float:
    import contextlib
    import io
    import logging

    logging.getLogger("pythae").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):  # pythae's notes and bars
        return pythae_rate(cfg, name, device, images)
