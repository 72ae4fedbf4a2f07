"""Compiled inference plans for the DCGAN networks, used by the chain (old name: ``fast``).

The chain decodes and encodes a batch at every step, so its speed is the speed of eight
convolutions. On the CPU, oneDNN runs most of them near the matrix-multiply rate, but a few
shapes fall far below it (measured on a 2-core Xeon, batch 64, width 64):

- the decoder's first layer (1x1 -> 4x4) and the encoder's last (4x4 -> 1x1) are dense
  layers written as convolutions: ~5% of the matmul rate as convolutions, ~95% as one GEMM;
- the stride-2 layers at the 4x4 level (encoder 8x8 -> 4x4, decoder 4x4 -> 8x8): ~55% as
  convolutions, ~95% as im2col + GEMM (and GEMM + col2im);
- the decoder's last layer (64 -> 3 channels): ~25% as a convolution, 2x faster as a batched
  GEMM followed by ``fold``.

On AMD CPUs torch's GEMMs go to MKL at about half of oneDNN's rate (2-core EPYC: 216 against
459 GFLOP/s), so the stride-2 layers stay oneDNN convolutions there (measured: the GEMM forms
cost 13%, the dense and ``fold`` forms still gain 11% over module calls).

A plan runs exactly the same arithmetic as the modules (up to float rounding), in channels-last
layout, under whatever grad mode the caller uses. Batch norm either normalises with the batch's
statistics ("batch" mode, as the paper samples) or is folded into the preceding layer's weights
and bias ("eval" mode, running statistics): folding is legal only there. Networks that are not
the built-in DCGAN ones get no plan, and callers use the modules as they are.

Plans copy (reshaped) weights when built; ``cached_plan`` rebuilds when any parameter or buffer
changes (it tracks tensor versions), so a model that keeps training stays correct.
"""
from __future__ import annotations

import functools
import weakref
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._nets import DCGANDecoder, DCGANEncoder

