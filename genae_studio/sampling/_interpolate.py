"""Interpolation between latent codes: slerp (White 2016) or linear, pairs and
the paper's four-corner grid."""
from __future__ import annotations

import torch

EPS = 1e-7


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between 1-D codes a and b at t in [0, 1].

    t <= 0 or t >= 1 return the endpoints; zero vectors and (near-)identical
    directions fall back to linear; opposite endpoints, where the great circle
    is not unique, turn through a fixed perpendicular direction.
    """
    if t <= 0:
        return a.clone()
    if t >= 1:
        return b.clone()
    na, nb = a.norm(), b.norm()
    if na < EPS or nb < EPS:
        return lerp(a, b, t)
    ua, ub = a / na, b / nb
    cos = torch.clamp(torch.dot(ua, ub), -1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if sin < 1e-6:
        if cos > 0:  # same direction
            return lerp(a, b, t)
        # Opposite: rotate ua by pi * t towards a perpendicular, scale the norm linearly.
        perp = _perpendicular(ua)
        angle = torch.tensor(torch.pi * t, dtype=a.dtype)
        return (torch.cos(angle) * ua + torch.sin(angle) * perp) * lerp(na, nb, t)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin


def _perpendicular(u: torch.Tensor) -> torch.Tensor:
    basis = torch.zeros_like(u)
    basis[torch.argmin(u.abs())] = 1.0
    p = basis - torch.dot(basis, u) * u
    return p / p.norm()


def interpolate(a: torch.Tensor, b: torch.Tensor, points: int,
                method: str = "slerp") -> torch.Tensor:
    """``points`` codes from a to b inclusive: (points, K)."""
    if points < 2:
        raise ValueError("an interpolation needs at least 2 points")
    fn = {"slerp": slerp, "linear": lerp}.get(method)
    if fn is None:
        raise ValueError(f"interpolation method must be slerp or linear, got {method!r}")
    ts = torch.linspace(0, 1, points).tolist()
    return torch.stack([fn(a, b, t) for t in ts])


def four_corner_grid(corners: torch.Tensor, points: int, method: str = "slerp") -> torch.Tensor:
    """The paper's grid between four codes (top-left, top-right, bottom-left,
    bottom-right): (points, points, K). Columns interpolate the left and right
    edges, then each row is interpolated between them."""
    if corners.shape[0] != 4:
        raise ValueError("a four-corner grid needs exactly 4 codes")
    left = interpolate(corners[0], corners[2], points, method)
    right = interpolate(corners[1], corners[3], points, method)
    return torch.stack([interpolate(left[i], right[i], points, method) for i in range(points)])
