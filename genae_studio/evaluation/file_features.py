"""Feature spaces from a local weights file, for numbers comparable with papers, offline.

``genae-studio eval --features cnn,pca,inception:PATH@SHA256`` adds the space ``inception``:
torchvision's Inception-v3 architecture with the weights read from PATH (safetensors, or a
``.pt``/``.pth`` state dict read with ``torch.load(weights_only=True)``, so loading never runs
code). The file is never downloaded: it must exist, and its SHA-256 must equal the one given,
or eval stops with one line before any work starts.

Features are the 2048 values of the last pooling layer, the layer FID uses; images are resized
to 299x299 (bilinear), grey images repeated to three channels, and scaled to [-1, 1] as
torchvision's ported Inception weights expect. With torchvision's ImageNet weights
(``inception_v3_google-0cc3c7bd.pth``) the numbers are comparable with torchvision-based FID
code; pytorch-fid's and clean-fid's TensorFlow-ported network differs slightly in its pooling
layers, so their FIDs are not reproduced to the digit.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

#: Architectures a weights file can fill: name -> what it is.
ARCHITECTURES = {"inception": "torchvision Inception-v3, 2048 pool features at 299x299"}
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
INPUT_SIZE = 299
BATCH = 50


@dataclass(frozen=True)
class WeightsFile:
    """A feature space named on the command line: ``ARCH:PATH@SHA256``."""

    arch: str
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.arch


def is_file_space(text: str) -> bool:
    return ":" in text


def parse_weights_file(text: str) -> WeightsFile:
    """``inception:/path/w.safetensors@<SHA-256 in hex>`` -> WeightsFile; a UsageError (one
    line) for an unknown architecture or a missing/malformed SHA-256. Does not read the file."""
    arch, _, rest = text.partition(":")
    path, at, sha = rest.rpartition("@")
    where = f"--features {text!r}"
    if arch not in ARCHITECTURES:
        raise UsageError(f"{where}: unknown architecture {arch!r} (known: "
                         f"{', '.join(ARCHITECTURES)}); write ARCH:PATH@SHA256")
    if not at or not path or not SHA256.fullmatch(sha):
        raise UsageError(f"{where}: write {arch}:PATH@SHA256, with the file's SHA-256 as 64 "
                         "hexadecimal characters (sha256sum PATH)")
    return WeightsFile(arch, Path(path), sha.lower())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_weights_file(spec: WeightsFile) -> None:
    """The file exists and has the pinned SHA-256; else one UsageError line."""
    if not spec.path.is_file():
        raise UsageError(f"--features {spec.arch}: {spec.path}: no such file (weights are "
                         "never downloaded; pass a local file)")
    found = file_sha256(spec.path)
    if found != spec.sha256:
        raise UsageError(f"--features {spec.arch}: {spec.path}: SHA-256 is {found}, expected "
                         f"{spec.sha256}")


def read_state_dict(path: Path) -> dict:
    """Tensors of a safetensors file, or of a state dict saved with torch.save (read with
    ``weights_only=True``: no code runs); a ``{"state_dict": ...}`` wrapper is unwrapped."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, or holds objects that weights_only refuses
        raise UsageError(f"{path}: cannot read weights ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:200]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise UsageError(f"{path}: not a state dict of tensors")
    return state


def inception_network(state: dict, path: Path | str = "weights"):
    """torchvision's Inception-v3 with ``state`` loaded (strict), its classifier removed."""
    import torch
    from torchvision.models import inception_v3

    aux = any(k.startswith("AuxLogits.") for k in state)
    classes = state["fc.weight"].shape[0] if "fc.weight" in state else 1000
    net = inception_v3(weights=None, aux_logits=aux, init_weights=False, num_classes=classes,
                       transform_input=False)
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UsageError(f"{path}: the weights do not fit Inception-v3 (missing "
                         f"{len(result.missing_keys)} tensors, e.g. "
                         f"{result.missing_keys[:2]}; unexpected "
                         f"{len(result.unexpected_keys)}, e.g. {result.unexpected_keys[:2]})")
    net.fc = torch.nn.Identity()
    return net.eval()


@dataclass
class FileFeatures:
    """A feature network read from a pinned weights file: ``features(images)`` -> (N, D)."""

    spec: WeightsFile
    net: object
    device: object = "cpu"
    info: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def features(self, images):
        import numpy as np
        import torch
        import torch.nn.functional as F

        from ..imaging import to_float_tensor

        out = []
        with torch.inference_mode():
            for start in range(0, len(images), BATCH):
                x = to_float_tensor(images[start:start + BATCH], self.device)
                if x.shape[1] == 1:
                    x = x.expand(-1, 3, -1, -1)
                x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                                  align_corners=False)
                out.append(self.net(x * 2.0 - 1.0).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64)


def load_file_features(spec: WeightsFile, device="cpu") -> FileFeatures:
    """Check the file (exists, SHA-256), read it safely and build the network."""
    check_weights_file(spec)
    state = read_state_dict(spec.path)
    net = inception_network(state, spec.path).to(device)
    return FileFeatures(spec, net, device, {"arch": spec.arch, "path": str(spec.path),
                                            "sha256": spec.sha256,
                                            "description": ARCHITECTURES[spec.arch]})
