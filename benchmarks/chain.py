"""Chain throughput: the naive loop, each technique in turn, and the project's chain."""
from __future__ import annotations

import copy

from .common import Config, Row, best_time, conv_flops, cuda_sync


def default_model(cfg: Config, name: str = "vae", device=None):
    import torch

    from genae_studio.plugins import load_plugins

    host = load_plugins([], autoload=False)
    spec = host.model(name)
    torch.manual_seed(0)
    hparams = {**spec.defaults, "image_size": cfg.image_size, "channels": cfg.channels,
               "latent_dim": cfg.latent_dim, "width": cfg.width}
    model = spec.build(hparams)
    return model.to(device) if device is not None else model


def chain_rows(cfg: Config, device, matmul: dict[str, float]) -> list[Row]:
    import torch

    from genae_studio.sampling import markov_chain, sampling_mode

    base = default_model(cfg, "vae", device).eval()
    flops = conv_flops(base, cfg.latent_dim, cfg.image_size, cfg.channels)
    n, steps = cfg.batch, cfg.chain_steps
    # Step 0 decodes z0; each later step encodes and decodes: (steps + 1/2) x decode+encode.
    chain_flops = flops * n * (steps + 0.5)
    image_steps = n * steps
    sync = cuda_sync(device)

    def looped(model, grad: bool, channels_last: bool):
        def run():
            with torch.set_grad_enabled(grad), sampling_mode(model, "batch"):
                g = torch.Generator(device).manual_seed(0)
                z = model.sample_prior(n, generator=g)
                x = model.decode(z)
                for _ in range(steps):
                    if channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    z = model.encode(x, generator=g)
                    x = model.decode(z)
            return x
        return run

    def chain(model, fast: bool, bn_mode: str, precision: str = "fp32"):
        def run():
            g = torch.Generator(device).manual_seed(0)
            for _ in markov_chain(model, n=n, steps=steps, bn_mode=bn_mode, generator=g,
                                  fast=fast, precision=precision):
                pass
        return run

    nchw = copy.deepcopy(base)
    cl = copy.deepcopy(base).to(memory_format=torch.channels_last)
    variants = [
        ("(a) naive: autograd, NCHW, module calls", looped(nchw, True, False), "a"),
        ("inference mode, NCHW", lambda: _inference(looped(nchw, False, False)), ""),
        ("inference mode + channels-last (module calls)", chain(cl, False, "batch"), ""),
        ("(b) project chain, BN batch statistics (default)", chain(cl, True, "batch"), "b"),
        ("(b) project chain, BN running statistics (folded)", chain(cl, True, "eval"), "b"),
        ("opt-in: project chain + bf16 autocast (precision='bf16')",
         chain(cl, True, "batch", "bf16"), "bf16"),
    ]
    rows, naive_rate = [], None
    where = "GPU" if device.type == "cuda" else "CPU"
    for label, fn, tag in variants:
        t = best_time(fn, cfg.repeats, warmup=1, sync=sync)
        rate = image_steps / t
        gflops = chain_flops / t / 1e9
        naive_rate = naive_rate or rate
        parts = [] if tag == "a" else [f"{rate / naive_rate:.2f}x (a)"]
        parts += [f"{gflops / v:.0%} of {k} matmul" for k, v in matmul.items()]
        goal, note = "", f"{gflops:.0f} GFLOP/s"
        if tag == "b" and "batch statistics" in label and where == "CPU":
            goal = ">= 3x (a), >= 65% of the larger fp32 matmul rate"
        if tag == "bf16":
            note += "; bfloat16 numbers, not fp32's (AMX/tensor cores)"
        rows.append(Row(f"chain ({where})", label, rate, "image-steps/s", "; ".join(parts),
                        goal, note, extra={"gflops": gflops, "seconds": t}))
    rows.append(Row(f"chain ({where})", "work per image-step", flops / 1e9, "GFLOP",
                    note=f"decode + encode, {cfg.image_size}x{cfg.image_size}, "
                         f"latent {cfg.latent_dim}, width {cfg.width}, batch {n}, "
                         f"{steps} steps"))
    return rows


def _inference(fn):
    import torch

    with torch.inference_mode():
        return fn()
