"""Generalized divisive normalization (Ballé et al., 2016) with a non-negative reparametrization.

beta and gamma must stay non-negative (beta strictly positive) for the normalization to be defined.
We optimise unconstrained parameters ``p`` and use ``max(p, bound)**2 - pedestal`` so that gradients
stay well scaled near zero. ``freeze()`` replaces the reparametrized values by constant buffers,
which keeps export graphs free of the bookkeeping ops, and computes the forward normalization on a scaled-down
input so that float16 programs (Core ML) cannot overflow in x**2.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_PEDESTAL = 2.0**-18
#: frozen (exported) GDN layers square x / EXPORT_SCALE, keeping float16 intermediates far from overflow
EXPORT_SCALE = 16.0


def _lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    # Straight-through lower bound: gradients that push a clamped value up still flow.
    clamped = torch.clamp(x, min=bound)
    return x + (clamped - x).detach() if x.requires_grad else clamped


class GDN(nn.Module):
    """y = x / sqrt(beta + gamma @ x**2), or its inverse y = x * sqrt(...) when ``inverse``."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = inverse
        self.channels = channels
        self._beta_bound = (beta_min + _PEDESTAL) ** 0.5
        self._gamma_bound = _PEDESTAL**0.5
        self.beta_raw = nn.Parameter(torch.sqrt(torch.ones(channels) + _PEDESTAL))
        self.gamma_raw = nn.Parameter(torch.sqrt(gamma_init * torch.eye(channels) + _PEDESTAL))
        self.frozen = False
        #: set by the exporter when the preceding convolution already divides by EXPORT_SCALE
        self.prescaled = False

    def beta(self) -> torch.Tensor:
        if self.frozen:
            return self.beta_const
        return _lower_bound(self.beta_raw, self._beta_bound) ** 2 - _PEDESTAL

    def gamma(self) -> torch.Tensor:
        if self.frozen:
            return self.gamma_const
        return _lower_bound(self.gamma_raw, self._gamma_bound) ** 2 - _PEDESTAL

    @torch.no_grad()
    def freeze(self) -> None:
        """Fold beta and gamma into constant buffers (for export and inference)."""
        self.register_buffer("beta_const", self.beta().detach().clone(), persistent=False)
        self.register_buffer("gamma_const", self.gamma().detach().clone(), persistent=False)
        self.frozen = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gamma = self.gamma().reshape(self.channels, self.channels, 1, 1)
        if self.frozen and not self.inverse and self.prescaled:
            # x is already x / s (folded into the convolution before): one op fewer per layer, and Div
            # instead of Sqrt + Reciprocal + Mul in the exported graph.
            return x / torch.sqrt(F.conv2d(x * x, gamma, self.beta() / EXPORT_SCALE**2))
        if self.frozen and not self.inverse:
            # Same value, computed on x / s: x * rsqrt(b + g x^2) == (x/s) * rsqrt(b/s^2 + g (x/s)^2). Trained
            # encoders reach |x| ~ 400, whose square overflows float16 (max 65504) in Core ML fp16 programs.
            z = x * (1.0 / EXPORT_SCALE)
            return z * torch.rsqrt(F.conv2d(z * z, gamma, self.beta() / EXPORT_SCALE**2))
        norm = F.conv2d(x * x, gamma, self.beta())
        if self.inverse:
            return x * torch.sqrt(norm)
        return x * torch.rsqrt(norm)
