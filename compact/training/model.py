"""The COMPACT auto-encoder: 6 strided convolutions with GDN, a binary code, 6 up-convolutions with IGDN.

Up-sampling uses a convolution followed by pixel shuffle instead of a transposed convolution: it has the
same capacity, exports to ONNX with dynamic shapes, and avoids Core ML's ConvTranspose bugs
(coremltools issues #2281 and #2324).
"""

from __future__ import annotations

import torch
from torch import nn

from compact.config import ModelConfig
from compact.training.gdn import GDN


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


class UpConv(nn.Module):
    """Sub-pixel up-convolution: conv to ``cout * factor**2`` channels, then pixel shuffle."""

    def __init__(self, cin: int, cout: int, kernel: int, factor: int):
        super().__init__()
        self.conv = _conv(cin, cout * factor * factor, kernel)
        self.shuffle = nn.PixelShuffle(factor) if factor > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


class Encoder(nn.Module):
    """Image in [0, 1], shape (B, 3, H, W) with H, W multiples of 16 -> tanh latent (B, C, H/16, W/16)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        n, c = config.channels, config.latent_channels
        self.layers = nn.Sequential(
            _conv(3, n, 5, 2), GDN(n),
            _conv(n, n, 5, 2), GDN(n),
            _conv(n, n, 5, 2), GDN(n),
            _conv(n, n, 5, 2), GDN(n),
            _conv(n, n, 3, 1), GDN(n),
            _conv(n, c, 3, 1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.layers(x - 0.5))


class Decoder(nn.Module):
    """Binary code as ±1 floats (B, C, h, w) -> image (B, 3, 16h, 16w), nominally in [0, 1]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        n, c = config.channels, config.latent_channels
        self.layers = nn.Sequential(
            UpConv(c, n, 3, 1), GDN(n, inverse=True),
            UpConv(n, n, 3, 1), GDN(n, inverse=True),
            UpConv(n, n, 3, 2), GDN(n, inverse=True),
            UpConv(n, n, 3, 2), GDN(n, inverse=True),
            UpConv(n, n, 3, 2), GDN(n, inverse=True),
            UpConv(n, 3, 3, 2),
        )  # fmt: skip
        #: added to the output; the exporter folds it into the last convolution's bias and sets it to 0
        self.offset = 0.5

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        out = self.layers(bits)
        return out + self.offset if self.offset else out


def stochastic_binarize(y: torch.Tensor) -> torch.Tensor:
    """+1 with probability (1 + y) / 2, else -1; straight-through gradient (training only)."""
    prob = (1.0 + y.detach()) * 0.5
    b = torch.where(torch.rand_like(prob) < prob, 1.0, -1.0)
    return y + (b - y).detach()


def sign_binarize(y: torch.Tensor) -> torch.Tensor:
    """Deterministic inference binarization: +1 for y >= 0, else -1 (never 0)."""
    return torch.where(y >= 0, 1.0, -1.0).to(y.dtype)


def keep_channels(bits: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Zero every channel at or past ``counts[i]`` in sample i: the decoder's view of unsent channels."""
    index = torch.arange(bits.shape[1], device=bits.device)
    return bits * (index[None, :] < counts[:, None]).to(bits.dtype)[:, :, None, None]


class CompactAutoencoder(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)

    def forward(self, x: torch.Tensor, channels: int | None = None) -> torch.Tensor:
        """Reconstruct ``x``; ``channels`` sends only that many leading code channels (the rest as 0).

        In training without ``channels`` each sample draws one of the config's levels (nested channel
        dropout), so one decoder learns every quality level.
        """
        y = self.encoder(x)
        bits = stochastic_binarize(y) if self.training else sign_binarize(y)
        if channels is not None:
            return self.decoder(keep_channels(bits, torch.full((len(x),), channels, device=x.device)))
        if self.training and len(self.config.levels) > 1:
            levels = torch.tensor(self.config.levels, device=x.device)
            drawn = levels[torch.randint(len(levels), (len(x),), device=x.device)]
            return self.decoder(keep_channels(bits, drawn))
        return self.decoder(bits)

    def freeze(self) -> CompactAutoencoder:
        """Fold GDN parameters into constants; use for export and inference only."""
        for module in self.modules():
            if isinstance(module, GDN):
                module.freeze()
        return self.eval()