Op = Callable[[torch.Tensor], torch.Tensor]
_CL = torch.channels_last


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> a (B, H, W, C) view; copies only if x is not channels-last."""
    return x.contiguous(memory_format=_CL).permute(0, 2, 3, 1)


def _nchw(x: torch.Tensor) -> torch.Tensor:
    """(B, H, W, C) contiguous -> the same memory as a channels-last (B, C, H, W) tensor."""
    return x.permute(0, 3, 1, 2)


def _bn_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Running-statistics batch norm as y = x * scale + shift."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


def _uses_batch_stats(bn: nn.BatchNorm2d | None, bn_mode: str) -> bool:
    return bn is not None and (bn_mode == "batch" or bn.running_mean is None)


def _batch_norm(bn: nn.BatchNorm2d) -> Op:
    """Minibatch statistics, running averages untouched (what sampling_mode's "batch" does)."""
    weight, bias, eps = bn.weight, bn.bias, bn.eps
    return lambda x: F.batch_norm(x, None, None, weight, bias, True, 0.0, eps)


def _matmul(x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x @ w (+ bias), in one GEMM."""
    return torch.mm(x, w) if bias is None else torch.addmm(bias, x, w)


def _relu(x: torch.Tensor) -> torch.Tensor:
    return x.relu_()


class _Layer:
    """One convolution with its batch norm and ReLU, compiled to a fast form."""

    def __init__(self, conv: nn.Module, bn: nn.BatchNorm2d | None, relu: bool, kind: str,
                 bn_mode: str, device: torch.device):
        self.kind = kind
        weight = conv.weight.detach()
        bias = conv.bias.detach() if conv.bias is not None else None
        out_dim = 1 if isinstance(conv, nn.ConvTranspose2d) else 0
        self.post: list[Op] = []
        if bn is not None and not _uses_batch_stats(bn, bn_mode):
            scale, shift = (t.detach() for t in _bn_affine(bn))  # fold into the layer
            shape = [1] * weight.dim()
            shape[out_dim] = -1
            weight = weight * scale.reshape(shape)
            bias = shift if bias is None else bias * scale + shift
        elif bn is not None:
            self.post.append(_batch_norm(bn))
        if relu:
            self.post.append(_relu)
        self.bias = bias
        self.cpu = device.type == "cpu"
        c_out = weight.shape[out_dim]
        self.c_out = c_out
        if kind == "dense_up":  # ConvT k x k from 1x1: z (B, K) @ (K, k*k*C_out), NHWC order
            self.w = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1).contiguous()
            self.k = weight.shape[2]
            self.b = bias.repeat(self.k * self.k) if bias is not None else None
        elif kind in ("dense_down", "down_gemm"):  # Conv as (B*patches, k*k*C_in) @ (., C_out):
            # a k x k conv over a k x k input (dense), or k4 s2 p1 as im2col + GEMM
            self.w = weight.permute(2, 3, 1, 0).reshape(-1, c_out).contiguous()
        elif kind == "up_gemm":  # ConvT k4 s2 p1 as GEMM + col2im (overlap-add)
            self.w = weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1).contiguous()
        elif kind == "up_fold":  # ConvT k4 s2 p1 with few output channels: bmm + fold
            self.w = weight.reshape(weight.shape[0], -1).t().contiguous()  # (C_out*16, C_in)
        else:  # native convolution, channels-last
            self.w = weight.contiguous(memory_format=_CL)
        self.run: Op = getattr(self, "_" + kind)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = self.run(x)
        for op in self.post:
            x = op(x)
        return x

    # --- forms ---------------------------------------------------------------------------
    def _dense_up(self, z):  # z: (B, K) -> (B, C, k, k) channels-last
        y = _matmul(z, self.w, self.b)
        return _nchw(y.view(len(z), self.k, self.k, self.c_out))

    def _dense_down(self, x):  # (B, C, k, k) -> (B, C_out, 1, 1)
        flat = _nhwc(x).reshape(len(x), -1)
        return _matmul(flat, self.w, self.bias)[:, :, None, None]

    def _down(self, x):
        return F.conv2d(x.contiguous(memory_format=_CL), self.w, self.bias, 2, 1)

    def _up(self, x):
        return F.conv_transpose2d(x.contiguous(memory_format=_CL), self.w, self.bias, 2, 1)

    def _down_gemm(self, x):
        h = _nhwc(x)
        b, hh, ww, c = h.shape
        padded = h.new_zeros(b, hh + 2, ww + 2, c)
        padded[:, 1:-1, 1:-1] = h
        sb, sh, sw, sc = padded.stride()
        ho, wo = hh // 2, ww // 2
        patches = padded.as_strided((b, ho, wo, 4, 4, c), (sb, 2 * sh, 2 * sw, sh, sw, sc))
        cols = patches.reshape(b * ho * wo, 16 * c)
        return _nchw(_matmul(cols, self.w, self.bias).view(b, ho, wo, self.c_out))

    def _up_gemm(self, x):
        h = _nhwc(x)
        b, hh, ww, c = h.shape
        co = self.c_out
        cols = torch.mm(h.reshape(-1, c), self.w).view(b, hh, ww, 4, 4, co)
        out = cols.new_empty(b, hh, 2, ww, 2, co)
        # Output row 2m + a takes kernel row MAIN[a] from input row m and kernel row
        # SHIFT[a] from input row m - 1 (a = 0) or m + 1 (a = 1); the same for columns.
        for a in (0, 1):
            for c_ in (0, 1):
                dst = out[:, :, a, :, c_, :]
                dst.copy_(cols[:, :, :, _MAIN[a], _MAIN[c_], :])
                for sa, sc in ((True, False), (False, True), (True, True)):
                    kh = _SHIFT[a] if sa else _MAIN[a]
                    kw = _SHIFT[c_] if sc else _MAIN[c_]
                    dh, sh = _ranges(a, hh) if sa else (slice(None), slice(None))
                    dw, sw = _ranges(c_, ww) if sc else (slice(None), slice(None))
                    dst[:, dh, dw, :] += cols[:, sh, sw, kh, kw, :]
        y = out.view(b, 2 * hh, 2 * ww, co)
        if self.bias is not None:
            y += self.bias
        return _nchw(y)

    def _up_fold(self, x):
        h = _nhwc(x)
        b, hh, ww, c = h.shape
        cols = torch.matmul(self.w, h.reshape(b, hh * ww, c).transpose(1, 2))  # (B, Co*16, HW)
        y = F.fold(cols, (2 * hh, 2 * ww), 4, padding=1, stride=2)
        if self.bias is not None:
            y += self.bias[:, None, None]
        return y


_MAIN = (1, 2)
_SHIFT = (3, 0)


def _ranges(parity: int, n: int) -> tuple[slice, slice]:
    """(destination, source) index ranges of the shifted kernel tap for an output parity."""
    return (slice(1, None), slice(0, n - 1)) if parity == 0 else (slice(0, n - 1), slice(1, None))


def _is(conv, cls, kernel, stride, padding) -> bool:
    return (type(conv) is cls and conv.kernel_size == (kernel, kernel)
            and conv.stride == (stride, stride) and conv.padding == (padding, padding)
            and conv.dilation == (1, 1) and conv.groups == 1
            and (cls is not nn.ConvTranspose2d or conv.output_padding == (0, 0)))


def _groups(seq: nn.Sequential) -> list[tuple[nn.Module, nn.BatchNorm2d | None, bool]] | None:
    """[conv, (bn), (relu)] groups of a DCGAN Sequential, or None if it holds anything else."""
    mods = list(seq)
    groups, i = [], 0
    while i < len(mods):
        conv = mods[i]
        if type(conv) not in (nn.Conv2d, nn.ConvTranspose2d):
            return None
        i += 1
        bn = None
        if i < len(mods) and type(mods[i]) is nn.BatchNorm2d:
            bn, i = mods[i], i + 1
        relu = i < len(mods) and type(mods[i]) is nn.ReLU
        i += relu
        groups.append((conv, bn, relu))
    return groups


class Plan:
    """A network compiled to fast layers; called like the network it replaces."""

    def __init__(self, layers: list[_Layer], decoder: bool):
        self.layers = layers
        self.decoder = decoder

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x if self.decoder else x.flatten(1)


def _cpu_gemm_level(size: int) -> bool:
    """Stride-2 layers touching the 4x4 level run faster as GEMMs than as oneDNN convolutions,
    except on AMD CPUs, where torch's GEMMs (MKL) run at half of oneDNN's rate."""
    return size <= 8 and not amd_cpu()


@functools.cache
def amd_cpu() -> bool:
    """Whether this is an AMD CPU (read from /proc/cpuinfo; False where that is missing)."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("vendor_id") and "AuthenticAMD" in line for line in f)
    except OSError:
        return False


def _compile(net: nn.Module, net_type: type, conv_type: type, bn_mode: str, size: int,
             form: Callable) -> tuple[list[_Layer], int] | None:
    """The layers of a built-in DCGAN network and the spatial size they end at, or None when
    ``net`` is not ``net_type`` or a layer has no fast form. ``form(i, conv, bn, relu, size,
    cpu)`` picks layer i's (kind, output size) from its input size, or None."""
    if type(net) is not net_type:
        return None
    groups = _groups(net.net)
    if not groups:
        return None
    device = net.net[0].weight.device
    layers = []
    for i, (conv, bn, relu) in enumerate(groups):
        chosen = form(i, conv, bn, relu, size, device.type == "cpu") \
            if type(conv) is conv_type else None
        if chosen is None:
            return None
        kind, size = chosen
        layers.append(_Layer(conv, bn, relu, kind, bn_mode, device))
    return layers, size


def _encoder_form(i, conv, bn, relu, size: int, cpu: bool) -> tuple[str, int] | None:
    if _is(conv, nn.Conv2d, 4, 2, 1) and size % 2 == 0:
        return ("down_gemm" if cpu and _cpu_gemm_level(size) else "down"), size // 2
    if _is(conv, nn.Conv2d, size, 1, 0):
        return "dense_down", 1
    return None


def _decoder_form(i, conv, bn, relu, size: int, cpu: bool) -> tuple[str, int] | None:
    if i == 0 and _is(conv, nn.ConvTranspose2d, conv.kernel_size[0], 1, 0):
        return "dense_up", conv.kernel_size[0]
    if not _is(conv, nn.ConvTranspose2d, 4, 2, 1) or size <= 1:
        return None
    if not cpu:
        kind = "up"
    elif conv.out_channels <= 4 and bn is None and not relu:
        kind = "up_fold"
    else:
        kind = "up_gemm" if _cpu_gemm_level(size * 2) else "up"
    return kind, size * 2


def plan_encoder(enc: nn.Module, bn_mode: str, image_size: int) -> Plan | None:
    compiled = _compile(enc, DCGANEncoder, nn.Conv2d, bn_mode, image_size, _encoder_form)
    return Plan(compiled[0], decoder=False) if compiled and compiled[1] == 1 else None


def plan_decoder(dec: nn.Module, bn_mode: str) -> Plan | None:
    compiled = _compile(dec, DCGANDecoder, nn.ConvTranspose2d, bn_mode, 1, _decoder_form)
    return Plan(compiled[0], decoder=True) if compiled else None


class NetworkPlans:
    """Fast encoder and decoder of one model for one batch-norm mode (either may be None)."""

    def __init__(self, model, bn_mode: str):
        self.bn_mode = bn_mode
        with torch.inference_mode(False), torch.no_grad():  # plain tensors, usable anywhere
            self.encoder = plan_encoder(model.encoder, bn_mode, model.image_size)
            self.decoder = plan_decoder(model.decoder, bn_mode)

    @property
    def any(self) -> bool:
        return self.encoder is not None or self.decoder is not None

    def installed(self, model):
        """Context manager: ``model.encoder``/``model.decoder`` resolve to the plans inside.

        The plans shadow the submodules through the instance ``__dict__``; ``_modules``,
        ``parameters()`` and ``state_dict()`` are untouched.
        """
        return _Installed(model, self)


class _Installed:
    def __init__(self, model, plans: NetworkPlans):
        self.model, self.plans = model, plans

    def __enter__(self):
        d = self.model.__dict__
        if self.plans.encoder is not None:
            d["encoder"] = self.plans.encoder
        if self.plans.decoder is not None:
            d["decoder"] = self.plans.decoder
        return self.model

    def __exit__(self, *exc):
        self.model.__dict__.pop("encoder", None)
        self.model.__dict__.pop("decoder", None)
        return False


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _state_key(model) -> tuple | None:
    tensors = (*model.encoder.parameters(), *model.encoder.buffers(),
               *model.decoder.parameters(), *model.decoder.buffers())
    try:
        return tuple((t.data_ptr(), t._version) for t in tensors)
    except RuntimeError:  # inference tensors have no version counter: do not cache
        return None


def cached_plan(model, bn_mode: str) -> NetworkPlans | None:
    """The model's plans for ``bn_mode``, rebuilt when any weight or buffer changed."""
    if not isinstance(getattr(model, "encoder", None), nn.Module) \
            or not isinstance(getattr(model, "decoder", None), nn.Module):
        return None
    key = _state_key(model)
    entry = _CACHE.get(model, {}).get(bn_mode)
    if key is not None and entry is not None and entry[0] == key:
        return entry[1]
    plans = NetworkPlans(model, bn_mode)
    plans = plans if plans.any else None
    if key is not None:
        _CACHE.setdefault(model, {})[bn_mode] = (key, plans)
    return plans
