"""Generalized divisive normalization (Ballé et al., 2016) with a non-negative reparametrization.

beta and gamma must stay non-negative (beta strictly positive) for the normalization to be defined.
We optimise unconstrained parameters ``p`` and use ``max(p, bound)**2 - pedestal`` so that gradients
stay well scaled near zero. Export turns each layer into constants (compact.export.frozen_gdn).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

_PEDESTAL = 2.0**-18


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

    def beta(self) -> torch.Tensor:
        return _lower_bound(self.beta_raw, self._beta_bound) ** 2 - _PEDESTAL

    def gamma(self) -> torch.Tensor:
        return _lower_bound(self.gamma_raw, self._gamma_bound) ** 2 - _PEDESTAL

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gamma = self.gamma().reshape(self.channels, self.channels, 1, 1)
        # Always fp32, also under bf16 autocast: a sum of squares in bf16 keeps only 8 bits of mantissa.
        with torch.autocast(x.device.type, enabled=False):
            x = x.float()
            norm = F.conv2d(x * x, gamma.float(), self.beta().float())
            if self.inverse:
                return x * torch.sqrt(norm)
            return x * torch.rsqrt(norm)
