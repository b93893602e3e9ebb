"""GDN as the exported graphs compute it: constant parameters, and float16-safe on the encoder side.

Training's GDN (compact.training.gdn) keeps trainable, reparametrized parameters. Export replaces each one
by a :class:`FrozenGDN` holding the resulting constants, so graphs carry no bookkeeping ops. The encoder's
GDN squares its input, and trained encoders reach |x| ~ 400, whose square overflows float16 (max 65504) in
Core ML fp16 programs; so it computes on z = x / s with the same value:
x / sqrt(b + g x^2) == z / sqrt(b / s^2 + g z^2). The fold divides the convolution before it by s, so the
graph receives z directly and needs one Div.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from compact.training.gdn import GDN

#: the encoder's exported GDN layers work on x / EXPORT_SCALE, keeping float16 intermediates far from overflow
EXPORT_SCALE = 16.0


class FrozenGDN(nn.Module):
    """y = z / sqrt(beta / s^2 + gamma @ z^2) on z = x / s (GDN), or x * sqrt(beta + gamma @ x^2) (inverse).

    ``prescaled``: the input already is z (the preceding convolution was divided by s by the fold).
    """

    def __init__(self, gdn: GDN, prescaled: bool = False):
        super().__init__()
        self.inverse = gdn.inverse
        self.prescaled = prescaled
        channels = gdn.channels
        with torch.no_grad():
            scale = 1.0 if self.inverse else EXPORT_SCALE**2
            self.register_buffer("beta", (gdn.beta() / scale).detach().clone())
            self.register_buffer("gamma", gdn.gamma().detach().clone().reshape(channels, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inverse:
            return x * torch.sqrt(F.conv2d(x * x, self.gamma, self.beta))
        z = x if self.prescaled else x * (1.0 / EXPORT_SCALE)
        return z / torch.sqrt(F.conv2d(z * z, self.gamma, self.beta))
